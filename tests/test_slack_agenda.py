"""Agenda proposals on Slack: /med forslag and its modal, the message shortcut, triage."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from storage.models import AuditEntry, Member, Proposal
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.slack_demo import (
    buttons,
    by_name,
    click,
    command_by,
    demo_on_slack,
    slack_fixtures,
    slack_id,
    submission_by,
)

HJEMPLEJE = "C0HJEMPLEJE"

fake, ws = slack_fixtures()


def _named() -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": "named"}}


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


async def _propose(ws: SlackWorkspace, member: Member, title: str) -> None:
    await ws.command(command_by(member, "forslag", HJEMPLEJE))
    await ws.drain()
    opened = ws.fake.calls_to("views.open")[-1]
    values: dict[str, Any] = {
        "title": title,
        "issue": "Overleveringen mellem dag- og aftenvagt er uens",
        "why": "Borgerne får forskellig besked",
        "suggestion": "",
        "identity": _named(),
    }
    if "committee" in _inputs(opened.view()):
        first = _inputs(opened.view())["committee"]["element"]["options"][0]["value"]
        values["committee"] = {"type": "static_select", "selected_option": {"value": first}}
    sent = await ws.interact(submission_by(member, opened, values))
    assert sent.status == 200 and not sent.text, sent.text
    await ws.drain()


async def test_a_proposal_through_the_slash_command_and_its_modal(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    demo_on_slack(ws)
    anne = by_name(ws, "Anne Hansen")
    command = command_by(anne, "forslag", HJEMPLEJE)
    assert (await ws.command(command)).status == 200
    await ws.drain()
    [opened] = fake.calls_to("views.open")
    assert opened.args["trigger_id"] == command["trigger_id"]
    view = opened.view()
    assert view["callback_id"] == "medpuls_form:agenda.propose"
    assert {"title", "issue", "why", "identity"} <= set(_inputs(view))

    # A missing field keeps the modal open with the error at the field.
    values: dict[str, Any] = {
        "title": "Overlevering",
        "issue": "",
        "why": "",
        "identity": _named(),
    }
    refused = await ws.interact(submission_by(anne, opened, values))
    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert {"issue", "why"} <= set(answer["errors"])
    with ws.bot.db.session() as s:
        assert list(s.scalars(select(Proposal))) == []

    await _propose(ws, anne, "Fast procedure for overlevering")
    with ws.bot.db.session() as s:
        [proposal] = s.scalars(select(Proposal))
        assert proposal.title == "Fast procedure for overlevering"
        assert proposal.proposer_id == anne.id
    # The receipt is a private note in the channel where she typed /med.
    receipt = fake.calls_to("chat.postEphemeral")[-1]
    assert receipt.args["user"] == slack_id(anne.id)
    assert receipt.args["channel"] == HJEMPLEJE


async def test_the_message_shortcut_prefills_a_proposal_with_the_message(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    demo_on_slack(ws)
    anne = by_name(ws, "Anne Hansen")
    payload = fixture("message_action")
    payload["user"]["id"] = slack_id(anne.id)
    assert (await ws.interact(payload)).status == 200
    await ws.drain()
    [opened] = fake.calls_to("views.open")
    assert opened.args["trigger_id"] == payload["trigger_id"]
    inputs = _inputs(opened.view())
    text = payload["message"]["text"]
    assert inputs["issue"]["element"]["initial_value"] == text
    assert inputs["title"]["element"]["initial_value"] == text[:80]

    # The global shortcut opens the same form, empty.
    shortcut = fixture("shortcut")
    shortcut["user"]["id"] = slack_id(anne.id)
    await ws.interact(shortcut)
    await ws.drain()
    empty = _inputs(fake.calls_to("views.open")[-1].view())
    assert "initial_value" not in empty["issue"]["element"]


async def test_the_chair_triages_from_the_list(ws: SlackWorkspace, fake: FakeSlack) -> None:
    demo_on_slack(ws)
    anne = by_name(ws, "Anne Hansen")
    await _propose(ws, anne, "Fast procedure for overlevering")
    await ws.deliver()
    with ws.bot.db.session() as s:
        [proposal] = s.scalars(select(Proposal))
        # The demo's chairs: Inger Holm chairs MED Social og Sundhed, Karen Lund Hoved-MED.
        chair_name = (
            "Inger Holm" if proposal.committee.name == "MED Social og Sundhed" else "Karen Lund"
        )
    chair = by_name(ws, chair_name)
    dm = "D" + slack_id(chair.id)[1:]
    await ws.command(command_by(chair, "dagsorden", dm))
    await ws.drain()
    # In the bot's DM the triage list is a message of its own, with buttons per proposal.
    listing = [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == slack_id(chair.id) and "agenda.triage|" in json.dumps(c.blocks())
    ][-1]
    triage = [e for e in buttons(listing.blocks()) if e["value"].startswith("agenda.triage|")]
    to_answer = next(
        e
        for e in triage
        if json.loads(e["value"].split("|", 1)[1]) == {"p": proposal.id, "s": "answer"}
    )
    press = click(chair, listing, to_answer)
    assert (await ws.interact(press)).status == 200
    await ws.drain()
    opened = fake.calls_to("views.open")[-1]
    assert opened.args["trigger_id"] == press["trigger_id"]
    assert opened.view()["callback_id"] == "medpuls_form:agenda.triage_form"

    answer = "Vi tager det op på næste personalemøde"
    sent = await ws.interact(submission_by(chair, opened, {"text": answer}))
    assert sent.status == 200
    await ws.drain()
    with ws.bot.db.session() as s:
        handled = s.get(Proposal, proposal.id)
        assert handled is not None
        assert (handled.status, handled.response) == ("answered", answer)
        audit = [a.action for a in s.scalars(select(AuditEntry)) if a.allowed]
    assert "agenda.triage.answer" in audit

    # Anyone else pressing a chair's button is refused by the flow, not by the adapter.
    press = click(anne, listing, to_answer)
    await ws.interact(press)
    await ws.drain()
    with ws.bot.db.session() as s:
        refused = [a for a in s.scalars(select(AuditEntry)) if not a.allowed]
    assert refused
