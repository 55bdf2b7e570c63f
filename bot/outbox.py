"""Queueing outbound messages. Nothing is sent here: bot.delivery sends what is queued.

Queueing is idempotent on `dedupe_key` (a unique constraint): queueing the same message twice,
from a retried event or a second scheduler, leaves one row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from bot.events import MessageRef
from bot.messages import Message
from storage.models import OutboxMessage, utcnow


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


def queue(session: Session, items: Iterable[Outgoing]) -> int:
    """Insert messages, skipping any whose dedupe key is already queued; returns rows added.

    One multi-row INSERT per 1,000 messages: a round for 50,000 members is 50 statements.
    """
    now = utcnow()
    rows = [
        {
            "dedupe_key": o.dedupe_key,
            "op": o.op,
            "address_kind": o.address_kind,
            "address": o.address,
            "payload": o.message.model_dump(mode="json"),
            "purpose": o.purpose,
            "round_id": o.round_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": o.not_before or now,
            "created_at": now,
        }
        for o in items
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    added = 0
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        stmt: Executable
        if dialect == "postgresql":
            stmt = (
                pg_insert(OutboxMessage)
                .values(chunk)
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
            )
        elif dialect == "sqlite":
            stmt = (
                sqlite_insert(OutboxMessage)
                .values(chunk)
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
            )
        else:  # pragma: no cover - only the two databases above are supported
            keys = {o for (o,) in session.execute(select(OutboxMessage.dedupe_key))}
            stmt = insert(OutboxMessage).values([r for r in chunk if r["dedupe_key"] not in keys])
        result = session.execute(stmt)
        added += max(result.rowcount, 0)  # type: ignore[attr-defined]
    return added
