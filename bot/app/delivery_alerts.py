"""The admins' daily notice about messages delivery gave up on or cannot vouch for."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from bot.core.i18n import Lang, Translator, language_of
from bot.core.messages import Header, Message, SmallPrint, Text
from bot.core.outbox import queue, to_member
from storage.db import Database
from storage.leases import database_now
from storage.models import Member, Membership, OutboxMessage

log = logging.getLogger("medpuls.delivery")

ALERT_PURPOSE = "delivery.alert"


def alert_admins(db: Database, language: Lang) -> int:
    """Queue today's notice about dead and unknown messages to every admin (once a day
    each; counts only, never a recipient or a message's contents). Returns notices added."""
    with db.session() as session:
        counts = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.status.in_(("dead", "unknown")))
                .where(OutboxMessage.purpose != ALERT_PURPOSE)
                .group_by(OutboxMessage.status)
            ).all()
        )
        if not counts:
            return 0
        admins = session.scalars(
            select(Member)
            .join(Membership, Membership.member_id == Member.id)
            .where(Membership.has_role("admin"), Member.erased.is_(False))
            .distinct()
        ).all()
        today = database_now(session).date().isoformat()
        notices = [
            to_member(
                admin.id,
                f"delivery:alert:{today}:{admin.id}",
                alert_message(
                    Translator(language_of(admin.language, language)),
                    dead=int(counts.get("dead", 0)),
                    unknown=int(counts.get("unknown", 0)),
                ),
                purpose=ALERT_PURPOSE,
            )
            for admin in admins
            if any(m.role_set >= {"admin"} for m in admin.memberships)
        ]
        added = queue(session, notices)
    if added:
        log.warning("admins told about delivery trouble", extra={"count": added})
    return added


def alert_message(t: Translator, *, dead: int, unknown: int) -> Message:
    return Message(
        summary=t("delivery.alert_summary"),
        parts=[
            Header(text=t("delivery.alert_title")),
            Text(
                text=t(
                    "delivery.alert_body",
                    dead=t.plural("delivery.alert_dead", dead),
                    unknown=t.plural("delivery.alert_unknown", unknown),
                )
            ),
            SmallPrint(text=t("delivery.alert_howto")),
        ],
    )
