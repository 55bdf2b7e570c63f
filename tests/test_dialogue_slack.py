"""On Slack (the fake Web API at the network boundary): the guide reaches the leader's DM as
Block Kit, and the button posts it to the unit's channel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from flows.dialogue import send_dialogue_guides
from tests.fakes.slack_api import FakeSlack, SlackWorkspace
from tests.test_dialogue_chat import ANSWERS
from tests.test_digest_data import Org, weeks_ago
from tests.test_slack_e2e import _buttons, _everyone_on_slack, click, slack_id

CHANNEL = "C0TEAMK"


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


async def test_guide_in_the_leaders_dm_and_posted_to_the_channel(
    db_url: str, fake: FakeSlack
) -> None:
    async with SlackWorkspace(db_url, fake) as ws:
        with ws.bot.db.session() as s:
            org = Org(s)
            unit = org.unit("K", members=8)
            unit.slack_channel_id = CHANNEL
            leader = org.leader("K", "Lene Leder")
            org.round("K", weeks_ago(0), ANSWERS)
        _everyone_on_slack(ws)
        send_dialogue_guides(ws.bot.db, ws.bot.settings, weeks_ago(0) + dt.timedelta(hours=1))
        await ws.deliver()
        [dm] = [
            c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == slack_id(leader.id)
        ]
        assert "Dialogguide til næste teammøde: K" in json.dumps(dm.blocks(), ensure_ascii=False)
        [button] = [b for b in _buttons(dm.blocks()) if b["value"].startswith("dialogue.post|")]
        sent = await ws.interact(click(leader, dm, button))
        assert sent.status == 200
        await ws.drain()
        await ws.deliver()
        [post] = [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == CHANNEL]
        text = json.dumps(post.blocks(), ensure_ascii=False)
        assert "Det kan vi arbejde med" in text and "Kommunikation i rette tid" in text
        assert "dialogue.post" not in text  # the channel's copy carries no leader's button
