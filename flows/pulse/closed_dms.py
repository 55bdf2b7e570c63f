"""The DMs after close: every pulse DM already sent is rewritten to the same closed text for
everyone (so it no longer says whether its reader answered), and a question DM still queued
at close is not sent."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.events import MessageRef
from bot.core.i18n import Lang, chosen_language, translator
from bot.core.messages import (
    Message,
)
from bot.core.outbox import queue, still_wanted_if, update_of
from flows.pooling import standing_text
from flows.pulse.keys import ASK, CLOSED, DMS, closed_key, closed_key_sql
from flows.pulse.messages import closed_message
from storage.db import Database
from storage.models import Member, OutboxMessage, PulseRound

log = logging.getLogger("medpuls.pulse")


PULSE_DMS = DMS
CLOSED_PURPOSE = CLOSED
# Rounds closed longer ago than this are not looked at again for DMs still to rewrite: by then
# every send that was under way at the close has long finished.
REWRITE_WINDOW = dt.timedelta(days=7)


@still_wanted_if(ASK)
def round_still_open(session: Session, row: OutboxMessage) -> bool:
    """A question DM still queued when its round closes is not sent at all."""
    pulse_round = session.get(PulseRound, row.round_id) if row.round_id is not None else None
    return pulse_round is None or pulse_round.is_open


def queue_closed_rewrites(session: Session, pulse_round: PulseRound, default_language: Lang) -> int:
    """Queue an update of every pulse DM of the round already sent, to `closed_message`.

    Through the outbox, so it survives a crash and is sent once: one row per DM, keyed
    "pulse:<round>:closed:<outbox id of the DM>". Rows that are still on their way are found by
    `rewrite_closed_round_dms` once they are sent. Returns the rows added.
    """
    sent = session.execute(
        select(OutboxMessage.id, OutboxMessage.message_ref, Member.language)
        .outerjoin(Member, OutboxMessage.address == cast(Member.id, String))
        .where(
            OutboxMessage.round_id == pulse_round.id,
            OutboxMessage.purpose.in_(PULSE_DMS),
            OutboxMessage.address_kind == "member",
            OutboxMessage.status == "sent",
            OutboxMessage.message_ref.is_not(None),
        )
        .order_by(OutboxMessage.id)
    ).all()
    messages: dict[Lang, Message] = {}
    items = []
    for outbox_id, ref, member_language in sent:
        lang = chosen_language(member_language, default_language)
        if lang not in messages:
            t = translator(lang)
            standing = standing_text(session, pulse_round, t)
            messages[lang] = closed_message(pulse_round.unit, t, standing)
        platform, conversation, message_id = str(ref).split("|", 2)
        items.append(
            update_of(
                MessageRef(platform, conversation, message_id),  # type: ignore[arg-type]
                closed_key(pulse_round.id, outbox_id),
                messages[lang],
                purpose=CLOSED_PURPOSE,
                round_id=pulse_round.id,
            )
        )
    added = queue(session, items)
    if added:
        log.info("closed DMs queued", extra={"round_id": pulse_round.id, "count": added})
    return added


def rewrite_closed_round_dms(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: rewrite the DMs of recently closed rounds that were sent after the close
    queued its rewrites (a send under way at that moment). Idempotent by key."""
    rewrite = OutboxMessage.__table__.alias("rewrite")
    with db.session() as session:
        round_ids = list(
            session.scalars(
                select(OutboxMessage.round_id)
                .join(PulseRound, PulseRound.id == OutboxMessage.round_id)
                .where(
                    PulseRound.closed_at.is_not(None),
                    PulseRound.closed_at >= now - REWRITE_WINDOW,
                    OutboxMessage.purpose.in_(PULSE_DMS),
                    OutboxMessage.status == "sent",
                    OutboxMessage.message_ref.is_not(None),
                    ~select(rewrite.c.id)
                    .where(
                        rewrite.c.dedupe_key
                        == closed_key_sql(OutboxMessage.round_id, OutboxMessage.id)
                    )
                    .exists(),
                )
                .distinct()
            )
        )
    for round_id in round_ids:
        with db.session() as session:
            pulse_round = session.get(PulseRound, round_id)
            if pulse_round is not None and not pulse_round.is_open:
                queue_closed_rewrites(session, pulse_round, settings.language)
