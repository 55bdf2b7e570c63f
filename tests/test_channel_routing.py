"""Each channel post goes through its own channel's team (Teams) or workspace (Slack), with two
of each on the fakes: never through whichever was installed or updated last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from adapters.teams.platform import NOT_IN_TEAM
from bot.core.errors import DeliveryError
from bot.core.messages import Message, Text
from bot.core.platform import Address
from bot.core.router import Router
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack
from tests.teams_support import fixture, running, teams_settings
from tests.test_slack_oauth_tenancy import (
    OURS,
    OURS_TOKEN,
    SECOND,
    SECOND_TOKEN,
    ours_and_second,
)

TEAM_ONE = "19:team-one@thread.tacv2"
ONE_PLANNING = "19:one-planning@thread.tacv2"
TEAM_TWO = "19:team-two@thread.tacv2"
TWO_PLANNING = "19:two-planning@thread.tacv2"
HELLO = Message(summary="Resultat", parts=[Text(text="Resultat")])


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(team_id=OURS, bot_token=OURS_TOKEN) as api:
        yield api


@pytest.fixture
def fakes() -> Iterator[tuple[FakeBotConnector, FakeBotConnector]]:
    """Two Bot Connector regions (service URLs): team one is served by the first, team two by
    the second, as Teams does for teams homed in different regions."""
    one = FakeBotConnector().start()
    two = FakeBotConnector().start()
    one.team_channels[TEAM_ONE] = [{"id": TEAM_ONE, "name": None}, {"id": ONE_PLANNING}]
    two.team_channels[TEAM_TWO] = [{"id": TEAM_TWO, "name": None}, {"id": TWO_PLANNING}]
    yield one, two
    one.stop()
    two.stop()


def added_to(team: str, fake: FakeBotConnector, activity_id: str) -> dict[str, object]:
    activity = fixture("conversation_update_team", fake, id=activity_id)
    activity["conversation"] = {**activity["conversation"], "id": team}  # type: ignore[dict-item]
    activity["channelData"] = {  # type: ignore[index]
        **activity["channelData"],  # type: ignore[dict-item]
        "team": {"id": team, "name": team},
    }
    return activity


async def test_teams_channel_posts_go_through_their_own_team(
    sqlite_url: str, fakes: tuple[FakeBotConnector, FakeBotConnector]
) -> None:
    one, two = fakes
    async with running(teams_settings(sqlite_url, one), one, Router()) as teams:
        assert (await teams.post(added_to(TEAM_ONE, one, "f:one"))).status == 200
        # Team two is added last: its reference is the most recently updated one.
        assert (await teams.post(added_to(TEAM_TWO, two, "f:two"))).status == 200

        for channel in (ONE_PLANNING, TEAM_ONE):
            await teams.platform.post(Address("channel", channel), HELLO, dedupe_key=channel)
        await teams.platform.post(Address("channel", TWO_PLANNING), HELLO, dedupe_key="two")
        assert dict(one.posted) == {ONE_PLANNING: 1, TEAM_ONE: 1}
        assert dict(two.posted) == {TWO_PLANNING: 1}

        # A channel created in team one after the app was added: its team is asked again.
        one.team_channels[TEAM_ONE].append({"id": "19:one-new@thread.tacv2"})
        await teams.platform.post(
            Address("channel", "19:one-new@thread.tacv2"), HELLO, dedupe_key="new"
        )
        assert one.posted["19:one-new@thread.tacv2"] == 1

        # A channel of neither team: no team's reference is borrowed for it.
        with pytest.raises(DeliveryError) as err:
            await teams.platform.post(
                Address("channel", "19:elsewhere@thread.tacv2"), HELLO, dedupe_key="x"
            )
        assert err.value.permanent and err.value.reason == NOT_IN_TEAM
        assert "19:elsewhere@thread.tacv2" not in one.posted | two.posted


async def test_slack_channel_posts_go_through_their_own_workspace(
    sqlite_url: str, slack: FakeSlack
) -> None:
    """Two installed workspaces: the second, the most recent installation, is the channel's
    own for one unit and not for the other. Each post and update uses its channel's token,
    and once a channel's workspace is known no other workspace is tried for it again."""
    async with ours_and_second(sqlite_url, slack) as ws:
        platform = ws.bot.platforms["slack"]
        theirs = await platform.post(Address("channel", "C0THEIRS"), HELLO, dedupe_key="a")
        ours = await platform.post(Address("channel", "C0OURS"), HELLO, dedupe_key="b")
        slack.calls.clear()

        again = await platform.post(Address("channel", "C0THEIRS"), HELLO, dedupe_key="c")
        await platform.update(theirs, HELLO)
        await platform.update(ours, HELLO)
        used = [(c.method, c.args["channel"], c.token) for c in slack.calls]
        assert used == [
            ("chat.postMessage", "C0THEIRS", SECOND_TOKEN),
            ("chat.update", "C0THEIRS", SECOND_TOKEN),
            ("chat.update", "C0OURS", OURS_TOKEN),
        ]
        assert again.conversation_id == f"{SECOND}/C0THEIRS"
