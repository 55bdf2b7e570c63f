"""A year of a committee's area in figures, for the annual work-environment discussion.

The area is the committee's unit and every unit below it, as in the digest. A week's figure for
a dimension covers the answers to that dimension's questions in every round of the area closed
in that week: the same cells as the digest's figure of the committee's unit, so a figure the
digest showed is shown again and nothing new is learned. Participation is the week's turnout
cells. Every figure is decided by the ledger (flows.ledger) against everything any path has
published, and recorded: under the threshold, or derivable together with other figures, it is
withheld, and the report shows nothing for it. The decisions depend on sets of people only.

Comments are never quoted; their themes (the dimension a comment was written on, and how many)
are counted only in rounds whose comment pool was shown (flows.summary.comments_shown), that is
where the comment threshold held. Proposals and action plans are the committee's and the units'
own records.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.core.config import Settings
from flows.actions import Trend, trend_of
from flows.ledger import Ledger, cell, round_week, turnout_cell
from flows.summary import comments_shown
from storage.models import (
    Answer,
    Committee,
    Participation,
    Proposal,
    PulseRound,
    RoundResult,
    TeamAction,
)
from storage.queries import subtree

__all__ = ["PATH", "AreaYear", "Turnout", "Week", "area_year", "year_weeks"]

# The ledger's name for this path (publications.path, the audit log).
PATH = "annual"


@dataclass(frozen=True)
class Week:
    monday: dt.date
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Turnout:
    monday: dt.date
    asked: int
    answered: int


@dataclass
class AreaYear:
    """What the report may show; every figure in it was let out by the ledger."""

    committee: Committee
    year: int
    min_size: int
    weeks: list[Week]
    # Per dimension, one 0-100 score per week (None: nothing measured, or withheld).
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    turnout: list[Turnout] = field(default_factory=list)
    withheld: int = 0
    # Rounds closed in the area in the year, shown or not (a count of rounds, not of people).
    rounds: int = 0
    # Dimension -> comments, from rounds whose comment pool was shown.
    comment_themes: dict[str, int] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)
    actions: list[TeamAction] = field(default_factory=list)
    # Per action: its dimension's shown score before it started and since (flows.actions).
    trends: dict[int, Trend] = field(default_factory=dict)


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def year_weeks(year: int, tz: dt.tzinfo) -> list[Week]:
    """The local weeks (Monday to Monday, as the digest counts them) that touch the year."""
    first = dt.date(year, 1, 1)
    monday = first - dt.timedelta(days=first.weekday())
    weeks: list[Week] = []
    while monday <= dt.date(year, 12, 31):
        after = monday + dt.timedelta(weeks=1)
        weeks.append(Week(monday, _midnight(monday, tz), _midnight(after, tz)))
        monday = after
    return weeks


@dataclass
class _Cells:
    """The year's rounds in the area, as the ledger's cells, per week."""

    rounds: dict[int, int] = field(default_factory=dict)  # round id -> week index
    turnout: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    scores: dict[tuple[int, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    sums: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)


def _in_area(unit_ids: Sequence[int], weeks: Sequence[Week]) -> ColumnElement[bool]:
    return and_(
        PulseRound.unit_id.in_(unit_ids),
        PulseRound.closed_at.is_not(None),
        PulseRound.closed_at >= weeks[0].start,
        PulseRound.closed_at < weeks[-1].end,
    )


def _cells(session: Session, unit_ids: Sequence[int], weeks: Sequence[Week]) -> _Cells:
    found = _Cells()
    starts = [w.start for w in weeks]
    for rid, closed in session.execute(
        select(PulseRound.id, PulseRound.closed_at).where(_in_area(unit_ids, weeks))
    ):
        assert closed is not None  # _in_area holds closed rounds only
        w = bisect.bisect_right(starts, closed) - 1
        found.rounds[int(rid)] = w
        found.turnout[w].append(turnout_cell(int(rid)))
    ids = sorted(found.rounds)
    for start in range(0, len(ids), 500):
        for rid, qid, dim, n, total in session.execute(
            select(
                RoundResult.round_id,
                RoundResult.question_id,
                RoundResult.dimension,
                RoundResult.respondents,
                RoundResult.value_sum,
            ).where(RoundResult.round_id.in_(ids[start : start + 500]))
        ):
            key = (found.rounds[int(rid)], str(dim))
            found.scores[key].append(cell(int(rid), qid))
            answers, value_sum = found.sums.get(key, (0, 0))
            found.sums[key] = (answers + int(n), value_sum + int(total))
    return found


def _turnout(
    session: Session, unit_ids: Sequence[int], weeks: Sequence[Week]
) -> dict[int, tuple[int, int]]:
    """Per week: the distinct people asked and the distinct people who answered."""
    week_of = case(
        *[(PulseRound.closed_at < w.end, i) for i, w in enumerate(weeks)], else_=len(weeks)
    )
    rows = session.execute(
        select(
            week_of,
            func.count(distinct(Participation.member_id)),
            func.count(distinct(case((Participation.answered.is_(True), Participation.member_id)))),
        )
        .join(PulseRound, PulseRound.id == Participation.round_id)
        .where(_in_area(unit_ids, weeks))
        .group_by(week_of)
    )
    return {int(w): (int(asked), int(answered)) for w, asked, answered in rows}


def _score(answers: int, value_sum: int) -> float:
    """The 0-100 score of the mean answer (1 -> 0, 5 -> 100), as the digest computes it."""
    return (value_sum / answers - 1.0) * 25.0 if answers else 0.0


def _decide(session: Session, year: AreaYear, found: _Cells, tz: dt.tzinfo) -> None:
    """Each week's figures through the ledger, week by week as the digest decides them."""
    weeks = year.weeks
    asked = _turnout(session, [u.id for u in subtree(session, year.committee.unit)], weeks)
    ledger = Ledger(session, year.min_size, since=weeks[0].start, until=weeks[-1].end, tz=tz)
    dims = sorted({dim for (_, dim) in found.scores})
    year.scores = {dim: [None] * len(weeks) for dim in dims}
    for w, week in enumerate(weeks):
        if not found.turnout.get(w):
            continue
        ledger.focus(round_week(week.start + dt.timedelta(days=d), tz) for d in (-7, 0, 7))
        name = round_week(week.start, tz)
        # One ledger row per committee and week, as the digest writes one per week and
        # dimension: a row per figure made recording the year's figures the slowest part.
        batch = f"{PATH}:{year.committee.id}:{name}"
        if ledger.decide(PATH, found.turnout[w], week=name, record_known=False, batch=batch).shown:
            people_asked, answered = asked.get(w, (0, 0))
            year.turnout.append(Turnout(week.monday, people_asked, answered))
        else:
            year.withheld += 1
        for dim in dims:
            cells = found.scores.get((w, dim))
            if not cells:
                continue
            if ledger.decide(PATH, cells, week=name, record_known=False, batch=batch).shown:
                year.scores[dim][w] = _score(*found.sums[(w, dim)])
            else:
                year.withheld += 1
        ledger.flush()


