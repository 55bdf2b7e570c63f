"""Shared set-up for the Teams tests: the fake Bot Framework, a bot wired to it, signed posts."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.teams.platform import TeamsPlatform, make_teams_platform
from bot.app.delivery import Delivery
from bot.app.server import build_web_app
from bot.app.turns import Core
from bot.app.wiring import Bot, build, build_router
from bot.core.config import Settings
from bot.core.router import Router
from storage.db import Database
from tests.fakes.bot_connector import FakeBotConnector

APP_ID = "00000000-0000-4000-8000-00000000b07a"
FIXTURES = Path(__file__).parent.parent / "adapters" / "teams" / "fixtures"
# The person of the recorded personal activities in FIXTURES: her Teams id and AAD object id.
USER = "29:1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-personal"
AAD = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"


def fixture(
    fixture_name: str, fake: FakeBotConnector | None = None, **changes: Any
) -> dict[str, Any]:
    """A recorded activity, pointed at the fake's service URL, with top-level changes."""
    activity: dict[str, Any] = json.loads((FIXTURES / f"{fixture_name}.json").read_text())
    if fake is not None:
        activity["serviceUrl"] = fake.service_url
    activity.update(copy.deepcopy(changes))
    return activity


def roster_entry(user: str = USER, aad: str = AAD, **extra: str) -> dict[str, Any]:
    """What the fake's roster says of Mette Hansen (or of an account with her name and `user`)."""
    entry = {"id": user, "name": "Mette Hansen", "aadObjectId": aad}
    return {**entry, "email": "Mette.Hansen@eksempel.dk", **extra}


def bot_connector(*roster: dict[str, Any]) -> Iterator[FakeBotConnector]:
    """A test module's `fake` fixture: the fake Bot Framework, knowing the people in `roster`.

    `fake = pytest.fixture(bot_connector, name="fake")`, or `yield from bot_connector(...)`.
    """
    connector = FakeBotConnector().start()
    for entry in roster:
        connector.members[entry["id"]] = entry
    yield connector
    connector.stop()


def mettes_connector() -> Iterator[FakeBotConnector]:
    """bot_connector with Mette Hansen on its roster: `fake = pytest.fixture(mettes_connector,
    name="fake")`."""
    yield from bot_connector(roster_entry())


def teams_settings(db_url: str, fake: FakeBotConnector, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": db_url,
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": "not-a-real-secret",
        "MICROSOFT_APP_TYPE": "SingleTenant",
        "MEDPULS_PUBLIC_URL": "https://medpuls.example.dk",
        "MEDPULS_IN_PROCESS_WORKER": False,
        **fake.settings(),
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class TeamsBot:
    bot: Bot
    platform: TeamsPlatform
    fake: FakeBotConnector
    url: str
    http: aiohttp.ClientSession

    async def post(
        self, activity: dict[str, Any], *, token: str | None = "valid"
    ) -> aiohttp.ClientResponse:
        headers = {}
        if token == "valid":
            token = self.fake.sign(audience=APP_ID, service_url=activity["serviceUrl"])
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.http.post(f"{self.url}/api/messages", json=activity, headers=headers)
        await response.read()
        # A team's roster is read after the answer: done before the test looks.
        await self.platform.settled()
        return response

    async def deliver(self) -> int:
        total = 0
        while sent := await self.bot.delivery.run_once():
            total += sent
        return total


def bot_with_router(settings: Settings, router: Router) -> Bot:
    db = Database(settings.database_url)
    core = Core(settings, db, router)
    platform = make_teams_platform(settings, db)
    delivery = Delivery(db, {"teams": platform})
    core.wake_delivery = delivery.wake
    return Bot(settings, db, core, {"teams": platform}, delivery)


@asynccontextmanager
async def running(
    settings: Settings, fake: FakeBotConnector, router: Router | None = None
) -> AsyncIterator[TeamsBot]:
    """The real web app (build_web_app) on 127.0.0.1, with the given router or the flows'."""
    bot = bot_with_router(settings, router) if router is not None else build(settings)
    platform = bot.platforms["teams"]
    assert isinstance(platform, TeamsPlatform)
    app: web.Application = build_web_app(bot, background=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield TeamsBot(bot, platform, fake, str(server.make_url("")).rstrip("/"), http)
    finally:
        await server.close()
        bot.db.dispose()


__all__ = ["APP_ID", "TeamsBot", "build_router", "fixture", "running", "teams_settings"]


def card_data(call: Any, key: str = "medpuls") -> list[str]:
    """The packed data of every button on the cards of one activity the bot sent."""
    return [
        a["data"][key]
        for att in call.body.get("attachments") or []
        for e in att["content"]["body"]
        if e["type"] == "ActionSet"
        for a in e["actions"]
        if key in a.get("data", {})
    ]
