"""The outbox worker at the platform boundary: never twice, never silently lost.

`Receiver` is a chat platform as bot.platform.Platform sees it, recording every request that
reaches it; that is the boundary these tests count at. The database is real (SQLite and
PostgreSQL); the clock is moved with time-machine where a retry must come due.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator

import pytest
import time_machine
from sqlalchemy import func, insert, select

from bot.app.delivery import MAX_ATTEMPTS, Delivery
from bot.app.delivery_alerts import ALERT_PURPOSE
from bot.core.errors import DeliveryError
from bot.core.events import MessageRef
from bot.core.messages import Form, Message, Text
from bot.core.metrics import METRICS
from bot.core.outbox import queue, to_member
from bot.core.platform import Address
from bot.core.ratelimit import PlatformLimits, Rate
from storage.db import Database
from storage.leases import release_lease
from storage.models import Member, Membership, OutboxMessage, Unit, utcnow

SECRET = "Mit svar er 2, og min leder må ikke se det"


class Receiver:
    """The local platform's seat at the boundary: records requests, fails on demand."""

    name = "local"

    def __init__(self, *, idempotent: bool = False) -> None:
        self.posts: list[str] = []
        self.faults: dict[str, list[BaseException]] = {}
        self.hold: asyncio.Event | None = None
        self.idempotent_posts = idempotent
        self._ids = itertools.count(1)

    async def post(self, to: Address, message: Message, *, dedupe_key: str) -> MessageRef:
        self.posts.append(dedupe_key)
        await asyncio.sleep(0)
        if self.hold is not None:
            await self.hold.wait()  # the request is out; the answer has not come back
        faults = self.faults.get(dedupe_key)
        if faults:
            raise faults.pop(0)
        return MessageRef("local", f"{to.kind}:{to.value}", str(next(self._ids)))

    async def update(self, ref: MessageRef, message: Message) -> None:
        return None

    async def open_form(self, trigger: str, form: Form, *, to: Address) -> None:
        return None

    async def find_user(self, email: str) -> str | None:
        return None

    def received(self) -> Counter[str]:
        return Counter(self.posts)


def seed(db: Database, members: int, *, admins: int = 1) -> list[int]:
    """A unit with `members` members (the first `admins` of them admins), one DM each queued."""
    with db.session() as session:
        unit = Unit(path="Kommune", name="Kommune")
        session.add(unit)
        session.flush()
        session.execute(
            insert(Member), [{"name": f"M{i}", "email": f"m{i}@x.dk"} for i in range(members)]
        )
        ids = list(session.scalars(select(Member.id).order_by(Member.id)))
        session.add_all(
            Membership(member_id=m, unit_id=unit.id, roles="admin" if n < admins else "member")
            for n, m in enumerate(ids)
        )
        queue(
            session,
            [
                to_member(m, f"ask:{m}", Message(summary=SECRET, parts=[Text(text=SECRET)]))
                for m in ids[admins:]
            ],
        )
    return ids


def rows(db: Database, *, purpose: str | None = None) -> list[OutboxMessage]:
    with db.session() as session:
        q = select(OutboxMessage).order_by(OutboxMessage.id)
        if purpose is not None:
            q = q.where(OutboxMessage.purpose == purpose)
        return list(session.scalars(q))


def statuses(db: Database) -> Counter[str]:
    return Counter(r.status for r in rows(db) if r.purpose != ALERT_PURPOSE)


async def drain(delivery: Delivery) -> int:
    total = 0
    while sent := await delivery.run_once():
        total += sent
    return total


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


async def test_two_workers_deliver_2000_messages_none_twice(postgres_url: str) -> None:
    # Two workers as two processes would be: own connection pools, own ids, one database.
    one, two = Database(postgres_url), Database(postgres_url)
    try:
        seed(one, 2001)
        receiver = Receiver()
        workers = [
            Delivery(one, {"local": receiver}, worker_id="w1", batch=100),
            Delivery(two, {"local": receiver}, worker_id="w2", batch=100),
        ]
        await asyncio.gather(*(drain(w) for w in workers))
        received = receiver.received()
        assert len(received) == 2000
        assert max(received.values()) == 1
        assert statuses(one) == {"sent": 2000}
        by_worker = Counter(r.claimed_by for r in rows(one))
        assert by_worker["w1"] > 0 and by_worker["w2"] > 0
    finally:
        one.dispose()
        two.dispose()


