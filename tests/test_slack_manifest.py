"""The manifest and the Bolt app agree: everything registered is in the manifest and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from typer.testing import CliRunner

from adapters.slack import registry
from adapters.slack.manifest import build_manifest, write_manifest
from adapters.slack.web import SLACK_ADAPTER
from bot.app.server import build_web_app
from bot.app.wiring import build
from bot.cli.main import app as cli_app
from bot.core.config import Settings
from bot.core.secret_key import generate_secret_key
from tests.fakes.slack_api import SIGNING_SECRET, FakeSlack, fixture, signed_headers

URL = "https://medpuls.example.dk"


def test_the_manifest_lists_what_the_registry_holds() -> None:
    manifest = build_manifest(URL + "/")
    features, settings = manifest["features"], manifest["settings"]
    assert [c["command"] for c in features["slash_commands"]] == ["/med"]
    assert {c["url"] for c in features["slash_commands"]} == {URL + "/slack/events"}
    shortcuts = {(s["callback_id"], s["type"]) for s in features["shortcuts"]}
    assert shortcuts == {("medpuls_propose", "global"), ("medpuls_propose_from_message", "message")}
    message_shortcut = next(s for s in features["shortcuts"] if s["type"] == "message")
    assert message_shortcut["name"] == "Foreslå til MED"
    assert all(len(s["name"]) <= 24 for s in features["shortcuts"])
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        e.manifest_name for e in registry.EVENTS
    }
    assert settings["event_subscriptions"]["request_url"] == URL + "/slack/events"
    assert settings["interactivity"]["request_url"] == URL + "/slack/events"
    assert manifest["oauth_config"]["redirect_urls"] == [URL + "/slack/oauth_redirect"]
    assert features["app_home"]["home_tab_enabled"] is True


def test_scopes_are_exactly_those_of_the_methods_and_events_used() -> None:
    scopes = build_manifest(URL)["oauth_config"]["scopes"]["bot"]
    assert scopes == sorted(
        {
            "commands",
            "chat:write",
            "users:read",
            "users:read.email",
            "files:write",
            "im:history",
            "channels:read",
            "groups:read",
        }
    )
    # No history-reading scope beyond what the DM event needs: state lives in our database.
    assert not {"channels:history", "groups:history", "mpim:history"} & set(scopes)


def test_the_cli_writes_yaml(tmp_path: Path) -> None:
    out = tmp_path / "manifest.yaml"
    result = CliRunner().invoke(
        cli_app,
        ["slack", "manifest", "--out", str(out)],
        env={"MEDPULS_PUBLIC_URL": URL},
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text()) == build_manifest(URL)
    assert write_manifest(tmp_path / "again.yaml", URL).read_text() == out.read_text()


def test_the_cli_refuses_without_a_public_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["slack", "manifest", "--out", str(tmp_path / "m.yaml")])
    assert result.exit_code == 2
    assert "MEDPULS_PUBLIC_URL" in result.output


def _requests() -> dict[str, AsyncBoltRequest]:
    """One signed request per manifest entry, plus our button and modal callbacks."""
    manifest = build_manifest(URL)
    bodies: dict[str, tuple[str, str]] = {}
    for command in manifest["features"]["slash_commands"]:
        fields = {**fixture("slash_command"), "command": command["command"], "text": "help"}
        bodies[f"command {command['command']}"] = (
            urlencode(fields),
            "application/x-www-form-urlencoded",
        )
    for shortcut in manifest["features"]["shortcuts"]:
        payload = fixture("shortcut" if shortcut["type"] == "global" else "message_action")
        payload["callback_id"] = shortcut["callback_id"]
        bodies[f"shortcut {shortcut['callback_id']}"] = (
            urlencode({"payload": json.dumps(payload)}),
            "application/x-www-form-urlencoded",
        )
    for name in manifest["settings"]["event_subscriptions"]["bot_events"]:
        envelope = fixture("app_home_opened")
        event_type = name.split(".")[0]
        envelope["event"] = {"type": event_type, "user": "U0ANNE", "channel": "D0ANNE"}
        if name == "message.im":
            envelope["event"].update(channel_type="im", text="hej", ts="1.2")
        envelope["event_id"] = f"Ev{len(bodies)}"
        bodies[f"event {name}"] = (json.dumps(envelope), "application/json")
    action = fixture("block_actions")
    bodies["action"] = (
        urlencode({"payload": json.dumps(action)}),
        "application/x-www-form-urlencoded",
    )
    view = fixture("view_submission")
    bodies["view"] = (urlencode({"payload": json.dumps(view)}), "application/x-www-form-urlencoded")
    out = {}
    for name, (body, ctype) in bodies.items():
        headers = signed_headers(SIGNING_SECRET, body, ctype)
        out[name] = AsyncBoltRequest(body=body, headers={k.lower(): v for k, v in headers.items()})
    return out


@pytest.mark.parametrize("oauth", [False, True], ids=["token", "oauth"])
async def test_every_listener_is_in_the_manifest_and_every_manifest_entry_has_a_listener(
    sqlite_url: str, oauth: bool
) -> None:
    async with FakeSlack() as fake:
        values: dict[str, Any] = {
            "DATABASE_URL": sqlite_url,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        if oauth:
            values.update(
                SLACK_CLIENT_ID="1.2",
                SLACK_CLIENT_SECRET="client-secret",
                SLACK_ALLOWED_TEAM_IDS="T0MEDPULS",
                MEDPULS_SECRET_KEY=generate_secret_key(),
            )
        else:
            values["SLACK_BOT_TOKEN"] = fake.bot_token
        bot = build(Settings(**values))
        adapter = build_web_app(bot, background=False)[SLACK_ADAPTER]
        listeners = adapter.bolt._async_listeners
        requests = _requests()
        matched_by: dict[int, list[str]] = {i: [] for i in range(len(listeners))}
        for name, request in requests.items():
            hits = [
                i
                for i, listener in enumerate(listeners)
                if await listener.async_matches(req=request, resp=BoltResponse(status=200))
            ]
            assert hits, f"no listener for the manifest's {name}"
            for i in hits:
                matched_by[i].append(name)
        unmatched = [i for i, names in matched_by.items() if not names]
        assert not unmatched, "listeners registered that the manifest does not declare"
        await adapter.drain()
        bot.db.dispose()
