"""Weekly digests: to each leader about their unit and the units below it, and to each
committee's channel before its meeting.

Anonymity first (DESIGN.md, anonymity 1 and 5). A unit's figures are those of everyone in its
subtree, so a unit too small to show is folded into its parent, with a note, never shown
alone. Which figures may be shown is decided by flows.disclosure.decide for the whole
organisation at once, week by week (each week's decision knows what the week before showed),
once per week for turnout and once per (week, dimension) for scores, because the people who
answered a dimension's questions are the group its score describes. Every digest is only a
view of that one decision, so no two digests together reveal more than the decision allows.
Each unit's own round (its summary was posted to its channel) is a known figure too.

Speed (bench/aggregate.py, docs/bench.md: 50,000 members, 2,067 units and leaders, a year of
rounds): the figures come from two GROUP BY queries over RoundResult and Participation for all
units and weeks; a unit's view and chart are built once and reused by every leader who sees it;
charts are painted on a frame drawn once per language and legend (flows.charts.TrendPainter),
for a big run in a child process on the other core (flows.charts.ChartProcess) while this one
builds the messages and writes them in slices; repeated numbers and dates are formatted once.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial

from sqlalchemy import Integer, and_, case, distinct, func, insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from bot.core.config import MIN_GROUP_FLOOR, Settings
from bot.core.events import CommandInvoked
from bot.core.i18n import Lang, Translator, translator
from bot.core.messages import (
    Divider,
    Fact,
    Facts,
    Header,
    Image,
    Message,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import Outgoing, queue, to_member, to_unit_channel
from bot.core.router import FlowContext, Router
from flows.actions import PlanLine, load_plans, plan_parts
from flows.charts import ChartProcess, Series, TrendPainter
from flows.disclosure import Cell, decide
from flows.heatmap import HeatMaps, heatmap_of
from flows.ledger import Ledger, round_week, turnout_cell
from flows.ledger import cell as ledger_cell
from flows.pooling import PooledFigure, pool_over_weeks, pooled_parts
from flows.question_bank import default_bank
from flows.trend_lines import chart_alt, trend_lines
from storage.audit import audit_row
from storage.db import Database
from storage.models import (
    AuditEntry,
    Committee,
    DigestPreference,
    Meeting,
    Member,
    Membership,
    OutboxMessage,
    Participation,
    Proposal,
    PulseRound,
    RoundResult,
    StoredImage,
    Unit,
)

__all__ = [
    "JOBS",
    "Picture",
    "UnitPulse",
    "committee_message",
    "leader_message",
    "load_picture",
    "queue_committee_digests",
    "queue_leader_digests",
    "register",
]

log = logging.getLogger("medpuls.digest")

SHOWN_WEEKS = 12
# Rotation asks a dimension about every eighth week; the weeks before the chart let the
# first point on it still have a change since the measurement before.
EARLIER_WEEKS = 8
# A move of a few points in a group of five to twenty people is noise, not a trend.
TREND_STEP = 3.0
# disclosure.decide rescans the whole tree after each repair; a big organisation is decided
# subtree by subtree (see _gate).
GATE_PART = 150
# Unit views kept for reuse (Picture.pulse).
VIEWS_KEPT = 512
# Rows fetched at a time from the figures' queries.
STREAM_ROWS = 5000
ImageIds = Callable[[], str]


def new_image_id() -> str:
    return uuid.uuid4().hex


# --- weeks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    monday: dt.date
    start: dt.datetime
    end: dt.datetime


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def week_key(now: dt.datetime, tz: dt.tzinfo) -> str:
    year, week, _ = now.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def weeks_before(now: dt.datetime, tz: dt.tzinfo, count: int) -> list[Week]:
    """The `count` whole weeks before the local week holding `now`, oldest first.

    The digest of a week shows the weeks that have ended, so every leader of a unit sees the
    same figures whichever day they chose to get it.
    """
    today = now.astimezone(tz).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(count, 0, -1)]
    return [
        Week(m, _local_midnight(m, tz), _local_midnight(m + dt.timedelta(weeks=1), tz))
        for m in mondays
    ]


def _week_of(
    column: InstrumentedAttribute[dt.datetime | None], weeks: Sequence[Week]
) -> ColumnElement[int]:
    # Comparisons with bound instants instead of date functions: the same SQL on SQLite and
    # PostgreSQL, and local weeks (DST included) decided here rather than in the database.
    return case(*[(column < w.end, i) for i, w in enumerate(weeks)], else_=len(weeks))


# --- figures --------------------------------------------------------------------------------


# Slots: a big organisation holds a couple of hundred thousand of these.
@dataclass(slots=True)
class Tally:
    """A dimension's answers of one group in one week."""

    people: int = 0
    answers: int = 0
    value_sum: int = 0
    favourable: int = 0
    neutral: int = 0
    unfavourable: int = 0

    def add(self, other: Tally) -> None:
        self.people += other.people
        self.answers += other.answers
        self.value_sum += other.value_sum
        self.favourable += other.favourable
        self.neutral += other.neutral
        self.unfavourable += other.unfavourable

    @property
    def score(self) -> float:
        """The 0-100 score of the mean answer (1 -> 0, 5 -> 100)."""
        return (self.value_sum / self.answers - 1.0) * 25.0 if self.answers else 0.0