async def test_a_429_waits_without_using_a_try_and_then_sends(db: Database) -> None:
    seed(db, 3)
    receiver = Receiver()
    receiver.faults["ask:2"] = [DeliveryError("slow down", retry_after=0.2)]
    before = METRICS.rate_limited.labels(platform="local")._value.get()
    with time_machine.travel(utcnow(), tick=True) as clock:
        delivery = Delivery(db, {"local": receiver})
        assert await delivery.run_once() == 2
        [row] = [r for r in rows(db) if r.dedupe_key == "ask:2"]
        assert (row.status, row.attempts) == ("pending", 0)
        assert await delivery.run_once() == 0  # not due before Retry-After has passed
        clock.shift(1)
        assert await delivery.run_once() == 1
    assert METRICS.rate_limited.labels(platform="local")._value.get() == before + 1
    assert receiver.received() == {"ask:2": 2, "ask:3": 1}  # a 429 is a refusal, not a send
    assert statuses(db) == {"sent": 2}


async def test_transient_failures_back_off_then_dead_letter_and_admins_are_told_once(
    db: Database,
) -> None:
    admin, first, second = seed(db, 3)
    receiver = Receiver()
    for key in (f"ask:{first}", f"ask:{second}"):
        receiver.faults[key] = [DeliveryError("slack: internal_error")] * (MAX_ATTEMPTS + 2)
    with time_machine.travel(utcnow(), tick=True) as clock:
        delivery = Delivery(db, {"local": receiver})
        waits = []
        for _ in range(MAX_ATTEMPTS):
            before = utcnow()
            await delivery.run_once()
            pending = [r for r in rows(db) if r.status == "pending"]
            waits += [(r.next_attempt_at - before).total_seconds() for r in pending]
            clock.shift(1000)
        assert statuses(db) == {"dead": 2}
        assert receiver.received()[f"ask:{first}"] == MAX_ATTEMPTS
        # Backing off: every wait positive, and later waits may be far longer than early ones.
        assert all(0 < w <= 900 for w in waits)
        [alert] = rows(db, purpose=ALERT_PURPOSE)
        assert alert.address == str(admin)
        text = str(alert.payload)
        assert "2 beskeder kunne ikke leveres" in text
        assert SECRET not in text and "@x.dk" not in text and "M1" not in text
        # The notice itself goes out; more trouble the same day does not make a second one.
        await delivery.run_once()
        assert receiver.received()[f"delivery:alert:{alert.dedupe_key.split(':')[2]}:{admin}"] == 1
        assert delivery.alert_admins() == 0


async def test_unknown_outcome_is_parked_never_resent_and_reported(db: Database) -> None:
    _, *members = seed(db, 4)
    receiver = Receiver()
    receiver.faults[f"ask:{members[0]}"] = [DeliveryError("reset", unknown_outcome=True)]
    receiver.faults[f"ask:{members[1]}"] = [ConnectionResetError("peer reset")]
    with time_machine.travel(utcnow(), tick=True) as clock:
        delivery = Delivery(db, {"local": receiver})
        await drain(delivery)
        clock.shift(3600)
        await drain(delivery)
    assert statuses(db) == {"unknown": 2, "sent": 1}
    received = receiver.received()
    assert received[f"ask:{members[0]}"] == received[f"ask:{members[1]}"] == 1
    [alert] = rows(db, purpose=ALERT_PURPOSE)
    assert alert.status == "sent" and "2 beskeder er måske nået frem" in str(alert.payload)


async def test_unknown_outcome_on_an_idempotent_platform_is_sent_again(db: Database) -> None:
    _, member = seed(db, 2)
    receiver = Receiver(idempotent=True)
    receiver.faults[f"ask:{member}"] = [DeliveryError("reset", unknown_outcome=True)]
    with time_machine.travel(utcnow(), tick=True) as clock:
        delivery = Delivery(db, {"local": receiver})
        await drain(delivery)
        clock.shift(3600)
        await drain(delivery)
    assert statuses(db) == {"sent": 1}
    assert rows(db, purpose=ALERT_PURPOSE) == []


async def _kill_mid_batch(db: Database, receiver: Receiver, in_flight: int) -> Delivery:
    """Worker A claims a batch, has `in_flight` requests out, and dies (kill -9)."""
    receiver.hold = asyncio.Event()
    doomed = Delivery(db, {"local": receiver}, worker_id="doomed", batch=50, concurrency=in_flight)
    task = asyncio.create_task(doomed.run_once())
    for _ in range(1000):
        if len(receiver.posts) == in_flight:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    receiver.hold = None
    # Its heartbeat runs out (a dead process does not release it; this is the same, sooner).
    release_lease(db, doomed.lease_name, doomed.worker_id)
    return doomed


