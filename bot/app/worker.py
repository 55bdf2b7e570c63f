"""The worker: scheduler (one active among replicas) and outbox delivery.

`medpuls worker` runs both (Procfile `worker`); `medpuls serve` delivers in its own process
and runs the scheduler's jobs in a child, `medpuls worker --jobs-only` (bot/app/job_process.py).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
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


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM (a deploy, serve stopping its job process) and SIGINT (Ctrl-C in `make run`,
    which reaches the whole process group) stop the worker the same quiet way."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def stop_when_parent_goes(stop: asyncio.Event) -> None:
    """Serve holds our stdin open; end-of-file means it is gone (even killed), so we stop too."""
    loop = asyncio.get_running_loop()

    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


async def run_worker(bot: Bot, stop: asyncio.Event) -> None:
    enough_threads(bot)
    scheduler = Scheduler(bot, all_jobs())
    scheduler.start()
    try:
        await bot.delivery.run_forever(stop)
    finally:
        await scheduler.stop()


async def run_jobs(bot: Bot, stop: asyncio.Event) -> None:
    """The scheduler only: what serve's job process runs until `stop`."""
    scheduler = Scheduler(bot, all_jobs())
    scheduler.start()
    try:
        await stop.wait()
    finally:
        await scheduler.stop()


async def run_delivery(bot: Bot, stop: asyncio.Event) -> None:
    """Outbox delivery only: what serve runs in its own process beside the web routes."""
    enough_threads(bot)
    await bot.delivery.run_forever(stop)
