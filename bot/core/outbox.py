"""Queueing outbound messages. Nothing is sent here: bot.delivery sends what is queued.

Queueing is idempotent on `dedupe_key` (a unique constraint): queueing the same message twice,
from a retried event or a second scheduler, leaves one row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Integer, Select, String, cast, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.core.events import MessageRef
from bot.core.messages import Message
from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus, UtcDateTime, utcnow

# Every row starts here; bot.app.delivery moves it on (docs/delivery.md, "A row's life").
QUEUED: OutboxStatus = "pending"


@dataclass(frozen=True)
class Outgoing:
    dedupe_key: str
    address_kind: str  # member, channel (a unit id), committee, ref
    address: str
    message: Message
    purpose: str = ""
    round_id: int | None = None
    op: str = "post"
    not_before: dt.datetime | None = None
    # To the person whose action caused it: not held by quiet hours.
    reply: bool = False


def to_member(member_id: int, key: str, message: Message, **kw: object) -> Outgoing:
    return Outgoing(key, "member", str(member_id), message, **kw)  # type: ignore[arg-type]


def to_unit_channel(unit_id: int, key: str, message: Message, **kw: object) -> Outgoing:
    return Outgoing(key, "unit", str(unit_id), message, **kw)  # type: ignore[arg-type]


def update_of(ref: MessageRef, key: str, message: Message, **kw: object) -> Outgoing:
    address = f"{ref.platform}|{ref.conversation_id}|{ref.message_id}"
    return Outgoing(key, "ref", address, message, op="update", **kw)  # type: ignore[arg-type]


StillWanted = Callable[[Session, OutboxMessage], bool]
_STILL_WANTED: dict[str, StillWanted] = {}


def still_wanted_if(purpose: str) -> Callable[[StillWanted], StillWanted]:
    """Register the send-time check for messages of `purpose`.

    Delivery asks it right before a row leaves; False skips the row. A reminder queued at
    10:00 must not reach someone who answered at 10:00:05, whatever the queue's latency.
    """

    def register(check: StillWanted) -> StillWanted:
        _STILL_WANTED[purpose] = check
        return check

    return register


def still_wanted(session: Session, row: OutboxMessage) -> bool:
    check = _STILL_WANTED.get(row.purpose)
    return check is None or check(session, row)


def _insert(session: Session) -> Any:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, in the session's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(OutboxMessage)
    if dialect == "sqlite":
        return sqlite_insert(OutboxMessage)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def queue(session: Session, items: Iterable[Outgoing]) -> int:
    """Insert messages, skipping any whose dedupe key is already queued; returns rows added.

    One executemany, which SQLAlchemy sends as batched multi-row INSERTs with RETURNING (so
    the count is exact on both databases); a message object shared by many rows is
    serialised once.
    """
    now = utcnow()
    payloads: dict[int, dict[str, Any]] = {}

    def payload(message: Message) -> dict[str, Any]:
        key = id(message)
        if key not in payloads:
            payloads[key] = message.model_dump(mode="json")
        return payloads[key]

    rows = [
        {
            "dedupe_key": o.dedupe_key,
            "op": o.op,
            "address_kind": o.address_kind,
            "address": o.address,
            "payload": payload(o.message),
            "purpose": o.purpose,
            "round_id": o.round_id,
            "reply": o.reply,
            "status": QUEUED,
            "attempts": 0,
            "next_attempt_at": o.not_before or now,
            "created_at": now,
        }
        for o in items
    ]
    if not rows:
        return 0
    stmt = (
        _insert(session)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return len(session.execute(stmt, rows).all())


def queue_due(db: Database, due: Callable[[Session], Sequence[Outgoing]]) -> int | None:
    """A scheduler job's one transaction: what `due` finds is queued.

    Returns the rows added, or None when nothing was due (a job logs only when it had work).
    """
    with db.session() as session:
        items = due(session)
        return queue(session, items) if items else None


def queue_to_members(
    session: Session,
    member_ids: Select[Any],
    *,
    key_prefix: str,
    message: Message,
    purpose: str,
    round_id: int | None = None,
    not_before: dt.datetime | None = None,
) -> int:
    """The same message to every member `member_ids` selects, as one INSERT ... SELECT.

    The rows never pass through Python: a round for 50,000 members is one statement per
    message variant. Each row's dedupe key is `key_prefix` followed by the member id.
    """
    now = utcnow()
    ids = member_ids.subquery()
    member = ids.c[0]
    source = select(
        literal(key_prefix, String) + cast(member, String),
        literal("post"),
        literal("member"),
        cast(member, String),
        literal(message.model_dump(mode="json"), JSON),
        literal(purpose),
        literal(round_id, Integer),
        literal(QUEUED),
        literal(0),
        literal(not_before or now, UtcDateTime()),
        literal(now, UtcDateTime()),
    ).where(member.is_not(None))  # SQLite needs a WHERE before ON CONFLICT (its parser)
    stmt = (
        _insert(session)
        .from_select(
            [
                "dedupe_key",
                "op",
                "address_kind",
                "address",
                "payload",
                "purpose",
                "round_id",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = session.execute(stmt)
    return max(int(getattr(result, "rowcount", 0)), 0)
