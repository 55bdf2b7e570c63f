"""The scheduler: APScheduler as the timer behind a small API of our own, and a lease.

Exactly one replica runs jobs: the one holding the "scheduler" lease, a row renewed in short
transactions (so it works behind a transaction-pooling pgbouncer, unlike a session advisory
lock). A replica that dies stops renewing and another takes over once the lease expires.
Jobs are module-level functions taking the Bot; our database is the source of truth, so a job
run twice (a doubled tick) must be harmless, which the flows make sure of with unique keys.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import Lease, utcnow

if TYPE_CHECKING:
    from bot.app import Bot

log = logging.getLogger("medpuls.scheduler")

LEASE_SECONDS = 45
RENEW_SECONDS = 15
Job = Callable[["Bot"], Awaitable[None] | None]


def acquire_lease(db: Database, name: str, holder: str, *, seconds: int = LEASE_SECONDS) -> bool:
    """Take or renew the lease; True when `holder` has it for the next `seconds`."""
    now = utcnow()
    until = now + dt.timedelta(seconds=seconds)
    try:
        with db.session() as session:
            result = session.execute(
                update(Lease)
                .where(Lease.name == name)
                .where((Lease.holder == holder) | (Lease.expires_at < now))
                .values(holder=holder, expires_at=until)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
            if session.get(Lease, name) is None:
                session.add(Lease(name=name, holder=holder, expires_at=until))
                session.flush()
                return True
            return False
    except IntegrityError:
        return False  # another replica inserted the row at the same moment


def release_lease(db: Database, name: str, holder: str) -> None:
    with db.session() as session:
        session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )


class Scheduler:
    """Runs registered jobs every `interval` seconds while this process holds the lease."""

    def __init__(self, bot: Bot, jobs: dict[str, Job], *, interval: int = 60) -> None:
        self.bot = bot
        self.jobs = jobs
        self.interval = interval
        self.is_leader = False
        self._aps = AsyncIOScheduler(timezone=dt.UTC)

    async def renew(self) -> None:
        was = self.is_leader
        self.is_leader = await asyncio.to_thread(
            acquire_lease, self.bot.db, "scheduler", self.bot.worker_id
        )
        if self.is_leader != was:
            log.info("scheduler leadership changed", extra={"worker": self.bot.worker_id, "count": int(self.is_leader)})

    async def tick(self) -> None:
        if not self.is_leader:
            return
        for name, job in self.jobs.items():
            try:
                result = job(self.bot)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("job failed", extra={"reason": name})
        self.bot.delivery.wake()

    def start(self) -> None:
        # A deploy can delay a tick by minutes; APScheduler's 1-second default grace would
        # silently drop it. Coalesce: several missed ticks run once.
        common = {"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1}
        self._aps.add_job(self.renew, "interval", seconds=RENEW_SECONDS, id="lease", next_run_time=utcnow(), **common)
        self._aps.add_job(self.tick, "interval", seconds=self.interval, id="tick", next_run_time=utcnow() + dt.timedelta(seconds=1), **common)
        self._aps.start()

    async def stop(self) -> None:
        self._aps.shutdown(wait=False)
        if self.is_leader:
            await asyncio.to_thread(release_lease, self.bot.db, "scheduler", self.bot.worker_id)
