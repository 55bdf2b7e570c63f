"""Slack acknowledgements go before work (issue 9): what the ack path may not wait for.

bench/ack.py measures the latency; these tests pin the behaviour behind it on the real app.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.test_slack_e2e import _answer_button, _answers, _question_post, _round_on_slack, click
from tests.test_slack_oauth import OAUTH, _install


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


async def test_a_click_is_worked_on_only_once_no_request_awaits_its_ack(
    db_url: str, fake: FakeSlack
) -> None:
    async with SlackWorkspace(db_url, fake) as ws:
        people = await _round_on_slack(ws)
        anne = people[1]
        post = _question_post(fake, anne)
        fake.clear()
        with ws.adapter.acknowledging():  # another click of the burst is still being answered
            sent = await ws.interact(click(anne, post, _answer_button(post.blocks(), 0, 4)))
            assert sent.status == 200
            await asyncio.sleep(0.2)
            assert _answers(ws) == []
            assert fake.calls_to("chat.postEphemeral") == []
        await ws.drain()
        assert [v for _, v in _answers(ws)] == [4]
        assert len(fake.calls_to("chat.postEphemeral")) == 1


async def test_under_a_steady_stream_of_requests_the_work_still_gets_done(
    db_url: str, fake: FakeSlack
) -> None:
    async with SlackWorkspace(db_url, fake) as ws:
        people = await _round_on_slack(ws)
        bent = people[2]
        post = _question_post(fake, bent)
        with ws.adapter.acknowledging():  # never a lull while this is open
            await ws.interact(click(bent, post, _answer_button(post.blocks(), 0, 2)))
            await ws.drain()
            assert [v for _, v in _answers(ws)] == [2]


async def test_installed_workspaces_are_authorised_without_asking_slack_each_time(
    sqlite_url: str,
) -> None:
    async with (
        FakeSlack(bot_token="xoxb-installed-0002") as fake,
        SlackWorkspace(sqlite_url, fake, **OAUTH) as ws,
    ):
        await _install(ws)
        fake.add_user("U0ANNE", "anne@eksempel.dk")
        fake.clear()
        for n in range(3):
            envelope = fixture("app_home_opened")
            envelope["event_id"] = f"Ev0HOME{n}"
            assert (await ws.event(envelope)).status == 200
        await ws.drain()
        assert len(fake.calls_to("views.publish")) == 3
        assert len(fake.calls_to("auth.test")) <= 1
        assert all(c.token == fake.bot_token for c in fake.calls_to("views.publish"))
