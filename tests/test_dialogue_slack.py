"""On Slack (the fake Web API at the network boundary): the guide reaches the leader's DM as
Block Kit, and the button posts it to the unit's channel."""

from __future__ import annotations

import datetime as dt
import json

from flows.dialogue import send_dialogue_guides
from tests.fakes.slack_api import FakeSlack, SlackWorkspace
from tests.slack_demo import buttons, click, everyone_on_slack, slack_fixtures, slack_id
from tests.test_dialogue_chat import ANSWERS
from tests.test_digest_data import Org, weeks_ago

CHANNEL = "C0TEAMK"


fake, ws = slack_fixtures()


async def test_guide_in_the_leaders_dm_and_posted_to_the_channel(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    with ws.bot.db.session() as s:
        org = Org(s)
        org.unit("K", members=8, slack_channel_id=CHANNEL)
        leader = org.leader("K", "Lene Leder")
        org.round("K", weeks_ago(0), ANSWERS)
    everyone_on_slack(ws)
    send_dialogue_guides(ws.bot.db, ws.bot.settings, weeks_ago(0) + dt.timedelta(hours=1))
    await ws.deliver()
    [dm] = [
        c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == slack_id(leader.id)
    ]
    assert "Dialogguide til næste teammøde: K" in json.dumps(dm.blocks(), ensure_ascii=False)
    [button] = [b for b in buttons(dm.blocks()) if b["value"].startswith("dialogue.post|")]
    sent = await ws.interact(click(leader, dm, button))
    assert sent.status == 200
    await ws.drain()
    await ws.deliver()
    [post] = [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == CHANNEL]
    text = json.dumps(post.blocks(), ensure_ascii=False)
    assert "Det kan vi arbejde med" in text and "Kommunikation i rette tid" in text
    assert "dialogue.post" not in text  # the channel's copy carries no leader's button
