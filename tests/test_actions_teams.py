"""On Teams (the fake Bot Connector at the network boundary), end to end: results -> the
guide in the leader's 1:1 chat -> posted to the channel -> two actions typed as "handling ..."
and filled in on the card -> reminders in working hours (time-machine) -> marked done from
the card -> the digest shows status and trend -> the plan taken to MED from the channel."""

from __future__ import annotations

import json
from typing import Any

import pytest
import time_machine

from flows.actions import remind_action_owners
from flows.dialogue import send_dialogue_guides
from flows.digest import queue_leader_digests
from storage.models import Member, Unit
from tests.action_plans import assert_brought_to_med
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import TeamsBot, bot_connector, card_data, fixture, running, teams_settings
from tests.test_actions_chat import cph, second_round, setup_org

CHANNEL = "19:team-social@thread.tacv2"
PEOPLE = {
    "leader": (
        "29:1LeaderTeamsId00000000000000000000000000",
        "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c2b",
        "a:1LeaderPersonalConversation",
    ),
    "owner": (
        "29:1OwnerTeamsId000000000000000000000000000",
        "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d",
        "a:1OwnerPersonalConversation",
    ),
}


fake = pytest.fixture(bot_connector, name="fake")


def as_person(who: str, activity: dict[str, Any]) -> dict[str, Any]:
    user, aad, personal = PEOPLE[who]
    activity["from"] = {"id": user, "aadObjectId": aad, "name": who}
    activity["conversation"] = {**activity["conversation"], "id": personal}
    return activity


def sent_to(fake: FakeBotConnector, conversation: str) -> list[Any]:
    return [c for c in fake.activities("send") if conversation in c.path]


def body(call: Any) -> str:
    return json.dumps(call.body, ensure_ascii=False)


_ids = iter(range(1, 10**6))


async def click(teams: TeamsBot, who: str, data: str) -> None:
    invoke = as_person(
        who, fixture("invoke_card_action", teams.fake, id=f"f:{next(_ids)}", replyToId="x")
    )
    invoke["value"]["action"]["data"] = {"medpuls": data}
    assert (await teams.post(invoke)).status == 200


async def submit(teams: TeamsBot, who: str, form: str, values: dict[str, str]) -> None:
    invoke = as_person(who, fixture("form_submit_invoke", teams.fake, id=f"f:{next(_ids)}"))
    invoke["value"]["action"]["data"] = {"medpuls_form": form, **values}
    response = await teams.post(invoke)
    assert response.status == 200
    assert "Attention" not in await response.text()


async def say(teams: TeamsBot, who: str, text: str) -> None:
    message = as_person(who, fixture("message_personal", teams.fake, id=f"m{next(_ids)}"))
    message["text"] = text
    assert (await teams.post(message)).ok


async def add_action(
    teams: TeamsBot, who: str, words: str, owner: str, day: str, dimension: str
) -> None:
    personal = PEOPLE[who][2]
    before = len(sent_to(teams.fake, personal))
    await say(teams, who, f"handling {words}")
    [form] = [
        d for c in sent_to(teams.fake, personal)[before:] for d in card_data(c, "medpuls_form")
    ]
    values = {"text": words, "owner": owner, "date": day, "dimension": dimension}
    await submit(teams, who, form, values)


