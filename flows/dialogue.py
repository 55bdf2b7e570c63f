"""The leader's guide for the team meeting after a round: the unit's two strongest and two
weakest dimensions, each with its open dialogue questions from the question bank.

Only figures the disclosure gate lets through are used, decided exactly as the round summary
decides them (the round's respondents, then each question's), so the guide's ranking is built
from numbers the unit's channel already shows and reveals nothing more.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.events import ButtonClicked
from bot.core.i18n import Translator, chosen_language, translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Header,
    Message,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import Outgoing, queue_due, to_member, to_unit_channel
from bot.core.router import FlowContext, Router
from flows.keys import dialogue_channel_key, dialogue_guide_key
from flows.ledger import cell, round_figures, turnout_cell
from flows.question_bank import QuestionBank, default_bank, question_bank
from flows.schedule import DEFAULT_TZ
from storage.db import Database
from storage.models import Member, Membership, PulseRound, RoundResult

__all__ = [
    "GUIDE_SIZE",
    "GUIDE_WINDOW",
    "JOBS",
    "DialogueGuide",
    "DimensionScore",
    "GuideSection",
    "PostGuide",
    "build_guide",
    "dialogue_guide",
    "dialogue_guides_due",
    "guide_message",
    "leaders_of",
    "on_post_guide",
    "register",
    "send_dialogue_guides",
    "shown_dimension_scores",
]

log = logging.getLogger(__name__)

# Two strongest and two weakest: enough for one team meeting.
GUIDE_SIZE = 2
# A round closed longer ago than this gets no guide (e.g. rounds before an upgrade).
GUIDE_WINDOW = dt.timedelta(days=14)


class PostGuide(ActionData):
    """The leader posts the round's dialogue guide to the unit's channel."""

    kind = "dialogue.post"
    r: int


@dataclass(frozen=True)
class DimensionScore:
    """A dimension's mean (1-5) pooled over the round's questions the gate shows."""

    dimension: str
    mean: float
    respondents: int


def shown_dimension_scores(session: Session, pulse_round: PulseRound) -> list[DimensionScore]:
    """Dimension means from the round's shown figures only, best first (ties: bank order)."""
    # The same figures the round's summary shows, decided by the ledger (flows.ledger): the
    # dimension means are sums of shown question figures, so they reveal nothing more.
    questions = list(pulse_round.questions)
    figures = [[cell(pulse_round.id, rq.question_id)] for rq in questions]
    verdicts = round_figures(
        session,
        pulse_round,
        [[turnout_cell(pulse_round.id)], *figures],
        path="dialogue",
        tz=DEFAULT_TZ,
    )
    if not verdicts[0]:
        return []
    results = {
        r.question_id: r
        for r in session.scalars(select(RoundResult).where(RoundResult.round_id == pulse_round.id))
    }
    sums: dict[str, tuple[int, int]] = {}
    for rq, shown in zip(questions, verdicts[1:], strict=True):
        r = results.get(rq.question_id)
        if r is None or not shown:
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
    """The guide's content; no sections (and a plain reason) when too little may be shown.

    `bank` names the dimensions: the flow passes `question_bank(settings)`; without it, the
    shipped bank."""
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
        parts.append(SmallPrint(text=guide.footer))
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


# --- to the leader, and on to the channel ------------------------------------------------------


def leaders_of(session: Session, unit_id: int) -> list[Member]:
    """The unit's leaders (members whose membership there carries the "leader" role)."""
    rows = session.scalars(
        select(Membership).where(Membership.unit_id == unit_id).order_by(Membership.member_id)
    )
    ids = [m.member_id for m in rows if "leader" in m.role_set]
    return [m for i in ids if (m := session.get(Member, i)) is not None]


def _for_leader(guide: DialogueGuide, pulse_round: PulseRound, t: Translator) -> Message:
    message = guide_message(guide)
    if not guide.sections:
        return message
    button = Button(
        label=t("dialogue.post"), data=PostGuide(r=pulse_round.id).pack(), style="primary"
    )
    return Message(summary=message.summary, parts=[*message.parts, Buttons(buttons=[button])])


def dialogue_guides_due(session: Session, settings: Settings, now: dt.datetime) -> list[Outgoing]:
    """The guide for each leader of a unit whose round closed within GUIDE_WINDOW."""
    rounds = session.scalars(
        select(PulseRound).where(
            PulseRound.closed_at.is_not(None), PulseRound.closed_at >= now - GUIDE_WINDOW
        )
    )
    bank = question_bank(settings)
    items = []
    for pulse_round in rounds:
        for leader in leaders_of(session, pulse_round.unit_id):
            t = translator(chosen_language(leader.language, settings.language))
            guide = build_guide(session, pulse_round, t, bank=bank)
            items.append(
                to_member(
                    leader.id,
                    dialogue_guide_key(pulse_round.id, leader.id),
                    _for_leader(guide, pulse_round, t),
                    purpose="dialogue.guide",
                    round_id=pulse_round.id,
                )
            )
    return items


def send_dialogue_guides(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Each unit's leaders get the guide once its round's results are published (closed)."""
    added = queue_due(db, lambda session: dialogue_guides_due(session, settings, now))
    if added is not None:
        log.info("dialogue guides queued", extra={"count": added})


def on_post_guide(ctx: FlowContext, event: ButtonClicked, data: PostGuide) -> Reply:
    """One click: the guide goes to the unit's channel, once, in the unit's default language."""
    t = ctx.t
    pulse_round = ctx.session.get(PulseRound, data.r)
    if pulse_round is None or pulse_round.closed_at is None:
        return Reply.note(t("dialogue.unknown"))
    leaders = {m.id for m in leaders_of(ctx.session, pulse_round.unit_id)}
    if ctx.member is None or ctx.member.id not in leaders:
        ctx.audit("dialogue.post", f"round:{pulse_round.id}", allowed=False)
        text = t("common.not_allowed")
        return Reply.note(text)
    ctx.audit("dialogue.post", f"round:{pulse_round.id}", allowed=True)
    lt = translator(ctx.settings.language)
    guide = build_guide(ctx.session, pulse_round, lt, bank=question_bank(ctx.settings))
    ctx.send(
        to_unit_channel(
            pulse_round.unit_id,
            dialogue_channel_key(pulse_round.id),
            guide_message(guide),
            purpose="dialogue.guide",
            round_id=pulse_round.id,
        )
    )
    text = t("dialogue.posted", unit=pulse_round.unit.name)
    return Reply.note(text)


JOBS = [send_dialogue_guides]


def register(router: Router) -> None:
    router.action(PostGuide)(on_post_guide)
