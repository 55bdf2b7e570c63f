"""Disclosure control: which group figures may be shown (DESIGN.md, "Anonymity, the guarantees").

Every summary, digest, chart and export asks `decide` which cells it may show. A cell is a group of
respondents (a unit, a unit x role, ...); cells form a tree through `parent`, and the children of
a cell are disjoint groups inside it. What a parent holds beyond its children (its own direct
respondents) is an implicit *remainder* group: ``parent - sum(children)``.

Model
-----
Think of the respondents as split into *atoms*: the remainder of each cell (for a leaf, the whole
cell). A cell's count is the sum of the atoms in its subtree. Someone who sees a set K of cell
figures can compute, for every cell P in K, its *difference region*: P minus its nearest
descendants in K. These regions are disjoint, every count derivable from K is a sum of them, and
the groups of people whose count can be pinned down are exactly the unions of these regions.

Guarantee
---------
1. Within a round: every difference region of the shown cells holds 0 or >= ``min_size``
   respondents, so no group of 1..min_size-1 people (a withheld cell, a remainder, or any union of
   those) has a derivable count, whatever sums and differences of shown figures are taken.
2. Across rounds (``history``): an attacker may take a cell's figure from an earlier round as its
   figure now (memberships change slowly). So every key shown in an earlier round counts as known,
   with K = shown now + shown before, and no *connected* set of difference regions of K (a
   subtree of the region forest) that holds 1..min_size-1 people may be computable with a figure
   of this round. This closes "show a cell last round, withhold it as the complement this round"
   (p(now) - a(last round) = b(now)). Sets computable from earlier figures alone were checked when
   they were published and carry nothing of this round; a disconnected set is the sum of
   connected ones, so it adds nothing either. The check is a small dynamic programme over the
   region forest (sums are capped at min_size), not an enumeration.

What is deliberately *not* promised: that no sum or difference of shown numbers equals a number
in 1..min_size-1. That cannot hold together with showing anything useful: in the worked example
(23 = 10 + 7 + 5 + 1, min 5) the shown 10 and 7 differ by 3, yet 10 - 7 is not the count of any
group of people. Likewise a key's own change from last round to this round (12 -> 13) is a count
of people who joined, left or stopped answering, not a group whose answers can be isolated:
answers are collected afresh each round and cannot be linked across rounds (guarantee 2 of
DESIGN.md), so it is not withheld. A caller that republishes figures built from the *same*
answers (interim figures of an open round) must not publish the interim figures at all.

Complementary suppression
-------------------------
Cells under ``min_size`` are withheld first ("below_threshold"). Then, deepest key first, every
key that tops a revealing set is repaired by withholding one more current figure that such a set
uses: the cheapest (fewest respondents) that repairs it on its own, children before the parent on
a tie; if none does on its own, the smallest child that widens the region, and repeat. Withholding
a figure never shown before merges its region into the enclosing one, so repairs move upwards;
every step withholds a figure, so the loop ends (at worst with everything withheld).

The reason per withheld key is for logs, audits and tests. Users must see the same words for both
reasons ("too few answers to show"): showing "complementary" would tell them the cell has at least
``min_size`` respondents.

Limits: the children of a cell must be disjoint (one tree, no overlapping cross-classifications);
model unit x role as children of the unit (per leaf unit if sub-units are shown too). History keys
absent from the current tree are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from bot.core.config import MIN_COMMENT_GROUP_FLOOR, MIN_GROUP_FLOOR

__all__ = [
    "BELOW_THRESHOLD",
    "COMPLEMENTARY",
    "MIN_COMMENT_GROUP_FLOOR",
    "MIN_GROUP_FLOOR",
    "Cell",
    "Decision",
    "already_shown",
    "check_threshold",
    "comment_home",
    "decide",
    "decide_in_parts",
    "ledger_allows",
]

BELOW_THRESHOLD = "below_threshold"
COMPLEMENTARY = "complementary"


@dataclass(frozen=True)
class Cell:
    """A group whose count or figures might be shown."""

    key: str
    respondents: int
    parent: str | None = None


@dataclass(frozen=True)
class Decision:
    """What may be shown; every other key is withheld, with the reason why."""

    shown: frozenset[str]
    withheld: Mapping[str, str] = field(default_factory=dict)

    def is_shown(self, key: str) -> bool:
        return key in self.shown


def check_threshold(value: int, kind: Literal["score", "comment"]) -> int:
    """Return ``value`` if it is a legal group-size threshold for ``kind``; else ValueError."""
    floor = MIN_GROUP_FLOOR if kind == "score" else MIN_COMMENT_GROUP_FLOOR
    # bool is an int subclass; True as a threshold is always a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{kind} threshold must be an integer, got {value!r}")
    if value < floor:
        raise ValueError(f"{kind} threshold may not be below {floor}, got {value}")
    return value


class _Tree:
    def __init__(self, cells: Sequence[Cell]) -> None:
        self.count: dict[str, int] = {}
        self.parent: dict[str, str | None] = {}
        self.children: dict[str, list[str]] = {}
        for cell in cells:
            if cell.key in self.count:
                raise ValueError(f"duplicate cell key {cell.key!r}")
            if cell.respondents < 0:
                raise ValueError(f"cell {cell.key!r} has a negative count")
            self.count[cell.key] = cell.respondents
            self.parent[cell.key] = cell.parent
            self.children[cell.key] = []
        for key, parent in self.parent.items():
            if parent is None:
                continue
            if parent not in self.count:
                raise ValueError(f"cell {key!r} names unknown parent {parent!r}")
            self.children[parent].append(key)
        self.depth: dict[str, int] = {}
        for key in self.count:
            self.depth[key] = self._depth_of(key)
        for key, kids in self.children.items():
            # Overlapping children would make "parent minus children" meaningless, and the
            # guarantee with it; callers must model cross-classifications as nesting.
            if sum(self.count[k] for k in kids) > self.count[key]:
                raise ValueError(f"children of {key!r} hold more respondents than it does")

    def _depth_of(self, key: str) -> int:
        seen: set[str] = set()
        depth = 0
        node = self.parent[key]
        while node is not None:
            if node in seen or node == key:
                raise ValueError(f"cell {key!r} is part of a parent cycle")
            seen.add(node)
            depth += 1
            node = self.parent[node]
        return depth

    def known_root(self, key: str, known: Collection[str]) -> str | None:
        """The nearest known cell at or above ``key``: the one whose region holds key's atom."""
        node: str | None = key
        while node is not None and node not in known:
            node = self.parent[node]
        return node

    def known_below(self, key: str, known: Collection[str]) -> list[str]:
        """The nearest known descendants of ``key``."""
        found: list[str] = []
        stack = list(self.children[key])
        while stack:
            node = stack.pop()
            if node in known:
                found.append(node)
            else:
                stack.extend(self.children[node])
        return found


