"""Installing MEDpuls into a workspace through /slack/install, tokens kept in our database."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.secret_key import generate_secret_key
from storage.models import SlackInstallation
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture

OAUTH = {
    "SLACK_BOT_TOKEN": None,
    "SLACK_CLIENT_ID": "1111.2222",
    "SLACK_CLIENT_SECRET": "client-secret-for-tests",
    "SLACK_ALLOWED_TEAM_IDS": "T0MEDPULS",
    "MEDPULS_SECRET_KEY": generate_secret_key(),
    "MEDPULS_PUBLIC_URL": "https://medpuls.example.dk",
}


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack(bot_token="xoxb-installed-0001") as api:
        yield api


async def install_callback(ws: SlackWorkspace) -> tuple[str, str]:
    """Start an install as a browser does: the callback URL Slack would send back, and the
    browser's cookie."""
    async with ws.http.get(str(ws.server.make_url("/slack/install"))) as resp:
        assert resp.status == 200
        page = await resp.text()
        cookie = resp.headers.getall("Set-Cookie")
    state = re.search(r"state=([^&\"']+)", page)
    assert state, "the install page links to Slack with a state"
    assert "client_id=1111.2222" in page
    assert "scope=" in page
    jar = "; ".join(c.split(";")[0] for c in cookie)
    url = ws.server.make_url("/slack/oauth_redirect").with_query(
        code="code-from-slack", state=state.group(1)
    )
    return str(url), jar


async def finish_install(ws: SlackWorkspace, url: str, jar: str) -> tuple[int, str]:
    async with ws.http.get(url, headers={"Cookie": jar}) as resp:
        return resp.status, await resp.text()


async def _install(ws: SlackWorkspace) -> None:
    status, page = await finish_install(ws, *await install_callback(ws))
    assert status == 200, page


async def test_install_stores_the_workspace_and_events_use_its_token(
    sqlite_url: str, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with SlackWorkspace(sqlite_url, fake, **OAUTH) as ws:
        await _install(ws)
        [exchange] = fake.calls_to("oauth.v2.access")
        assert exchange.args["code"] == "code-from-slack"
        with ws.bot.db.session() as s:
            [row] = s.scalars(select(SlackInstallation))
            assert row.team_id == fake.team_id
            assert fake.bot_token not in str(row.data), "the token is stored sealed"

        fake.add_user("U0ANNE", "anne@eksempel.dk")
        assert (await ws.event(fixture("app_home_opened"))).status == 200
        await ws.drain()
        [published] = fake.calls_to("views.publish")
        assert published.token == fake.bot_token

        # Uninstalling removes the stored token.
        envelope = fixture("app_home_opened")
        envelope["event"] = {"type": "app_uninstalled"}
        envelope["event_id"] = "Ev0UNINSTALL"
        assert (await ws.event(envelope)).status == 200
        await ws.drain()
        with ws.bot.db.session() as s:
            assert list(s.scalars(select(SlackInstallation))) == []
    assert fake.bot_token not in caplog.text
    assert OAUTH["SLACK_CLIENT_SECRET"] not in caplog.text


async def test_a_forged_state_installs_nothing(sqlite_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(sqlite_url, fake, **OAUTH) as ws:
        url = ws.server.make_url("/slack/oauth_redirect").with_query(code="c", state="forged.1.x")
        async with ws.http.get(
            str(url), headers={"Cookie": "slack-app-oauth-state=forged.1.x"}
        ) as r:
            assert r.status >= 400
        assert fake.calls_to("oauth.v2.access") == []
        with ws.bot.db.session() as s:
            assert list(s.scalars(select(SlackInstallation))) == []


async def test_single_workspace_mode_has_no_install_route(sqlite_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(sqlite_url, fake) as ws:
        resp = await ws.http.get(str(ws.server.make_url("/slack/install")))
        assert resp.status == 404
        resp.release()