async def test_a_dead_workers_rows_go_back_or_are_parked_never_twice(db: Database) -> None:
    seed(db, 41)
    receiver = Receiver()
    await _kill_mid_batch(db, receiver, in_flight=5)
    assert statuses(db) == {"claimed": 35, "sending": 5}
    survivor = Delivery(db, {"local": receiver}, worker_id="survivor")
    assert survivor.recover().unknown == 5
    await drain(survivor)
    received = receiver.received()
    assert max(received.values()) == 1
    assert statuses(db) == {"sent": 35, "unknown": 5}
    unknown = {r.dedupe_key for r in rows(db) if r.status == "unknown"}
    assert unknown <= set(received)  # parked, not lost: they may have arrived
    assert len(rows(db, purpose=ALERT_PURPOSE)) == 1


async def test_a_dead_workers_sends_are_repeated_on_an_idempotent_platform(db: Database) -> None:
    seed(db, 41)
    receiver = Receiver(idempotent=True)
    await _kill_mid_batch(db, receiver, in_flight=5)
    survivor = Delivery(db, {"local": receiver}, worker_id="survivor")
    assert survivor.recover().unknown == 0
    await drain(survivor)
    assert statuses(db) == {"sent": 40}
    assert set(receiver.received()) == {r.dedupe_key for r in rows(db)}


async def test_a_live_workers_rows_are_left_alone(db: Database) -> None:
    seed(db, 11)
    busy = Delivery(db, {"local": Receiver()}, worker_id="busy")
    assert len(busy.claim()) == 10
    other = Delivery(db, {"local": Receiver()}, worker_id="other")
    assert other.recover().unknown == 0
    assert statuses(db) == {"claimed": 10}
    assert await other.run_once() == 0


async def test_the_rate_limiter_paces_sends_per_platform(db: Database) -> None:
    seed(db, 13)
    receiver = Receiver()
    limits = {"local": PlatformLimits(overall=Rate(10.0, burst=2.0))}
    delivery = Delivery(db, {"local": receiver}, limits=limits)
    before = METRICS.throttle_seconds.labels(platform="local")._value.get()
    await drain(delivery)
    waited = METRICS.throttle_seconds.labels(platform="local")._value.get() - before
    assert len(receiver.posts) == 12
    # Ten sends beyond the burst at 10 a second: most of a second spent waiting (the database
    # work between sends, slow on a busy machine, earns some of it back).
    assert waited > 0.3


def test_outbox_cli_lists_without_contents_and_resolves(db_url: str) -> None:
    from tests.cli import cli

    db = Database(db_url)
    seed(db, 3)
    with db.session() as session:
        ids = list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        for row_id, status in zip(ids, ("unknown", "dead"), strict=True):
            row = session.get(OutboxMessage, row_id)
            assert row is not None
            row.status, row.last_error, row.purpose = status, "reset", "pulse.ask"
    code, out = cli(db_url, "outbox", "unknown")
    assert code == 0 and out.startswith(f"{ids[0]}\t") and "pulse.ask" in out
    assert SECRET not in out
    assert cli(db_url, "outbox", "resend", str(ids[0]))[0] == 0
    assert cli(db_url, "outbox", "forget", str(ids[1]))[0] == 0
    code, out = cli(db_url, "outbox", "forget", str(ids[1]))
    assert code == 2 and "no unknown or dead message" in out
    with db.session() as session:
        got = dict(session.execute(select(OutboxMessage.id, OutboxMessage.status)).all())
        assert (got[ids[0]], got[ids[1]]) == ("pending", "forgotten")
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    db.dispose()


def test_metrics_name_the_delivery_figures() -> None:
    from prometheus_client import generate_latest

    text = generate_latest(METRICS.registry).decode()
    for name in (
        "medpuls_queue_depth",
        "medpuls_sent",
        "medpuls_retried",
        "medpuls_dead_lettered",
        "medpuls_unknown_outcome",
        "medpuls_rate_limit_waits",
        "medpuls_throttle_seconds",
        "medpuls_round_seconds",
        "medpuls_digest_seconds",
    ):
        assert name in text, name
