"""Several workers share one platform limit in PostgreSQL: together they never exceed it, and a
429 seen by one pauses the others. Each "worker" has its own engine (its own connections), as
separate processes would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from bot.ratelimit import PlatformLimits, Rate
from bot.shared_ratelimit import SharedRateLimiter
from storage.db import Database

RATE = Rate(per_second=20.0, burst=2.0)
LIMITS = {"slack": PlatformLimits(overall=RATE, per_conversation=Rate(1.0, burst=1.0))}


@pytest.fixture
def workers(postgres_url: str) -> Iterator[list[SharedRateLimiter]]:
    dbs = [Database(postgres_url), Database(postgres_url)]
    yield [SharedRateLimiter(db, LIMITS) for db in dbs]
    for db in dbs:
        db.dispose()


def most_in_any_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    best, lo = 0, 0
    for hi, t in enumerate(starts):
        while t - starts[lo] >= window - 1e-9:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_two_workers_never_exceed_the_shared_limit_within_a_window(
    workers: list[SharedRateLimiter],
) -> None:
    scope = SharedRateLimiter.scope("slack")

    def take(worker: SharedRateLimiter) -> list[float]:
        return [worker.reserve_slot(scope, RATE)[0] for _ in range(60)]

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(take, workers + workers))
    starts = [t for run in runs for t in run]
    assert len(starts) == 240
    # 240 sends at 20/s with a burst of 2: any one-second window holds at most 20 + 2, whereas
    # two unshared limiters would each allow that much (44 in a window).
    assert most_in_any_window(starts, 1.0) <= RATE.per_second + RATE.burst
    # ... and the limit is used to the full: the last slot is where 240 slots at 20/s end.
    span = max(starts) - min(starts)
    assert span == pytest.approx((240 - RATE.burst) / RATE.per_second, abs=0.5)


def test_a_429_seen_by_one_worker_pauses_the_other(workers: list[SharedRateLimiter]) -> None:
    first, second = workers
    first.pause("slack", 30.0, conversation="D1")
    # Same workspace, another conversation: the workspace pause holds for the other worker.
    start, now = second.reserve_slot(SharedRateLimiter.scope("slack"), RATE)
    assert start - now == pytest.approx(30.0, abs=1.0)
    # The conversation that got the 429 is paused too.
    start, now = second.reserve_slot(SharedRateLimiter.scope("slack", "D1"), Rate(1.0, 1.0))
    assert start - now == pytest.approx(30.0, abs=1.0)
    # A conversation nobody was told about only waits its own turn.
    start, now = second.reserve_slot(SharedRateLimiter.scope("slack", "D2"), Rate(1.0, 1.0))
    assert start - now <= 0.0


def test_quiet_scopes_are_forgotten_busy_ones_kept(workers: list[SharedRateLimiter]) -> None:
    first, _ = workers
    first.reserve_slot(SharedRateLimiter.scope("slack", "busy"), Rate(1.0, 1.0))
    with first.db.engine.begin() as conn:
        conn.execute(text("INSERT INTO rate_buckets (scope, tat) VALUES ('slack:c:old', 1.0)"))
    assert first.forget_idle(60.0) == 1
    with first.db.engine.connect() as conn:
        left = list(conn.execute(text("SELECT scope FROM rate_buckets")).scalars())
    assert left == ["slack:c:busy"]


def test_a_worker_waits_for_an_unreachable_limit_instead_of_sending_unpaced(
    workers: list[SharedRateLimiter],
) -> None:
    """While the table cannot be reached (a failover, here a renamed table), acquire keeps
    trying; it neither raises (the claimed row would be stranded) nor lets the send go."""
    first, second = workers

    def rename(a: str, b: str) -> None:
        with second.db.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {a} RENAME TO {b}"))

    async def scenario() -> None:
        rename("rate_buckets", "rate_buckets_away")
        task = asyncio.create_task(first.acquire("slack", "D9"))
        await asyncio.sleep(1.0)
        assert not task.done()
        await asyncio.to_thread(rename, "rate_buckets_away", "rate_buckets")
        await asyncio.wait_for(task, timeout=30)

    asyncio.run(scenario())
    with first.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rate_buckets")).scalar_one() == 2
