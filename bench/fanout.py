"""Fan-out: a pulse round for N members over the fake Slack Web API at an enforced rate.

    python bench/fanout.py [N] [--rate 50]

Opens a round for one unit of N members on a throw-away PostgreSQL database (timing the
round's one-transaction opening), then runs the real delivery loop with the Slack platform
against the fake Slack, which answers 429 above `--rate` posts a second. Prints the rate
achieved as a share of the allowed rate, 429s received, duplicates and lost messages.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import UNIT, bench_database, seed_unit
from bench.fake_slack_rate import RateLimitedSlack


async def fanout(members: int, rate: float, deadline: float) -> str:
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
            worker = asyncio.create_task(bot.delivery.run_forever(stop, idle=0.2))
            t0 = time.monotonic()
            while time.monotonic() - t0 < deadline and await asyncio.to_thread(settled):
                await asyncio.sleep(1.0)
            stop.set()
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
            f"fanout N={members} rate={rate:g}/s achieved={achieved:.1f}/s share={share:.3f} "
            f"429s={slack.refused} duplicates={duplicates} lost={lost} "
            f"open_round={open_seconds:.2f}s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", nargs="?", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0, help="allowed posts a second")
    parser.add_argument("--deadline", type=float, default=900.0, help="give up after (s)")
    args = parser.parse_args()
    print(asyncio.run(fanout(args.members, args.rate, args.deadline)), flush=True)


if __name__ == "__main__":
    main()
