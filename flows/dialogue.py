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

__all__ = [
    "GUIDE_SIZE",
    "DialogueGuide",
    "DimensionScore",
    "GuideSection",
    "build_guide",
    "dialogue_guide",
    "guide_message",
    "shown_dimension_scores",
]

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


@dataclass(frozen=True)
class GuideSection:
    """Strongest or weakest: each dimension's heading and its open questions."""

    title: str
    dimensions: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class DialogueGuide:
    """One guide feeds the chat message and the .docx, so they cannot disagree."""

    title: str
    intro: str
    sections: tuple[GuideSection, ...]
    footer: str


def build_guide(
    session: Session,
    pulse_round: PulseRound,
    t: Translator,
    *,
    bank: QuestionBank | None = None,
) -> DialogueGuide:
    """The guide's content; no sections (and a plain reason) when too little may be shown."""
    bank = bank or default_bank()
    title = t("dialogue.title", unit=pulse_round.unit.name)
    footer = t("dialogue.footer", minimum=pulse_round.min_group_size)
    scores = [
        s for s in shown_dimension_scores(session, pulse_round) if s.dimension in bank.dimensions
    ]
    if len(scores) < 2:
        return DialogueGuide(
            title, t("dialogue.too_few", minimum=pulse_round.min_group_size), (), footer
        )
    strong = scores[: min(GUIDE_SIZE, len(scores) // 2)]
    weak = list(reversed(scores[len(strong) :]))[: len(strong)]
    sections = []
    for title_key, chosen in (("dialogue.strongest", strong), ("dialogue.weakest", weak)):
        entries = []
        for s in chosen:
            dim = bank.dimensions[s.dimension]
            heading = t("dialogue.dimension", label=dim.label.get(t.lang), mean=t.number(s.mean))
            entries.append((heading, dim.dialogue_questions(t.lang)))
        sections.append(GuideSection(t(title_key), tuple(entries)))
    return DialogueGuide(title, t("dialogue.intro"), tuple(sections), footer)


def guide_message(guide: DialogueGuide) -> Message:
    """The guide as a chat message for the leader (or, posted, for the unit's channel)."""
    parts: list[Part] = [Header(text=guide.title), Text(text=guide.intro)]
    for section in guide.sections:
        parts += [Divider(), Text(text=section.title)]
        for heading, questions in section.dimensions:
            lines = "\n".join(f"• {q}" for q in questions)
            parts.append(Text(text=f"{heading}\n{lines}" if lines else heading))
    if guide.sections:
        parts.append(Context(text=guide.footer))
    return Message(summary=guide.intro, parts=parts)


def dialogue_guide(
    session: Session,
    pulse_round: PulseRound,
    t: Translator,
    *,
    bank: QuestionBank | None = None,
) -> Message:
    """The guide for the unit's leader; says so plainly when too little may be shown."""
    return guide_message(build_guide(session, pulse_round, t, bank=bank))