@dataclass(slots=True)
class Turnout:
    asked: int = 0
    answered: int = 0

    def add(self, other: Turnout) -> None:
        self.asked += other.asked
        self.answered += other.answered


@dataclass(frozen=True)
class OrgUnit:
    id: int
    path: str
    name: str
    parent_id: int | None


@dataclass(frozen=True)
class DimensionLine:
    dimension: str
    label: str
    score: float
    change: float | None
    measured: dt.date


@dataclass(frozen=True)
class UnitPulse:
    """What a digest may say about one unit (its whole subtree): only shown figures."""

    unit: OrgUnit
    has_data: bool
    # The latest week anything was measured in the subtree; None without any data.
    week: dt.date | None
    turnout: Turnout | None
    lines: list[DimensionLine]
    series: dict[str, list[float | None]]

    @property
    def lowest(self) -> DimensionLine | None:
        return min(self.lines, key=lambda line: line.score, default=None)

    @property
    def biggest_drop(self) -> DimensionLine | None:
        drops = [ln for ln in self.lines if ln.change is not None and ln.change <= -TREND_STEP]
        return min(drops, key=lambda line: line.change or 0.0, default=None)


@dataclass
class Pipeline:
    new: int = 0
    on_agenda: int = 0
    awaiting: int = 0


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
    ) -> None:
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
        total: dict[tuple[int, int], Turnout] = defaultdict(Turnout)
        for (unit_id, w), t in own.items():
            for up in self._upwards(unit_id):
                total[(up, w)].add(t)
        return dict(total)

    def _roll_up_tallies(
        self, own: Mapping[tuple[int, int, str], Tally]
    ) -> dict[tuple[int, int, str], Tally]:
        total: dict[tuple[int, int, str], Tally] = defaultdict(Tally)
        for (unit_id, w, dim), t in own.items():
            for up in self._upwards(unit_id):
                total[(up, w, dim)].add(t)
        # The few weeks each unit's dimension was measured, so a view looks only at those.
        self._measured: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for unit_id, w, dim in sorted(total):
            self._measured[unit_id][dim].append(w)
        return dict(total)

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
        # Grouped once: scanning every figure for every (week, dimension) was quadratic.
        answered: dict[int, dict[int, int]] = defaultdict(dict)
        own_answered: dict[int, dict[int, int]] = defaultdict(dict)
        for (u, wk), t in self.turnout.items():
            answered[wk][u] = t.answered
        for (u, wk), t in own_turnout.items():
            own_answered[wk][u] = t.answered
        people: dict[tuple[str, int], dict[int, int]] = defaultdict(dict)
        own_people: dict[tuple[str, int], dict[int, int]] = defaultdict(dict)
        for (u, wk, d), tally in self.tallies.items():
            people[(d, wk)][u] = tally.people
        for (u, wk, d), tally in own_tallies.items():
            own_people[(d, wk)][u] = tally.people
        previous: frozenset[str] = frozenset()
        for w in range(len(self.weeks)):
            cells, published = self._cells(answered[w], own_answered[w])
            shown = _gate(cells, self.min_size, [previous, published])
            previous = shown
            self.shown_turnout.append(frozenset(int(k[1:]) for k in shown if k[0] == "u"))
        for dim in self._dimensions:
            previous = frozenset()
            for w in range(len(self.weeks)):
                cells, published = self._cells(people[(dim, w)], own_people[(dim, w)])
                shown = _gate(cells, self.min_size, [previous, published])
                previous = shown
                self.shown_tally[(w, dim)] = frozenset(int(k[1:]) for k in shown if k[0] == "u")

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
            label = dimension_label(dim, lang)
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


def _gate(cells: Sequence[Cell], min_size: int, history: Sequence[Iterable[str]]) -> frozenset[str]:
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


def dimension_label(dimension: str, lang: Lang) -> str:
    dims = default_bank().dimensions
    return dims[dimension].label.get(lang) if dimension in dims else dimension


# --- loading (SQL) --------------------------------------------------------------------------


def strictest_threshold(session: Session, settings: Settings) -> int:
    committee_min = session.scalar(select(func.max(Committee.min_group_size))) or 0
    return max(settings.min_group_size, int(committee_min))


