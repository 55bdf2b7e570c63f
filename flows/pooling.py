"""Pooling that keeps its promise (issue 17, point 2): a unit's answers are shown together with
others' or over several weeks, never alone, and never so that a difference opens.

Two kinds of pool, both decided by the one ledger (flows.ledger) against everything published:

* **Siblings and parent.** A unit too small to show alone is counted in its parent's figure (the
  digest's roll-up, flows.digest). The shared rotation (flows.question_bank, `slot`) makes
  siblings answer the same dimensions in the same week, so the parent's figure has the others'
  answers to add to. The parent's figure is shown when what it holds beyond its shown children
  (the small unit, its small siblings, the parent's own people) is at least the threshold;
  `where_counted` names the unit whose figures hold a round's answers, for the member's notice.
* **Over weeks.** Where a unit has too few respondents in a week, its figures over the last
  POOL_MIN_WEEKS to POOL_MAX_WEEKS weeks are shown once enough *distinct people* answered them.
  People are counted from participation (who answered each round), never from answers, which
  cannot be linked to anyone (DISCLOSURE.md, "groups are people"); flows.derivable's lower bound
  does the counting. A pool is one of the indices
  (flows.indices); its figure is the mean of all its answers in those weeks, a sum over the
  pool's cells, so the ledger's linear algebra covers it exactly. Weeks whose own figure of the
  pool was shown are left out: pooling them again would make the rest a difference.

Decisions depend on sets only (which rounds, who took part); values are read after the ledger
has let a pool out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from bot.core.i18n import Translator
from bot.core.messages import Fact, Facts, Part, Text
from flows.indices import INDICES, RELATIONAL_COORDINATION, SOCIAL_CAPITAL, index_points
from flows.ledger import POOLED_PATH, POOLED_WEEKS, Ledger, decided_before, round_week, turnout_cell
from flows.ledger import cell as ledger_cell
from storage.models import PulseRound, RoundResult, Unit

if TYPE_CHECKING:
    from flows.digest import Picture, Tally

__all__ = [
    "POOLED_PATH",
    "POOL_MAX_WEEKS",
    "POOL_MIN_WEEKS",
    "PooledFigure",
    "pool_dimensions",
    "pool_over_weeks",
    "pooled_parts",
    "standing_text",
    "standing_words",
]

POOL_MIN_WEEKS = 4
POOL_MAX_WEEKS = POOLED_WEEKS


def pool_dimensions() -> dict[str, tuple[str, ...]]:
    """Every pool over weeks by name: the two indices."""
    social = tuple(d for dims in SOCIAL_CAPITAL.values() for d in dims)
    # The components alone were tried too: five pools a week per unit cost the ledger's
    # search five times over for little a reader gains over the index itself.
    return {"social_capital": social, "relational_coordination": RELATIONAL_COORDINATION}


@dataclass(frozen=True)
class PooledFigure:
    """A pool's mean score over `weeks` weeks ending with picture week `week`."""

    unit_id: int
    pool: str
    week: int
    weeks: int
    score: float


@dataclass(frozen=True)
class _Cell:
    round_id: int
    unit_id: int
    week: int
    question_id: str
    dimension: str


def _cells(session: Session, picture: Picture, units: Iterable[int]) -> list[_Cell]:
    """The question cells of the units' rounds in the picture's weeks."""
    weeks = picture.weeks
    wanted = sorted(set(units))
    out: list[_Cell] = []
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(
                RoundResult.round_id,
                PulseRound.unit_id,
                PulseRound.closed_at,
                RoundResult.question_id,
                RoundResult.dimension,
            )
            .join(PulseRound, PulseRound.id == RoundResult.round_id)
            .where(
                and_(
                    PulseRound.unit_id.in_(wanted[start : start + 500]),
                    PulseRound.closed_at >= weeks[0].start,
                    PulseRound.closed_at < weeks[-1].end,
                )
            )
        )
        for rid, unit_id, closed_at, qid, dim in rows:
            if closed_at is None:
                continue
            # SQLite hands back naive UTC times.
            closed = closed_at if closed_at.tzinfo else closed_at.replace(tzinfo=dt.UTC)
            w = next(i for i, wk in enumerate(weeks) if closed < wk.end)
            out.append(_Cell(int(rid), int(unit_id), w, qid, dim))
    return out


def _subtree(picture: Picture, unit_id: int) -> list[int]:
    out, stack = [], [unit_id]
    while stack:
        u = stack.pop()
        out.append(u)
        stack.extend(picture.children.get(u, []))
    return out


def _candidates(picture: Picture, first: int) -> list[int]:
    """Units with a measured figure in the shown weeks that was not shown."""
    out = []
    for unit_id in picture.units:
        measured = picture.measured(unit_id)
        if any(
            w >= first and picture.shown_tally_of(unit_id, w, dim) is None
            for dim, weeks in measured.items()
            for w in weeks
        ):
            out.append(unit_id)
    return out


