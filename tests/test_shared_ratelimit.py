"""Several workers share one platform limit in PostgreSQL: together they never exceed it, and a
429 seen by one pauses the others. Each "worker" has its own engine (its own connections), as
separate processes would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from adapters.teams.platform import make_teams_platform
from bot.delivery import Delivery
from bot.messages import Message, Text
from bot.outbox import queue, to_member
from bot.ratelimit import PlatformLimits, Rate
from bot.shared_ratelimit import SharedRateLimiter
from storage.db import Database
from storage.models import ConversationReference, Member, OutboxMessage, Unit
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import APP_ID, teams_settings

RATE = Rate(per_second=20.0, burst=2.0)
LIMITS = {
    "slack": PlatformLimits(overall=RATE, per_conversation=Rate(1.0, burst=1.0)),
    # Teams: the tenant's limit and a conversation's (bot.delivery.rate_limits has 25 and 7).
    "teams": PlatformLimits(overall=RATE, per_conversation=Rate(1.0, burst=1.0)),
}
# A 1:1 conversation on each platform, as Route.conversation names it.
CONVERSATIONS = {"slack": "user:U1", "teams": "user:29:1abc"}


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


@pytest.mark.parametrize("platform", ["slack", "teams"])
def test_two_workers_never_exceed_the_shared_limit_within_a_window(
    workers: list[SharedRateLimiter], platform: str
) -> None:
    scope = SharedRateLimiter.scope(platform)

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


@pytest.mark.parametrize("platform", ["slack", "teams"])
def test_a_429_seen_by_one_worker_pauses_the_other(
    workers: list[SharedRateLimiter], platform: str
) -> None:
    first, second = workers
    paused = CONVERSATIONS[platform]
    first.pause(platform, 30.0, conversation=paused)
    # Same workspace or tenant, another conversation: the pause holds for the other worker.
    start, now = second.reserve_slot(SharedRateLimiter.scope(platform), RATE)
    assert start - now == pytest.approx(30.0, abs=1.0)
    # The conversation that got the 429 is paused too.
    start, now = second.reserve_slot(SharedRateLimiter.scope(platform, paused), Rate(1.0, 1.0))
    assert start - now == pytest.approx(30.0, abs=1.0)
    # A conversation nobody was told about only waits its own turn.
    other = SharedRateLimiter.scope(platform, paused + "-other")
    start, now = second.reserve_slot(other, Rate(1.0, 1.0))
    assert start - now <= 0.0
    # The other platform is not paused at all.
    elsewhere = "teams" if platform == "slack" else "slack"
    start, now = second.reserve_slot(SharedRateLimiter.scope(elsewhere), RATE)
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


# --- two real delivery loops against the fake Bot Connector enforcing Teams' tenant limit -----

# Slow enough that two workers on a busy machine could each keep it up alone.
TENANT_RATE = 2.0
MESSAGES = 16


def _teams_members(db: Database, fake: FakeBotConnector) -> list[int]:
    """MESSAGES people Teams knows, each with the 1:1 reference a first contact stores."""
    with db.session() as session:
        unit = Unit(path="Kommune", name="Kommune")
        session.add(unit)
        members = [
            Member(name=f"M {i}", email=f"m{i}@example.dk", teams_user_id=f"29:u{i}")
            for i in range(MESSAGES)
        ]
        session.add_all(members)
        session.flush()
        for i in range(MESSAGES):
            session.add(
                ConversationReference(
                    platform="teams",
                    key=f"user:29:u{i}",
                    reference={
                        "channelId": "msteams",
                        "serviceUrl": fake.service_url,
                        "bot": {"id": f"28:{APP_ID}"},
                        "user": {"id": f"29:u{i}"},
                        "conversation": {
                            "id": f"a:1personal-{i}",
                            "conversationType": "personal",
                            "tenantId": fake.tenant,
                        },
                    },
                )
            )
        return [m.id for m in members]


@pytest.mark.xfail(
    reason="issue 20, open: on an idle machine two workers draw a few 429s from the fake's "
    "one-second window for Teams (the shared bucket's burst is larger than the window allows); "
    "it passed only while the machine was too loaded to reach the limit",
    strict=False,
)
def test_two_workers_sending_to_one_teams_tenant_get_no_429(postgres_url: str) -> None:
    """Two delivery loops with their own connections (as two `medpuls worker` processes)
    share the tenant's limit: the fake Bot Connector, which throttles like Teams, never has
    to refuse a send. Each worker pacing itself alone would offer twice the rate."""
    fake = FakeBotConnector(tenant_rate=TENANT_RATE, conversation_rate=7.0).start()
    limits = {
        "teams": PlatformLimits(
            overall=Rate(TENANT_RATE, burst=1.0), per_conversation=Rate(7.0, burst=7.0)
        )
    }
    settings = teams_settings(postgres_url, fake)
    dbs = [Database(postgres_url) for _ in range(3)]
    try:
        ids = _teams_members(dbs[0], fake)
        message = Message(summary="Hej", parts=[Text(text="Hej")])
        with dbs[0].session() as session:
            queue(session, [to_member(m, f"t:{m}", message, purpose="test") for m in ids])
        loops = [
            Delivery(
                db,
                {"teams": make_teams_platform(settings, db)},
                worker_id=f"w{i}",
                limits=limits,
                batch=10,
                concurrency=8,
            )
            for i, db in enumerate(dbs[1:])
        ]

        def busy() -> int:
            with dbs[0].session() as session:
                return int(
                    session.scalar(
                        select(func.count())
                        .select_from(OutboxMessage)
                        .where(OutboxMessage.status.in_(("pending", "claimed", "sending")))
                    )
                    or 0
                )

        async def scenario() -> None:
            stop = asyncio.Event()
            running = [asyncio.create_task(d.run_forever(stop, idle=0.1)) for d in loops]
            for _ in range(600):
                if not await asyncio.to_thread(busy):
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.gather(*running)

        asyncio.run(scenario())
        with dbs[0].session() as session:
            senders = set(session.scalars(select(OutboxMessage.claimed_by)))
        assert senders == {"w0", "w1"}  # both took part
        assert fake.refused == 0
        assert sorted(fake.posted.values()) == [1] * MESSAGES
    finally:
        fake.stop()
        for db in dbs:
            db.dispose()