def load_picture(session: Session, settings: Settings, now: dt.datetime) -> Picture:
    """All units' figures for the window in two GROUP BY queries, then the decisions."""
    weeks = weeks_before(now, settings.tz, SHOWN_WEEKS + EARLIER_WEEKS)
    in_window = and_(
        PulseRound.closed_at.is_not(None),
        PulseRound.closed_at >= weeks[0].start,
        PulseRound.closed_at < weeks[-1].end,
    )
    asked = (
        select(
            PulseRound.unit_id.label("unit_id"),
            _week_of(PulseRound.closed_at, weeks).label("w"),
            Participation.member_id.label("member_id"),
            Participation.answered.label("answered"),
        )
        .join(PulseRound, PulseRound.id == Participation.round_id)
        .where(in_window)
        .subquery()
    )
    # Rows streamed (STREAM_ROWS at a time, a server-side cursor on PostgreSQL), each unit id
    # and dimension name kept once: a big organisation has hundreds of thousands of rows.
    same: dict[int, int] = {}
    turnout = {
        (same.setdefault(int(unit_id), int(unit_id)), int(w)): Turnout(
            int(n_asked), int(n_answered)
        )
        for unit_id, w, n_asked, n_answered in session.execute(
            select(
                asked.c.unit_id,
                asked.c.w,
                func.count(distinct(asked.c.member_id)),
                func.count(distinct(case((asked.c.answered.is_(True), asked.c.member_id)))),
            ).group_by(asked.c.unit_id, asked.c.w),
            execution_options={"yield_per": STREAM_ROWS},
        )
    }
    # Per round and dimension first: two questions of one dimension in a round are answered
    # by (about) the same people, who must be counted once for the disclosure decision.
    per_round = (
        select(
            PulseRound.unit_id.label("unit_id"),
            _week_of(PulseRound.closed_at, weeks).label("w"),
            RoundResult.dimension.label("dimension"),
            func.max(RoundResult.respondents).label("people"),
            func.sum(RoundResult.respondents).label("answers"),
            func.sum(RoundResult.value_sum).label("value_sum"),
            func.sum(RoundResult.favourable).label("favourable"),
            func.sum(RoundResult.neutral).label("neutral"),
            func.sum(RoundResult.unfavourable).label("unfavourable"),
        )
        .join(PulseRound, PulseRound.id == RoundResult.round_id)
        .where(in_window)
        .group_by(
            RoundResult.round_id, RoundResult.dimension, PulseRound.unit_id, PulseRound.closed_at
        )
        .subquery()
    )
    c = per_round.c
    # Integers from the database: PostgreSQL sums sums as NUMERIC, and converting a
    # hundred thousand Decimals cost more than the query.
    tallies = {
        (same.setdefault(unit_id, unit_id), w, sys.intern(dimension)): Tally(*figures)
        for unit_id, w, dimension, *figures in session.execute(
            select(
                c.unit_id,
                c.w,
                c.dimension,
                *(
                    func.sum(column).cast(Integer)
                    for column in (
                        c.people,
                        c.answers,
                        c.value_sum,
                        c.favourable,
                        c.neutral,
                        c.unfavourable,
                    )
                ),
            ).group_by(c.unit_id, c.w, c.dimension),
            execution_options={"yield_per": STREAM_ROWS},
        )
    }
    units = [
        OrgUnit(int(i), p, n, pid)
        for i, p, n, pid in session.execute(select(Unit.id, Unit.path, Unit.name, Unit.parent_id))
    ]
    committees = {c.unit_id: c for c in session.scalars(select(Committee))}
    picture = Picture(
        units,
        weeks,
        turnout,
        tallies,
        strictest_threshold(session, settings),
        committees={k: v for k, v in committees.items()},
        pipelines=load_pipelines(session, now),
    )
    # Rolled up into the picture: the units' own figures go before the ledger loads its week.
    del turnout, tallies, same
    gate_with_ledger(session, picture, settings.tz, in_window)
    if picture.weeks:
        # Pools span weeks, so their ledger spans the window; it is built after the weekly
        # ledgers are gone and focuses a pool's weeks at a time (flows/pooling.py).
        weeks = picture.weeks
        pool_ledger = Ledger(
            session, picture.min_size, since=weeks[0].start, until=weeks[-1].end, tz=settings.tz
        )
        pool_over_weeks(session, picture, pool_ledger, settings.tz)
    picture.plans = load_plans(session, now)
    return picture


def gate_with_ledger(
    session: Session, picture: Picture, tz: dt.tzinfo, in_window: ColumnElement[bool]
) -> None:
    """Decide every figure the tree gate let through against the ledger (flows.ledger): what
    channel summaries, results views and earlier digests showed, to anyone.

    A unit's figure covers the cells of every round in its subtree in that week (the turnout
    cells for participation, the dimension's question cells for a score). Smaller figures are
    decided first, so a parent, not its children, gives way when the two together would
    reveal a small group.
    """
    weeks = picture.weeks
    names = [round_week(w.start, tz) for w in weeks]
    dims = sorted({dim for (_, dim) in picture.shown_tally})
    # Week by week: a figure of one week covers only that week's rounds, and deciding one
    # week at a time keeps the ledger's memory to a week (bench/aggregate.py: 50,000 people).
    for w, week in enumerate(weeks):
        # A ledger per week: it holds the cell sizes of the rounds it loads, and the whole
        # window's (hundreds of thousands of cells for 100,000 people) would not fit.
        ledger = Ledger(session, picture.min_size, since=week.start, until=week.end, tz=tz)
        ledger.focus(round_week(week.start + dt.timedelta(days=d), tz) for d in (-7, 0, 7))
        this_week = and_(
            in_window, PulseRound.closed_at >= week.start, PulseRound.closed_at < week.end
        )
        turnout_cells: dict[int, list[str]] = defaultdict(list)
        score_cells: dict[tuple[int, str], list[str]] = defaultdict(list)
        for rid, unit_id in session.execute(
            select(PulseRound.id, PulseRound.unit_id).where(this_week)
        ):
            name = turnout_cell(int(rid))
            for up in picture.chain(int(unit_id)):
                turnout_cells[up].append(name)
        for rid, qid, dim, unit_id in session.execute(
            select(
                RoundResult.round_id,
                RoundResult.question_id,
                RoundResult.dimension,
                PulseRound.unit_id,
            )
            .join(PulseRound, PulseRound.id == RoundResult.round_id)
            .where(this_week)
        ):
            name = ledger_cell(int(rid), qid)
            for up in picture.chain(int(unit_id)):
                score_cells[(up, dim)].append(name)
        shown = picture.shown_turnout[w]
        picture.shown_turnout[w] = frozenset(
            u
            for u in sorted(shown, key=lambda u: len(turnout_cells[u]))
            if ledger.decide(
                "digest",
                turnout_cells[u],
                week=names[w],
                record_known=False,
                batch=f"digest:{names[w]}:turnout",
            ).shown
        ) | already_shown(ledger, turnout_cells, shown)
        by_dim: dict[str, dict[int, list[str]]] = defaultdict(dict)
        for (u, d), cs in score_cells.items():
            by_dim[d][u] = cs
        for dim in dims:
            shown = picture.shown_tally.get((w, dim), frozenset())
            picture.shown_tally[(w, dim)] = frozenset(
                u
                for u in sorted(shown, key=lambda u: len(score_cells[(u, dim)]))
                if ledger.decide(
                    "digest",
                    score_cells[(u, dim)],
                    week=names[w],
                    record_known=False,
                    batch=f"digest:{names[w]}:{dim}",
                ).shown
            ) | already_shown(ledger, by_dim.get(dim, {}), shown)
        ledger.flush()