class _View:
    """The figures an attacker holds: keys shown now plus keys shown in earlier rounds.

    Each known key P owns a region (P minus its nearest known descendants); regions form a forest
    in which every key hangs under its nearest known ancestor.
    """

    def __init__(self, tree: _Tree, prior: frozenset[str], shown: Collection[str]) -> None:
        self.tree = tree
        self.shown = frozenset(shown)
        self.known = prior | self.shown
        # Memoised per view: the deepest-first sweep asks about every key, and each key's
        # regions and states are the same whichever top asks.
        self._below: dict[str, list[str]] = {}
        self._size: dict[str, int] = {}
        self._states_of: dict[tuple[str, int], frozenset[tuple[int, bool]]] = {}

    def below(self, key: str) -> list[str]:
        if key not in self._below:
            self._below[key] = self.tree.known_below(key, self.known)
        return self._below[key]

    def size(self, key: str) -> int:
        if key not in self._size:
            count = self.tree.count
            self._size[key] = count[key] - sum(count[k] for k in self.below(key))
        return self._size[key]

    def dangerous(self, top: str, min_size: int) -> bool:
        """Whether some connected set of regions topped by ``top`` holds 1..min_size-1 people and
        has a count computable only with at least one figure of this round."""
        # A set T of regions is computed as the sum of (key - its known children) over T; a key's
        # figure survives the cancelling exactly where T holds the key but not its known parent,
        # or the parent but not the key. Only connected sets matter: a disconnected one is a sum
        # of connected ones, and a part made only of earlier figures adds nothing of this round.
        states = self._states(top, min_size)
        return any(people >= 1 and (current or top in self.shown) for people, current in states)

    def _states(self, key: str, min_size: int) -> frozenset[tuple[int, bool]]:
        # (people in T, whether T uses a figure of this round) for connected T topped by key,
        # leaving out key's own figure, which its caller accounts for.
        memo = (key, min_size)
        if memo not in self._states_of:
            self._states_of[memo] = frozenset(self._states_uncached(key, min_size))
        return self._states_of[memo]

    def _states_uncached(self, key: str, min_size: int) -> set[tuple[int, bool]]:
        own = self.size(key)
        if own >= min_size:
            return set()
        states = {(own, False)}
        for child in self.below(key):
            cut = child in self.shown
            grown = {(people, current or cut) for people, current in states}
            for people2, current2 in self._states(child, min_size):
                grown.update(
                    (people + people2, current or current2)
                    for people, current in states
                    if people + people2 < min_size
                )
            states = grown
        return states

    def figures_used(self, top: str, min_size: int) -> set[str]:
        """The figures of this round that a dangerous set topped by ``top`` may use."""
        used: set[str] = set()
        stack = [top]
        while stack:
            key = stack.pop()
            if key in self.shown:
                used.add(key)
            if self.size(key) >= min_size:
                continue
            for child in self.below(key):
                if child in self.shown:
                    used.add(child)
                stack.append(child)
        return used


