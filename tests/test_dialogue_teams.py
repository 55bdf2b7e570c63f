"""On Teams (the fake Bot Connector at the network boundary): the guide reaches the leader's
1:1 chat as an Adaptive Card, and its button (Action.Execute) posts it to the unit's channel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from flows.dialogue import send_dialogue_guides
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import bot_connector, card_data, fixture, running, teams_settings
from tests.test_dialogue_chat import ANSWERS
from tests.test_digest_data import Org, weeks_ago

TEAMS_ID = "29:1LeaderTeamsId00000000000000000000000000"
AAD = "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c2b"
PERSONAL = "a:1LeaderPersonalConversation"
CHANNEL = "19:team-social@thread.tacv2"


fake = pytest.fixture(bot_connector, name="fake")


def _as_leader(activity: dict[str, Any]) -> dict[str, Any]:
    activity["from"] = {"id": TEAMS_ID, "aadObjectId": AAD, "name": "Lene"}
    activity["conversation"] = {**activity["conversation"], "id": PERSONAL}
    return activity


async def test_guide_in_the_leaders_chat_and_posted_to_the_channel(
    db_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(db_url, fake), fake) as teams:
        with teams.bot.db.session() as s:
            org = Org(s)
            org.unit("K", members=8, teams_channel_id=CHANNEL)
            leader = org.leader("K", "Lene Leder")
            org.round("K", weeks_ago(0), ANSWERS)
        fake.members[TEAMS_ID] = {"id": TEAMS_ID, "aadObjectId": AAD, "email": leader.email}
        assert (await teams.post(_as_leader(fixture("installation_update_personal", fake)))).ok
        assert (await teams.post(fixture("conversation_update_team", fake))).ok
        fake.calls.clear()

        send_dialogue_guides(teams.bot.db, teams.bot.settings, weeks_ago(0) + dt.timedelta(hours=1))
        await teams.deliver()
        # (The install's own welcome may be sent in the same delivery.)
        [dm] = [
            c
            for c in fake.activities("send")
            if PERSONAL in c.path
            and "Dialogguide til næste teammøde: K" in json.dumps(c.body, ensure_ascii=False)
        ]
        [post] = [b for b in card_data(dm) if b.startswith("dialogue.post|")]

        invoke = _as_leader(fixture("invoke_card_action", fake, id="f:post", replyToId="x"))
        invoke["value"]["action"]["data"] = {"medpuls": post}
        assert (await teams.post(invoke)).status == 200
        await teams.deliver()
        [shown] = [c for c in fake.activities("send") if CHANNEL in c.path]
        text = json.dumps(shown.body, ensure_ascii=False)
        assert "Det kan vi arbejde med" in text and "Kommunikation i rette tid" in text
        assert not card_data(shown)