def already_shown(
    ledger: Ledger, cells_of: Mapping[int, Sequence[str]], decided: Collection[int]
) -> frozenset[int]:
    """Units the tree gate withheld whose figure some path has already shown (a channel
    summary, most often): showing it again tells nothing new, and withholding it would make the
    digest contradict that summary (issue 17)."""
    return frozenset(
        u for u, cells in cells_of.items() if u not in decided and cells and ledger.known(cells)
    )


def load_pipelines(session: Session, now: dt.datetime) -> dict[int, Pipeline]:
    """Proposal counts per committee: new, on a coming agenda, discussed and awaiting outcome."""
    rows = (
        select(
            Proposal.committee_id.label("committee_id"),
            Proposal.status.label("status"),
            case((Meeting.starts_at <= now, 1), else_=0).label("held"),
        )
        .outerjoin(Meeting, Meeting.id == Proposal.meeting_id)
        .where(Proposal.status.in_(("new", "on_agenda")))
        .subquery()
    )
    out: dict[int, Pipeline] = defaultdict(Pipeline)
    for committee_id, status, held, n in session.execute(
        select(rows.c.committee_id, rows.c.status, rows.c.held, func.count()).group_by(
            rows.c.committee_id, rows.c.status, rows.c.held
        )
    ):
        pipe = out[int(committee_id)]
        if status == "new":
            pipe.new += int(n)
        elif held:
            pipe.awaiting += int(n)
        else:
            pipe.on_agenda += int(n)
    return dict(out)


# --- the messages ---------------------------------------------------------------------------

# Two thousand digests repeat the same hundred whole numbers and twenty weeks tens of
# thousands of times; Babel formatting each again was a tenth of a run.


@lru_cache(maxsize=1024)
def _formatted_whole(lang: Lang, number: int) -> str:
    return translator(lang).number(number, 0)


@lru_cache(maxsize=1024)
def _formatted_day(lang: Lang, day: dt.date) -> str:
    return translator(lang).date(day)


def _whole(t: Translator, value: float) -> str:
    """t.number(value, 0), formatted once per whole number."""
    if not 0 <= value < 1e9:
        return t.number(value, 0)
    # Babel rounds the decimal shortest repr half to even; a repr ending in .5 is exactly
    # .5 in binary, so Python's round gives the same whole number.
    return _formatted_whole(t.lang, round(value))


def _short_date(t: Translator, day: dt.date) -> str:
    return _formatted_day(t.lang, day)


def _signed(t: Translator, change: float) -> str:
    rounded = round(change)
    if rounded == 0:
        return "±0"
    # A real minus sign: a hyphen before a number is easy to miss on a phone.
    return ("+" if rounded > 0 else "−") + _whole(t, abs(rounded))


def _arrow(change: float | None) -> str:
    if change is None or abs(change) < TREND_STEP:
        return "→"
    return "↑" if change > 0 else "↓"


def _line_value(t: Translator, line: DimensionLine) -> str:
    score = _whole(t, line.score)
    when = _short_date(t, line.measured)
    if line.change is None:
        return t("digest.dimension_first", score=score, date=when)
    return t(
        "digest.dimension_value",
        score=score,
        arrow=_arrow(line.change),
        change=_signed(t, line.change),
        date=when,
    )


def _turnout_text(t: Translator, picture: Picture, pulse: UnitPulse) -> str:
    assert pulse.week is not None
    week = _short_date(t, pulse.week)
    minimum = picture.min_size
    if pulse.turnout is None:
        # The same words for both reasons a figure is withheld, and never "the unit above"
        # where there is none (issue 17).
        if any(line.measured == pulse.week for line in pulse.lines):
            return t("digest.turnout_withheld", week=week)
        parent = picture.units.get(pulse.unit.parent_id or -1)
        if parent is None:
            return t("digest.turnout_hidden_top", week=week, unit=pulse.unit.name, minimum=minimum)
        return t(
            "digest.turnout_hidden",
            week=week,
            unit=pulse.unit.name,
            minimum=minimum,
            parent=parent.name,
        )
    share = pulse.turnout.answered / pulse.turnout.asked if pulse.turnout.asked else 0.0
    return t(
        "digest.turnout",
        n=pulse.turnout.answered,
        asked=pulse.turnout.asked,
        share=t.percent(share),
        week=week,
    )