def _comment_themes(session: Session, rounds: Sequence[int], tz: dt.tzinfo) -> dict[str, int]:
    """Comments per dimension, counted only in rounds whose comment pool was shown."""
    themes: dict[str, int] = defaultdict(int)
    for start in range(0, len(rounds), 500):
        part = rounds[start : start + 500]
        batch = list(session.scalars(select(PulseRound).where(PulseRound.id.in_(part))))
        shown = sorted(comments_shown(session, batch, tz))
        if not shown:
            continue
        for dim, n in session.execute(
            select(RoundResult.dimension, func.count())
            .join(
                Answer,
                and_(
                    Answer.round_id == RoundResult.round_id,
                    Answer.question_id == RoundResult.question_id,
                ),
            )
            .where(
                RoundResult.round_id.in_(shown),
                Answer.comment.is_not(None),
                Answer.hidden.is_(False),
            )
            .group_by(RoundResult.dimension)
        ):
            themes[str(dim)] += int(n)
    return dict(themes)


def _records(session: Session, year: AreaYear, unit_ids: Sequence[int]) -> None:
    start, end = year.weeks[0].start, year.weeks[-1].end
    # Until the decisions table of issue 18 (point 4) is here, a proposal's own status and
    # decision are the record of what the committee did with it.
    year.proposals = list(
        session.scalars(
            select(Proposal)
            .where(
                Proposal.committee_id == year.committee.id,
                Proposal.created_at >= start,
                Proposal.created_at < end,
            )
            .order_by(Proposal.created_at, Proposal.id)
        )
    )
    first, last = dt.date(year.year, 1, 1), dt.date(year.year, 12, 31)
    year.actions = list(
        session.scalars(
            select(TeamAction)
            .where(
                TeamAction.unit_id.in_(unit_ids),
                TeamAction.due_on >= first,
                TeamAction.due_on <= last,
            )
            .order_by(TeamAction.due_on, TeamAction.id)
        )
    )
    year.trends = {a.id: trend_of(session, a) for a in year.actions}


def area_year(session: Session, committee: Committee, year: int, settings: Settings) -> AreaYear:
    """Gather and decide the year's figures; the ledger's decisions are written to `session`."""
    from flows.digest import strictest_threshold

    tz = settings.tz
    weeks = year_weeks(year, tz)
    unit_ids = [u.id for u in subtree(session, committee.unit)]
    # The digest's threshold: a figure it showed passes here too, and nothing smaller does.
    result = AreaYear(committee, year, strictest_threshold(session, settings), weeks)
    found = _cells(session, unit_ids, weeks)
    result.rounds = len(found.rounds)
    _decide(session, result, found, tz)
    result.comment_themes = _comment_themes(session, sorted(found.rounds), tz)
    _records(session, result, unit_ids)
    return result
