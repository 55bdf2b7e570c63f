"""The scheduler: APScheduler as the timer behind a small API of our own, and a lease.

Exactly one replica runs jobs: the one holding the "scheduler" lease, a row renewed in short
transactions (so it works behind a transaction-pooling pgbouncer, where a session advisory lock
would be held by whichever client last used the pooled connection). A replica that dies stops
renewing and another takes over once the lease expires: within LEASE_SECONDS + RENEW_SECONDS.

Expiry is judged by the database's clock, not the replicas': a replica whose clock runs fast
would otherwise take a lease that is still held. A leader that cannot renew (database gone,
process stalled) stops running jobs when its own copy of the lease runs out, before anyone else
may take it, so two leaders never overlap.

Jobs are module-level functions taking the Bot; our database is the source of truth, so a job
run twice (a doubled tick) must be harmless, which the flows make sure of with unique keys.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage.db import Database
from storage.leases import LEASE_SECONDS, acquire_lease, release_lease
from storage.models import utcnow

log = logging.getLogger("medpuls.scheduler")

RENEW_SECONDS = 15
# A leader trusts its lease this much less than the database does: clock drift, a slow commit.
SAFETY_SECONDS = 5


class Wakeable(Protocol):
    def wake(self) -> None: ...


class JobHost(Protocol):
    """What the scheduler needs of the running bot; jobs get the whole bot they were given."""

    @property
    def db(self) -> Database: ...

    @property
    def worker_id(self) -> str: ...

    @property
    def delivery(self) -> Wakeable: ...


Job = Callable[[Any], Awaitable[None] | None]


class Scheduler:
    """Runs registered jobs every `interval` seconds while this process holds the lease."""

    def __init__(
        self,
        bot: JobHost,
        jobs: dict[str, Job],
        *,
        interval: int = 60,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        safety_seconds: float = SAFETY_SECONDS,
    ) -> None:
        if renew_seconds + safety_seconds >= lease_seconds:
            raise ValueError("the lease must outlast a renewal and the safety margin")
        self.bot = bot
        self.jobs = jobs
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.safety_seconds = safety_seconds
        self._held_until = 0.0  # monotonic: when our own copy of the lease runs out
        self._aps = AsyncIOScheduler(timezone=dt.UTC)
        self._stopped = False
        # Threads still running a job: a cancelled tick cannot stop them, and the lease is not
        # given back while one runs.
        self._threads: set[asyncio.Future[Any]] = set()

    @property
    def is_leader(self) -> bool:
        return time.monotonic() < self._held_until

    async def renew(self) -> None:
        was = self.is_leader
        asked_at = time.monotonic()
        try:
            held = await asyncio.to_thread(
                acquire_lease,
                self.bot.db,
                "scheduler",
                self.bot.worker_id,
                seconds=self.lease_seconds,
            )
        except Exception:
            # Not knowing is not holding: our copy still runs out on time.
            log.exception("lease renewal failed", extra={"worker": self.bot.worker_id})
            held = False
        if held:
            # Counted from before the request: the database may have granted it a while ago.
            self._held_until = asked_at + self.lease_seconds - self.safety_seconds
        else:
            self._held_until = 0.0
        if self.is_leader != was:
            log.info(
                "scheduler leadership changed",
                extra={"worker": self.bot.worker_id, "count": int(self.is_leader)},
            )

    async def tick(self) -> None:
        if not self.is_leader:
            return
        for name, job in self.jobs.items():
            if self._stopped:
                return
            if not self.is_leader:
                log.warning("lease ran out during a tick", extra={"worker": self.bot.worker_id})
                return
            try:
                await self._run_off_the_loop(job)
            except Exception:
                log.exception("job failed", extra={"reason": name})
        self.bot.delivery.wake()

    async def _run_off_the_loop(self, job: Job) -> None:
        """Run one job without holding the event loop.

        The flows' jobs are synchronous and can take seconds (a digest for a large area), while
        the loop may be answering Slack and Teams, which must acknowledge within 3 seconds. So
        a plain function runs in a worker thread; a coroutine function is awaited on the loop.
        (`serve` runs the scheduler in a process of its own besides: bot/app/job_process.py.)
        """
        if inspect.iscoroutinefunction(job):
            await job(self.bot)
            return
        thread = asyncio.ensure_future(asyncio.to_thread(job, self.bot))
        self._threads.add(thread)
        thread.add_done_callback(self._threads.discard)
        result = await asyncio.shield(thread)
        if inspect.isawaitable(result):
            await result

    def start(self) -> None:
        # A deploy or a stalled loop can delay a run; APScheduler's 1-second default grace
        # would silently drop it. Coalesce: several missed runs run once. One at a time.
        common: dict[str, Any] = {"coalesce": True, "max_instances": 1}
        self._aps.add_job(
            self.renew,
            "interval",
            seconds=self.renew_seconds,
            id="lease",
            next_run_time=utcnow(),
            misfire_grace_time=int(self.renew_seconds) or 1,
            **common,
        )
        self._aps.add_job(
            self.tick,
            "interval",
            seconds=self.interval,
            id="tick",
            next_run_time=utcnow() + dt.timedelta(seconds=1),
            misfire_grace_time=3600,
            **common,
        )
        self._aps.start()

    async def stop(self, grace: float = 5.0) -> None:
        """No more ticks; the lease goes back once the running job (if any) has ended.

        A job still running after `grace` keeps the lease until it expires, so no other
        replica starts the same jobs beside it; the process may then be killed harmlessly.
        """
        self._stopped = True
        if self._aps.running:  # stop() before start() (a failed start-up) is no error
            self._aps.shutdown(wait=False)
        if self._threads:
            _, running = await asyncio.wait(self._threads, timeout=grace)
            if running:
                log.warning("a job still runs at stop", extra={"worker": self.bot.worker_id})
                return
        if self.is_leader:
            self._held_until = 0.0
            await asyncio.to_thread(release_lease, self.bot.db, "scheduler", self.bot.worker_id)