def _callout(t: Translator, pulse: UnitPulse) -> str | None:
    lowest, drop = pulse.lowest, pulse.biggest_drop
    if lowest is None:
        return None
    low = {"lowest": lowest.label, "low_score": _whole(t, lowest.score)}
    if drop is None or drop.change is None:
        return t("digest.callout_no_drop", **low)
    return t("digest.callout", drop=drop.label, change=_signed(t, drop.change), **low)


def _units_below(t: Translator, picture: Picture, pulse: UnitPulse, lang: Lang) -> list[Part]:
    if pulse.week is None:
        return []
    w = picture.week_index(pulse.week)
    facts: list[Fact] = []
    folded: list[str] = []
    for child_id in picture.children.get(pulse.unit.id, []):
        if (child_id, w) not in picture.turnout:
            continue
        child = picture.pulse(child_id, lang)
        turnout = picture.shown_turnout_of(child_id, w)
        if turnout is None:
            folded.append(child.unit.name)
            continue
        scores = [
            t("digest.unit_score", dimension=line.label, score=_whole(t, line.score))
            for line in child.lines
            if line.measured == pulse.week
        ]
        value = t("digest.unit_turnout", n=turnout.answered, asked=turnout.asked)
        facts.append(Fact(label=child.unit.name, value=" · ".join([value, *scores])))
    parts: list[Part] = []
    if facts or folded:
        parts.append(Text(text=t("digest.units_below", week=_short_date(t, pulse.week))))
    if facts:
        parts.append(Facts(facts=facts))
    if folded:
        parts.append(
            SmallPrint(text=t("digest.folded", units=", ".join(folded), parent=pulse.unit.name))
        )
    return parts


def _pipeline(t: Translator, picture: Picture, unit_id: int) -> list[Part]:
    committee = picture.committee_of(unit_id)
    if committee is None:
        return []
    pipe = picture.pipelines.get(committee.id, Pipeline())
    return [
        Text(
            text=t(
                "digest.pipeline",
                committee=committee.name,
                new=t.plural("digest.pipeline_new", pipe.new),
                on_agenda=pipe.on_agenda,
                awaiting=pipe.awaiting,
            )
        )
    ]


def chart_png(picture: Picture, pulse: UnitPulse, t: Translator) -> bytes | None:
    """The 12-week chart of the unit's indices and the dimension to watch, or None when there
    is nothing to draw (flows.trend_lines)."""
    series, title = _chart(picture, pulse.unit.id, t)
    return picture.painter(t).png(series, title) if series else None


def _chart(picture: Picture, unit_id: int, t: Translator) -> tuple[list[Series], str]:
    series = trend_lines(picture, unit_id, t)
    return series, t("charts.title", unit=picture.units[unit_id].name)


def _body(
    t: Translator,
    picture: Picture,
    pulse: UnitPulse,
    image_id: str | None,
    lang: Lang,
) -> list[Part]:
    minimum = picture.min_size
    if not pulse.has_data:
        return [Text(text=t("digest.no_data", unit=pulse.unit.name, minimum=minimum))]
    parts: list[Part] = [Text(text=_turnout_text(t, picture, pulse))]
    if pulse.lines:
        parts.append(
            Facts(facts=[Fact(label=ln.label, value=_line_value(t, ln)) for ln in pulse.lines])
        )
        callout = _callout(t, pulse)
        if callout:
            parts.append(Text(text=callout))
    parts.extend(pooled_parts(picture, pulse.unit.id, t))
    parts.extend(_units_below(t, picture, pulse, lang))
    if image_id is not None:
        lines = trend_lines(picture, pulse.unit.id, t)
        parts.append(Image(image_id=image_id, alt=chart_alt(pulse.unit.name, lines, t)))
    else:
        parts.append(SmallPrint(text=t("digest.no_chart", unit=pulse.unit.name)))
    return parts


def leader_message(
    picture: Picture,
    unit_id: int,
    t: Translator,
    image_id: str | None,
    heat_map: Sequence[Part] = (),
) -> Message:
    pulse = picture.pulse(unit_id, t.lang)
    parts: list[Part] = [Header(text=t("digest.title", unit=pulse.unit.name))]
    parts.extend(_body(t, picture, pulse, image_id, t.lang))
    parts.extend(heat_map)  # flows.heatmap: the units below, side by side
    parts.extend(_action_plan(t, picture, unit_id))
    parts.append(Divider())
    parts.extend(_pipeline(t, picture, unit_id))
    parts.append(SmallPrint(text=t("digest.footer", minimum=picture.min_size)))
    return Message(summary=t("digest.summary", unit=pulse.unit.name), parts=parts)


# --- action plans (issue 19; flows/actions.py) ------------------------------------------------


