"""Fan-out: a pulse round for N members over a rate-enforcing fake platform.

    python bench/fanout.py [N] [--platform slack|teams] [--rate 50] [--workers 3]

Opens a round for one unit of N members on a throw-away PostgreSQL database (timing the
round's one-transaction opening), then runs the real delivery loop against a fake platform
that answers 429 above its limits: the fake Slack Web API above `--rate` posts in any second
(the workspace's DM rate) or a channel's windows, or the fake Bot Connector
(tests/fakes/bot_connector.py) above 25 sends in any second per tenant or Teams' windows per
conversation (7 in any second, 8 in any two, ...; bot.platform_limits). Prints the rate
achieved as a share of the binding limit, 429s received, duplicates and lost messages. With
`--workers K` the delivery loop runs in K separate worker processes on the same database,
which share the rate limits through PostgreSQL (bot/app/shared_ratelimit.py).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from bench._common import UNIT, bench_database, seed_unit
from bench.fake_slack_rate import RateLimitedSlack
from bot.core.config import Settings
from bot.core.platform_limits import TEAMS_CONVERSATION, TEAMS_TENANT_PER_SECOND
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.windows import SlidingWindows

# The limit the fake Bot Connector enforces per tenant (bot.platform_limits paces under it).
TEAMS_TENANT_RATE = TEAMS_TENANT_PER_SECOND
TEAMS_APP_ID = "00000000-0000-4000-8000-00000000b07a"


def _settings(values: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, **values)


async def _child(values: dict[str, Any]) -> None:
    """One worker process: the real delivery loop until SIGTERM."""
    from bot.app.wiring import build
    from bot.app.worker import enough_threads
    from bot.core import ratelimit

    # Measured, not changed: how often a send found its slot already missed (the slot then
    # stays empty: lost rate) and how late delivery was when it looked.
    missed = Counter[bool]()
    lateness: list[float] = []
    plain = ratelimit.Slot.missed

    def counted(slot: ratelimit.Slot, now: float | None = None) -> bool:
        late = plain(slot, now)
        missed[late] += 1
        lateness.append(time.monotonic() - slot.at)
        return late

    ratelimit.Slot.missed = counted  # type: ignore[method-assign]
    bot = build(_settings(values))
    enough_threads(bot)  # as `medpuls worker` does
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await bot.delivery.run_forever(stop, idle=0.2)
    bot.db.dispose()
    lateness.sort()
    at = (0.5, 0.9, 0.99) if lateness else ()
    pct = "/".join(f"{lateness[int(len(lateness) * q)] * 1000:.0f}" for q in at)
    print(
        f"worker {os.getpid()}: slots {missed[False]} kept, {missed[True]} missed; "
        f"ms after the slot when checked p50/p90/p99 {pct}",
        flush=True,
    )


def spawn_workers(k: int, values: dict[str, Any]) -> list[subprocess.Popen[bytes]]:
    # Only the settings given: none of this shell's SLACK_* / MICROSOFT_* leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))}
    args = [sys.executable, __file__, "--child", json.dumps(values)]
    return [subprocess.Popen(args, env=env) for _ in range(k)]


class _Fake(Protocol):
    """What the bench reads from either fake: posts per conversation, 429s, first and last."""

    posted: Counter[str]
    refused: int
    overall: SlidingWindows
    first_post: float | None
    last_post: float | None


def _seed_teams(url: str, members: int, fake: FakeBotConnector) -> None:
    """N members Teams knows (29:u1...), each with the 1:1 reference a first contact stores."""
    from storage.db import Database
    from storage.models import ConversationReference, Member, Membership, Unit, utcnow

    db = Database(url)
    with db.session() as session:
        unit = Unit(path=UNIT, name=UNIT)
        session.add(unit)
        session.flush()
        session.execute(
            insert(Member),
            [
                {
                    "name": f"Medarbejder {i}",
                    "email": f"m{i}@bench.invalid",
                    "teams_user_id": f"29:u{i}",
                }
                for i in range(1, members + 1)
            ],
        )
        ids = list(session.scalars(select(Member.id).order_by(Member.id)))
        session.execute(insert(Membership), [{"member_id": m, "unit_id": unit.id} for m in ids])
        now = utcnow()
        session.execute(
            insert(ConversationReference),
            [
                {
                    "platform": "teams",
                    "key": f"user:29:u{i}",
                    "updated_at": now,
                    "reference": fake.personal_reference(
                        f"29:u{i}", f"a:1personal-29:u{i}", TEAMS_APP_ID
                    ),
                }
                for i in range(1, members + 1)
            ],
        )
    db.dispose()


async def fanout(
    members: int, rate: float, deadline: float, workers: int = 1, platform: str = "slack"
) -> str:
    from bot.app.wiring import build
    from flows.pulse import run_now, sync_bank
    from storage.models import OutboxMessage, utcnow

    with bench_database() as url:
        async with AsyncExitStack() as stack:
            fake: _Fake
            if platform == "teams":
                rate = TEAMS_TENANT_RATE
                teams = FakeBotConnector(
                    tenant_rate=TEAMS_TENANT_RATE,
                    conversation_windows=TEAMS_CONVERSATION,
                    keep_calls=False,
                ).start()
                stack.callback(teams.stop)
                fake = teams
                values: dict[str, Any] = {
                    "DATABASE_URL": url,
                    "MICROSOFT_APP_ID": TEAMS_APP_ID,
                    "MICROSOFT_APP_PASSWORD": "bench-secret",
                    "MICROSOFT_APP_TYPE": "SingleTenant",
                    "MEDPULS_PUBLIC_URL": "https://medpuls.bench.invalid",
                    **teams.settings(),
                }
                expected = {f"a:1personal-29:u{i}" for i in range(1, members + 1)}
            else:
                slack = RateLimitedSlack(rate_per_second=rate)
                await stack.enter_async_context(slack)
                for i in range(1, members + 1):
                    slack.add_user(f"U{i:08d}", f"m{i}@bench.invalid")
                fake = slack
                values = {
                    "DATABASE_URL": url,
                    "SLACK_BOT_TOKEN": slack.bot_token,
                    "SLACK_SIGNING_SECRET": "bench-secret",
                    "SLACK_API_URL": slack.api_url,
                    "MEDPULS_SLACK_RATE": rate,
                }
                expected = {f"U{i:08d}" for i in range(1, members + 1)}
            # A round opened after 17:00 Copenhagen time would wait for the morning otherwise.
            values["MEDPULS_WORKING_HOURS"] = "always"
            settings = _settings(values)
            bot = build(settings)
            if platform == "teams":
                await asyncio.to_thread(_seed_teams, url, members, teams)
            else:
                seed_unit(bot.db, members)
            with bot.db.session() as session:
                sync_bank(session)
            started = time.perf_counter()
            with bot.db.session() as session:
                [opened] = run_now(session, UNIT, now=utcnow(), settings=settings)
            open_seconds = time.perf_counter() - started
            print(f"round opened for {opened.asked} members in {open_seconds:.2f} s", flush=True)

            def settled() -> int:
                with bot.db.session() as session:
                    return (
                        session.query(OutboxMessage)
                        .filter(OutboxMessage.status.in_(("pending", "claimed", "sending")))
                        .count()
                    )

            stop = asyncio.Event()
            children: list[subprocess.Popen[bytes]] = []
            if workers > 1:
                children = spawn_workers(workers, values)
                worker = None
            else:
                worker = asyncio.create_task(bot.delivery.run_forever(stop, idle=0.2))
            t0 = time.monotonic()
            while time.monotonic() - t0 < deadline and await asyncio.to_thread(settled) > 0:
                await asyncio.sleep(1.0)
            stop.set()
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                await asyncio.to_thread(child.wait, 30)
            if worker is not None:
                await asyncio.wait_for(worker, timeout=30)
            bot.db.dispose()
        duplicates = sum(n - 1 for n in fake.posted.values() if n > 1)
        lost = len(expected - set(fake.posted))
        delivered = sum(fake.posted.values())
        span = (fake.last_post or 0.0) - (fake.first_post or 0.0)
        achieved = (delivered - 1) / span if span > 0 else 0.0
        share = achieved / rate
        # Where a shortfall went: the fake's fullest second (over the limit means a 429), and
        # the time it saw no post for more than two intervals (idle workers, missed slots).
        interval = 1.0 / rate
        gaps = [b - a for a, b in itertools.pairwise(fake.overall.history)]
        figures = {
            "platform": platform,
            "N": members,
            "workers": workers,
            "rate": f"{rate:g}/s",
            "achieved": f"{achieved:.1f}/s",
            "share": f"{share:.3f}",
            "429s": fake.refused,
            "duplicates": duplicates,
            "lost": lost,
            "open_round": f"{open_seconds:.2f}s",
            "busiest_second": fake.overall.busiest.get(1.0),
            "idle": f"{sum(g - interval for g in gaps if g > 2 * interval):.1f}s",
        }
        return "fanout " + " ".join(f"{k}={v}" for k, v in figures.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", nargs="?", type=int, default=2000)
    parser.add_argument("--platform", choices=("slack", "teams"), default="slack")
    parser.add_argument(
        "--rate", type=float, default=50.0, help="Slack: allowed posts a second (Teams: 25)"
    )
    parser.add_argument("--deadline", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--child", metavar="SETTINGS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(json.loads(args.child)))
        return
    result = fanout(args.members, args.rate, args.deadline, args.workers, args.platform)
    print(asyncio.run(result), flush=True)


if __name__ == "__main__":
    main()
