"""Loading the picture: the figures of every unit in the window from two GROUP BY
queries, decided by the tree gate and then against the ledger (flows.ledger)."""

from __future__ import annotations

import datetime as dt
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import Integer, and_, case, distinct, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.core.config import Settings
from flows.actions import load_plans
from flows.digest.figures import (
    OrgUnit,
    Pipeline,
    Tally,
    Turnout,
)
from flows.digest.keys import ledger_batch
from flows.digest.picture import Picture
from flows.digest.weeks import EARLIER_WEEKS, SHOWN_WEEKS, Week, week_of, weeks_before
from flows.disclosure import already_shown, ledger_allows
from flows.ledger import Ledger, round_week, turnout_cell
from flows.ledger import cell as ledger_cell
from flows.pooling import pool_over_weeks
from flows.question_bank import question_bank
from storage.models import (
    Committee,
    Meeting,
    Participation,
    Proposal,
    PulseRound,
    RoundResult,
    Unit,
)

# Rows fetched at a time from the figures' queries.
STREAM_ROWS = 5000


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
    # Each unit id kept once: a big organisation has hundreds of thousands of rows.
    same: dict[int, int] = {}
    turnout = own_turnout(session, weeks, in_window, same)
    tallies = own_tallies(session, weeks, in_window, same)
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
        committees=committees,
        pipelines=load_pipelines(session, now),
        bank=question_bank(settings),
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


def own_turnout(
    session: Session,
    weeks: Sequence[Week],
    in_window: ColumnElement[bool],
    same: dict[int, int],
) -> dict[tuple[int, int], Turnout]:
    """Each unit's own turnout (its own rounds, not its subtree's) per week of the window."""
    asked = (
        select(
            PulseRound.unit_id.label("unit_id"),
            week_of(PulseRound.closed_at, weeks).label("w"),
            Participation.member_id.label("member_id"),
            Participation.answered.label("answered"),
        )
        .join(PulseRound, PulseRound.id == Participation.round_id)
        .where(in_window)
        .subquery()
    )
    # Rows streamed (STREAM_ROWS at a time, a server-side cursor on PostgreSQL).
    return {
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


def own_tallies(
    session: Session,
    weeks: Sequence[Week],
    in_window: ColumnElement[bool],
    same: dict[int, int],
) -> dict[tuple[int, int, str], Tally]:
    """Each unit's own answers per week and dimension (its own rounds, not its subtree's)."""
    # Per round and dimension first: two questions of one dimension in a round are answered
    # by (about) the same people, who must be counted once for the disclosure decision.
    per_round = (
        select(
            PulseRound.unit_id.label("unit_id"),
            week_of(PulseRound.closed_at, weeks).label("w"),
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
    figures = (c.people, c.answers, c.value_sum, c.favourable, c.neutral, c.unfavourable)
    # Integers from the database: PostgreSQL sums sums as NUMERIC, and converting a
    # hundred thousand Decimals cost more than the query. Dimension names kept once.
    return {
        (same.setdefault(unit_id, unit_id), w, sys.intern(dimension)): Tally(*sums)
        for unit_id, w, dimension, *sums in session.execute(
            select(
                c.unit_id,
                c.w,
                c.dimension,
                *(func.sum(column).cast(Integer) for column in figures),
            ).group_by(c.unit_id, c.w, c.dimension),
            execution_options={"yield_per": STREAM_ROWS},
        )
    }


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
    names = [round_week(w.start, tz) for w in picture.weeks]
    dims = sorted({dim for (_, dim) in picture.shown_tally})
    # Week by week: a figure of one week covers only that week's rounds, and deciding one
    # week at a time keeps the ledger's memory to a week (bench/aggregate.py: 50,000 people).
    for w, week in enumerate(picture.weeks):
        # A ledger per week: it holds the cell sizes of the rounds it loads, and the whole
        # window's (hundreds of thousands of cells for 100,000 people) would not fit.
        ledger = Ledger(session, picture.min_size, since=week.start, until=week.end, tz=tz)
        ledger.focus(round_week(week.start + dt.timedelta(days=d), tz) for d in (-7, 0, 7))
        this_week = and_(
            in_window, PulseRound.closed_at >= week.start, PulseRound.closed_at < week.end
        )
        turnout_cells, score_cells = _week_cells(session, picture, this_week)
        picture.shown_turnout[w] = _against_ledger(
            ledger, turnout_cells, picture.shown_turnout[w], names[w], "turnout"
        )
        for dim in dims:
            picture.shown_tally[(w, dim)] = _against_ledger(
                ledger,
                score_cells.get(dim, {}),
                picture.shown_tally.get((w, dim), frozenset()),
                names[w],
                dim,
            )
        ledger.flush()


def _week_cells(
    session: Session, picture: Picture, this_week: ColumnElement[bool]
) -> tuple[dict[int, list[str]], dict[str, dict[int, list[str]]]]:
    """The ledger cells each unit's figures of the week cover: its turnout, and per dimension
    its score (the rounds of its whole subtree)."""
    turnout_cells: dict[int, list[str]] = defaultdict(list)
    score_cells: dict[str, dict[int, list[str]]] = defaultdict(dict)
    for rid, unit_id in session.execute(select(PulseRound.id, PulseRound.unit_id).where(this_week)):
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
        of_dim = score_cells[dim]
        for up in picture.chain(int(unit_id)):
            of_dim.setdefault(up, []).append(name)
    return turnout_cells, score_cells


def _against_ledger(
    ledger: Ledger,
    cells_of: Mapping[int, list[str]],
    shown: frozenset[int],
    week: str,
    figure: str,
) -> frozenset[int]:
    """The units whose figure the tree gate let out and the ledger lets out too, and those
    the tree gate withheld that some path has shown already (flows.disclosure)."""
    allowed = ledger_allows(
        ledger,
        "digest",
        {u: cells_of.get(u, []) for u in shown},
        week=week,
        record_known=False,
        batch=ledger_batch(week, figure),
    )
    return frozenset(allowed) | already_shown(ledger, cells_of, shown)


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
