"""The local chat as people meet it, in Debian's Chromium (issue 16, points 1, 4, 5, 10, 12).

Typed commands are answered in the conversation under the person's own words, as on Slack and
Teams, not in a toast that is gone after six seconds; the page's own words and the role names
in the person picker follow the chosen person's language; a closed round's DM has no live
buttons; long unbroken text wraps; forms show their limits; the favicon is there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.core.i18n import Translator
from tests.localchat import MESSAGES, LocalChat, chat_page, choose, cli, local_chat, type_in
from tests.test_foundation_e2e import NORD, _nord_members

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make test does)"
)
DA, EN = Translator("da"), Translator("en")
MEDPULS = str(Path(sys.executable).parent / "medpuls")


async def _member(chat: LocalChat, name: str) -> int:
    members = (await chat.http.get("/local/api/members")).json()
    return int(next(m["id"] for m in members if m["name"] == name))


async def _words(locator: Any) -> str:
    return " ".join(str(await locator.inner_text()).split())


@pytest.mark.browser
@needs_chromium
async def test_typed_commands_are_answered_in_the_conversation_under_the_echo(
    sqlite_url: str,
) -> None:
    cli(sqlite_url, "demo", "--no-history")
    async with local_chat(sqlite_url) as chat, chat_page(chat) as (page, failures):
        inger = await _member(chat, "Inger Holm")  # leader and chair
        await choose(page, inger)

        echo, answer = await type_in(page, "hjælp")
        assert "mine" in str(await echo.get_attribute("class"))
        assert await _words(echo.locator(".said")) == "hjælp"
        assert "Inger Holm" in await _words(echo.locator(".author"))
        assert DA("help.title") in await _words(answer)

        _, answer = await type_in(page, "privatliv")
        assert DA("privacy.title") in await _words(answer)

        _, answer = await type_in(page, "digest pause")
        assert DA("digest.pref_paused").split(".")[0] in await _words(answer)

        # Words it does not know: the short help, in the conversation too.
        _, answer = await type_in(page, "blåbærgrød i morgen")
        assert "Det forstod jeg ikke" in await _words(answer)

        # Nothing of it was a toast, and all of it is still there after a reload.
        assert await page.locator("#toast").is_hidden()
        shown = await page.locator(MESSAGES).count()
        await page.reload()
        await page.locator("#convs a.active").wait_for()
        await page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[MESSAGES, shown]
        )
        assert await page.locator(f"{MESSAGES}.mine").count() == 4

        # The chair's triage board is a message of its own: its buttons work in place.
        _, board = await type_in(page, "dagsorden")
        assert await board.locator("h3, p").count() > 0
        assert await page.locator("#toast").is_hidden()
    assert failures == []


@pytest.mark.browser
@needs_chromium
async def test_the_frame_and_the_roles_follow_the_persons_language(sqlite_url: str) -> None:
    cli(sqlite_url, "demo", "--no-history")
    async with local_chat(sqlite_url) as chat, chat_page(chat) as (page, failures):
        karen = await _member(chat, "Karen Lund")
        await page.locator(f'#who option[value="{karen}"]').wait_for(state="attached")
        options = await page.locator("#who option").all_inner_texts()
        joined = "\n".join(options)
        # Role names in words, never the stored ids.
        for raw in ("vice_chair", "(rep", "rep,", "leader", "chair,"):
            assert raw not in joined, raw
        assert any("formand" in o and "administrator" in o for o in options if "Karen" in o)
        assert any("næstformand" in o and "TR/AMR" in o for o in options if "Ole" in o)
        assert await page.get_attribute("#say", "placeholder") == DA("localchat.placeholder")

        await choose(page, karen)
        _, answer = await type_in(page, "sprog en")
        assert "From now on I write to you in English" in await _words(answer)
        await page.wait_for_function("() => document.documentElement.lang === 'en'")
        assert await page.title() == EN("localchat.title")
        assert await page.get_attribute("#say", "placeholder") == EN("localchat.placeholder")
        assert await _words(page.locator('label[for="who"]')) == EN("localchat.who")
        assert await _words(page.locator("#convs a.active")) == EN("localchat.direct")
        assert await _words(page.locator("#convtitle")) == EN("localchat.direct")
        assert await _words(page.locator("#composer button")) == EN("localchat.send")
        karen_option = await _words(page.locator(f'#who option[value="{karen}"]'))
        assert "chair" in karen_option and "formand" not in karen_option

        _, answer = await type_in(page, "help")
        assert EN("help.title") in await _words(answer)

        # A form's own buttons too, in a fresh page (the choice is stored, not the page's).
        await page.reload()
        await page.wait_for_function("() => document.documentElement.lang === 'en'")
        await page.locator("#convs a.active").wait_for()
        _, none = await type_in(page, "forslag Flere hænder om morgenen", answered=False)
        assert none is None
        await page.locator("#modal form").wait_for()
        assert await _words(page.locator("#modal .btn.cancel")) == EN("localchat.cancel")
    assert failures == []


@pytest.mark.browser
@needs_chromium
async def test_a_closed_rounds_dm_has_no_live_buttons(sqlite_url: str) -> None:
    cli(sqlite_url, "demo", "--no-history")
    cli(sqlite_url, "pulse", "run-now", "--unit", NORD)
    _, members = _nord_members(sqlite_url)
    async with local_chat(sqlite_url) as chat, chat_page(chat) as (page, failures):
        await chat.deliver()
        await choose(page, members[0])
        dm = page.locator(MESSAGES).first
        await dm.locator("button[data-action]").first.wait_for()
        assert await dm.locator("button[data-action]").count() > 5

        code, out = cli(sqlite_url, "pulse", "close-now", "--unit", NORD)
        assert code == 0, out
        await chat.deliver()
        # The page picks the rewrite up by itself (it polls), without a reload.
        await page.wait_for_function(
            "sel => document.querySelectorAll(sel + ' button[data-action]').length === 0",
            arg=MESSAGES,
            timeout=10_000,
        )
        assert await page.locator(MESSAGES).count() >= 1
    assert failures == []


@pytest.mark.browser
@needs_chromium
async def test_long_text_wraps_and_forms_show_their_limits(sqlite_url: str) -> None:
    cli(sqlite_url, "demo", "--no-history")
    unbroken = "Nattevagternes" + "x" * 700
    async with local_chat(sqlite_url) as chat, chat_page(chat, width=900) as (page, failures):
        anne = await _member(chat, "Anne Hansen")
        await choose(page, anne)
        await type_in(page, f"forslag {unbroken}", answered=False)
        form = page.locator("#modal form")
        await form.wait_for()

        # Every limited field says how much of its limit is used, and keeps counting.
        title_counter = form.locator('.counter[data-for="f-title"]')
        assert await _words(title_counter) == "80 / 200"
        issue_counter = form.locator('.counter[data-for="f-issue"]')
        assert await _words(issue_counter) == f"{len(unbroken)} / 3000"
        await form.locator("#f-why").fill("Vi er for få")
        assert await _words(form.locator('.counter[data-for="f-why"]')) == "12 / 3000"
        await form.locator("#f-title").fill("y" * 200)
        assert "full" in str(await title_counter.get_attribute("class"))

        # The echo of 700 unbroken characters wraps inside the conversation.
        overflow = await page.evaluate(
            """() => [...document.querySelectorAll('#messages, #messages .body')]
                 .filter(el => el.scrollWidth > el.clientWidth + 1).length"""
        )
        assert overflow == 0
        async with page.expect_response("**/local/api/submit"):
            await form.locator("button[type=submit]").click()
        await page.locator("#modal").wait_for(state="hidden")

        # The chair's list shows the long title without widening the page.
        inger = await _member(chat, "Inger Holm")
        await choose(page, inger)
        _, board = await type_in(page, "dagsorden")
        assert "y" * 40 in await board.inner_text()
        widths = await page.evaluate(
            """() => [...document.querySelectorAll('#messages, #messages .body, body')]
                 .map(el => [el.scrollWidth, el.clientWidth])"""
        )
        assert all(scroll <= client + 1 for scroll, client in widths), widths

        # Triage on the board itself: the board changes in place, and the answer to the click
        # is shown under it to the chair alone (as Slack's ephemeral message), not in a toast.
        stored = await page.locator(MESSAGES).count()
        board_id = await board.get_attribute("data-message-id")
        async with page.expect_response("**/local/api/click"):
            await board.get_by_role("button", name=DA("agenda.btn_later")).first.click()
        only = page.locator("#messages article.message.ephemeral")
        await only.wait_for()
        assert DA("localchat.only_you") in await _words(only)
        assert await page.locator(MESSAGES).count() == stored
        assert await page.locator(MESSAGES).last.get_attribute("data-message-id") == board_id
        assert await page.locator("#toast").is_hidden()
    assert failures == []


@pytest.mark.browser
@needs_chromium
async def test_the_favicon_is_served(sqlite_url: str) -> None:
    cli(sqlite_url, "demo", "--no-history")
    async with local_chat(sqlite_url) as chat, chat_page(chat) as (page, failures):
        for path in ("/favicon.ico", "/static/favicon.svg"):
            r = await page.request.get(str(chat.http.base_url) + path)
            assert r.status == 200, path
            assert r.headers["content-type"].startswith("image/svg+xml")
        assert await page.locator('link[rel="icon"]').count() == 1
    assert failures == []


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/run.db",
        "MEDPULS_LOCAL_CHAT": "1",
    }
    subprocess.run([MEDPULS, "db", "upgrade"], env=env, check=True, capture_output=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [MEDPULS, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: already in use"
    ]


async def test_what_is_typed_and_its_answer_are_kept_and_the_frame_follows_over_http(
    sqlite_url: str,
) -> None:
    """The same without a browser: the page's API keeps the echo and the answer in the DM, and
    its frame follows `sprog en`. Unknown members are refused before anything is kept."""
    cli(sqlite_url, "demo", "--no-history")
    async with local_chat(sqlite_url) as chat:
        karen = await _member(chat, "Karen Lund")
        said = await chat.say(karen, "/med digest pause")
        assert said["posted"] and DA("digest.pref_paused").split(".")[0] in said["notice"]
        echo, answer = await chat.dm(karen)
        assert echo["mine"] and "/med digest pause" in echo["html"] and not answer["mine"]
        assert answer["id"] == said["posted"]
        assert (await chat.say(karen, "   ")) == {}
        assert len(await chat.dm(karen)) == 2

        frame = (await chat.http.get("/local/api/frame", params={"member": karen})).json()
        assert frame["lang"] == "da" and frame["roles"]["vice_chair"] == "næstformand"
        await chat.say(karen, "sprog en")
        frame = (await chat.http.get("/local/api/frame", params={"member": karen})).json()
        assert frame["lang"] == "en" and frame["text"]["send"] == EN("localchat.send")
        assert frame["roles"]["vice_chair"] == "vice-chair"
        convs = (await chat.http.get("/local/api/conversations", params={"member": karen})).json()
        assert convs[0]["title"] == EN("localchat.direct")
        # Nobody chosen yet: the installation's language.
        assert (await chat.http.get("/local/api/frame")).json()["lang"] == "da"

        r = await chat.http.post("/local/api/say", json={"member": 99999, "text": "hjælp"})
        assert r.status_code == 404
        bad = await chat.http.get("/local/api/frame", params={"member": "x"})
        assert bad.status_code == 400