def _dangerous_at(
    tree: _Tree, atom: str, prior: frozenset[str], shown: Collection[str], min_size: int
) -> bool:
    view = _View(tree, prior, shown)
    # Once the atom's key is no longer known its region has merged upwards, and the enclosing
    # key's turn comes later in the deepest-first sweep.
    return atom in view.known and view.dangerous(atom, min_size)


def decide(
    cells: Sequence[Cell],
    min_size: int,
    *,
    history: Iterable[Collection[str]] = (),
) -> Decision:
    """Decide which cells may be shown; see the module docstring for what is guaranteed.

    ``history`` holds, per earlier round, the keys shown then (a ``Decision.shown`` or a mapping
    of shown key -> count; only the keys matter, because the worst case assumes the old figure
    still holds exactly).
    """
    check_threshold(min_size, "score")
    tree = _Tree(cells)
    prior = frozenset(k for round_ in history for k in round_ if k in tree.count)
    withheld: dict[str, str] = {k: BELOW_THRESHOLD for k, n in tree.count.items() if n < min_size}
    shown = {k for k in tree.count if k not in withheld}
    by_depth = sorted(tree.count, key=lambda k: (-tree.depth[k], k))

    while True:
        # One view per sweep: nothing changes within it, so its memos serve every key.
        view = _View(tree, prior, shown)
        bad = next(
            (k for k in by_depth if k in view.known and view.dangerous(k, min_size)),
            None,
        )
        if bad is None:
            break
        _repair(tree, bad, prior, shown, withheld, min_size)

    return Decision(shown=frozenset(shown), withheld=withheld)


def _repair(
    tree: _Tree,
    top: str,
    prior: frozenset[str],
    shown: set[str],
    withheld: dict[str, str],
    min_size: int,
) -> None:
    while _dangerous_at(tree, top, prior, shown, min_size):
        view = _View(tree, prior, shown)
        candidates = view.figures_used(top, min_size)
        # Withholding a figure no earlier round showed merges its region into the one above,
        # which is what makes a too-small region big enough.
        widening = {k for k in candidates if k != top and k not in prior and view.size(k) > 0}
        # Cheapest first; a child before its parent on equal cost: the parent is the headline.
        ordered = sorted(candidates, key=lambda k: (tree.count[k], -tree.depth[k], k))

        def fixes(key: str) -> bool:
            return not _dangerous_at(tree, top, prior, shown - {key}, min_size)

        choice = next((k for k in ordered if fixes(k)), None)
        if choice is None:
            choice = next((k for k in ordered if k in widening), ordered[0])
        shown.discard(choice)
        withheld[choice] = COMPLEMENTARY


def comment_home(
    unit_key: str,
    counts: Mapping[str, int],
    parents: Mapping[str, str | None],
    min_comment_size: int,
) -> str | None:
    """Where a unit's comments are shown: the unit itself or the nearest ancestor that clears
    ``min_comment_size``; None if none does and the comments must not be shown.

    ``counts`` are each unit's own respondents (not including sub-units). Comments roll up: a
    unit's pool is its own respondents plus those of descendants whose pools were too small.
    A descendant that clears the threshold keeps its comments, and is not counted again above:
    counting it would let an ancestor with 2 own respondents and a child of 10 show those 2
    people's comments apart from the child's, under the ancestor's name.
    """
    check_threshold(min_comment_size, "comment")
    units = set(counts) | set(parents)
    if unit_key not in units:
        raise ValueError(f"unknown unit {unit_key!r}")
    children: dict[str, list[str]] = {u: [] for u in units}
    for unit, parent in parents.items():
        if parent is not None:
            if parent not in children:
                raise ValueError(f"unit {unit!r} names unknown parent {parent!r}")
            children[parent].append(unit)

    pools: dict[str, int] = {}

    def pool(unit: str, trail: frozenset[str]) -> int:
        if unit in trail:
            raise ValueError(f"unit {unit!r} is part of a parent cycle")
        if unit not in pools:
            below = (pool(c, trail | {unit}) for c in children[unit])
            pools[unit] = counts.get(unit, 0) + sum(n for n in below if n < min_comment_size)
        return pools[unit]

    node: str | None = unit_key
    seen: set[str] = set()
    while node is not None:
        if node in seen:
            raise ValueError(f"unit {node!r} is part of a parent cycle")
        seen.add(node)
        if pool(node, frozenset()) >= min_comment_size:
            return node
        node = parents.get(node)
    return None


