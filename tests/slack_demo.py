"""The demo municipality on the fake Slack: its people, their pulse DMs and their clicks.

Shared by the Slack tests that run the real CLI, web app and outbox against
tests/fakes/slack_api.py (tests/test_slack_e2e.py and the tests built on it).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.main import app as cli_app
from storage.models import Answer, Member, Membership, Unit
from tests.fakes.slack_api import (
    Call,
    FakeSlack,
    SlackWorkspace,
    fixture,
    slash_command,
    view_submission,
)

NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"


async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as api:
        yield api


async def slack_workspace(db_url: str, fake: FakeSlack) -> AsyncIterator[SlackWorkspace]:
    async with SlackWorkspace(db_url, fake) as ws:
        yield ws


def slack_fixtures() -> tuple[Any, Any]:
    """A test module's fixtures `fake`, the fake Slack, and `ws`, the bot as `medpuls serve`
    runs it, talking to that fake: `fake, ws = slack_fixtures()`."""
    return pytest.fixture(fake_slack, name="fake"), pytest.fixture(slack_workspace, name="ws")


def cli(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(cli_app, list(args), env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    return result.output


def slack_id(member_id: int) -> str:
    return f"U{member_id:06d}"


def members_of(ws: SlackWorkspace, unit_path: str = NORD) -> list[Member]:
    with ws.bot.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.path == unit_path)).one()
        return list(
            s.scalars(
                select(Member)
                .join(Membership, Membership.member_id == Member.id)
                .where(Membership.unit_id == unit.id)
                .order_by(Member.id)
            )
        )


def by_name(ws: SlackWorkspace, name: str) -> Member:
    with ws.bot.db.session() as s:
        return s.scalars(select(Member).where(Member.name == name)).one()


def everyone_on_slack(ws: SlackWorkspace) -> None:
    with ws.bot.db.session() as s:
        for member in s.scalars(select(Member)):
            ws.fake.add_user(slack_id(member.id), member.email, name=member.name)


def demo_on_slack(ws: SlackWorkspace) -> list[Member]:
    """The demo municipality, everyone in it a Slack user; Hjemmeplejen Nord's people."""
    cli(ws.db_url, "demo", "--no-history")
    everyone_on_slack(ws)
    return members_of(ws)


async def round_on_slack(ws: SlackWorkspace) -> list[Member]:
    """demo_on_slack, and a pulse round open in Hjemmeplejen Nord with its DMs delivered."""
    demo_on_slack(ws)
    cli(ws.db_url, "pulse", "run-now", "--unit", NORD)
    assert await ws.deliver() >= 10
    return members_of(ws)


async def question_for(ws: SlackWorkspace, nth: int) -> tuple[Member, Call]:
    """round_on_slack; its `nth` person and the pulse question DM'd to them."""
    member = (await round_on_slack(ws))[nth]
    return member, question_post(ws.fake, member)


@asynccontextmanager
async def round_at_debug(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[SlackWorkspace, list[Member]]]:
    """round_on_slack on a fresh fake Slack; what is logged after it, at DEBUG, in `caplog`."""
    async with FakeSlack() as fake, SlackWorkspace(db_url, fake) as ws:
        people = await round_on_slack(ws)
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        yield ws, people


def question_post(fake: FakeSlack, member: Member) -> Call:
    posts = [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == slack_id(member.id) and "pulse.answer" in json.dumps(c.blocks())
    ]
    assert posts, f"no pulse question was posted to {member.name}"
    return posts[-1]


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def answer_button(blocks: list[dict[str, Any]], question: int, value: int) -> dict[str, Any]:
    """The button for `value` on the `question`-th scale (0-based) of a pulse message."""
    scales: list[list[dict[str, Any]]] = []
    for e in buttons(blocks):
        if e["value"].startswith("pulse.answer|"):
            data = json.loads(e["value"].split("|", 1)[1])
            if not scales or json.loads(scales[-1][0]["value"].split("|", 1)[1])["q"] != data["q"]:
                scales.append([])
            scales[-1].append(e)
    return next(
        e for e in scales[question] if json.loads(e["value"].split("|", 1)[1])["v"] == value
    )


_clicks = iter(range(1, 10**6))


def click(member: Member, posted: Call, button: dict[str, Any]) -> dict[str, Any]:
    """A block_actions payload as Slack sends it when `member` presses `button`."""
    payload = fixture("block_actions")
    n = next(_clicks)
    channel, ts = posted.result["channel"], posted.result["ts"]
    payload["user"] = {
        "id": slack_id(member.id),
        "username": "x",
        "name": "x",
        "team_id": "T0MEDPULS",
    }
    payload["channel"] = {"id": channel, "name": "directmessage"}
    payload["container"].update(channel_id=channel, message_ts=ts)
    payload["message"]["ts"] = ts
    payload["trigger_id"] = f"{int(time.time())}.{n}.trigger"
    payload["actions"][0].update(
        action_id=button["action_id"],
        value=button["value"],
        text=button["text"],
        action_ts=f"{time.time():.6f}{n}",
    )
    return payload


def command_by(member: Member, text: str, channel: str) -> dict[str, Any]:
    """The slash command `/med text` as Slack sends it when `member` types it in `channel`."""
    return slash_command(slack_id(member.id), text, channel)


def submission_by(member: Member, opened: Call, values: dict[str, Any]) -> dict[str, Any]:
    """The view_submission of the modal `opened` (a views.open call), filled in by `member`."""
    return view_submission(slack_id(member.id), opened, values)


def answers(ws: SlackWorkspace) -> list[tuple[str, int]]:
    with ws.bot.db.session() as s:
        return sorted((a.question_id, a.value) for a in s.scalars(select(Answer)))
