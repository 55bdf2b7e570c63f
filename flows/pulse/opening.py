"""Opening a round: who is asked is fixed here (members of the unit now, neither paused nor
unreachable), and one DM each is queued in one batch."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from bot.core.i18n import LANGUAGES, Lang, translator
from bot.core.metrics import METRICS
from bot.core.outbox import queue_to_members
from flows.pulse.keys import ASK, ask_prefix
from flows.pulse.members import local_today
from flows.pulse.messages import ask_message
from storage.models import (
    Member,
    Membership,
    Participation,
    PulseRound,
    RoundQuestion,
    Unit,
    utcnow,
)

log = logging.getLogger("medpuls.pulse")


@dataclass(frozen=True)
class Opened:
    round_id: int
    unit_id: int
    asked: int


def open_round(
    session: Session,
    unit: Unit,
    question_ids: Sequence[str],
    *,
    now: dt.datetime,
    closes_at: dt.datetime,
    min_group_size: int,
    min_comment_group_size: int,
    default_language: Lang,
    tz: dt.tzinfo,
    schedule_id: int | None = None,
    period: str | None = None,
) -> Opened:
    """Create the round and queue one DM per member, in one batch (not a round-trip each).

    Only members of the unit now, not paused and reachable, are asked; the first DM a member
    ever gets carries the rules of anonymity in full.
    """
    started = utcnow()
    pulse_round = PulseRound(
        unit_id=unit.id,
        schedule_id=schedule_id,
        period=period,
        opened_at=now,
        closes_at=closes_at,
        nonce=secrets.token_bytes(32),
        min_group_size=min_group_size,
        min_comment_group_size=min_comment_group_size,
    )
    for position, qid in enumerate(question_ids):
        pulse_round.questions.append(RoundQuestion(question_id=qid, position=position))
    session.add(pulse_round)
    session.flush()
    today = local_today(now, tz)
    # Everything below runs in the database (INSERT ... SELECT): no row per member passes
    # through Python, so a unit of 50,000 is a handful of statements.
    eligible = (
        select(literal(pulse_round.id), Member.id)
        .join(Membership, Membership.member_id == Member.id)
        .where(
            Membership.unit_id == unit.id,
            Member.erased.is_(False),
            Member.unreachable.is_(None),
            or_(Member.paused_until.is_(None), Member.paused_until < today),
        )
    )
    session.execute(insert(Participation).from_select(["round_id", "member_id"], eligible))
    asked_here = select(Participation.member_id).where(Participation.round_id == pulse_round.id)
    _queue_asks(session, pulse_round, unit, asked_here, default_language=default_language, tz=tz)
    session.execute(
        update(Member)
        .where(Member.id.in_(asked_here), Member.seen_privacy_notice.is_(False))
        .values(seen_privacy_notice=True)
        .execution_options(synchronize_session=False)
    )
    asked = session.scalar(select(func.count()).select_from(asked_here.subquery())) or 0
    METRICS.round_seconds.labels(step="open").observe((utcnow() - started).total_seconds())
    log.info("round opened", extra={"round_id": pulse_round.id, "unit": unit.id, "count": asked})
    return Opened(pulse_round.id, unit.id, asked)


def _queue_asks(
    session: Session,
    pulse_round: PulseRound,
    unit: Unit,
    asked_here: Select[int],
    *,
    default_language: Lang,
    tz: dt.tzinfo,
) -> None:
    """One question DM per member asked: one message per language, with the rules in full for
    those who never had them, each queued for all its members in one INSERT ... SELECT."""
    questions = [rq.question for rq in pulse_round.questions]
    for lang in LANGUAGES:
        speaks = Member.language == lang
        if lang == default_language:
            speaks = or_(speaks, Member.language.is_(None), Member.language.not_in(LANGUAGES))
        for first_time in (True, False):
            message = ask_message(
                pulse_round, unit, questions, translator(lang), tz=tz, rules=first_time
            )
            queue_to_members(
                session,
                select(Member.id).where(
                    Member.id.in_(asked_here),
                    speaks,
                    Member.seen_privacy_notice.is_(not first_time),
                ),
                key_prefix=ask_prefix(pulse_round.id),
                message=message,
                purpose=ASK,
                round_id=pulse_round.id,
            )
