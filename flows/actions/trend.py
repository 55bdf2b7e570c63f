"""A planned dimension's trend, through the gate: the unit's round figures exactly as the round
summary publishes them (`flows.dialogue.shown_dimension_scores`, which asks
`flows.disclosure.decide` with the round's threshold). A dimension withheld in a round is "not
measured" for the plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.i18n import Translator
from flows.actions.plan import dimension_label
from flows.dialogue import shown_dimension_scores
from flows.question_bank import QuestionBank
from storage.models import PulseRound, TeamAction


@dataclass(frozen=True)
class Trend:
    """The dimension's shown mean (1-5) before the action started and since."""

    before: float | None
    after: float | None


def _shown_mean(session: Session, pulse_round: PulseRound, dimension: str) -> float | None:
    for score in shown_dimension_scores(session, pulse_round):
        if score.dimension == dimension:
            return score.mean
    return None


def trend_of(session: Session, action: TeamAction) -> Trend:
    """The latest shown figure at or before the start, and the latest shown one after it."""
    rounds = session.scalars(
        select(PulseRound)
        .where(PulseRound.unit_id == action.unit_id, PulseRound.closed_at.is_not(None))
        .order_by(PulseRound.closed_at.desc())
    ).all()
    before = after = None
    for r in rounds:
        assert r.closed_at is not None
        mean = _shown_mean(session, r, action.dimension)
        if mean is None:
            continue
        if r.closed_at > action.created_at:
            after = mean if after is None else after
        elif before is None:
            before = mean
            break
    return Trend(before, after)


def trend_text(trend: Trend, t: Translator) -> str:
    if trend.before is None or trend.after is None:
        return t("actions.trend_unknown")
    change = trend.after - trend.before
    return t(
        "actions.trend",
        before=t.number(trend.before),
        after=t.number(trend.after),
        change=("+" if change >= 0 else "−") + t.number(abs(change)),
    )


def evidence(
    session: Session, actions: Sequence[TeamAction], t: Translator, bank: QuestionBank
) -> list[str]:
    """Each planned dimension's shown figures before the plan and since (thresholded)."""
    lines = []
    for dimension in dict.fromkeys(a.dimension for a in actions):
        first = min((a for a in actions if a.dimension == dimension), key=lambda a: a.created_at)
        lines.append(
            t(
                "actions.evidence_line",
                dimension=dimension_label(dimension, t, bank),
                trend=trend_text(trend_of(session, first), t),
            )
        )
    return lines
