"""One active scheduler among replicas: the lease row, handover, and no overlap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from bot.app.scheduler import Scheduler
from bot.app.wiring import Bot, build
from bot.core.config import Settings
from storage.db import Database
from storage.leases import acquire_lease, lease_holder, release_lease

LEASE, RENEW, SAFETY = 3.0, 0.5, 0.5


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def test_one_holder_at_a_time_and_the_lease_expires(db: Database) -> None:
    assert acquire_lease(db, "scheduler", "a", seconds=1)
    assert not acquire_lease(db, "scheduler", "b", seconds=1)
    assert acquire_lease(db, "scheduler", "a", seconds=1)  # renewal
    assert lease_holder(db, "scheduler") == "a"
    time.sleep(1.2)
    assert lease_holder(db, "scheduler") is None
    assert acquire_lease(db, "scheduler", "b", seconds=1)
    assert not acquire_lease(db, "scheduler", "a", seconds=1)
    release_lease(db, "scheduler", "b")
    assert acquire_lease(db, "scheduler", "a", seconds=1)


def replica(url: str, name: str, ran: list[str]) -> tuple[Bot, Scheduler]:
    bot = build(Settings(DATABASE_URL=url))
    bot.db.dispose()
    # Its own pool, named so that the database can cut exactly this replica's connections.
    bot.db = Database(url, connect_args={"application_name": name} if "postgres" in url else {})
    bot.worker_id = name

    def job(_: Bot) -> None:
        ran.append(name)

    scheduler = Scheduler(
        bot,
        {"job": job},
        interval=1,
        lease_seconds=LEASE,
        renew_seconds=RENEW,
        safety_seconds=SAFETY,
    )
    return bot, scheduler


def cut_connections(url: str, name: str) -> None:
    engine = create_engine(url.split("?")[0], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"
            ),
            {"n": name},
        )
    engine.dispose()


async def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


async def test_the_other_replica_takes_over_when_the_leader_dies(db_url: str) -> None:
    ran: list[str] = []
    bots, schedulers = zip(replica(db_url, "a", ran), replica(db_url, "b", ran), strict=True)
    for s in schedulers:
        s.start()
    try:
        assert await wait_for(lambda: any(s.is_leader for s in schedulers), 2 * RENEW + 1)
        leader, follower = schedulers if schedulers[0].is_leader else schedulers[::-1]
        assert not follower.is_leader
        assert await wait_for(lambda: leader.bot.worker_id in ran, 3)
        assert follower.bot.worker_id not in ran

        # The leader dies: no more renewals, no release (kill -9), its connections cut.
        leader._aps.shutdown(wait=False)
        if "postgres" in db_url:
            cut_connections(db_url, leader.bot.worker_id)
        died = time.monotonic()
        overlap = []

        def took_over() -> bool:
            if follower.is_leader and leader.is_leader:
                overlap.append(time.monotonic())
            return follower.is_leader

        assert await wait_for(took_over, LEASE + RENEW + 1)
        assert time.monotonic() - died <= LEASE + RENEW + 1
        assert not overlap
        assert await wait_for(lambda: follower.bot.worker_id in ran, 3)
    finally:
        for s in schedulers:
            if s._aps.running:
                await s.stop()
        for b in bots:
            b.db.dispose()


async def test_a_leader_that_cannot_reach_the_database_stops_leading(db_url: str) -> None:
    ran: list[str] = []
    bot, scheduler = replica(db_url, "a", ran)
    try:
        await scheduler.renew()
        assert scheduler.is_leader
        bot.db.dispose()
        bot.db = Database(
            "postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
        )
        await scheduler.renew()
        assert not scheduler.is_leader
        await scheduler.tick()
        assert ran == []
    finally:
        bot.db.dispose()


def test_jobs_are_coalesced_with_an_explicit_misfire_grace(db_url: str) -> None:
    bot, scheduler = replica(db_url, "a", [])

    async def started() -> None:
        scheduler.start()
        try:
            for job_id in ("lease", "tick"):
                job = scheduler._aps.get_job(job_id)
                assert job.coalesce is True
                assert job.misfire_grace_time >= 1
                assert job.max_instances == 1
        finally:
            await scheduler.stop()

    asyncio.run(started())
    bot.db.dispose()
