"""Issue 18 over Slack's fake Web API: proposals → the chair hears at once → triage from that
message → both sides approve (one person each) → publish now → the agenda in the channels →
after the meeting a decision per item → both sides approve the minutes → the minutes in every
served unit's channel and the parent committee's → proposer and supporter told the reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from storage.models import Meeting, Proposal
from tests.cli import cli
from tests.fakes.slack_api import Call, FakeSlack, SlackWorkspace
from tests.test_agenda_slack import (
    NORD_CHANNEL,
    SOCIAL_CHANNEL,
    buttons,
    by_name,
    choice,
    click,
    command,
    hides,
    posts_to,
    propose,
    setup,
    slack_id,
    submission,
)

TOP, SYD = "Eksempel Kommune", "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd"
TOP_CHANNEL, SYD_CHANNEL = "C0AGTOP", "C0AGSYD"
SOCIAL_COMMITTEE = "MED Social og Sundhed"


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


def dms_to(fake: FakeSlack, member_id: int, needle: str) -> list[Call]:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == slack_id(member_id)
        and needle in json.dumps(c.blocks(), ensure_ascii=False)
    ]


def button(call: Call, prefix: str) -> dict[str, Any]:
    return next(b for b in buttons(call.blocks()) if b["value"].startswith(prefix))


async def test_chair_notified_triage_both_approve_publish_now_decide_and_minutes_on_slack(
    db_url: str, fake: FakeSlack, tmp_path: Path
) -> None:
    async with SlackWorkspace(db_url, fake) as ws:
        setup(ws, tmp_path)
        channels = tmp_path / "more_channels.csv"
        channels.write_text(
            "unit_path,slack_channel_id,teams_channel_id,committee\n"
            f"{TOP},{TOP_CHANNEL},,\n{SYD},{SYD_CHANNEL},,\n",
            encoding="utf-8",
        )
        assert cli(db_url, "org", "import-units", str(channels))[0] == 0
        anne, soeren = by_name(ws, "Anne Hansen"), by_name(ws, "Søren Jensen")
        inger, bo = by_name(ws, "Inger Holm"), by_name(ws, "Bo Dahl")
        hanne = by_name(ws, "Hanne Larsen")
        await ws.deliver()
        fake.clear()
        await propose(ws, anne, "Faste pauser", "named")
        await propose(ws, soeren, "Tunge løft", "anonymous")
        await ws.deliver()
        # Hanne backs the anonymous proposal from its post in her unit's channel.
        [post] = posts_to(fake, NORD_CHANNEL, "Tunge løft")
        back = button(post, "agenda.support|")
        assert (await ws.interact(click(hanne, post, back, "channel"))).status == 200
        await ws.drain()

        # Both chairs hear of each proposal at once, with the triage buttons; never who an
        # anonymous proposer is.
        for chair in (inger, bo):
            assert dms_to(fake, chair.id, "Faste pauser")
        [alert] = dms_to(fake, inger.id, "Tunge løft")
        hides(soeren, alert)
        with ws.bot.db.session() as s:
            p = s.scalars(select(Proposal).where(Proposal.title == "Tunge løft")).one()
        put = next(
            b
            for b in buttons(alert.blocks())
            if b["value"].startswith("agenda.triage|")
            and json.loads(b["value"].split("|", 1)[1]) == {"p": p.id, "s": "agenda"}
        )
        assert (await ws.interact(click(inger, alert, put, "directmessage"))).status == 200
        await ws.drain()
        opened = fake.calls_to("views.open")[-1]
        sent = await ws.interact(
            submission(inger, opened, {"recommendation": "der købes flere løftere"})
        )
        assert sent.status == 200 and not sent.text, sent.text
        await ws.drain()
        await ws.deliver()

        # Inger approves from her list; Bo from his; each signs once for their side.
        approvals: list[Call] = []
        for chair in (inger, bo):
            fake.clear()
            dm = "D" + slack_id(chair.id)[1:]
            await ws.command(command(chair, "dagsorden", channel=dm))
            await ws.drain()
            listing = [c for c in fake.calls if "agenda.approve|" in json.dumps(c.blocks())][-1]
            hides(soeren, listing)
            approve = button(listing, "agenda.approve|")
            fake.clear()
            assert (
                await ws.interact(click(chair, listing, approve, "directmessage"))
            ).status == 200
            await ws.drain()
            approvals.extend(c for c in fake.calls if "agenda.publish_now|" in json.dumps(c.args))
        # After the second approval, "Publish now" is offered to the one who approved.
        assert approvals
        publish_now = next(
            b
            for c in approvals
            for b in buttons(c.blocks())
            if b["value"].startswith("agenda.publish_now|")
        )
        fake.clear()
        assert (
            await ws.interact(click(bo, approvals[-1], publish_now, "directmessage"))
        ).status == 200
        await ws.drain()
        await ws.deliver()
        for channel in (NORD_CHANNEL, SOCIAL_CHANNEL):
            [agenda] = posts_to(fake, channel, "Tunge løft")
            hides(soeren, agenda)
            assert "der købes flere løftere" in json.dumps(agenda.blocks(), ensure_ascii=False)
        assert dms_to(fake, inger.id, "har udsendt dagsordenen")

        # After the meeting: Inger records the decision on the item, from her list.
        with ws.bot.db.session() as s:
            meeting = s.scalars(select(Meeting)).all()
            starts = max(m.starts_at for m in meeting if m.committee.name == SOCIAL_COMMITTEE)
        with time_machine.travel(starts + dt.timedelta(hours=3), tick=True):
            dm = "D" + slack_id(inger.id)[1:]
            fake.clear()
            await ws.command(command(inger, "dagsorden", channel=dm))
            await ws.drain()
            listing = [c for c in fake.calls if "minutes.decide|" in json.dumps(c.blocks())][-1]
            decide = button(listing, "minutes.decide|")
            assert (await ws.interact(click(inger, listing, decide, "directmessage"))).status == 200
            await ws.drain()
            opened = fake.calls_to("views.open")[-1]
            values = {"kind": choice("adopted"), "reason": "To løftere købes i januar."}
            sent = await ws.interact(submission(inger, opened, values))
            assert sent.status == 200 and not sent.text, sent.text
            await ws.drain()
            # Each side approves the minutes once; then they go out.
            for chair in (inger, bo):
                fake.clear()
                dm = "D" + slack_id(chair.id)[1:]
                await ws.command(command(chair, "dagsorden", channel=dm))
                await ws.drain()
                listing = [c for c in fake.calls if "minutes.approve|" in json.dumps(c.blocks())][
                    -1
                ]
                hides(soeren, listing)
                approve = button(listing, "minutes.approve|")
                assert (
                    await ws.interact(click(chair, listing, approve, "directmessage"))
                ).status == 200
                await ws.drain()
            await ws.deliver()
        for channel in (SOCIAL_CHANNEL, NORD_CHANNEL, SYD_CHANNEL, TOP_CHANNEL):
            [minutes] = posts_to(fake, channel, "Beslutningsprotokol")
            hides(soeren, minutes)
            assert "To løftere købes i januar." in json.dumps(minutes.blocks(), ensure_ascii=False)
        assert dms_to(fake, soeren.id, "Begrundelse: To løftere købes i januar.")
        [told] = dms_to(fake, hanne.id, "som du støttede")
        assert "Begrundelse: To løftere købes i januar." in json.dumps(
            told.blocks(), ensure_ascii=False
        )
