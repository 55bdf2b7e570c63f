"""Socket Mode (SLACK_APP_TOKEN), tested, not only configured (issue 16).

The fake Slack speaks Socket Mode as api.slack.com/apis/socket-mode describes it:
`apps.connections.open` with the app-level token gives a websocket URL; the server says
"hello", then sends envelopes (`events_api`, `interactive`, `slash_commands`) that the app
acknowledges with their `envelope_id`. No signing secret is involved: the connection is the
authentication.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli import cli
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.slack_demo import everyone_on_slack as _everyone_on_slack
from tests.slack_demo import members_of as _people
from tests.slack_demo import slack_id

APP_TOKEN = "xapp-1-A0MEDPULS-1-fakeappleveltoken"


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


def socket_workspace(db_url: str, fake: FakeSlack) -> SlackWorkspace:
    # The app-level token instead of a signing secret: what a Socket Mode install sets.
    return SlackWorkspace(db_url, fake, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")


async def test_the_app_connects_with_its_app_level_token(db_url: str, fake: FakeSlack) -> None:
    async with socket_workspace(db_url, fake):
        [opened] = fake.calls_to("apps.connections.open")
        assert opened.token == APP_TOKEN
        assert opened.result is not None and opened.result["ok"]
        assert len(fake.sockets) == 1


async def test_a_slash_command_over_the_socket_is_acknowledged_and_answered(
    db_url: str, fake: FakeSlack
) -> None:
    async with socket_workspace(db_url, fake) as ws:
        cli(db_url, "demo", "--no-history")
        _everyone_on_slack(ws)
        anne = _people(ws)[2]
        fields = fixture("slash_command")
        fields.update(user_id=slack_id(anne.id), text="hjælp")
        ack = await fake.push("slash_commands", fields)
        assert ack["envelope_id"].startswith("env-")
        await ws.drain()
        [note] = fake.calls_to("chat.postEphemeral")
        assert note.args["user"] == slack_id(anne.id)


async def test_events_over_the_socket_reach_the_flows_once_even_when_retried(
    db_url: str, fake: FakeSlack
) -> None:
    async with socket_workspace(db_url, fake) as ws:
        cli(db_url, "demo", "--no-history")
        _everyone_on_slack(ws)
        anne = _people(ws)[2]
        envelope = fixture("app_home_opened")
        envelope["event"]["user"] = slack_id(anne.id)
        await fake.push("events_api", envelope)
        # Slack retries an envelope it thinks went unacknowledged; the event id is the same.
        await fake.push("events_api", envelope, retry_attempt=1)
        await ws.drain()
        [published] = fake.calls_to("views.publish")
        assert published.args["user_id"] == slack_id(anne.id)
        assert published.view()["type"] == "home"
