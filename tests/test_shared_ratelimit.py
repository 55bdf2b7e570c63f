"""Several workers share one platform limit in PostgreSQL: together they never exceed it, and a
429 seen by one pauses the others. Each "worker" has its own engine (its own connections), as
separate processes would."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from adapters.slack.platform import make_slack_platform
from adapters.teams.platform import make_teams_platform
from bot.app.delivery import Delivery
from bot.app.shared_ratelimit import SharedRateLimiter
from bot.core.config import Settings
from bot.core.messages import Message, Text
from bot.core.outbox import queue, to_member
from bot.core.platform import Address
from bot.core.platform_limits import (
    SLACK_CHANNEL,
    TEAMS_CONVERSATION,
    TEAMS_TENANT_PER_SECOND,
    check,
    per_second,
    rate_limits,
)
from bot.core.ratelimit import (
    CURRENT_SLOT,
    LEAD_SECONDS,
    MissedSlot,
    PlatformLimits,
    Rate,
    RateLimiter,
    Slot,
    late_allowance,
    until_slot,
)
from storage.db import Database
from storage.models import ConversationReference, Member, OutboxMessage, Unit
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack
from tests.teams_support import APP_ID, teams_settings

LIMITS = rate_limits()
# What each platform allows in any second across a workspace or tenant (Slack's is ours to
# set: MEDPULS_SLACK_RATE, 50 by default), and in one conversation's windows.
PLATFORM = {
    "slack": (50, SLACK_CHANNEL),
    "teams": (TEAMS_TENANT_PER_SECOND, TEAMS_CONVERSATION),
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
        # Slot times are epoch seconds: float64 resolves them to about 1e-7 s.
        while t - starts[lo] >= window - 1e-6:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.mark.parametrize("platform", ["slack", "teams"])
def test_the_paced_rates_fit_the_platforms_windows_even_when_sends_leave_late(
    platform: str,
) -> None:
    overall, windows = PLATFORM[platform]
    assert check(LIMITS[platform], windows, overall)
    # Whatever rate a Slack workspace is given, a second never holds more than it.
    for rate in (1, 2, 5, 13, 50, 100, 400):
        assert check(PlatformLimits(overall=per_second(rate)), (), rate)


@pytest.mark.parametrize("platform", ["slack", "teams"])
def test_two_workers_never_exceed_the_platforms_windows(
    workers: list[SharedRateLimiter], platform: str
) -> None:
    """Four threads on two engines (as workers) reserve 240 sends at once, 16 of them to one
    busy conversation. The slots, each pushed up to the allowed lateness, never put more into
    any window than the platform allows; two unshared limiters would put twice as much."""
    overall, windows = PLATFORM[platform]
    busy = CONVERSATIONS[platform]

    def take(job: tuple[SharedRateLimiter, int]) -> list[tuple[float, float, str]]:
        worker, n = job
        out = []
        for i in range(60):
            conversation = busy if i % 15 == n % 4 else f"{busy}-{n}-{i}"
            at, now = worker.reserve_at(worker.buckets(platform, conversation))
            out.append((at, now, conversation))
        return out

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(take, [(w, n) for n, w in enumerate(workers + workers)]))
    slots = [slot for run in runs for slot in run]
    assert len(slots) == 240
    late = late_allowance([r for _, r in LIMITS[platform].buckets(platform, busy)])
    assert most_in_any_window([at for at, _, _ in slots], 1.0 + late) <= overall
    in_busy = [at for at, _, c in slots if c == busy]
    assert len(in_busy) == 16
    for most, seconds in windows:
        assert most_in_any_window(in_busy, seconds + late) <= most
    # ... and the workspace's or tenant's rate is used to the full: a send that had to wait
    # for it (not for its conversation) goes one interval after the slot before it.
    interval = per_second(overall).interval
    slots.sort()
    waited = [
        at - before
        for (before, _, _), (at, now, c) in itertools.pairwise(slots)
        if c != busy and at > now
    ]
    assert waited
    assert all(gap == pytest.approx(interval, abs=1e-6) for gap in waited)


@pytest.mark.parametrize("platform", ["slack", "teams"])
def test_a_429_seen_by_one_worker_pauses_the_other(
    workers: list[SharedRateLimiter], platform: str
) -> None:
    first, second = workers
    paused = CONVERSATIONS[platform]
    first.pause(platform, 30.0, conversation=paused)
    # Same workspace or tenant, another conversation: the pause holds for the other worker.
    at, now = second.reserve_at(second.buckets(platform, paused + "-other"))
    assert at - now == pytest.approx(30.0, abs=1.0)
    # The conversation that got the 429 is paused too (after that send, its own turn).
    at, now = second.reserve_at(second.buckets(platform, paused))
    assert at - now > 29.0
    # The other platform is not paused at all.
    elsewhere = "teams" if platform == "slack" else "slack"
    at, now = second.reserve_at(second.buckets(elsewhere, paused))
    assert at - now <= 0.0


def test_the_in_process_limiter_pauses_and_paces_the_same_way() -> None:
    """SQLite's one worker: the same arithmetic in memory (bot.ratelimit.RateLimiter)."""
    clock = [1000.0]
    limiter = RateLimiter(LIMITS, clock=lambda: clock[0])
    slots = [limiter.reserve("teams", f"c{i}").at for i in range(100)]
    assert most_in_any_window(slots, 1.0 + 0.45 / 24.5) <= TEAMS_TENANT_PER_SECOND
    limiter.pause("teams", 10.0, conversation="c0")
    assert limiter.reserve("teams", "c200").at - clock[0] >= 10.0
    assert limiter.reserve("slack", "c0").at == clock[0]


