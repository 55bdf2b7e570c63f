"""The organisation's pulse over the digest window, rolled up the tree and decided once
(flows.disclosure) for every digest to read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import TypeVar

from bot.core.config import MIN_GROUP_FLOOR
from bot.core.i18n import Lang, Translator
from flows.actions import PlanLine
from flows.charts import TrendPainter
from flows.digest.figures import (
    DimensionLine,
    OrgUnit,
    Pipeline,
    Tally,
    Turnout,
    UnitPulse,
)
from flows.digest.weeks import SHOWN_WEEKS, Week
from flows.disclosure import Cell, decide_in_parts
from flows.indices import dimension_label
from flows.pooling import PooledFigure
from flows.question_bank import QuestionBank
from storage.models import (
    Committee,
)

# Unit views kept for reuse (Picture.pulse).
VIEWS_KEPT = 512


class Picture:
    """The organisation's pulse over the digest window, decided once and read by every digest."""

    def __init__(
        self,
        units: Iterable[OrgUnit],
        weeks: Sequence[Week],
        turnout: Mapping[tuple[int, int], Turnout],
        tallies: Mapping[tuple[int, int, str], Tally],
        min_size: int,
        committees: Mapping[int, Committee] | None = None,
        pipelines: Mapping[int, Pipeline] | None = None,
        *,
        bank: QuestionBank,
    ) -> None:
        self.bank = bank
        self.units = {u.id: u for u in units}
        self.weeks = list(weeks)
        self.min_size = min_size
        self.committees = dict(committees or {})
        self.pipelines = dict(pipelines or {})
        self._chains: dict[int, tuple[int, ...]] = {}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        for u in sorted(self.units.values(), key=lambda u: u.name):
            self.children[u.parent_id].append(u.id)
        self.turnout = self._roll_up_turnout(turnout)
        self.tallies = self._roll_up_tallies(tallies)
        self.shown_turnout: list[frozenset[int]] = []
        self.shown_tally: dict[tuple[int, str], frozenset[int]] = {}
        self._decide_all(turnout, tallies)
        self._pulses: dict[int, UnitPulse] = {}
        self._painters: dict[Lang, TrendPainter] = {}
        # Pools over weeks the ledger let out (flows.pooling): (unit, pool) -> week -> figure.
        self.pooled: dict[tuple[int, str], dict[int, PooledFigure]] = defaultdict(dict)
        # Each unit's action plan (issue 19); load_picture fills it, see "action plans" below.
        self.plans: Mapping[int, Sequence[PlanLine]] = {}

    # -- roll-up -------------------------------------------------------------------------

    def chain(self, unit_id: int) -> tuple[int, ...]:
        """The unit and its ancestors, nearest first."""
        return self._upwards(unit_id)

    def _upwards(self, unit_id: int) -> tuple[int, ...]:
        """The unit and its ancestors, nearest first (kept: every figure walks up a chain)."""
        chain = self._chains.get(unit_id)
        if chain is None:
            parent = self.units[unit_id].parent_id if unit_id in self.units else None
            above = self._upwards(parent) if parent is not None else ()
            chain = (unit_id, *above) if unit_id in self.units else ()
            self._chains[unit_id] = chain
        return chain

    def _roll_up_turnout(
        self, own: Mapping[tuple[int, int], Turnout]
    ) -> dict[tuple[int, int], Turnout]:
        total: dict[tuple[int, int], Turnout] = {}
        for key, t in own.items():
            unit_id, w = key
            for up in self._upwards(unit_id):
                if up == unit_id and up not in self.children:
                    # A unit without units below it: its total is its own figure, shared
                    # rather than copied (most units of a big organisation are teams).
                    total[key] = t
                else:
                    total.setdefault((up, w), Turnout()).add(t)
        return total

    def _roll_up_tallies(
        self, own: Mapping[tuple[int, int, str], Tally]
    ) -> dict[tuple[int, int, str], Tally]:
        total: dict[tuple[int, int, str], Tally] = {}
        for key, t in own.items():
            unit_id, w, dim = key
            for up in self._upwards(unit_id):
                if up == unit_id and up not in self.children:
                    total[key] = t  # as for turnout: a team's total is its own tally
                else:
                    total.setdefault((up, w, dim), Tally()).add(t)
        # The few weeks each unit's dimension was measured, so a view looks only at those.
        self._measured: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for unit_id, w, dim in sorted(total):
            self._measured[unit_id][dim].append(w)
        return total

    # -- the disclosure decision ---------------------------------------------------------

    def _cells(
        self, counts: Mapping[int, int], own: Mapping[int, int]
    ) -> tuple[list[Cell], set[str]]:
        """Cells of the units with data, and the own-round cells already published."""
        cells: list[Cell] = []
        published: set[str] = set()
        has_children = {self.units[u].parent_id for u in counts}
        for unit_id, n in counts.items():
            parent = self.units[unit_id].parent_id
            cells.append(Cell(f"u{unit_id}", n, f"u{parent}" if parent in counts else None))
            if unit_id in has_children and own.get(unit_id, 0) > 0:
                # The unit's own round was summarised in its channel when at or over the
                # smallest threshold any committee may set; treat it as known.
                cells.append(Cell(f"o{unit_id}", own[unit_id], f"u{unit_id}"))
                if own[unit_id] >= MIN_GROUP_FLOOR:
                    published.add(f"o{unit_id}")
        return cells, published

    def _decide_all(
        self,
        own_turnout: Mapping[tuple[int, int], Turnout],
        own_tallies: Mapping[tuple[int, int, str], Tally],
    ) -> None:
        # One week (and dimension) at a time, from the figures sorted once by it: scanning
        # every figure for each was quadratic, and grouping them all at once held a second
        # copy of the organisation's figures. A stable sort keeps each group's order.
        # Own rounds count only for units with units below them (Picture._cells).
        own_answered: dict[int, dict[int, int]] = defaultdict(dict)
        for (u, wk), t in own_turnout.items():
            if u in self.children:
                own_answered[wk][u] = t.answered
        own_people: dict[tuple[str, int], dict[int, int]] = defaultdict(dict)
        for (u, wk, d), tally in own_tallies.items():
            if u in self.children:
                own_people[(d, wk)][u] = tally.people
        turnout = self.turnout
        weekly = _groups(sorted(turnout, key=lambda k: k[1]), lambda k: k[1])
        previous: frozenset[str] = frozenset()
        for w in range(len(self.weeks)):
            answered = {k[0]: turnout[k].answered for k in weekly.get(w, ())}
            cells, published = self._cells(answered, own_answered.get(w, {}))
            shown = decide_in_parts(cells, self.min_size, [previous, published])
            previous = shown
            self.shown_turnout.append(self._unit_ids(shown))
        del weekly
        tallies = self.tallies
        by_dim = _groups(sorted(tallies, key=lambda k: (k[2], k[1])), lambda k: (k[2], k[1]))
        for dim in self._dimensions:
            previous = frozenset()
            for w in range(len(self.weeks)):
                people = {k[0]: tallies[k].people for k in by_dim.get((dim, w), ())}
                cells, published = self._cells(people, own_people.get((dim, w), {}))
                shown = decide_in_parts(cells, self.min_size, [previous, published])
                previous = shown
                self.shown_tally[(w, dim)] = self._unit_ids(shown)

    def _unit_ids(self, shown: Iterable[str]) -> frozenset[int]:
        # The units' own id objects: a fresh int per shown figure would add up.
        return frozenset(self.units[int(k[1:])].id for k in shown if k[0] == "u")

    def shown_turnout_of(self, unit_id: int, w: int) -> Turnout | None:
        if unit_id in self.shown_turnout[w]:
            return self.turnout.get((unit_id, w))
        return None

    def shown_tally_of(self, unit_id: int, w: int, dim: str) -> Tally | None:
        if unit_id in self.shown_tally.get((w, dim), frozenset()):
            return self.tallies.get((unit_id, w, dim))
        return None

    # -- views ---------------------------------------------------------------------------

    @property
    def shown_weeks(self) -> list[Week]:
        return self.weeks[-SHOWN_WEEKS:]

    @cached_property
    def _dimensions(self) -> list[str]:
        return sorted({d for (_, _, d) in self.tallies})

    def pulse(self, unit_id: int, lang: Lang) -> UnitPulse:
        """The unit's view, built once per unit and language and shared by its readers (the
        latest VIEWS_KEPT of them: digests go out leader by leader, so a view is wanted again
        soon or not at all, and all of a big organisation's would not fit)."""
        key = unit_id * 2 + (lang == "en")
        if key not in self._pulses:
            if len(self._pulses) >= VIEWS_KEPT:
                del self._pulses[next(iter(self._pulses))]
            self._pulses[key] = self._build_pulse(unit_id, lang)
        return self._pulses[key]

    def _build_pulse(self, unit_id: int, lang: Lang) -> UnitPulse:
        unit = self.units[unit_id]
        first_shown = len(self.weeks) - len(self.shown_weeks)
        measured = [w for w in range(first_shown, len(self.weeks)) if (unit_id, w) in self.turnout]
        latest = measured[-1] if measured else None
        lines: list[DimensionLine] = []
        series: dict[str, list[float | None]] = {}
        measured_dims = self._measured.get(unit_id, {})
        for dim in self._dimensions:
            shown_at = [
                w
                for w in measured_dims.get(dim, ())
                if unit_id in self.shown_tally.get((w, dim), ())
            ]
            if not shown_at or shown_at[-1] < first_shown:
                continue
            scores = {w: self.tallies[(unit_id, w, dim)] for w in shown_at}
            label = dimension_label(self.bank, dim, lang)
            last = scores[shown_at[-1]]
            before = scores[shown_at[-2]] if len(shown_at) > 1 else None
            lines.append(
                DimensionLine(
                    dim,
                    label,
                    last.score,
                    None if before is None else last.score - before.score,
                    self.weeks[shown_at[-1]].monday,
                )
            )
            series[label] = [
                scores[w].score if w in scores else None
                for w in range(first_shown, len(self.weeks))
            ]
        return UnitPulse(
            unit=unit,
            has_data=latest is not None,
            week=None if latest is None else self.weeks[latest].monday,
            turnout=None if latest is None else self.shown_turnout_of(unit_id, latest),
            lines=lines,
            series=series,
        )

    def measured(self, unit_id: int) -> Mapping[str, list[int]]:
        """The weeks each dimension of the unit's subtree was measured in."""
        return self._measured.get(unit_id, {})

    def shown_scores(self, unit_id: int) -> dict[str, list[float | None]]:
        """Each dimension's shown score of the unit, week by week over all the picture's weeks
        (None where nothing was shown): the input of flows.indices."""
        out: dict[str, list[float | None]] = {}
        for dim, measured in self._measured.get(unit_id, {}).items():
            values: list[float | None] = [None] * len(self.weeks)
            for w in measured:
                tally = self.shown_tally_of(unit_id, w, dim)
                if tally is not None:
                    values[w] = tally.score
            if any(v is not None for v in values):
                out[dim] = values
        return out

    def painter(self, t: Translator) -> TrendPainter:
        """One per language: what its charts share is drawn once and reused."""
        if t.lang not in self._painters:
            self._painters[t.lang] = TrendPainter([w.monday for w in self.shown_weeks], t)
        return self._painters[t.lang]

    def week_index(self, monday: dt.date) -> int:
        return next(i for i, w in enumerate(self.weeks) if w.monday == monday)

    def committee_of(self, unit_id: int) -> Committee | None:
        for up in self._upwards(unit_id):
            if up in self.committees:
                return self.committees[up]
        return None


Group = TypeVar("Group")
Key = TypeVar("Key")


def _groups(ordered: list[Key], group_of: Callable[[Key], Group]) -> dict[Group, list[Key]]:
    """Consecutive runs of `ordered` by `group_of`, each a slice of the one list."""
    out: dict[Group, list[Key]] = {}
    start = 0
    for end in range(1, len(ordered) + 1):
        if end == len(ordered) or group_of(ordered[end]) != group_of(ordered[start]):
            out[group_of(ordered[start])] = ordered[start:end]
            start = end
    return out