def _action_plan(t: Translator, picture: Picture, unit_id: int) -> list[Part]:
    """The plan's status and, after each action's date, its dimension's trend. The trend's
    figures are the round's published ones (flows.actions.trend_of, through decide)."""
    lines = picture.plans.get(unit_id, ())
    return [Divider(), *plan_parts(lines, t)] if lines else []


def committee_message(
    picture: Picture,
    committee: Committee,
    meeting: Meeting,
    t: Translator,
    image_id: str | None,
    tz: dt.tzinfo,
) -> Message:
    pulse = picture.pulse(committee.unit_id, t.lang)
    when = t.date(meeting.starts_at.astimezone(tz).date(), "d. MMMM")
    parts: list[Part] = [
        Header(text=t("digest.committee_title", committee=committee.name, date=when))
    ]
    parts.extend(_body(t, picture, pulse, image_id, t.lang))
    parts.append(Divider())
    parts.extend(_pipeline(t, picture, committee.unit_id))
    parts.append(SmallPrint(text=t("digest.committee_footer", minimum=picture.min_size)))
    return Message(
        summary=t("digest.committee_summary", committee=committee.name, date=when), parts=parts
    )


# --- queueing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leader:
    member_id: int
    language: Lang
    units: tuple[int, ...]
    weekday: int
    local_time: str
    paused: bool


def _leaders(session: Session, default: Lang) -> list[Leader]:
    rows = session.execute(
        select(
            Membership.member_id,
            Membership.unit_id,
            Member.language,
            DigestPreference.weekday,
            DigestPreference.local_time,
            DigestPreference.paused,
        )
        .join(Member, Member.id == Membership.member_id)
        .outerjoin(DigestPreference, DigestPreference.member_id == Membership.member_id)
        .where(Member.erased.is_(False), Membership.has_role("leader"))
        .order_by(Membership.member_id, Membership.unit_id)
    ).all()
    grouped: dict[int, list[tuple[int, str | None, int | None, str | None, bool | None]]] = (
        defaultdict(list)
    )
    for member_id, unit_id, lang, weekday, local_time, paused in rows:
        grouped[member_id].append((unit_id, lang, weekday, local_time, paused))
    out = []
    for member_id, items in grouped.items():
        _, speaks, day, time, on_hold = items[0]
        out.append(
            Leader(
                member_id,
                speaks if speaks in ("da", "en") else default,  # type: ignore[arg-type]
                tuple(u for u, *_ in items),
                0 if day is None else day,
                time or "08:00",
                bool(on_hold),
            )
        )
    return out


def due_at(leader: Leader, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """When this week's digest is due for the leader; ValueError for a broken preference."""
    if not 0 <= leader.weekday <= 6:
        raise ValueError("weekday out of range")
    hour, minute = (int(x) for x in leader.local_time.split(":"))
    today = now.astimezone(tz).date()
    day = today - dt.timedelta(days=today.weekday() - leader.weekday)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)


def _covered(picture: Picture, units: Sequence[int]) -> list[int]:
    """The led units not already inside another led unit (that digest covers them)."""
    chosen = set(units)
    return [
        u
        for u in units
        if u in picture.units and not any(a in chosen for a in list(picture._upwards(u))[1:])
    ] + [u for u in units if u not in picture.units]


def _sent_keys(session: Session, pattern: str) -> set[str]:
    """The dedupe keys already queued that match the LIKE `pattern`."""
    return set(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like(pattern))
        )
    )


# Messages are written in slices: while one slice's rows go to the database, the chart process
# draws the charts of the slices after it.
WRITE_SLICE = 256
# From this many digests on, charts are drawn in a child process on the other core; for a few
# the child's start (a tenth of a second) is not worth it.
CHART_PROCESS_FROM = 100


@dataclass
class _Entry:
    outgoing: Outgoing
    audit: dict[str, object]
    image_id: str | None
    # Names the leader or committee in the log line if its chart fails.
    whose: dict[str, object]


