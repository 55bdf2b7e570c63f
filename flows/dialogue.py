"""The leader's guide for the team meeting after a round: the unit's two strongest and two
weakest dimensions, each with its open dialogue questions from the question bank.

Only figures the disclosure gate lets through are used, decided exactly as the round summary
decides them (the round's respondents, then each question's), so the guide's ranking is built
from numbers the unit's channel already shows and reveals nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.i18n import Translator
from bot.messages import Context, Divider, Header, Message, Part, Text
from flows.disclosure import Cell, decide
from flows.question_bank import QuestionBank, default_bank
from storage.models import Participation, PulseRound, RoundResult

__all__ = ["GUIDE_SIZE", "DimensionScore", "dialogue_guide", "shown_dimension_scores"]

# Two strongest and two weakest: enough for one team meeting.
GUIDE_SIZE = 2


@dataclass(frozen=True)
class DimensionScore:
    """A dimension's mean (1-5) pooled over the round's questions the gate shows."""

    dimension: str
    mean: float
    respondents: int


def shown_dimension_scores(session: Session, pulse_round: PulseRound) -> list[DimensionScore]:
    """Dimension means from the round's shown figures only, best first (ties: bank order)."""
    threshold = pulse_round.min_group_size
    round_key = f"round:{pulse_round.id}"
    answered = session.scalar(
        select(func.count(Participation.member_id)).where(
            Participation.round_id == pulse_round.id, Participation.answered.is_(True)
        )
    )
    if not decide([Cell(round_key, int(answered or 0))], threshold).is_shown(round_key):
        return []
    results = {
        r.question_id: r
        for r in session.scalars(select(RoundResult).where(RoundResult.round_id == pulse_round.id))
    }
    sums: dict[str, tuple[int, int]] = {}
    for rq in pulse_round.questions:
        r = results.get(rq.question_id)
        key = f"question:{rq.question_id}"
        if r is None or not decide([Cell(key, r.respondents)], threshold).is_shown(key):
            continue
        total, n = sums.get(rq.question.dimension, (0, 0))
        sums[rq.question.dimension] = (total + r.value_sum, n + r.respondents)
    scores = [DimensionScore(d, total / n, n) for d, (total, n) in sums.items() if n]
    return sorted(scores, key=lambda s: -s.mean)  # stable: round order breaks ties


def dialogue_guide(
    session: Session,
    pulse_round: PulseRound,
    t: Translator,
    *,
    bank: QuestionBank | None = None,
) -> Message:
    """The guide for the unit's leader; says so plainly when too little may be shown."""
    bank = bank or default_bank()
    parts: list[Part] = [Header(text=t("dialogue.title", unit=pulse_round.unit.name))]
    scores = [
        s for s in shown_dimension_scores(session, pulse_round) if s.dimension in bank.dimensions
    ]
    if len(scores) < 2:
        text = t("dialogue.too_few", minimum=pulse_round.min_group_size)
        parts.append(Text(text=text))
        return Message(summary=text, parts=parts)
    strong = scores[: min(GUIDE_SIZE, len(scores) // 2)]
    weak = list(reversed(scores[len(strong) :]))[: len(strong)]
    intro = t("dialogue.intro")
    parts.append(Text(text=intro))
    for title_key, chosen in (("dialogue.strongest", strong), ("dialogue.weakest", weak)):
        parts += [Divider(), Text(text=t(title_key))]
        for s in chosen:
            dim = bank.dimensions[s.dimension]
            questions = "\n".join(f"• {q}" for q in dim.dialogue_questions(t.lang))
            heading = t("dialogue.dimension", label=dim.label.get(t.lang), mean=t.number(s.mean))
            parts.append(Text(text=f"{heading}\n{questions}" if questions else heading))
    parts.append(Context(text=t("dialogue.footer", minimum=pulse_round.min_group_size)))
    return Message(summary=intro, parts=parts)
