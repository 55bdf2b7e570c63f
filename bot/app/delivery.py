"""The delivery loop: sends what the outbox holds through the right platform, never twice.

A row goes pending -> claimed -> sending -> sent. Claiming is a batch (one statement, `FOR
UPDATE SKIP LOCKED` on PostgreSQL so any number of workers share the queue). A claimed row has
not gone anywhere yet; just before its request leaves, the row is marked "sending" in its own
committed transaction. So when a worker dies, its "claimed" rows go back to the queue, and only
the few "sending" rows whose request may have reached the platform are parked as "unknown":
never sent blindly again (a member must not get the same DM twice), counted, and reported to
the admins, who resolve them with `medpuls outbox`. A platform whose posts are idempotent by
dedupe key (`idempotent_posts = True`, like the local chat) gets them re-sent instead.

A worker is alive while its heartbeat lease ("delivery:<worker id>") is: rows claimed by a
worker without a live lease are abandoned. Rate limits wait in bot.ratelimit before the send;
a 429 pauses the platform and reschedules the row without using up a try; other transient
failures back off with full jitter; after MAX_ATTEMPTS, or a permanent failure, the row is
dead-lettered. Dead or unknown rows queue one notice a day to each admin, with counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.app.delivery_alerts import ALERT_PURPOSE, alert_admins
from bot.app.shared_ratelimit import SharedRateLimiter
from bot.core.errors import DeliveryError, Unroutable
from bot.core.events import MessageRef
from bot.core.i18n import Lang
from bot.core.messages import Message
from bot.core.metrics import METRICS
from bot.core.outbox import still_wanted
from bot.core.platform import Address, Platform
from bot.core.platform_limits import rate_limits
from bot.core.ratelimit import CURRENT_SLOT, MissedSlot, PlatformLimits, RateLimiter, Slot
from storage.db import Database
from storage.leases import acquire_lease, database_now, release_lease
from storage.models import Lease, Member, OutboxMessage, OutboxStatus, Unit, utcnow

log = logging.getLogger("medpuls.delivery")

MAX_ATTEMPTS = 8
# A worker renews its heartbeat this often; without one for WORKER_LEASE_SECONDS it is dead.
HEARTBEAT_SECONDS = 5
WORKER_LEASE_SECONDS = 20
# How often a worker looks for rows abandoned by dead workers.
RECOVER_SECONDS = 5
# The statuses of docs/delivery.md's state machine, grouped as this loop reads them.
# Rows that need nobody's attention any more.
FINAL: tuple[OutboxStatus, ...] = ("sent", "skipped", "forgotten")
# Rows still to go out: queued, claimed, or with their request leaving now (the queue's depth).
TO_GO: tuple[OutboxStatus, ...] = ("pending", "claimed", "sending")
# Rows whose request this worker may have sent: "unknown" too, since recover() may have parked
# the row while the request was in flight, and its answer still settles it.
IN_FLIGHT: tuple[OutboxStatus, ...] = ("sending", "unknown")


@dataclass(frozen=True)
class Route:
    platform: str
    address: Address | None = None
    ref: MessageRef | None = None

    @property
    def conversation(self) -> str:
        if self.ref is not None:
            return self.ref.conversation_id
        assert self.address is not None
        return f"{self.address.kind}:{self.address.value or self.address.email}"


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


def is_idempotent(platform: Platform) -> bool:
    """A platform that returns the earlier message for a repeated dedupe key may be re-sent to."""
    return bool(getattr(platform, "idempotent_posts", False))


@dataclass(frozen=True)
class Ready:
    """A claimed row, routed and decoded, waiting for its turn."""

    row_id: int
    dedupe_key: str
    purpose: str
    message: Message
    route: Route


@dataclass
class Trouble:
    """What went wrong in a batch that an admin should hear about."""

    dead: int = 0
    unknown: int = 0

    def __bool__(self) -> bool:
        return bool(self.dead or self.unknown)


@dataclass
class _Batch:
    trouble: Trouble = field(default_factory=Trouble)


class Delivery:
    def __init__(
        self,
        db: Database,
        platforms: Mapping[str, Platform],
        *,
        worker_id: str = "worker",
        batch: int = 200,
        concurrency: int = 16,
        limits: Mapping[str, PlatformLimits] | None = None,
        language: Lang = "da",
        working_hours: Callable[[dt.datetime], dt.datetime] | None = None,
    ) -> None:
        self.db = db
        # now -> the next moment within working hours (now itself, inside them); None: any time.
        self.working_hours = working_hours
        self.platforms = platforms
        self.worker_id = worker_id
        self.batch = batch
        self.concurrency = concurrency
        chosen = rate_limits() if limits is None else limits
        # PostgreSQL: one limit per platform scope across every worker process; SQLite runs
        # one worker and keeps the in-process buckets.
        self.limiter: RateLimiter | SharedRateLimiter = (
            SharedRateLimiter(db, chosen) if db.is_postgres else RateLimiter(chosen)
        )
        self.language = language
        self._wake = asyncio.Event()
        self._heartbeat_at = float("-inf")

    def wake(self) -> None:
        self._wake.set()

    # --- being alive --------------------------------------------------------------------

    @property
    def lease_name(self) -> str:
        return f"delivery:{self.worker_id}"

    def heartbeat(self) -> None:
        acquire_lease(self.db, self.lease_name, self.worker_id, seconds=WORKER_LEASE_SECONDS)
        self._heartbeat_at = time.monotonic()

    def _heartbeat_if_due(self) -> None:
        if time.monotonic() - self._heartbeat_at >= HEARTBEAT_SECONDS:
            self.heartbeat()

    async def _keep_alive(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.heartbeat)
            except Exception:
                log.exception("heartbeat failed", extra={"worker": self.worker_id})
            await asyncio.sleep(HEARTBEAT_SECONDS)

    # --- claiming -----------------------------------------------------------------------

    def is_quiet(self, now: dt.datetime) -> bool:
        return self.working_hours is not None and self.working_hours(now) > now

    def claim(self) -> list[int]:
        """Mark up to `batch` due rows as ours, committed before anything is sent."""
        self._heartbeat_if_due()
        now = utcnow()
        with self.db.session() as session:
            due = (
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch)
            )
            if self.is_quiet(now):
                # Replies to someone's own action, and rewrites (which notify no one), only.
                due = due.where(or_(OutboxMessage.reply.is_(True), OutboxMessage.op == "update"))
            if self.db.is_postgres:
                # Rows another worker is claiming right now are skipped, not waited for.
                due = due.with_for_update(skip_locked=True)
            ids = list(session.scalars(due))
            if ids:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
                    .values(status="claimed", claimed_by=self.worker_id, claimed_at=now)
                )
        return ids

    def prepare(self, ids: list[int]) -> tuple[list[Ready], int]:
        """Route and decode a claimed batch in one transaction; unroutable rows are skipped."""
        ready: list[Ready] = []
        skipped = 0
        with self.db.session() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == self.worker_id)
                .where(OutboxMessage.status == "claimed")
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            ).all()
            # One query for the batch's recipients instead of one per row (route() then finds
            # them in the session's identity map).
            for kind, model in (("member", Member), ("unit", Unit)):
                wanted = {int(r.address) for r in rows if r.address_kind == kind}
                if wanted:
                    session.scalars(select(model).where(model.id.in_(wanted))).all()
            for row in rows:
                try:
                    chosen = route(session, row, self.platforms)
                    message = Message.model_validate(row.payload)
                except Unroutable as why:
                    row.status, row.last_error = "skipped", str(why)[:500]
                    skipped += 1
                    METRICS.skipped.inc()
                    log.warning(
                        "message not routable", extra={"outbox_id": row.id, "reason": str(why)}
                    )
                    continue
                ready.append(Ready(row.id, row.dedupe_key, row.purpose, message, chosen))
        return ready, skipped

    def recover(self) -> Trouble:
        """Rows claimed by workers that died: back to the queue if they never left, else
        parked as unknown (re-queued only for platforms whose posts are idempotent)."""
        idempotent = [name for name, p in self.platforms.items() if is_idempotent(p)]
        if isinstance(self.limiter, SharedRateLimiter):
            self.limiter.forget_idle()
        with self.db.session() as session:
            now = database_now(session)
            alive = select(Lease.holder).where(
                Lease.name.like("delivery:%"), Lease.expires_at >= now
            )
            dead_worker = OutboxMessage.claimed_by.not_in(alive)
            requeued = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "claimed", dead_worker)
                .values(status="pending", claimed_by=None)
            ).rowcount  # type: ignore[attr-defined]
            # An update replaces a message with the same content however often it runs (the
            # closed state of a pulse DM), so a worker's death in the middle is simply retried.
            resent = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending", dead_worker)
                .where(or_(OutboxMessage.platform.in_(idempotent), OutboxMessage.op == "update"))
                .values(status="pending", claimed_by=None)
            ).rowcount  # type: ignore[attr-defined]
            parked = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending", dead_worker)
                .values(status="unknown", last_error="worker stopped during the send")
            ).rowcount  # type: ignore[attr-defined]
            # Heartbeats of workers gone a day ago tell nobody anything any more.
            session.execute(
                delete(Lease).where(
                    Lease.name.like("delivery:%"), Lease.expires_at < now - dt.timedelta(days=1)
                )
            )
        if requeued or resent or parked:
            METRICS.unknown.inc(max(parked, 0))
            log.warning(
                "recovered rows of a stopped worker",
                extra={
                    "worker": self.worker_id,
                    "count": requeued + resent,
                    "reason": f"{parked} unknown",
                },
            )
            self.alert_admins()
        return Trouble(unknown=max(parked, 0))

    # --- sending ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were claimed."""
        ids = await asyncio.to_thread(self.claim)
        if not ids:
            return 0
        ready, _ = await asyncio.to_thread(self.prepare, ids)
        batch = _Batch()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: Ready) -> None:
            async with gate:
                await self._deliver(item, batch)

        await asyncio.gather(*(one(r) for r in ready))
        if batch.trouble:
            await asyncio.to_thread(self.alert_admins)
        return len(ids)

    async def send(self, row_id: int) -> None:
        """Send one claimed row now (the loop does batches; this is for a single row)."""
        ready, _ = await asyncio.to_thread(self.prepare, [row_id])
        batch = _Batch()
        for item in ready:
            await self._deliver(item, batch)
        if batch.trouble:
            await asyncio.to_thread(self.alert_admins)

    async def _deliver(self, item: Ready, batch: _Batch) -> None:
        name = item.route.platform
        platform = self.platforms[name]
        slot = await self._turn(name, item.route.conversation)
        if not await asyncio.to_thread(self._mark_sending, item.row_id, name):
            return  # given back by recover() while we waited: someone else has it now
        while slot.missed():
            # Woken too late (a busy loop or database): sent now it could bunch up with the
            # sends after it and break the platform's window; the missed slot just stays empty.
            slot = await self._turn(name, item.route.conversation)
        try:
            ref = await self._post(item, slot)
        except DeliveryError as err:
            if err.retry_after is not None:
                await asyncio.to_thread(
                    self.limiter.pause, name, err.retry_after, item.route.conversation
                )
            repeatable = is_idempotent(platform) or item.route.ref is not None
            await asyncio.to_thread(self._failed, item, err, repeatable, batch)
            return
        except Exception as err:
            # Not classified by the adapter: the request may have gone out, so it counts as
            # unknown rather than failed; a bug before the send shows up the same way, loudly.
            log.exception("send crashed", extra={"outbox_id": item.row_id, "platform": name})
            unknown = DeliveryError(type(err).__name__, unknown_outcome=True)
            repeatable = is_idempotent(platform) or item.route.ref is not None
            await asyncio.to_thread(self._failed, item, unknown, repeatable, batch)
            return
        await asyncio.to_thread(
            self._sent, item.row_id, f"{ref.platform}|{ref.conversation_id}|{ref.message_id}"
        )
        METRICS.sent.labels(platform=name).inc()
        log.info(
            "sent", extra={"outbox_id": item.row_id, "platform": name, "purpose": item.purpose}
        )

    async def _post(self, item: Ready, slot: Slot) -> MessageRef:
        """The platform call, in `slot`; an adapter finding it late before anything left
        (MissedSlot) gets the next turn instead."""
        platform = self.platforms[item.route.platform]
        while True:
            token = CURRENT_SLOT.set(slot)
            try:
                if item.route.ref is not None:
                    await platform.update(item.route.ref, item.message)
                    return item.route.ref
                assert item.route.address is not None
                return await platform.post(
                    item.route.address, item.message, dedupe_key=item.dedupe_key
                )
            except MissedSlot:
                slot = await self._turn(item.route.platform, item.route.conversation)
            finally:
                CURRENT_SLOT.reset(token)

    async def _turn(self, platform: str, conversation: str) -> Slot:
        slot = await self.limiter.acquire(platform, conversation)
        if slot.waited:
            METRICS.throttle_seconds.labels(platform=platform).inc(slot.waited)
        return slot

    def _mark_sending(self, row_id: int, platform: str) -> bool:
        with self.db.session() as session:
            row = session.get(OutboxMessage, row_id)
            if row is not None and row.status == "claimed" and not still_wanted(session, row):
                # The flow that queued it no longer wants it sent (bot.outbox.still_wanted_if).
                row.status, row.last_error = "skipped", "no longer wanted"
                return False
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == "claimed")
                .where(OutboxMessage.claimed_by == self.worker_id)
                .values(status="sending", platform=platform, attempts=OutboxMessage.attempts + 1)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _ours(self, row_id: int) -> tuple[object, ...]:
        return (
            OutboxMessage.id == row_id,
            OutboxMessage.claimed_by == self.worker_id,
            OutboxMessage.status.in_(IN_FLIGHT),
        )

    def _sent(self, row_id: int, ref: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(*self._ours(row_id))  # type: ignore[arg-type]
                .values(status="sent", message_ref=ref, sent_at=utcnow(), last_error=None)
            )

    def _failed(self, item: Ready, err: DeliveryError, idempotent: bool, batch: _Batch) -> None:
        with self.db.session() as session:
            row = session.scalars(
                select(OutboxMessage).where(*self._ours(item.row_id))  # type: ignore[arg-type]
            ).first()
            if row is None:
                return
            row.last_error = err.reason[:500]
            if err.unknown_outcome and not idempotent:
                row.status = "unknown"
                METRICS.unknown.inc()
                batch.trouble.unknown += item.purpose != ALERT_PURPOSE
                log.error(
                    "outcome unknown, parked", extra={"outbox_id": row.id, "reason": err.reason}
                )
            elif err.retry_after is not None:
                # A rate limit is not the message's fault: it does not use up a try.
                row.attempts -= 1
                row.status = "pending"
                row.next_attempt_at = utcnow() + dt.timedelta(seconds=err.retry_after)
                METRICS.rate_limited.labels(platform=item.route.platform).inc()
                METRICS.retried.inc()
            elif err.permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = "dead"
                METRICS.dead.inc()
                batch.trouble.dead += item.purpose != ALERT_PURPOSE
                log.error("dead-lettered", extra={"outbox_id": row.id, "reason": err.reason})
            else:
                row.status = "pending"
                row.next_attempt_at = utcnow() + dt.timedelta(seconds=backoff(row.attempts))
                METRICS.retried.inc()
            if row.status == "pending":
                row.claimed_by = None

    def _step_down(self) -> None:
        """A clean stop: claimed rows go back to the queue at once, the heartbeat ends."""
        with self.db.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == "claimed", OutboxMessage.claimed_by == self.worker_id
                )
                .values(status="pending", claimed_by=None)
            )
        release_lease(self.db, self.lease_name, self.worker_id)

    async def run_forever(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Send until `stop`, claiming the next batch while the last one's tail is still out,
        so the platform's rate is used to the full instead of pausing between batches."""
        alive = asyncio.create_task(self._keep_alive())
        gate = asyncio.Semaphore(self.concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        batch = _Batch()
        recovered_at = float("-inf")

        async def one(item: Ready) -> None:
            async with gate:
                await self._deliver(item, batch)

        try:
            while not stop.is_set():
                if len(in_flight) > self.batch // 2:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                claimed = 0
                try:
                    if time.monotonic() - recovered_at >= RECOVER_SECONDS:
                        recovered_at = time.monotonic()
                        await asyncio.to_thread(self.recover)
                        METRICS.queue_depth.set(await asyncio.to_thread(self.queue_depth))
                    if batch.trouble:
                        batch.trouble = Trouble()
                        await asyncio.to_thread(self.alert_admins)
                    ids = await asyncio.to_thread(self.claim)
                    claimed = len(ids)
                    if ids:
                        ready, _ = await asyncio.to_thread(self.prepare, ids)
                        for item in ready:
                            task = asyncio.create_task(one(item))
                            in_flight.add(task)
                            task.add_done_callback(in_flight.discard)
                except Exception:
                    log.exception("delivery loop error", extra={"worker": self.worker_id})
                if claimed == 0:
                    if in_flight:
                        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                        continue
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=idle)
        finally:
            # Sends already out may finish; the rest are only claimed and go back to the queue.
            if in_flight:
                _, waiting = await asyncio.wait(in_flight, timeout=10)
                for task in waiting:
                    task.cancel()
            alive.cancel()
            try:
                await asyncio.to_thread(self._step_down)
                if batch.trouble:
                    await asyncio.to_thread(self.alert_admins)
            except Exception:
                log.exception("could not step down", extra={"worker": self.worker_id})

    # --- telling people -----------------------------------------------------------------

    def queue_depth(self) -> int:
        with self.db.session() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status.in_(TO_GO))
                )
                or 0
            )

    def alert_admins(self) -> int:
        return alert_admins(self.db, self.language)