def pool_over_weeks(session: Session, picture: Picture, ledger: Ledger, tz: dt.tzinfo) -> None:
    """Decide, through `ledger`, the pools over weeks of every unit whose own figures are
    missing in some shown week; the ones let out go into `picture.pooled`."""
    weeks = picture.weeks
    first = len(weeks) - len(picture.shown_weeks)
    candidates = _candidates(picture, first)
    if not candidates:
        return
    subtree = {u: _subtree(picture, u) for u in candidates}
    by_unit: dict[int, list[_Cell]] = defaultdict(list)
    for c in _cells(session, picture, {v for vs in subtree.values() for v in vs}):
        by_unit[c.unit_id].append(c)
    names = [round_week(w.start, tz) for w in weeks]
    pools = pool_dimensions()
    cells_of = {u: [c for v in subtree[u] for c in by_unit.get(v, [])] for u in candidates}
    weekly = {u: index_points(picture.shown_scores(u), len(weeks)) for u in candidates}
    # One pool every POOL_MIN_WEEKS weeks, counted back from the latest: pools of every week
    # would overlap each other, and the ledger's search grows with every overlapping figure.
    # A pool stands for the weeks up to the next one (flows.indices).
    for w in range(len(weeks) - 1, first - 1, -POOL_MIN_WEEKS):
        # Sets first: which pools could hold enough people at all. Only then does the ledger
        # load everything published for the weeks they cover (the costly part).
        wanted = [
            (unit_id, pool, found)
            for unit_id in candidates
            for pool, dims in pools.items()
            if not (pool in INDICES and weekly[unit_id][pool][w] is not None)
            and (found := _pool_cells(picture, ledger, unit_id, dims, cells_of[unit_id], w))
        ]
        if not wanted:
            continue
        # A pool covers rounds of up to POOL_MAX_WEEKS weeks: the ledger looks at everything
        # published for any of them.
        ledger.focus(names[max(0, w - POOL_MAX_WEEKS) : w + 2])
        for unit_id, pool, (span, chosen) in wanted:
            figure = [ledger_cell(c.round_id, c.question_id) for c in chosen]
            if not ledger.decide(POOLED_PATH, figure, week=names[w]).shown:
                continue
            tallies = [
                t
                for (wk, dim) in {(c.week, c.dimension) for c in chosen}
                if (t := picture.tallies.get((unit_id, wk, dim))) is not None
            ]
            picture.pooled[(unit_id, pool)][w] = PooledFigure(
                unit_id, pool, w, span, _score(tallies)
            )
        ledger.flush()


def _pool_cells(
    picture: Picture,
    ledger: Ledger,
    unit_id: int,
    dims: Sequence[str],
    cells: Sequence[_Cell],
    w: int,
) -> tuple[int, list[_Cell]] | None:
    """The shortest span of weeks ending with `w` whose pool holds at least the threshold of
    people (counted from participation) and more than one round: (weeks, cells)."""
    wanted = set(dims)
    for span in range(POOL_MIN_WEEKS, POOL_MAX_WEEKS + 1):
        lo = w - span + 1
        if lo < 0:
            return None
        chosen = [
            c
            for c in cells
            if lo <= c.week <= w
            and c.dimension in wanted
            and picture.shown_tally_of(unit_id, c.week, c.dimension) is None
        ]
        if len({c.round_id for c in chosen}) < 2:
            continue
        figure = [ledger_cell(c.round_id, c.question_id) for c in chosen]
        if ledger.people(figure) >= ledger.min_size:
            return span, chosen
    return None


def _score(tallies: Sequence[Tally]) -> float:
    answers = sum(t.answers for t in tallies)
    total = sum(t.value_sum for t in tallies)
    return (total / answers - 1.0) * 25.0 if answers else 0.0


def pooled_of(
    pooled: Mapping[tuple[int, str], Mapping[int, PooledFigure]], unit_id: int, w: int
) -> list[PooledFigure]:
    """The unit's pools let out for week `w`."""
    return [f for (u, _), by_week in pooled.items() if u == unit_id for f in [by_week.get(w)] if f]


def standing_words(unit: Unit, minimum: int, t: Translator) -> str:
    """Where a unit's answers count when its figures are not shown alone: the same words for
    both reasons a figure is withheld, and no count of a small group (issue 17, point 4: "4
    svar" would be a figure of fewer than `minimum` people, DESIGN.md anonymity 1)."""
    parent = unit.parent
    if parent is None:
        return t("pulse.standing_top", unit=unit.name, minimum=minimum)
    return t("pulse.standing", unit=unit.name, minimum=minimum, parent=parent.name)


def standing_text(session: Session, pulse_round: PulseRound, t: Translator) -> str | None:
    """The closed round's notice for everyone asked, when its channel summary showed no
    figures (the ledger's decision on the round's turnout); None when it did."""
    if pulse_round.closed_at is None:
        return None
    if decided_before(session, [turnout_cell(pulse_round.id)]) is not False:
        return None
    return standing_words(pulse_round.unit, pulse_round.min_group_size, t)


def pooled_parts(picture: Picture, unit_id: int, t: Translator) -> list[Part]:
    """The digest's lines for the unit's pools over weeks: the latest of each pool in the
    shown weeks, with how many weeks it holds."""
    latest: dict[str, PooledFigure] = {}
    for (u, pool), by_week in picture.pooled.items():
        if u == unit_id and by_week:
            latest[pool] = by_week[max(by_week)]
    if not latest:
        return []
    facts = [
        Fact(
            label=t(f"digest.pool_{pool.replace('.', '_')}"),
            value=t(
                "digest.pooled_line",
                score=t.number(f.score, 0),
                weeks=f.weeks,
                date=t.date(picture.weeks[f.week].monday),
            ),
        )
        for pool, f in sorted(latest.items())
    ]
    return [Text(text=t("digest.pooled_intro", minimum=picture.min_size)), Facts(facts=facts)]
