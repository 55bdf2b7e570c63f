"""A client of the local web chat, driving it over real HTTP like the page does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import unescape
from typing import Any

import httpx
from aiohttp import web
from typer.testing import CliRunner

from bot.app import Bot, build
from bot.cli import app as cli_app
from bot.config import Settings
from bot.server import build_web_app

_ACTION = re.compile(r'data-action="([^"]+)"')
_TAG = re.compile(r"<[^>]+>")


def cli(db_url: str, *args: str, **env: str) -> tuple[int, str]:
    """Run the real `medpuls` command line against the test database."""
    result = CliRunner().invoke(cli_app, list(args), env={"DATABASE_URL": db_url, **env})
    return result.exit_code, result.output


def text_of(html: str) -> str:
    return unescape(_TAG.sub(" ", html))


class LocalChat:
    def __init__(self, bot: Bot, client: httpx.AsyncClient) -> None:
        self.bot = bot
        self.http = client

    async def deliver(self) -> int:
        """Send everything the outbox holds (the in-process worker would do this)."""
        total = 0
        while sent := await self.bot.delivery.run_once():
            total += sent
        return total

    async def messages(self, member: int, conversation: str) -> list[dict[str, Any]]:
        r = await self.http.get(
            "/local/api/messages", params={"member": member, "conversation": conversation}
        )
        r.raise_for_status()
        return list(r.json())

    async def dm(self, member: int) -> list[dict[str, Any]]:
        return await self.messages(member, f"member:{member}")

    async def click(
        self,
        member: int,
        data: str,
        *,
        message_id: int | None = None,
        conversation: str | None = None,
    ) -> dict[str, Any]:
        r = await self.http.post(
            "/local/api/click",
            json={
                "member": member,
                "data": data,
                "message_id": message_id,
                "conversation": conversation or f"member:{member}",
            },
        )
        r.raise_for_status()
        return dict(r.json())

    async def submit(self, member: int, data: str, values: dict[str, str]) -> dict[str, Any]:
        r = await self.http.post(
            "/local/api/submit", json={"member": member, "data": data, "values": values}
        )
        r.raise_for_status()
        return dict(r.json())

    async def say(self, member: int, text: str) -> dict[str, Any]:
        r = await self.http.post("/local/api/say", json={"member": member, "text": text})
        r.raise_for_status()
        return dict(r.json())


def actions(html: str) -> list[str]:
    return [unescape(a) for a in _ACTION.findall(html)]


@asynccontextmanager
async def local_chat(db_url: str, **settings: Any) -> AsyncIterator[LocalChat]:
    bot = build(Settings(DATABASE_URL=db_url, **{"MEDPULS_LOCAL_CHAT": True, **settings}))
    runner = web.AppRunner(build_web_app(bot, background=False))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield LocalChat(bot, client)
    finally:
        await runner.cleanup()
        bot.db.dispose()
