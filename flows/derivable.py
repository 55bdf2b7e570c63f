"""The adversary as linear algebra: which groups can be computed from everything published.

A published figure is a sum (a count, a value sum, a distribution's counts) over a set of
*cells*: one cell per round and question (the answers to that question in that round) and one
per round for its turnout (the people who answered it). Cells are the finest pieces any path
publishes, so they play the part of DISCLOSURE.md's atoms. Someone who holds every published
figure can compute the sum over a set T of cells exactly when T's 0/1 vector lies in the span of
the published sets' vectors (Chin and Özsoyoğlu, 1982). A set T is an *exposure* when it holds
at least one person and fewer than ``min_size`` people.

People, not answers: the people behind a set of cells are counted from below. Within one round
a cell's answers come from different people, so a round contributes at least its largest cell;
rounds whose respondents may overlap (the same people answering two rounds; decided by the
caller from participation) share a ``group`` and contribute their largest cell once; groups are
disjoint, so they add up. A cell holding ``min_size`` or more people is *big*: no set containing
it is an exposure.

How the check stays small (DISCLOSURE.md, "work over atoms"): the published vectors are kept
in reduced form, pivoting on a big cell whenever a vector still has one. Then the vectors of the
span that avoid every big cell are exactly the span of the rows whose pivot is small (proof:
take the earliest big-pivot row used in a combination; no other row is non-zero at its pivot),
and those rows split into components that share no cell. A 0/1 vector of the span with no big
cell is a sum of 0/1 vectors of single components, so each component is searched on its own,
and only the component a new figure touches. A component is searched exhaustively (every
subset of its reduced rows: at a pivot a 0/1 vector's coefficient is its own 0 or 1); one with
more than ``max_rows`` rows is not searched but refused, which errs towards withholding.

Decisions depend only on sets and their sizes (from participation and answer counts), never on
what was answered ("simulatable auditing").
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from fractions import Fraction
from itertools import combinations

__all__ = ["MAX_COMPONENT_ROWS", "Span", "people_lower_bound"]

# 2**15 subsets of at most this many rows; real organisations stay far below it.
MAX_COMPONENT_ROWS = 16

# Coefficients stay integers while they can (a tree of figures reduces to +-1 rows), which is
# several times faster than Fraction; division makes a Fraction only where needed.
Number = int | Fraction
Vector = dict[str, Number]


def people_lower_bound(
    cells: Iterable[str],
    size: Mapping[str, int],
    group: Mapping[str, str],
    members: Mapping[int, frozenset[int]] | None = None,
) -> int:
    """The fewest distinct people the cells can hold: per group its largest cell, summed.

    A cell without a group is its round's ("<round>:..."), or its own if it names none.

    With ``members`` (who answered each round, from participation: sets, never answers), a
    group spanning several rounds whose respondents are all known counts at least the people
    who answered any of them, less those who may have skipped the cells' questions: in each
    round at most its turnout minus its largest cell did (DISCLOSURE.md, "groups are people").
    """
    most: dict[str, int] = {}
    per_round: dict[str, dict[int, int]] = {}
    for cell in cells:
        shared = group.get(cell)
        g = shared or cell.split(":", 1)[0]
        n = size.get(cell, 0)
        most[g] = max(most.get(g, 0), n)
        # Only a group of rounds can hold more people than its largest cell.
        if members and shared is not None:
            prefix = cell.split(":", 1)[0]
            if prefix.isdigit():
                rounds = per_round.setdefault(g, {})
                rounds[int(prefix)] = max(rounds.get(int(prefix), 0), n)
    if members:
        for g, rounds in per_round.items():
            if len(rounds) < 2 or any(r not in members for r in rounds):
                continue
            people = frozenset[int]().union(*(members[r] for r in rounds))
            skipped = sum(len(members[r]) - largest for r, largest in rounds.items())
            most[g] = max(most[g], len(people) - skipped)
    return sum(most.values())


class Span:
    """What the adversary can compute from the figures it has learnt."""

    def __init__(
        self,
        size: Mapping[str, int],
        group: Mapping[str, str],
        min_size: int,
        *,
        max_rows: int = MAX_COMPONENT_ROWS,
        members: Mapping[int, frozenset[int]] | None = None,
    ) -> None:
        self.size = size
        self.group = group
        self.members = members
        self.min_size = min_size
        self.max_rows = max_rows
        self._rows: list[Vector] = []
        self._pivot: dict[str, int] = {}  # cell -> index of the row pivoting on it
        self._small_rows: set[int] = set()
        # Components of the small rows: union-find over cells.
        self._parent: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------------------

    def _big(self, cell: str) -> bool:
        return self.size.get(cell, 0) >= self.min_size

    def _live(self, cells: Iterable[str]) -> Vector:
        # A cell nobody is in adds nothing to any sum; leaving it out keeps vectors short.
        return {c: 1 for c in cells if self.size.get(c, 0) > 0}

    def _reduce(self, vector: Vector) -> Vector:
        v = dict(vector)
        # Rows are zero at the pivots of earlier rows, so subtracting in pivot-row order
        # never brings back a pivot already cleared.
        queue = [self._pivot[c] for c in v if c in self._pivot]
        heapq.heapify(queue)
        done: set[int] = set()
        while queue:
            index = heapq.heappop(queue)
            if index in done:
                continue
            done.add(index)
            row = self._rows[index]
            pivot = next(iter(row))
            factor = v.get(pivot)
            if not factor:
                continue
            for cell, value in row.items():
                new = v.get(cell, 0) - factor * value
                if new:
                    v[cell] = new
                    at = self._pivot.get(cell)
                    if at is not None and at not in done:
                        heapq.heappush(queue, at)
                else:
                    v.pop(cell, None)
        return v

    def _find(self, cell: str) -> str:
        root = cell
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        while self._parent.get(cell, cell) != root:
            self._parent[cell], cell = root, self._parent[cell]
        return root

    def _component_rows(self, cells: Collection[str]) -> list[int]:
        roots = {self._find(c) for c in cells}
        return sorted(i for i in self._small_rows if self._find(next(iter(self._rows[i]))) in roots)

    @staticmethod
    def _normalised(vector: Vector, pivot: str) -> Vector:
        factor = vector[pivot]
        row: Vector = {pivot: 1}
        if factor in (1, -1):
            row.update((c, v * factor) for c, v in vector.items() if c != pivot)
        else:
            row.update((c, Fraction(v) / factor) for c, v in vector.items() if c != pivot)
        return row

    # -- the question ------------------------------------------------------------------------

    def derivable(self, cells: Iterable[str]) -> bool:
        """Whether the sum over ``cells`` can already be computed."""
        return not self._reduce(self._live(cells))

    def exposes(self, cells: Iterable[str]) -> bool:
        """Whether learning the sum over ``cells`` would let some group of 1..min_size-1 people
        be computed (the figure itself included)."""
        return self._plan(cells)[0]

    def learn(self, cells: Iterable[str]) -> None:
        """Add a published figure, whatever it exposes (figures already out are facts)."""
        # No search: what it would find is out already, and searching every earlier figure
        # again on each load was most of a pooled digest's time.
        self._commit(self._reduce(self._live(cells)))

    def admit(self, cells: Iterable[str]) -> bool:
        """Learn the figure if it exposes nobody; return whether it may be published."""
        return self.offer(cells) != "refused"

    def offer(self, cells: Iterable[str]) -> str:
        """Like `admit`: "known" (computable already), "new" (learnt) or "refused"."""
        exposed, rest = self._plan(cells)
        if exposed:
            return "refused"
        if not rest:
            return "known"
        self._commit(rest)
        return "new"

    def _plan(self, cells: Iterable[str]) -> tuple[bool, Vector]:
        rest = self._reduce(self._live(cells))
        if not rest or any(self._big(c) for c in rest):
            # Nothing new, or a new direction through a big cell: the big-free part of the
            # span is unchanged.
            return False, rest
        return self._search(rest), rest

    def _commit(self, rest: Vector) -> None:
        if not rest:
            return
        big = [c for c in rest if self._big(c)]
        pivot = min(big) if big else min(rest)
        row = self._normalised(rest, pivot)
        index = len(self._rows)
        if not big:
            # Keep the small rows fully reduced against each other, so that a 0/1 vector's
            # coefficients are its own values at the pivots.
            for i in self._component_rows(row):
                other = self._rows[i]
                factor = other.get(pivot)
                if factor:
                    self._rows[i] = _minus(other, factor, row)
            self._small_rows.add(index)
            cells = list(row)
            for c in cells[1:]:
                self._parent[self._find(c)] = self._find(cells[0])
            self._find(cells[0])
        self._rows.append(row)
        self._pivot[pivot] = index

    def _search(self, rest: Vector) -> bool:
        pivot = min(rest)
        new = self._normalised(rest, pivot)
        rows = [self._rows[i] for i in self._component_rows(new)]
        rows = [_minus(r, r[pivot], new) if r.get(pivot) else r for r in rows]
        if len(rows) + 1 > self.max_rows:
            return True
        # Every combination: reducing the old rows against the new one changed them, so the
        # combinations without the new row are not the old span either.
        basis = [new, *rows]
        for k in range(1, len(basis) + 1):
            for chosen in combinations(basis, k):
                total: Vector = {}
                for r in chosen:
                    for c, v in r.items():
                        s = total.get(c, 0) + v
                        if s:
                            total[c] = s
                        else:
                            total.pop(c, None)
                if total and all(v == 1 for v in total.values()):
                    people = people_lower_bound(total, self.size, self.group, self.members)
                    if 0 < people < self.min_size:
                        return True
        return False


def _minus(row: Vector, factor: Number, other: Vector) -> Vector:
    out = dict(row)
    for c, v in other.items():
        new = out.get(c, 0) - factor * v
        if new:
            out[c] = new
        else:
            out.pop(c, None)
    # The pivot stays the first key: rows are stored pivot first.
    return out