def test_a_send_is_woken_ahead_of_its_slot_and_leaves_on_it() -> None:
    """acquire returns LEAD_SECONDS before the slot, so the work before the request (marking
    the row, the adapter's look-ups) is done by then instead of making the send late; the
    adapter's until_slot waits out the rest right before the request, never leaving early."""
    limiter = RateLimiter({"p": PlatformLimits(overall=Rate(1.0 / (LEAD_SECONDS + 0.3)))})

    async def scenario() -> None:
        await limiter.acquire("p", "c1")
        slot = await limiter.acquire("p", "c2")
        assert slot.at - time.monotonic() > LEAD_SECONDS - 0.05
        token = CURRENT_SLOT.set(slot)
        try:
            await until_slot()
        finally:
            CURRENT_SLOT.reset(token)
        assert time.monotonic() >= slot.at

    asyncio.run(scenario())


async def test_slack_posts_on_its_slot_never_before_and_not_late(sqlite_url: str) -> None:
    """The Slack adapter waits for delivery's slot right before chat.postMessage (after its own
    look-ups and rendering), and a slot already missed sends nothing: delivery takes a new one."""
    db = Database(sqlite_url)
    async with FakeSlack() as fake:
        settings = Settings(
            DATABASE_URL=sqlite_url,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET="s3cret",
            SLACK_API_URL=fake.api_url,
        )
        fake.add_user("U1", "u1@example.dk")
        slack = make_slack_platform(settings, db)
        hello = Message(summary="Hej", parts=[Text(text="Hej")])
        ahead = Slot(time.monotonic() + 0.3, 0.3, 0.01)
        token = CURRENT_SLOT.set(ahead)
        try:
            await slack.post(Address("user", "U1"), hello, dedupe_key="k1")
            assert time.monotonic() >= ahead.at
            assert len(fake.calls_to("chat.postMessage")) == 1
            CURRENT_SLOT.set(Slot(time.monotonic() - 1.0, 0.0, 0.01))
            with pytest.raises(MissedSlot):
                await slack.post(Address("user", "U1"), hello, dedupe_key="k2")
        finally:
            CURRENT_SLOT.reset(token)
        assert len(fake.calls_to("chat.postMessage")) == 1
    db.dispose()


def test_quiet_scopes_are_forgotten_busy_ones_kept(workers: list[SharedRateLimiter]) -> None:
    first, _ = workers
    first.reserve_slot("slack:c:busy", Rate(1.0, 1.0))
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
TENANT_RATE = 2
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
                    reference=fake.personal_reference(f"29:u{i}", f"a:1personal-{i}", APP_ID),
                )
            )
        return [m.id for m in members]


def test_two_workers_sending_to_one_teams_tenant_get_no_429(postgres_url: str) -> None:
    """Two delivery loops with their own connections (as two `medpuls worker` processes)
    share the tenant's limit: the fake Bot Connector, which throttles like Teams, never has
    to refuse a send. Each worker pacing itself alone would offer twice the rate."""
    fake = FakeBotConnector(
        tenant_rate=TENANT_RATE, conversation_windows=TEAMS_CONVERSATION
    ).start()
    # What bot.platform_limits paces a tenant at, for this fake's tenant limit.
    limits = {
        "teams": PlatformLimits(
            overall=per_second(TENANT_RATE),
            per_conversation=rate_limits()["teams"].per_conversation,
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

        async def scenario() -> None:
            stop = asyncio.Event()
            running = [asyncio.create_task(d.run_forever(stop, idle=0.1)) for d in loops]
            for _ in range(600):
                if not await asyncio.to_thread(loops[0].queue_depth):
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