@dataclass
class _Batch:
    """Outgoing messages, charts and audit rows gathered before a bulk write.

    With a `painting` process the charts are drawn there while the messages are built and
    written; without one they are drawn at once.
    """

    picture: Picture
    now: dt.datetime
    image_ids: ImageIds
    painting: ChartProcess | None = None
    entries: list[_Entry] = field(default_factory=list)
    images: dict[tuple[int, Lang], str | None] = field(default_factory=dict)
    pngs: dict[str, Future[bytes]] = field(default_factory=dict)
    # How to draw a chart here should the painting process fail it.
    redraw: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    # Charts already stored: a later digest of the same unit and language only names it.
    written: set[str] = field(default_factory=set)
    failed: int = 0
    added: int = 0

    def chart_for(self, unit_id: int, t: Translator) -> str | None:
        key = (unit_id, t.lang)
        if key not in self.images:
            series, title = _chart(self.picture, unit_id, t)
            image_id = self.image_ids() if series else None
            if image_id is not None:
                self.pngs[image_id] = self._paint(image_id, series, title, t)
            self.images[key] = image_id
        return self.images[key]

    def _paint(
        self, image_id: str, series: list[Series], title: str, t: Translator
    ) -> Future[bytes]:
        painter = self.picture.painter(t)
        if self.painting is not None:
            self.redraw[image_id] = lambda: painter.png(series, title)
            return self.painting.submit(painter, series, title)
        drawn: Future[bytes] = Future()
        try:
            drawn.set_result(painter.png(series, title))
        except Exception as err:  # reported with the message it belongs to, in write
            drawn.set_exception(err)
        return drawn

    def add(
        self,
        outgoing: Outgoing,
        audit: dict[str, object],
        image_id: str | None,
        whose: dict[str, object],
    ) -> None:
        self.entries.append(_Entry(outgoing, audit, image_id, whose))

    def _png(self, image_id: str) -> bytes:
        try:
            return self.pngs[image_id].result()
        except Exception:
            if image_id not in self.redraw:
                raise
        # The process failed it (it died, or could not start Python, or the data is broken):
        # drawn here instead, slower but no digest is lost to the process.
        return self.redraw.pop(image_id)()

    def write_ready(self, session: Session) -> None:
        """Write the slices before the newest, whose charts are still being painted: what
        is held stays two slices, however many digests the organisation has."""
        while len(self.entries) >= 2 * WRITE_SLICE:
            self._write_slice(session, WRITE_SLICE)

    def write(self, session: Session) -> int:
        """Write every message whose chart could be drawn; returns how many."""
        while self.entries:
            self._write_slice(session, WRITE_SLICE)
        return self.added

    def _write_slice(self, session: Session, size: int) -> None:
        if self.painting is not None:
            self.painting.flush()
        head, self.entries = self.entries[:size], self.entries[size:]
        entries: list[_Entry] = []
        images: list[dict[str, object]] = []
        for entry in head:
            if entry.image_id is not None and entry.image_id not in self.written:
                try:
                    png = self._png(entry.image_id)
                except Exception as err:  # one broken chart must not stop the others
                    self.failed += 1
                    log.error(
                        "digest chart not drawn; digest skipped",
                        extra={**entry.whose, "error": type(err).__name__},
                    )
                    continue
                self.written.add(entry.image_id)
                # Written: later digests of the unit only name it.
                self.pngs.pop(entry.image_id, None)
                self.redraw.pop(entry.image_id, None)
                images.append({"id": entry.image_id, "png": png, "created_at": self.now})
            entries.append(entry)
        if images:
            session.execute(insert(StoredImage), images)
        if entries:
            session.execute(insert(AuditEntry), [e.audit for e in entries])
            queue(session, [e.outgoing for e in entries])
        # Keys already queued were left out before building, so every message here is new;
        # the insert's own row count is not reliable across drivers.
        self.added += len(entries)


def queue_leader_digests(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    *,
    due_only: bool = True,
    image_ids: ImageIds = new_image_id,
    picture: Picture | None = None,
    again: bool = False,
) -> int:
    """Queue this week's digest for every leader (or only those now due); returns how many.

    One leader whose data is broken is logged and skipped; the others are queued. Paused
    leaders get nothing, also from `medpuls digest send-now`. With `again`, every leader gets
    an updated one even if this week's went already: one more per call, each under its own key
    (":again<n>"), so a retried delivery still sends it once.
    """
    tz = settings.tz
    week = week_key(now, tz)
    # This week's only: every week of the year before would pile up here.
    sent = _sent_keys(session, f"digest:leader:%:{week}:%")
    suffix = ""
    if again:
        done = [int(k.rsplit(":again", 1)[1]) for k in sent if ":again" in k]
        suffix = f":again{1 + max(done, default=0)}"
        sent = {k for k in sent if k.endswith(suffix)}
    leaders = [ld for ld in _leaders(session, settings.language) if not ld.paused]
    pending: list[tuple[Leader, int]] = []
    for leader in leaders:
        try:
            if due_only and now < due_at(leader, now, tz):
                continue
        except ValueError:
            log.error(
                "digest preference unreadable; leader skipped",
                extra={"member_id": leader.member_id},
            )
            continue
        pending.extend(
            (leader, unit_id)
            for unit_id in leader.units
            if f"digest:leader:{leader.member_id}:{week}:{unit_id}{suffix}" not in sent
        )
    if not pending:
        return 0
    picture = picture or load_picture(session, settings, now)
    painting = _chart_process() if len(pending) >= CHART_PROCESS_FROM else None
    try:
        added, failed = _queue_for_leaders(
            session, picture, pending, week, now, image_ids, painting, suffix
        )
    finally:
        if painting is not None:
            painting.close()
    log.info("leader digests queued", extra={"count": added, "failed": failed, "week": week})
    return added


def _chart_process() -> ChartProcess | None:
    try:
        return ChartProcess()
    except OSError as err:  # drawing here is slower, not wrong
        log.warning("chart process not started", extra={"error": type(err).__name__})
        return None


