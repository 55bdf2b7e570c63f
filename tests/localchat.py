"""A client of the local web chat, driving it over real HTTP like the page does.

Only for tests of the local adapter itself (its API, its guard, its stored messages) and for
the browser tests; flow tests use tests/fake_platform.py, which reads the neutral messages
instead of this API's HTML.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiohttp import web

from bot.app.server import build_web_app
from bot.app.wiring import Bot, build
from bot.core.config import Settings
from tests.cli import cli
from tests.fake_platform import deliver_all

__all__ = ["MESSAGES", "LocalChat", "chat_page", "choose", "cli", "local_chat", "type_in"]


class LocalChat:
    def __init__(self, bot: Bot, client: httpx.AsyncClient) -> None:
        self.bot = bot
        self.http = client

    async def deliver(self) -> int:
        """Send everything the outbox holds (the in-process worker would do this)."""
        return await deliver_all(self.bot)

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


# --- the page itself, in Debian's Chromium (never `playwright install`) -----------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MESSAGES = "#messages article.message[data-message-id]"


@asynccontextmanager
async def chat_page(chat: LocalChat, width: int = 1200) -> AsyncIterator[tuple[Any, list[str]]]:
    """A fresh browser page on the chat, and every HTTP error it has met so far."""
    import shutil

    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": width, "height": 860})
            failures: list[str] = []
            page.on(
                "response",
                lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            await page.goto(str(chat.http.base_url))
            yield page, failures
        finally:
            await browser.close()


async def choose(page: Any, member: int) -> None:
    """Pick who you are and wait for your direct conversation to be open."""
    await page.locator(f'#who option[value="{member}"]').wait_for(state="attached")
    await page.select_option("#who", str(member))
    await page.locator("#convs a.active").wait_for()
    await page.wait_for_function("() => !document.querySelector('#say').disabled")


async def type_in(page: Any, text: str, *, answered: bool = True) -> tuple[Any, Any]:
    """Type into the composer as a person does; the echo of it and the answer under it
    (None when the answer is a form), as they stand in the conversation."""
    before = await page.locator(MESSAGES).count()
    await page.fill("#say", text)
    async with page.expect_response("**/local/api/say"):
        await page.press("#say", "Enter")
    expected = before + (2 if answered else 1)
    await page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[MESSAGES, expected]
    )
    shown = page.locator(MESSAGES)
    return shown.nth(before), (shown.nth(before + 1) if answered else None)
