"""A person answering a pulse in the local chat page, in Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from tests.localchat import LocalChat, cli, local_chat
from tests.test_foundation_e2e import NORD, _nord_members, answer_buttons

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="Debian's chromium is not installed (make test installs it)",
    ),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def _answer(chat: LocalChat, member: int, values: list[int]) -> None:
    """Answer the round's DM over the local chat's HTTP API, off its rendered buttons."""
    [msg] = await chat.dm(member)
    buttons = answer_buttons(unescape(a) for a in re.findall(r'data-action="([^"]+)"', msg["html"]))
    questions = sorted({q for q, _ in buttons}, key=lambda q: list(buttons).index((q, 1)))
    for question, value in zip(questions, values, strict=False):
        reply = await chat.click(member, buttons[(question, value)], message_id=msg["id"])
        assert "notice" not in reply


async def test_answer_a_pulse_in_the_page_and_see_the_summary(sqlite_url: str) -> None:
    from playwright.async_api import async_playwright

    cli(sqlite_url, "demo", "--no-history")
    cli(sqlite_url, "pulse", "run-now", "--unit", NORD)
    _, members = _nord_members(sqlite_url)
    shots = Path(os.environ.get("MEDPULS_SCREENSHOTS", "."))
    async with local_chat(sqlite_url) as chat, async_playwright() as pw:
        await chat.deliver()
        for member in members[1:5]:
            await _answer(chat, member, [4, 4])
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 860})
        await page.goto(str(chat.http.base_url))
        await page.select_option("#who", str(members[0]))
        dm = page.locator("article.message").first
        await dm.get_by_text("Ugens pulsmåling").wait_for()
        rows = dm.locator(".buttons .row")
        for i in range(await rows.count() - 1):  # the last row is the comment button
            async with page.expect_response("**/local/api/click"):
                await rows.nth(i).get_by_role("button", name="5", exact=True).click()
            # Confirmed in the toast, which the server does not store; the DM marks nothing.
            await page.locator("#toast").get_by_text("Du svarede 5").wait_for()
        assert await page.locator('button[aria-pressed="true"]').count() == 0
        await page.screenshot(path=str(shots / "browser-answered.png"))

        cli(sqlite_url, "pulse", "close-now", "--unit", NORD)
        await chat.deliver()
        await page.get_by_role("link", name="# Hjemmeplejen Nord").click()
        summary = page.locator("article.message").last
        await summary.get_by_text("5 af 10 svarede").wait_for(timeout=5000)
        body = await summary.inner_text()
        await page.screenshot(path=str(shots / "browser-summary.png"))
        await browser.close()
    # Four answered 4 and one answered 5 to both questions: 4,2 of 5 on each.
    assert body.count("4,2 af 5") == 2