def _queue_for_leaders(
    session: Session,
    picture: Picture,
    pending: Sequence[tuple[Leader, int]],
    week: str,
    now: dt.datetime,
    image_ids: ImageIds,
    painting: ChartProcess | None,
    suffix: str = "",
) -> tuple[int, int]:
    """Build and write the pending digests; returns how many were queued and how many not."""
    batch = _Batch(picture, now, image_ids, painting)
    heat_maps = HeatMaps()
    failed = 0
    by_leader: dict[int, tuple[Leader, list[int]]] = {}
    for leader, unit_id in pending:
        by_leader.setdefault(leader.member_id, (leader, []))[1].append(unit_id)
    for leader, units in by_leader.values():
        t = translator(leader.language)
        for unit_id in _covered(picture, units):
            try:
                unit = picture.units[unit_id]
                image_id = batch.chart_for(unit_id, t)
                heat = heat_maps.parts(unit_id, t, partial(heatmap_of, picture, unit_id, t))
                message = leader_message(picture, unit_id, t, image_id, heat)
            except Exception as err:  # one leader's broken data must not stop the others
                failed += 1
                log.error(
                    "digest not built; leader skipped",
                    extra={
                        "member_id": leader.member_id,
                        "unit": unit_id,
                        "error": type(err).__name__,
                    },
                )
                continue
            batch.add(
                to_member(
                    leader.member_id,
                    f"digest:leader:{leader.member_id}:{week}:{unit_id}{suffix}",
                    message,
                    purpose="digest.leader",
                ),
                audit_row(
                    leader.member_id,
                    "view.digest",
                    unit.path,
                    allowed=True,
                    now=now,
                    week=week,
                    kind="leader",
                ),
                image_id,
                {"member_id": leader.member_id, "unit": unit_id},
            )
            batch.write_ready(session)
    heat_maps.write(session, now)
    added = batch.write(session)
    return added, failed + batch.failed


def queue_committee_digests(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    *,
    image_ids: ImageIds = new_image_id,
) -> int:
    """Queue the pulse picture to each committee whose agenda is released and meeting to come."""
    sent = _sent_keys(session, "digest:committee:%")
    meetings = [
        m
        for m in session.scalars(
            select(Meeting).where(Meeting.agenda_release <= now, Meeting.starts_at > now)
        )
        if f"digest:committee:{m.id}" not in sent
    ]
    if not meetings:
        return 0
    picture = load_picture(session, settings, now)
    batch = _Batch(picture, now, image_ids)
    t = translator(settings.language)
    for meeting in meetings:
        committee = meeting.committee
        try:
            image_id = batch.chart_for(committee.unit_id, t)
            message = committee_message(picture, committee, meeting, t, image_id, settings.tz)
        except Exception as err:  # one committee's broken data must not stop the others
            log.error(
                "committee digest not built",
                extra={"committee": committee.id, "error": type(err).__name__},
            )
            continue
        batch.add(
            to_unit_channel(
                committee.unit_id,
                f"digest:committee:{meeting.id}",
                message,
                purpose="digest.committee",
            ),
            audit_row(
                None,
                "view.digest",
                committee.unit.path,
                allowed=True,
                now=now,
                kind="committee",
                committee=committee.name,
            ),
            image_id,
            {"committee": committee.id},
        )
        batch.write_ready(session)
    return batch.write(session)


def send_due_digests(db: Database, settings: Settings, now: dt.datetime) -> None:
    with db.session() as session:
        queue_leader_digests(session, settings, now, due_only=True)


def send_committee_digests(db: Database, settings: Settings, now: dt.datetime) -> None:
    with db.session() as session:
        queue_committee_digests(session, settings, now)


JOBS = [send_due_digests, send_committee_digests]


# --- preferences: "digest pause", "digest resume", "digest tid man 08:00" --------------------

_DAYS = {
    **{d: i for i, d in enumerate(("man", "tir", "ons", "tor", "fre", "lør", "søn"))},
    **{d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
}
_PAUSE = {"pause", "stop"}
_RESUME = {"resume", "genoptag", "start"}
_TIME = {"tid", "time"}


def _day(word: str) -> int | None:
    return _DAYS.get(word.lower()[:3])


def _hhmm(word: str) -> str | None:
    hour, sep, minute = word.replace(".", ":").partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(minute) == 2):
        return None
    if not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
        return None
    return f"{int(hour):02d}:{minute}"


def on_digest_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    member = ctx.member
    if member is None:
        return Reply.note(t("common.unknown_user"))
    is_leader = ctx.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.member_id == member.id,
            Membership.has_role("leader"),
        )
    )
    if not is_leader:
        return Reply.note(t("digest.pref_not_leader"))
    words = event.text.split()[1:]
    pref = ctx.session.get(DigestPreference, member.id)
    if pref is None:
        pref = DigestPreference(member_id=member.id, weekday=0, local_time="08:00", paused=False)
        ctx.session.add(pref)
    head = words[0].lower() if words else ""
    if head in _PAUSE:
        pref.paused = True
        return Reply.note(t("digest.pref_paused"))
    if head in _RESUME:
        pref.paused = False
        return Reply.note(t("digest.pref_resumed", when=_when(t, pref)))
    if head in _TIME and len(words) == 3:
        day, time = _day(words[1]), _hhmm(words[2])
        if day is not None and time is not None:
            pref.weekday = day
            pref.local_time = time
            pref.paused = False
            return Reply.note(t("digest.pref_time", when=_when(t, pref)))
    return Reply.note(t("digest.pref_help", when=_when(t, pref)))


def _when(t: Translator, pref: DigestPreference) -> str:
    monday = dt.date(2024, 1, 1)
    hour, minute = (int(x) for x in pref.local_time.split(":"))
    moment = dt.datetime.combine(monday + dt.timedelta(days=pref.weekday), dt.time(hour, minute))
    return t.weekday_time(moment)


def register(router: Router) -> None:
    router.command("digest", "overblik")(on_digest_command)
