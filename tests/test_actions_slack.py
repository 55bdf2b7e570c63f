"""On Slack (the fake Web API at the network boundary), end to end: results -> the guide in the
leader's DM -> posted to the channel -> two actions through `/med handling` and its modal ->
reminders in working hours (time-machine) -> marked done from the DM -> the digest shows
status and trend -> the plan taken to MED from the channel post."""

from __future__ import annotations

import json
from typing import Any

import time_machine

from flows.actions import remind_action_owners
from flows.dialogue import send_dialogue_guides
from flows.digest import queue_leader_digests
from storage.models import Member, Unit
from tests.action_plans import assert_brought_to_med
from tests.fakes.slack_api import Call, FakeSlack, SlackWorkspace, slash_command, view_submission
from tests.slack_demo import buttons, click, everyone_on_slack, slack_fixtures, slack_id
from tests.test_actions_chat import cph, second_round, setup_org

CHANNEL = "C0TEAMK"


fake, ws = slack_fixtures()


def text(call: Call) -> str:
    return json.dumps(call.blocks(), ensure_ascii=False)


def posts_to(fake: FakeSlack, channel: str) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == channel]


def select_value(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def date_value(day: str) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": day}


async def add_action(
    ws: SlackWorkspace, member: int, words: str, owner: str, day: str, dimension: str
) -> None:
    before = len(ws.fake.calls_to("views.open"))
    sent = await ws.command(slash_command(slack_id(member), f"handling {words}", "D0LEADER"))
    assert sent.status == 200
    await ws.drain()
    opened = ws.fake.calls_to("views.open")[before]
    assert "Ny handling" in json.dumps(opened.view(), ensure_ascii=False)
    submitted = await ws.interact(
        view_submission(
            slack_id(member),
            opened,
            {
                "text": words,
                "owner": select_value(owner),
                "date": date_value(day),
                "dimension": select_value(dimension),
            },
        )
    )
    assert submitted.status == 200 and "errors" not in submitted.text, submitted.text
    await ws.drain()


async def test_the_plan_from_guide_to_med_on_slack(ws: SlackWorkspace, fake: FakeSlack) -> None:
    ids = setup_org(ws.bot.db)
    with ws.bot.db.session() as s:
        unit = s.get(Unit, ids.unit)
        assert unit is not None
        unit.slack_channel_id = CHANNEL
    everyone_on_slack(ws)
    with ws.bot.db.session() as s:
        leader = s.get(Member, ids.leader)
        owner = s.get(Member, ids.owner)
        assert leader is not None and owner is not None

    send_dialogue_guides(ws.bot.db, ws.bot.settings, cph("2026-03-05", "12:00"))
    await ws.deliver()
    [guide] = posts_to(fake, slack_id(ids.leader))
    [post] = [b for b in buttons(guide.blocks()) if b["value"].startswith("dialogue.post|")]
    await ws.interact(click(leader, guide, post))
    await ws.drain()
    await ws.deliver()
    assert any("Det kan vi arbejde med" in text(c) for c in posts_to(fake, CHANNEL))

    with time_machine.travel(cph("2026-03-05", "13:00"), tick=True):
        await add_action(
            ws, ids.leader, "Fast overlevering kl. 14.45", str(ids.owner), "2026-03-19", "rc_timely"
        )
        await add_action(ws, ids.other, "Tavlemøde hver mandag", "team", "2026-03-17", "bonding")
        await ws.deliver()
    plans = [c for c in posts_to(fake, CHANNEL) if "Teamets handlingsplan" in text(c)]
    assert any("Tavlemøde" in text(c) and "Fast overlevering" in text(c) for c in plans)

    async def tick(day: str, hhmm: str) -> int:
        remind_action_owners(ws.bot.db, ws.bot.settings, cph(day, hhmm))
        return await ws.deliver()

    assert await tick("2026-03-12", "08:59") == 0
    assert await tick("2026-03-12", "09:00") == 9  # the whole team's first reminder
    assert await tick("2026-03-14", "09:00") == 0  # Saturday: the owner's waits
    assert await tick("2026-03-16", "07:30") == 1  # the owner's first reminder
    assert "Påmindelse" in text(posts_to(fake, slack_id(ids.owner))[-1])
    assert await tick("2026-03-16", "17:30") == 0  # after working hours
    assert await tick("2026-03-18", "09:00") == 9 + 1  # the team's date, the owner's second
    assert await tick("2026-03-19", "07:30") == 1
    due = posts_to(fake, slack_id(ids.owner))[-1]
    assert "Hvordan gik det?" in text(due)
    [done] = [b for b in buttons(due.blocks()) if '"s":"done"' in b["value"]]

    with time_machine.travel(cph("2026-03-19", "10:00"), tick=True):
        before = len(fake.calls_to("views.open"))
        await ws.interact(click(owner, due, done))
        await ws.drain()
        opened = fake.calls_to("views.open")[before]
        await ws.interact(view_submission(slack_id(ids.owner), opened, {"outcome": "Det holder"}))
        await ws.drain()
        await ws.deliver()
    assert any("gennemført" in text(c) and "Det holder" in text(c) for c in posts_to(fake, CHANNEL))

    second_round(ws.bot.db, ids, cph("2026-03-26", "11:00"))
    with ws.bot.db.session() as s:
        queue_leader_digests(s, ws.bot.settings, cph("2026-03-30", "08:00"), due_only=False)
    await ws.deliver()
    digest = text(posts_to(fake, slack_id(ids.leader))[-1])
    assert "1 planlagt, 1 gennemført, 0 droppet" in digest
    assert "Kommunikation i rette tid siden start: 1,0 → 3,0 af 5 (+2,0)" in digest

    with time_machine.travel(cph("2026-03-30", "10:00"), tick=True):
        latest = [c for c in posts_to(fake, CHANNEL) if "Teamets handlingsplan" in text(c)][-1]
        [to_med] = [b for b in buttons(latest.blocks()) if b["value"].startswith("actions.to_med|")]
        await ws.interact(click(leader, latest, to_med))
        await ws.drain()
        await ws.deliver()
    assert_brought_to_med(ws.bot.db)
    assert any("Handlingsplan fra K" in text(c) for c in posts_to(fake, CHANNEL))
