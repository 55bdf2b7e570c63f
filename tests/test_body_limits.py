"""Issues 14.1 (the local chat's HTTP layer), 14.4 (body limits) and 14.5 (400, not 500).

Every route reads at most its limit, chunked or not, and answers 413; malformed headers and
bodies are 400/401/403/415 before authentication, never a 500; log fields are capped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.app.telemetry import FIELD_CHARS, JsonFormatter
from bot.core.request_body import LOCAL_LIMIT, SLACK_LIMIT, TEAMS_LIMIT
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, sign
from tests.localchat import LocalChat, local_chat
from tests.teams_support import TeamsBot, fixture, running, teams_settings


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


async def _post(url: str, data: Any, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=data, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.text()


@pytest.fixture
async def slack(sqlite_url: str) -> AsyncIterator[SlackWorkspace]:
    async with FakeSlack() as fake, SlackWorkspace(sqlite_url, fake) as ws:
        yield ws


@pytest.fixture
async def teams(sqlite_url: str) -> AsyncIterator[TeamsBot]:
    fake = FakeBotConnector().start()
    try:
        async with running(teams_settings(sqlite_url, fake), fake) as bot:
            yield bot
    finally:
        fake.stop()


@pytest.fixture
async def chat(sqlite_url: str) -> AsyncIterator[LocalChat]:
    async with local_chat(sqlite_url) as c:
        yield c


def _chat_url(chat: LocalChat, path: str) -> str:
    return f"{chat.http.base_url}{path}"


# --- 14.4: limits, chunked or not ------------------------------------------------------------


async def test_slack_refuses_a_chunked_body_over_one_mib(slack: SlackWorkspace) -> None:
    status, _ = await _post(slack.url, _chunks(2 * SLACK_LIMIT))
    assert status == 413


async def test_slack_refuses_a_declared_length_over_one_mib(slack: SlackWorkspace) -> None:
    status, _ = await _post(slack.url, b"x" * (SLACK_LIMIT + 1))
    assert status == 413


async def test_slack_reads_a_body_of_exactly_its_limit(slack: SlackWorkspace) -> None:
    status, _ = await _post(slack.url, _chunks(SLACK_LIMIT))
    assert status == 401  # read whole, then refused as unsigned


async def test_teams_refuses_a_chunked_body_over_one_mib(teams: TeamsBot) -> None:
    status, _ = await _post(f"{teams.url}/api/messages", _chunks(2 * TEAMS_LIMIT))
    assert status == 413


async def test_teams_refuses_a_declared_length_over_one_mib(teams: TeamsBot) -> None:
    status, _ = await _post(f"{teams.url}/api/messages", b"{" + b" " * TEAMS_LIMIT + b"}")
    assert status == 413


async def test_the_local_chat_refuses_over_64_kib_chunked_or_not(chat: LocalChat) -> None:
    url = _chat_url(chat, "/local/api/say")
    json_type = {"Content-Type": "application/json"}
    assert (await _post(url, _chunks(LOCAL_LIMIT + 1), json_type))[0] == 413
    assert (await _post(url, b" " * (LOCAL_LIMIT + 1), json_type))[0] == 413
    text = "x" * (LOCAL_LIMIT - 100)
    status, _ = await _post(url, json.dumps({"member": 1, "text": text}), json_type)
    assert status != 413


# --- 14.5: malformed is 400/401, never 500 -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe{}", "application/json"),
        (b'{"type": "message"}', "application/json; charset=x-no-such-charset"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b'{"type": ["message"]}', "application/json"),
        (b'{"type": "message", "conversation": "not an object", "from": 7}', "application/json"),
        (b'{"type": "message", "conversation": {"id": ["x"]}, "channelData": 3}', "text/plain"),
        (b"1" * 5000, "application/json"),
    ],
)
async def test_teams_answers_malformed_activities_with_400_or_401(
    teams: TeamsBot, body: bytes, content_type: str
) -> None:
    for auth in ({}, {"Authorization": "Bearer not.a.jwt"}):
        status, _ = await _post(
            f"{teams.url}/api/messages", body, {"Content-Type": content_type, **auth}
        )
        assert status in (400, 401), (body[:40], auth, status)


async def test_a_signed_slack_request_with_an_unknown_charset_is_not_a_500(
    slack: SlackWorkspace,
) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"})
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=x-no-such-charset",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(slack.secret, body, ts),
    }
    status, text = await _post(slack.url, body.encode(), headers)
    assert status == 200 and "c" in text


async def test_a_broken_chunked_body_is_a_400_not_a_500(slack: SlackWorkspace) -> None:
    url = urlsplit(slack.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\nzz\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.split()[1] == b"400"


async def test_a_huge_conversation_id_without_a_token_is_not_logged_whole(
    teams: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    activity = fixture("message_personal", teams.fake)
    activity["conversation"]["id"] = "a:" + "9" * 900_000
    with caplog.at_level(logging.INFO):
        status, _ = await _post(
            f"{teams.url}/api/messages",
            json.dumps(activity),
            {"Content-Type": "application/json"},
        )
    assert status == 401
    refused = [r for r in caplog.records if r.getMessage() == "request refused"]
    assert refused
    for record in refused:
        line = JsonFormatter().format(record)
        assert len(line) < 20 * FIELD_CHARS
        assert json.loads(line)["channel"].startswith("a:999")


# --- 14.1: the local chat answers only its own page ---------------------------------------------


async def test_the_local_chat_takes_only_application_json(chat: LocalChat) -> None:
    url = _chat_url(chat, "/local/api/say")
    body = json.dumps({"member": 1, "text": "hej"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, _ = await _post(url, body, {"Content-Type": content_type})
        assert status == 415, content_type
    status, _ = await _post(url, b"member=1&text=hej", {})
    assert status == 415


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Host": "rebound.evil.example"},
        {"Host": "rebound.evil.example:3978", "Origin": "http://rebound.evil.example:3978"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Host": "localhost:notaport"},
    ],
)
async def test_the_local_chat_refuses_other_origins_and_hosts(
    chat: LocalChat, headers: dict[str, str]
) -> None:
    for method, path in (("GET", "/local/api/members"), ("POST", "/local/api/say")):
        r = await chat.http.request(
            method,
            path,
            headers={"Content-Type": "application/json", **headers},
            content=json.dumps({"member": 1, "text": "hej"}) if method == "POST" else None,
        )
        assert r.status_code in (400, 403), (method, path, headers, r.status_code)


async def test_the_local_chat_page_itself_gets_in(chat: LocalChat) -> None:
    port = chat.http.base_url.port
    own = [
        {},
        {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
        {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},
        {"Host": f"[::1]:{port}", "Origin": f"http://[::1]:{port}"},
    ]
    for headers in own:
        r = await chat.http.get("/local/api/members", headers=headers)
        assert r.status_code == 200, headers
        assert (await chat.http.get("/", headers=headers)).status_code == 200
