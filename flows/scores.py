"""Scores of closed pulse rounds, per dimension or per question, computed by the database.

For digests and summaries. Every figure comes from RoundResult (the aggregates close_round
stores; raw answers may be gone) by GROUP BY, never from answers in Python:

    dimension_scores(session, unit_ids)            # latest round per unit and dimension
    question_scores(session, unit_ids, at=moment)  # as it stood at `moment`

For each dimension (or question) the *current* figure pools, over the given units, each unit's
latest closed round that asked it (closed at or before `at`); the *previous* figure pools each
unit's round before that, and `change` is current minus previous on the 0-100 scale.

These are raw figures. A caller that shows them must pass them through disclosure control
(flows.disclosure) with `respondents`, which is deliberately the conservative count: per round
the smallest number of answers behind any question in the figure, summed over the rounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, Subquery, case, func, select
from sqlalchemy.orm import Session

from storage.models import Participation, PulseRound, RoundResult

By = Literal["dimension", "question"]


@dataclass(frozen=True)
class Score:
    """One dimension's (or question's) figure over the units asked.

    `mean` is on the 0-100 scale (1 -> 0, 3 -> 50, 5 -> 100); `favourable` (answers 4-5),
    `neutral` (3) and `unfavourable` (1-2) are shares of the answers, summing to 1;
    `participation` is answered / asked over the pooled rounds; `change` is the difference in
    `mean` against the previous round of the same dimension (None when there is none).
    """

    key: str
    round_ids: tuple[int, ...]
    respondents: int
    answers: int
    mean: float
    favourable: float
    neutral: float
    unfavourable: float
    participation: float | None
    change: float | None
    previous_mean: float | None


def to_100(value_sum: int, answers: int) -> float:
    """A 1-5 mean on the 0-100 scale."""
    return (value_sum / answers - 1.0) * 25.0


# A unit's pooled figures for one key in one round: answers, smallest, value sum, and the
# favourable, neutral and unfavourable counts.
Figures = tuple[int, int, int, int, int, int]


def scores(
    session: Session,
    unit_ids: Collection[int],
    *,
    by: By = "dimension",
    at: dt.datetime | None = None,
) -> list[Score]:
    """Current and previous figures per dimension or question over `unit_ids`, sorted by key."""
    if not unit_ids:
        return []
    per_round = _per_round(unit_ids, by, at)
    current, previous = _pooled(session, per_round)
    current_rounds: dict[str, list[int]] = {}
    for k, round_id in session.execute(
        select(per_round.c.key, per_round.c.round_id).where(per_round.c.recency == 1)
    ):
        current_rounds.setdefault(str(k), []).append(int(round_id))
    turnout = participation_by_round(session, {r for ids in current_rounds.values() for r in ids})
    out = []
    for k in sorted(current):
        ids = tuple(sorted(current_rounds.get(k, [])))
        asked = sum(turnout.get(r, (0, 0))[0] for r in ids)
        answered = sum(turnout.get(r, (0, 0))[1] for r in ids)
        out.append(_score(k, current[k], ids, answered / asked if asked else None, previous.get(k)))
    return out


def _per_round(unit_ids: Collection[int], by: By, at: dt.datetime | None) -> Subquery:
    """Per unit, round and key: the round's sums, ranked by recency within (unit, key)."""
    key = RoundResult.dimension if by == "dimension" else RoundResult.question_id
    where: list[ColumnElement[bool]] = [
        PulseRound.unit_id.in_(list(unit_ids)),
        PulseRound.closed_at.is_not(None),
    ]
    if at is not None:
        where.append(PulseRound.closed_at <= at)
    return (
        select(
            PulseRound.id.label("round_id"),
            key.label("key"),
            func.sum(RoundResult.respondents).label("answers"),
            func.min(RoundResult.respondents).label("smallest"),
            func.sum(RoundResult.value_sum).label("value_sum"),
            func.sum(RoundResult.favourable).label("favourable"),
            func.sum(RoundResult.neutral).label("neutral"),
            func.sum(RoundResult.unfavourable).label("unfavourable"),
            func.row_number()
            .over(
                partition_by=(PulseRound.unit_id, key),
                order_by=(PulseRound.closed_at.desc(), PulseRound.id.desc()),
            )
            .label("recency"),
        )
        .join(PulseRound, PulseRound.id == RoundResult.round_id)
        .where(*where)
        .group_by(PulseRound.unit_id, PulseRound.id, PulseRound.closed_at, key)
        .subquery()
    )


def _pooled(session: Session, per_round: Subquery) -> tuple[dict[str, Figures], dict[str, float]]:
    """Per key: the latest rounds' figures pooled over the units, and the mean of the ones
    before (0-100)."""
    pooled = session.execute(
        select(
            per_round.c.key,
            per_round.c.recency,
            func.sum(per_round.c.answers),
            func.sum(per_round.c.smallest),
            func.sum(per_round.c.value_sum),
            func.sum(per_round.c.favourable),
            func.sum(per_round.c.neutral),
            func.sum(per_round.c.unfavourable),
        )
        .where(per_round.c.recency <= 2)
        .group_by(per_round.c.key, per_round.c.recency)
    ).all()
    current: dict[str, Figures] = {}
    previous: dict[str, float] = {}
    for k, recency, answers, smallest, value_sum, fav, neu, unf in pooled:
        if not answers:
            continue
        if recency == 1:
            current[str(k)] = (
                int(answers),
                int(smallest),
                int(value_sum),
                int(fav),
                int(neu),
                int(unf),
            )
        else:
            previous[str(k)] = to_100(int(value_sum), int(answers))
    return current, previous


def _score(
    k: str,
    figures: Figures,
    ids: tuple[int, ...],
    participation: float | None,
    before: float | None,
) -> Score:
    answers, smallest, value_sum, fav, neu, unf = figures
    mean = to_100(value_sum, answers)
    return Score(
        key=k,
        round_ids=ids,
        respondents=smallest,
        answers=answers,
        mean=mean,
        favourable=fav / answers,
        neutral=neu / answers,
        unfavourable=unf / answers,
        participation=participation,
        change=None if before is None else mean - before,
        previous_mean=before,
    )


def participation_by_round(
    session: Session, round_ids: Collection[int]
) -> dict[int, tuple[int, int]]:
    """round id -> (asked, answered), counted by the database."""
    if not round_ids:
        return {}
    rows = session.execute(
        select(
            Participation.round_id,
            func.count(),
            func.sum(case((Participation.answered.is_(True), 1), else_=0)),
        )
        .where(Participation.round_id.in_(list(round_ids)))
        .group_by(Participation.round_id)
    )
    return {int(r): (int(asked), int(answered or 0)) for r, asked, answered in rows}


def dimension_scores(
    session: Session, unit_ids: Collection[int], *, at: dt.datetime | None = None
) -> list[Score]:
    """Per dimension: latest closed round per unit pooled, with the change against the one
    before (see the module docstring)."""
    return scores(session, unit_ids, by="dimension", at=at)


def question_scores(
    session: Session, unit_ids: Collection[int], *, at: dt.datetime | None = None
) -> list[Score]:
    """Per question, like dimension_scores."""
    return scores(session, unit_ids, by="question", at=at)