async def test_the_plan_from_guide_to_med_on_teams(db_url: str, fake: FakeBotConnector) -> None:
    async with running(teams_settings(db_url, fake), fake) as teams:
        ids = setup_org(teams.bot.db)
        with teams.bot.db.session() as s:
            unit = s.get(Unit, ids.unit)
            assert unit is not None
            unit.teams_channel_id = CHANNEL
            for who, member_id in (("leader", ids.leader), ("owner", ids.owner)):
                member = s.get(Member, member_id)
                assert member is not None
                user, aad, _ = PEOPLE[who]
                fake.members[user] = {"id": user, "aadObjectId": aad, "email": member.email}
        for who in PEOPLE:
            installed = as_person(who, fixture("installation_update_personal", fake))
            assert (await teams.post(installed)).ok
        assert (await teams.post(fixture("conversation_update_team", fake))).ok
        fake.calls.clear()
        leader_chat, owner_chat = PEOPLE["leader"][2], PEOPLE["owner"][2]

        send_dialogue_guides(teams.bot.db, teams.bot.settings, cph("2026-03-05", "12:00"))
        await teams.deliver()
        [guide] = [c for c in sent_to(fake, leader_chat) if "Dialogguide" in body(c)]
        [post] = [d for d in card_data(guide) if d.startswith("dialogue.post|")]
        await click(teams, "leader", post)
        await teams.deliver()
        assert any("Det kan vi arbejde med" in body(c) for c in sent_to(fake, CHANNEL))

        with time_machine.travel(cph("2026-03-05", "13:00"), tick=True):
            await add_action(
                teams,
                "leader",
                "Fast overlevering kl. 14.45",
                str(ids.owner),
                "2026-03-19",
                "rc_timely",
            )
            await add_action(
                teams, "owner", "Ny tavle i vagtstuen", str(ids.leader), "2026-03-17", "bonding"
            )
            await teams.deliver()
        plans = [c for c in sent_to(fake, CHANNEL) if "Teamets handlingsplan" in body(c)]
        assert any("Ny tavle" in body(c) and "Fast overlevering" in body(c) for c in plans)

        async def tick(day: str, hhmm: str) -> tuple[int, int]:
            counts = len(sent_to(fake, leader_chat)), len(sent_to(fake, owner_chat))
            remind_action_owners(teams.bot.db, teams.bot.settings, cph(day, hhmm))
            await teams.deliver()
            return (
                len(sent_to(fake, leader_chat)) - counts[0],
                len(sent_to(fake, owner_chat)) - counts[1],
            )

        assert await tick("2026-03-12", "08:59") == (0, 0)
        assert await tick("2026-03-12", "09:00") == (1, 0)  # the leader's action, 1st
        assert await tick("2026-03-14", "09:00") == (0, 0)  # Saturday: the owner's waits
        assert await tick("2026-03-16", "07:29") == (0, 0)
        assert await tick("2026-03-16", "07:30") == (0, 1)  # the owner's 1st, Monday morning
        assert await tick("2026-03-16", "09:00") == (1, 0)  # the leader's 2nd (the last)
        assert await tick("2026-03-16", "17:00") == (0, 0)
        assert await tick("2026-03-17", "07:30") == (1, 0)  # the leader's date
        assert await tick("2026-03-18", "09:00") == (0, 1)  # the owner's 2nd
        assert await tick("2026-03-19", "07:30") == (0, 1)  # the owner's date
        due = sent_to(fake, owner_chat)[-1]
        assert "Hvordan gik det?" in body(due)
        [done] = [d for d in card_data(due) if '"s":"done"' in d]

        with time_machine.travel(cph("2026-03-19", "10:00"), tick=True):
            before = len(sent_to(fake, owner_chat))
            await click(teams, "owner", done)
            [form] = [
                d for c in sent_to(fake, owner_chat)[before:] for d in card_data(c, "medpuls_form")
            ]
            await submit(teams, "owner", form, {"outcome": "Overleveringen holder"})
            await teams.deliver()
        assert any(
            "gennemført" in body(c) and "Overleveringen holder" in body(c)
            for c in sent_to(fake, CHANNEL)
        )

        second_round(teams.bot.db, ids, cph("2026-03-26", "11:00"))
        with teams.bot.db.session() as s:
            queue_leader_digests(s, teams.bot.settings, cph("2026-03-30", "08:00"), due_only=False)
        await teams.deliver()
        digest = body(sent_to(fake, leader_chat)[-1])
        assert "1 planlagt, 1 gennemført, 0 droppet" in digest
        assert "Kommunikation i rette tid siden start: 1,0 → 3,0 af 5 (+2,0)" in digest

        with time_machine.travel(cph("2026-03-30", "10:00"), tick=True):
            latest = [c for c in sent_to(fake, CHANNEL) if "Teamets handlingsplan" in body(c)][-1]
            [to_med] = [d for d in card_data(latest) if d.startswith("actions.to_med|")]
            await click(teams, "leader", to_med)
            await teams.deliver()
        assert_brought_to_med(teams.bot.db)
        assert any("Handlingsplan fra K" in body(c) for c in sent_to(fake, CHANNEL))