# --- a big organisation, and the ledger ------------------------------------------------------

# decide rescans the whole tree after each repair; a big tree is decided subtree by subtree.
GATE_PART = 150


def decide_in_parts(
    cells: Sequence[Cell], min_size: int, history: Sequence[Iterable[str]]
) -> frozenset[str]:
    """flows.disclosure.decide, over a big tree one subtree at a time.

    Each subtree is decided on its own (its regions lie inside it), then its top is decided
    against the nearest shown cells below it, as if they were its children; whenever that
    withholds one of them, the cells under it become the nearest shown and the top is decided
    again. Every region of the result is thereby checked by decide itself.
    """
    known = [frozenset(h) for h in history]
    if len(cells) <= GATE_PART:
        return decide(cells, min_size, history=known).shown
    by_key = {c.key: c for c in cells}
    children: dict[str | None, list[str]] = defaultdict(list)
    for c in cells:
        children[c.parent].append(c.key)
    size: dict[str, int] = {}

    def count(key: str) -> int:
        if key not in size:
            size[key] = 1 + sum(count(k) for k in children[key])
        return size[key]

    def subtree(key: str) -> list[Cell]:
        out, stack = [], [key]
        while stack:
            k = stack.pop()
            c = by_key[k]
            out.append(c if k != key else Cell(k, c.respondents, None))
            stack.extend(children[k])
        return out

    def nearest_shown(key: str, shown: set[str]) -> list[str]:
        out, stack = [], list(children[key])
        while stack:
            k = stack.pop()
            if k in shown:
                out.append(k)
            else:
                stack.extend(children[k])
        return out

    def gate_subtree(key: str) -> set[str]:
        if count(key) <= GATE_PART:
            return set(decide(subtree(key), min_size, history=known).shown)
        shown: set[str] = set()
        for child in children[key]:
            shown |= gate_subtree(child)
        while True:
            frontier = nearest_shown(key, shown)
            top = [Cell(key, by_key[key].respondents, None)]
            top += [Cell(k, by_key[k].respondents, key) for k in frontier]
            decision = decide(top, min_size, history=known)
            lost = set(frontier) - decision.shown
            if not lost:
                return shown | ({key} & decision.shown)
            shown -= lost

    result: set[str] = set()
    for root in children[None]:
        result |= gate_subtree(root)
    # The nested functions refer to themselves, so this call's tables would wait for the
    # cycle collector; emptied here, they go at once (tens of MB over a big organisation).
    for table in (by_key, children, size):
        table.clear()
    return frozenset(result)


class _Verdict(Protocol):
    @property
    def shown(self) -> bool: ...


class FigureLedger(Protocol):
    """What these decisions ask of flows.ledger.Ledger (a protocol: the ledger imports this
    module)."""

    def decide(
        self,
        path: str,
        cells: Iterable[str],
        *,
        week: str,
        record_known: bool = True,
        batch: str | None = None,
    ) -> _Verdict: ...

    def known(self, cells: Iterable[str]) -> bool: ...


Figure = TypeVar("Figure", bound=Hashable)


def ledger_allows(
    ledger: FigureLedger,
    path: str,
    cells_of: Mapping[Figure, Sequence[str]],
    *,
    week: str,
    record_known: bool = True,
    batch: str | None = None,
) -> set[Figure]:
    """The figures (each named by the ledger cells it covers) the ledger lets out, against
    everything shown before on any path. Smaller figures are asked first, so a parent, not its
    children, gives way when the two together would reveal a small group."""
    return {
        figure
        for figure in sorted(cells_of, key=lambda f: len(cells_of[f]))
        if ledger.decide(
            path, cells_of[figure], week=week, record_known=record_known, batch=batch
        ).shown
    }


def already_shown(
    ledger: FigureLedger, cells_of: Mapping[Figure, Sequence[str]], decided: Collection[Figure]
) -> frozenset[Figure]:
    """Figures the tree's decision withheld whose value some path has already shown (a channel
    summary, most often): showing it again tells nothing new, and withholding it would make a
    digest contradict that summary (issue 17)."""
    return frozenset(
        u for u, cells in cells_of.items() if u not in decided and cells and ledger.known(cells)
    )
