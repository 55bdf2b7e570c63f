"""The worker: scheduler (one active among replicas) and outbox delivery."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from bot.app.jobs import all_jobs
from bot.app.scheduler import Scheduler

if TYPE_CHECKING:
    from bot.app.wiring import Bot


def enough_threads(bot: Bot) -> None:
    """Every send in flight holds a thread now and then (database calls, and Teams' connector,
    whose HTTP client is `requests` in the loop's executor); asyncio's default of CPUs + 4
    threads made sends queue behind each other and leave late for their rate-limit slots."""
    workers = bot.delivery.concurrency * 2 + 8
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=workers))


async def run_worker(bot: Bot, stop: asyncio.Event) -> None:
    enough_threads(bot)
    scheduler = Scheduler(bot, all_jobs())
    scheduler.start()
    try:
        await bot.delivery.run_forever(stop)
    finally:
        await scheduler.stop()
