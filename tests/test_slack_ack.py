"""Slack acknowledgements go before work (issue 9): what the ack path may not wait for.

bench/ack.py measures the latency; these tests pin the behaviour behind it on the real app.
"""

from __future__ import annotations

import asyncio

from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.slack_demo import answer_button, answers, click, question_for, slack_fixtures
from tests.test_slack_oauth import OAUTH, _install

fake, ws = slack_fixtures()


async def test_a_click_is_worked_on_only_once_no_request_awaits_its_ack(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    anne, post = await question_for(ws, 1)
    fake.clear()
    with ws.adapter.acknowledging():  # another click of the burst is still being answered
        sent = await ws.interact(click(anne, post, answer_button(post.blocks(), 0, 4)))
        assert sent.status == 200
        await asyncio.sleep(0.2)
        assert answers(ws) == []
        assert fake.calls_to("chat.postEphemeral") == []
    await ws.drain()
    assert [v for _, v in answers(ws)] == [4]
    assert len(fake.calls_to("chat.postEphemeral")) == 1


async def test_under_a_steady_stream_of_requests_the_work_still_gets_done(
    ws: SlackWorkspace,
) -> None:
    bent, post = await question_for(ws, 2)
    with ws.adapter.acknowledging():  # never a lull while this is open
        await ws.interact(click(bent, post, answer_button(post.blocks(), 0, 2)))
        await ws.drain()
        assert [v for _, v in answers(ws)] == [2]


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
