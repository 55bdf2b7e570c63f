"""Scheduler jobs run off the event loop, so `serve` keeps acknowledging while a job works.

The flows' jobs are synchronous; a digest for a large area takes seconds. Run on the loop, it
would hold every Slack acknowledgement behind it (issue 16, point 2). The proof here is an
ordering, not a clock: a job that is still running when the acknowledgement arrives.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from bot.app.scheduler import Scheduler
from bot.app.wiring import Bot
from tests.fakes.slack_api import FakeSlack, SlackWorkspace
from tests.slack_demo import answer_button as _answer_button
from tests.slack_demo import click
from tests.slack_demo import question_post as _question_post
from tests.slack_demo import round_on_slack as _round_on_slack

# Long enough that an acknowledgement stuck behind the job could not arrive in time.
JOB_HOLDS_FOR = 5.0


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


async def test_a_click_is_acknowledged_while_a_long_job_runs_in_the_same_process(
    db_url: str, fake: FakeSlack
) -> None:
    started = threading.Event()
    release = threading.Event()
    running = threading.Event()

    def long_digest(bot: Bot) -> None:
        running.set()
        started.set()
        release.wait(JOB_HOLDS_FOR)
        running.clear()

    async with SlackWorkspace(db_url, fake) as ws:
        people = await _round_on_slack(ws)
        post = _question_post(fake, people[1])
        scheduler = Scheduler(ws.bot, {"digest": long_digest})
        await scheduler.renew()
        assert scheduler.is_leader
        tick = asyncio.create_task(scheduler.tick())
        try:
            assert await asyncio.to_thread(started.wait, JOB_HOLDS_FOR)
            sent = await ws.interact(click(people[1], post, _answer_button(post.blocks(), 0, 4)))
            acknowledged_during_the_job = running.is_set()
        finally:
            release.set()
            await tick
            await scheduler.stop()
        assert sent.status == 200
        assert acknowledged_during_the_job


async def test_a_coroutine_job_is_still_awaited_on_the_loop(sqlite_url: str) -> None:
    from bot.app.wiring import build
    from bot.core.config import Settings

    ran: list[str] = []

    async def on_the_loop(bot: Bot) -> None:
        await asyncio.sleep(0)
        ran.append("async")

    def in_a_thread(bot: Bot) -> None:
        ran.append(threading.current_thread().name)

    bot = build(Settings(DATABASE_URL=sqlite_url))
    try:
        scheduler = Scheduler(bot, {"a": on_the_loop, "b": in_a_thread})
        await scheduler.renew()
        await scheduler.tick()
        await scheduler.stop()
    finally:
        bot.db.dispose()
    assert ran[0] == "async"
    assert ran[1] != threading.main_thread().name
