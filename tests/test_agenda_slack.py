"""The agenda on Slack: signed requests in, what the fake Slack Web API recorded out.

Proposals through `/med forslag` and its modal (one named, one anonymous), the post in the unit's
channel, a colleague's support click that updates that post, and the chair's triage click that
tells exactly the proposer and the vice-chair.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from flows.schedule import next_working_day
from storage.models import Member, OutboxMessage, Proposal
from tests.cli import cli
from tests.fakes.slack_api import (
    Call,
    FakeSlack,
    SlackWorkspace,
    fixture,
    slash_command,
    view_submission,
)

TZ = ZoneInfo("Europe/Copenhagen")
NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
SOCIAL = "Eksempel Kommune/Social og Sundhed"
NORD_CHANNEL, SOCIAL_CHANNEL = "C0AGNORD", "C0AGSOCIAL"
_n = itertools.count(1)


def slack_id(member_id: int) -> str:
    return f"U{member_id:06d}"


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


def by_name(ws: SlackWorkspace, name: str) -> Member:
    with ws.bot.db.session() as s:
        member = s.scalars(select(Member).where(Member.name == name)).one()
        s.expunge(member)
        return member


def setup(ws: SlackWorkspace, tmp_path: Path) -> None:
    db_url = ws.db_url
    assert cli(db_url, "demo", "--no-history")[0] == 0
    units = tmp_path / "channels.csv"
    units.write_text(
        "unit_path,slack_channel_id,teams_channel_id,committee\n"
        f"{SOCIAL},{SOCIAL_CHANNEL},,\n{NORD},{NORD_CHANNEL},,\n",
        encoding="utf-8",
    )
    assert cli(db_url, "org", "import-units", str(units))[0] == 0
    # A working day: a meeting on a weekend or holiday would need --off-day (issue 18).
    day = next_working_day((dt.datetime.now(TZ) + dt.timedelta(days=30)).date())
    starts = dt.datetime.combine(day, dt.time(13, 0), tzinfo=TZ)
    code, out = cli(
        db_url,
        "meeting",
        "add",
        "--committee",
        "MED Social og Sundhed",
        "--date",
        f"{starts:%Y-%m-%dT%H:%M}",
    )
    assert code == 0, out
    with ws.bot.db.session() as s:
        for member in s.scalars(select(Member)):
            ws.fake.add_user(slack_id(member.id), member.email, name=member.name)


def command(member: Member, text: str, channel: str = NORD_CHANNEL) -> dict[str, Any]:
    return slash_command(slack_id(member.id), text, channel)


def submission(member: Member, opened: Call, values: dict[str, Any]) -> dict[str, Any]:
    return view_submission(slack_id(member.id), opened, values)


def click(
    member: Member, posted: Call, button: dict[str, Any], channel_name: str
) -> dict[str, Any]:
    payload = fixture("block_actions")
    n = next(_n)
    channel, ts = posted.result["channel"], posted.result["ts"]
    payload["user"] = {
        "id": slack_id(member.id),
        "username": "x",
        "name": "x",
        "team_id": "T0MEDPULS",
    }
    payload["channel"] = {"id": channel, "name": channel_name}
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


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def choice(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


async def propose(ws: SlackWorkspace, member: Member, title: str, identity: str) -> None:
    assert (await ws.command(command(member, "forslag"))).status == 200
    await ws.drain()
    opened = ws.fake.calls_to("views.open")[-1]
    assert opened.view()["callback_id"] == "medpuls_form:agenda.propose"
    values: dict[str, Any] = {
        "title": title,
        "issue": f"{title}: det drejer sig om",
        "why": "Det går ud over arbejdsmiljøet",
        "identity": choice(identity),
    }
    sent = await ws.interact(submission(member, opened, values))
    assert sent.status == 200 and not sent.text, sent.text
    await ws.drain()


def posts_to(fake: FakeSlack, channel: str, needle: str) -> list[Call]:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == channel and needle in json.dumps(c.blocks(), ensure_ascii=False)
    ]


def hides(member: Member, *calls: Call) -> None:
    for call in calls:
        seen = json.dumps(call.args, ensure_ascii=False)
        assert member.name not in seen
        assert (member.email or "@") not in seen
        assert slack_id(member.id) not in seen


async def test_propose_support_and_triage_on_slack(
    db_url: str, fake: FakeSlack, tmp_path: Path
) -> None:
    async with SlackWorkspace(db_url, fake) as ws:
        setup(ws, tmp_path)
        anne, soeren = by_name(ws, "Anne Hansen"), by_name(ws, "Søren Jensen")
        lars, inger, bo = (
            by_name(ws, "Lars Pedersen"),
            by_name(ws, "Inger Holm"),
            by_name(ws, "Bo Dahl"),
        )
        await ws.deliver()
        # The call for proposals went to the committee's channel and its units' channels.
        assert posts_to(fake, NORD_CHANNEL, "agenda.open|")
        assert posts_to(fake, SOCIAL_CHANNEL, "agenda.open|")

        await propose(ws, anne, "Faste pauser", "named")
        await propose(ws, soeren, "Tunge løft", "anonymous")
        await ws.deliver()
        [named_post] = posts_to(fake, NORD_CHANNEL, "Faste pauser")
        [anon_post] = posts_to(fake, NORD_CHANNEL, "Tunge løft")
        assert "Anne Hansen" in json.dumps(named_post.blocks(), ensure_ascii=False)
        hides(soeren, anon_post)
        # Receipts in DM, each with a reference number.
        for member in (anne, soeren):
            assert [
                c
                for c in fake.calls_to("chat.postMessage")
                if c.args["channel"] == slack_id(member.id) and "MED-" in c.args.get("text", "")
            ]

        # Lars supports the anonymous proposal from the channel post: the post is updated.
        [support] = [b for b in buttons(anon_post.blocks()) if b["value"].startswith("agenda.sup")]
        fake.clear()
        assert (
            await ws.interact(click(lars, anon_post, support, "hjemmeplejen-nord"))
        ).status == 200
        await ws.drain()
        await ws.deliver()
        [updated] = fake.calls_to("chat.update")
        assert updated.args["channel"] == NORD_CHANNEL
        assert updated.args["ts"] == anon_post.result["ts"]
        assert "støttet af 1" in json.dumps(updated.blocks(), ensure_ascii=False)
        hides(soeren, updated)
        hides(lars, updated)

        # The chair's list in the DM: the anonymous proposal without its proposer.
        fake.clear()
        dm = "D" + slack_id(inger.id)[1:]
        await ws.command(command(inger, "dagsorden", channel=dm))
        await ws.drain()
        listing = [c for c in fake.calls if "agenda.triage|" in json.dumps(c.blocks())][-1]
        hides(soeren, listing)
        with ws.bot.db.session() as s:
            p = s.scalars(select(Proposal).where(Proposal.title == "Tunge løft")).one()
        later = next(
            b
            for b in buttons(listing.blocks())
            if b["value"].startswith("agenda.triage|")
            and json.loads(b["value"].split("|", 1)[1]) == {"p": p.id, "s": "later"}
        )
        fake.clear()
        assert (await ws.interact(click(inger, listing, later, "directmessage"))).status == 200
        await ws.drain()
        await ws.deliver()
        with ws.bot.db.session() as s:
            assert s.get(Proposal, p.id).status == "later"  # type: ignore[union-attr]
        dms = {
            c.args["channel"]
            for c in fake.calls_to("chat.postMessage")
            if c.args["channel"].startswith("U")
        }
        # The proposer and the vice-chair are told; the acting chair gets her own confirmation.
        assert dms == {slack_id(soeren.id), slack_id(bo.id), slack_id(inger.id)}
        with ws.bot.db.session() as s:
            queued = {
                int(r.address)
                for r in s.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.purpose.in_(("agenda.proposer", "agenda.chair")),
                        OutboxMessage.dedupe_key.like(f"agenda:p{p.id}:later:%"),
                    )
                )
            }
        assert queued == {soeren.id, bo.id}
        for c in fake.calls:
            if c.args.get("channel") != slack_id(soeren.id):
                hides(soeren, c)

        # A non-chair pressing the same button is refused and nothing changes.
        fake.clear()
        await ws.interact(click(lars, listing, later, "directmessage"))
        await ws.drain()
        await ws.deliver()
        assert not [
            c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == slack_id(bo.id)
        ]
