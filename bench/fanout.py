"""Fan-out: a pulse round for N members over the fake Slack Web API at an enforced rate.

    python bench/fanout.py [N] [--rate 50] [--workers 3]

Opens a round for one unit of N members on a throw-away PostgreSQL database (timing the
round's one-transaction opening), then runs the real delivery loop with the Slack platform
against the fake Slack, which answers 429 above `--rate` posts a second. Prints the rate
achieved as a share of the allowed rate, 429s received, duplicates and lost messages. With
`--workers K` the delivery loop runs in K separate worker processes on the same database, which
share the rate limit through PostgreSQL (bot/shared_ratelimit.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import UNIT, bench_database, seed_unit
from bench.fake_slack_rate import RateLimitedSlack
from bot.config import Settings


def _settings(url: str, token: str, api_url: str, rate: float) -> Settings:
    return Settings(
        DATABASE_URL=url,
        SLACK_BOT_TOKEN=token,
        SLACK_SIGNING_SECRET="bench-secret",
        SLACK_API_URL=api_url,
        MEDPULS_SLACK_RATE=rate,
    )


async def _child(url: str, token: str, api_url: str, rate: float) -> None:
    """One worker process: the real delivery loop until SIGTERM."""
    from bot.app import build

    bot = build(_settings(url, token, api_url, rate))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await bot.delivery.run_forever(stop, idle=0.2)
    bot.db.dispose()


def spawn_workers(
    k: int, url: str, token: str, api_url: str, rate: float
) -> list[subprocess.Popen[bytes]]:
    args = ["--url", url, "--token", token, "--api-url", api_url, "--rate", str(rate)]
    return [
        subprocess.Popen([sys.executable, __file__, "--child", *args], env=dict(os.environ))
        for _ in range(k)
    ]


async def fanout(members: int, rate: float, deadline: float, workers: int = 1) -> str:
    from bot.app import build
    from bot.config import Settings
    from flows.pulse import run_now, sync_bank
    from storage.models import OutboxMessage, utcnow

    with bench_database() as url:
        async with RateLimitedSlack(rate_per_second=rate) as slack:
            for i in range(1, members + 1):
                slack.add_user(f"U{i:08d}", f"m{i}@bench.invalid")
            settings = Settings(
                DATABASE_URL=url,
                SLACK_BOT_TOKEN=slack.bot_token,
                SLACK_SIGNING_SECRET="bench-secret",
                SLACK_API_URL=slack.api_url,
                MEDPULS_SLACK_RATE=rate,
            )
            bot = build(settings)
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
                children = spawn_workers(workers, url, slack.bot_token, slack.api_url, rate)
                worker = None
            else:
                worker = asyncio.create_task(bot.delivery.run_forever(stop, idle=0.2))
            t0 = time.monotonic()
            while time.monotonic() - t0 < deadline and await asyncio.to_thread(settled):
                await asyncio.sleep(1.0)
            stop.set()
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                await asyncio.to_thread(child.wait, 30)
            if worker is not None:
                await asyncio.wait_for(worker, timeout=30)
            bot.db.dispose()
        expected = {f"U{i:08d}" for i in range(1, members + 1)}
        duplicates = sum(n - 1 for n in slack.posted.values() if n > 1)
        lost = len(expected - set(slack.posted))
        delivered = sum(slack.posted.values())
        span = (slack.last_post or 0.0) - (slack.first_post or 0.0)
        achieved = (delivered - 1) / span if span > 0 else 0.0
        share = achieved / rate
        return (
            f"fanout N={members} workers={workers} rate={rate:g}/s "
            f"achieved={achieved:.1f}/s share={share:.3f} "
            f"429s={slack.refused} duplicates={duplicates} lost={lost} "
            f"open_round={open_seconds:.2f}s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", nargs="?", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0, help="allowed posts a second")
    parser.add_argument("--deadline", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.url, args.token, args.api_url, args.rate))
        return
    print(asyncio.run(fanout(args.members, args.rate, args.deadline, args.workers)), flush=True)


if __name__ == "__main__":
    main()
