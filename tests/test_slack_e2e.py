"""MEDpuls on Slack end to end: signed requests in, Web API calls out, state in the database.

The bot runs as `medpuls serve` does (bot.app.build + bot.server.build_web_app) on 127.0.0.1;
Slack's Web API is tests/fakes/slack_api.py, a real HTTP server. The demo municipality and
pulse rounds come from the real CLI.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app as cli_app
from storage.models import Answer, Member, Membership, OutboxMessage, ProcessedEvent, Unit
from tests.fakes.slack_api import (
    Call,
    FakeSlack,
    SlackWorkspace,
    command_body,
    fixture,
    interaction_body,
    signed_headers,
)

NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"


def cli(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(cli_app, list(args), env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    return result.output


def slack_id(member_id: int) -> str:
    return f"U{member_id:06d}"


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


def _people(ws: SlackWorkspace, unit_path: str = NORD) -> list[Member]:
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


def _everyone_on_slack(ws: SlackWorkspace) -> None:
    with ws.bot.db.session() as s:
        for member in s.scalars(select(Member)):
            ws.fake.add_user(slack_id(member.id), member.email, name=member.name)


def _question_post(fake: FakeSlack, member: Member) -> Call:
    posts = [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == slack_id(member.id) and "pulse.answer" in json.dumps(c.blocks())
    ]
    assert posts, f"no pulse question was posted to {member.name}"
    return posts[-1]


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _answer_button(blocks: list[dict[str, Any]], question: int, value: int) -> dict[str, Any]:
    """The button for `value` on the `question`-th scale (0-based) of a pulse message."""
    scales: list[list[dict[str, Any]]] = []
    for e in _buttons(blocks):
        if e["value"].startswith("pulse.answer|"):
            data = json.loads(e["value"].split("|", 1)[1])
            if not scales or json.loads(scales[-1][0]["value"].split("|", 1)[1])["q"] != data["q"]:
                scales.append([])
            scales[-1].append(e)
    return next(e for e in scales[question] if json.loads(e["value"].split("|", 1)[1])["v"] == value)


_clicks = iter(range(1, 10**6))


def click(member: Member, posted: Call, button: dict[str, Any]) -> dict[str, Any]:
    """A block_actions payload as Slack sends it when `member` presses `button`."""
    payload = fixture("block_actions")
    n = next(_clicks)
    channel, ts = posted.result["channel"], posted.result["ts"]
    payload["user"] = {"id": slack_id(member.id), "username": "x", "name": "x", "team_id": "T0MEDPULS"}
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


async def _round_on_slack(ws: SlackWorkspace) -> list[Member]:
    cli(ws.db_url, "demo")
    _everyone_on_slack(ws)
    cli(ws.db_url, "pulse", "run-now", "--unit", NORD)
    assert await ws.deliver() >= 10
    return _people(ws)


def _answers(ws: SlackWorkspace) -> list[tuple[str, int]]:
    with ws.bot.db.session() as s:
        return sorted((a.question_id, a.value) for a in s.scalars(select(Answer)))


async def test_pulse_questions_go_out_as_dms_with_a_1_to_5_scale(db_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(db_url, fake) as ws:
        people = await _round_on_slack(ws)
        # No Slack ids in the import: every member was found by e-mail and remembered.
        lookups = {c.args["email"] for c in fake.calls_to("users.lookupByEmail")}
        assert {p.email for p in people} <= lookups
        with ws.bot.db.session() as s:
            known = {m.id: m.slack_user_id for m in s.scalars(select(Member))}
        assert all(known[p.id] == slack_id(p.id) for p in people)
        post = _question_post(fake, people[0])
        blocks = post.blocks()
        assert post.args["text"]
        scale = _buttons(blocks)
        labels = [e["text"]["text"] for e in scale if e["value"].startswith("pulse.answer|")]
        assert labels[:5] == ["1", "2", "3", "4", "5"]
        ends = [b for b in blocks if b["type"] == "context" and " = " in b["elements"][0]["text"]]
        assert ends, "the scale's ends are labelled"
        assert "conversations.history" not in fake.methods()
