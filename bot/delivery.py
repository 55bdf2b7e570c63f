"""The delivery loop: sends what the outbox holds through the right platform, exactly once.

A row goes pending -> sending -> sent. The claim is committed before the send, so a crash
mid-send leaves the row in "sending"; such rows are parked as "unknown" and never sent blindly
again (the platform may have got it), which is the difference between at-least-once and
exactly-once for a member's DM. Rate limits (HTTP 429) reschedule the row after Retry-After;
other transient failures back off with jitter; after MAX_ATTEMPTS the row is dead-lettered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from bot.events import MessageRef
from bot.messages import Message
from bot.platform import Address, DeliveryError, Platform
from bot.telemetry import METRICS
from storage.db import Database
from storage.models import Member, OutboxMessage, Unit, utcnow

log = logging.getLogger("medpuls.delivery")

MAX_ATTEMPTS = 8
CLAIM_TIMEOUT = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Route:
    platform: str
    address: Address | None = None
    ref: MessageRef | None = None


class Unroutable(Exception):
    """No platform can take this message (no channel id, no platform identity)."""


def route(session: Session, row: OutboxMessage, enabled: Mapping[str, Platform]) -> Route:
    if row.address_kind == "ref":
        platform, conversation, message_id = row.address.split("|", 2)
        if platform not in enabled:
            raise Unroutable(f"platform {platform} is not configured")
        return Route(platform, ref=MessageRef(platform, conversation, message_id))  # type: ignore[arg-type]
    if row.address_kind == "member":
        member = session.get(Member, int(row.address))
        if member is None or member.erased:
            raise Unroutable("member no longer exists")
        if member.unreachable:
            raise Unroutable(f"member unreachable: {member.unreachable}")
        return member_route(member, enabled)
    if row.address_kind == "unit":
        unit = session.get(Unit, int(row.address))
        if unit is None:
            raise Unroutable("unit no longer exists")
        return unit_route(unit, enabled)
    raise Unroutable(f"unknown address kind {row.address_kind}")


def member_route(member: Member, enabled: Mapping[str, Platform]) -> Route:
    def to(user_id: str | None) -> Address:
        return Address("user", user_id or "", email=member.email, member_id=member.id)

    if "slack" in enabled and (member.slack_user_id or ("teams" not in enabled and member.email)):
        return Route("slack", to(member.slack_user_id))
    if "teams" in enabled and (member.teams_user_id or member.teams_aad_id or member.email):
        return Route("teams", to(member.teams_user_id or member.teams_aad_id))
    if "local" in enabled:
        return Route("local", to(str(member.id)))
    raise Unroutable("no platform identity for this member")


def unit_route(unit: Unit, enabled: Mapping[str, Platform]) -> Route:
    if "slack" in enabled and unit.slack_channel_id:
        return Route("slack", Address("channel", unit.slack_channel_id))
    if "teams" in enabled and unit.teams_channel_id:
        return Route("teams", Address("channel", unit.teams_channel_id))
    if "local" in enabled:
        return Route("local", Address("channel", f"unit:{unit.id}"))
    raise Unroutable(f"unit {unit.path} has no channel on a configured platform")


def backoff(attempts: int) -> float:
    """Seconds before the next try: exponential with full jitter, capped at 15 minutes."""
    return random.uniform(0.5, min(900.0, 2.0**attempts))


class Delivery:
    def __init__(
        self,
        db: Database,
        platforms: Mapping[str, Platform],
        *,
        worker_id: str = "worker",
        batch: int = 200,
        concurrency: int = 16,
    ) -> None:
        self.db = db
        self.platforms = platforms
        self.worker_id = worker_id
        self.batch = batch
        self.concurrency = concurrency
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    # --- claiming -----------------------------------------------------------------------

    def claim(self) -> list[int]:
        """Mark up to `batch` due rows as ours, committed before anything is sent."""
        now = utcnow()
        with self.db.session() as session:
            due = (
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch)
            )
            if self.db.is_postgres:
                due = due.with_for_update(skip_locked=True)
            ids = list(session.scalars(due))
            if ids:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
                    .values(
                        status="sending",
                        claimed_by=self.worker_id,
                        claimed_at=now,
                        attempts=OutboxMessage.attempts + 1,
                    )
                )
        return ids

    def park_abandoned(self) -> int:
        """Rows left in "sending" by a worker that died: outcome unknown, never re-sent."""
        cutoff = utcnow() - CLAIM_TIMEOUT
        with self.db.session() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < cutoff)
                .values(status="unknown", last_error="worker stopped during the send")
            )
            return max(result.rowcount, 0)  # type: ignore[attr-defined]

    # --- sending ------------------------------------------------------------------------

    async def run_once(self) -> int:
        ids = await asyncio.to_thread(self.claim)
        if not ids:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row_id: int) -> None:
            async with gate:
                await self.send(row_id)

        await asyncio.gather(*(one(i) for i in ids))
        return len(ids)

    async def send(self, row_id: int) -> None:
        try:
            with self.db.session() as session:
                row = session.get(OutboxMessage, row_id)
                if row is None or row.status != "sending":
                    return
                chosen = route(session, row, self.platforms)
                message = Message.model_validate(row.payload)
                dedupe_key, purpose = row.dedupe_key, row.purpose
        except Unroutable as why:
            await asyncio.to_thread(self._finish, row_id, "skipped", error=str(why))
            METRICS.skipped.inc()
            log.warning("message not routable", extra={"outbox_id": row_id, "reason": str(why)})
            return
        platform = self.platforms[chosen.platform]
        try:
            if chosen.ref is not None:
                await platform.update(chosen.ref, message)
                ref = chosen.ref
            else:
                assert chosen.address is not None
                ref = await platform.post(chosen.address, message, dedupe_key=dedupe_key)
        except DeliveryError as err:
            await asyncio.to_thread(self._failed, row_id, err)
            return
        except Exception as err:  # a bug or an unexpected library error: retry, then dead-letter
            log.exception("send crashed", extra={"outbox_id": row_id})
            await asyncio.to_thread(self._failed, row_id, DeliveryError(type(err).__name__))
            return
        await asyncio.to_thread(
            self._finish,
            row_id,
            "sent",
            ref=f"{ref.platform}|{ref.conversation_id}|{ref.message_id}",
            platform=chosen.platform,
        )
        METRICS.sent.labels(platform=chosen.platform).inc()
        log.info("sent", extra={"outbox_id": row_id, "platform": chosen.platform, "purpose": purpose})

    def _finish(
        self,
        row_id: int,
        status: str,
        *,
        error: str | None = None,
        ref: str | None = None,
        platform: str | None = None,
    ) -> None:
        with self.db.session() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.status = status
            row.last_error = error
            row.message_ref = ref
            row.platform = platform or row.platform
            if status == "sent":
                row.sent_at = utcnow()

    def _failed(self, row_id: int, err: DeliveryError) -> None:
        with self.db.session() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.last_error = err.reason[:500]
            if err.unknown_outcome:
                row.status = "unknown"
                METRICS.unknown.inc()
            elif err.permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = "dead"
                METRICS.dead.inc()
                log.error("dead-lettered", extra={"outbox_id": row_id, "reason": err.reason})
            else:
                wait = err.retry_after if err.retry_after is not None else backoff(row.attempts)
                if err.retry_after is not None:
                    METRICS.rate_limited.inc()
                    # A rate limit is not the message's fault: it does not use up a try.
                    row.attempts -= 1
                row.status = "pending"
                row.next_attempt_at = utcnow() + dt.timedelta(seconds=wait)
                METRICS.retried.inc()

    async def run_forever(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        await asyncio.to_thread(self.park_abandoned)
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("delivery loop error")
                sent = 0
            if sent == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=idle)
                except TimeoutError:
                    pass

    def queue_depth(self) -> int:
        with self.db.session() as session:
            return int(
                session.execute(
                    text("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
                ).scalar_one()
            )
