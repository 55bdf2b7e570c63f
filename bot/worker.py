"""The worker: scheduler (one active among replicas) and outbox delivery."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.jobs import all_jobs
from bot.scheduler import Scheduler

if TYPE_CHECKING:
    from bot.app import Bot


async def run_worker(bot: Bot, stop: asyncio.Event) -> None:
    scheduler = Scheduler(bot, all_jobs())
    scheduler.start()
    try:
        await bot.delivery.run_forever(stop)
    finally:
        await scheduler.stop()
