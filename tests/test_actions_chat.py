"""Over the local chat, end to end: a unit's results -> the dialogue guide to the leader ->
posted to the channel -> two actions with owners and dates -> reminders at the right
working-hours times (time-machine) -> marked done -> the digest shows status and trend ->
the plan taken to MED as a proposal; the committee gets its area's plans before the meeting."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from flows.actions import remind_action_owners, send_committee_plan_summaries
from flows.dialogue import send_dialogue_guides
from flows.digest import queue_leader_digests
from storage.db import Database
from storage.models import (
    AuditEntry,
    Committee,
    Meeting,
    Member,
    Membership,
    OutboxMessage,
    Proposal,
    TeamAction,
    Unit,
)
from tests.fake_platform import FakeChat, fake_chat
from tests.test_digest_data import Org

CPH = ZoneInfo("Europe/Copenhagen")

# Round 1: timely communication is the team's weakest area.
FIRST = {
    "trust_vertical.1": [5, 5, 5, 5, 4, 5],
    "bonding.1": [4] * 6,
    "justice_conflicts.1": [2] * 6,
    "rc_timely.1": [1] * 6,
}
# Round 2, after the actions: it has moved.
SECOND = {**FIRST, "rc_timely.1": [3] * 6}


def cph(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=CPH).astimezone(dt.UTC)


async def texts(chat: FakeChat, member: int, conversation: str | None = None) -> list[str]:
    conv = conversation or f"member:{member}"
    return [" ".join(m.text.split()) for m in await chat.messages(member, conv)]


class Plan:
    """The ids the scenario needs."""

    unit = area = leader = owner = other = chair = committee = 0


def second_round(db: Database, ids: Plan, closed_at: dt.datetime) -> None:
    with db.session() as s:
        org = Org(s)
        unit = s.get(Unit, ids.unit)
        assert unit is not None
        org.units[unit.path] = unit
        org.members[unit.path] = list(
            s.scalars(
                select(Member)
                .join(Membership, Membership.member_id == Member.id)
                .where(Membership.unit_id == unit.id, Membership.has_role("member"))
                .order_by(Member.id)
            )
        )
        org.round(unit.path, closed_at, SECOND)


def setup_org(db: Database) -> Plan:
    ids = Plan()
    with db.session() as s:
        org = Org(s)
        area = org.unit("Område")
        unit = org.unit("Område/K", members=8)
        leader = org.leader("Område/K", "Lene Leder")
        org.round("Område/K", cph("2026-03-05", "11:00"), FIRST)
        committee = Committee(name="Områdets MED", unit_id=area.id)
        s.add(committee)
        s.flush()
        s.add(
            Meeting(
                committee_id=committee.id,
                starts_at=cph("2026-04-16", "10:00"),
                proposal_deadline=cph("2026-04-09", "12:00"),
                agenda_release=cph("2026-04-13", "08:00"),
            )
        )
        ids.unit, ids.leader, ids.committee = unit.id, leader.id, committee.id
        ids.owner = org.members["Område/K"][0].id
        ids.other = org.members["Område/K"][1].id
        ids.area = area.id
        ids.chair = org.member(area, "Carl Formand", roles="chair").id
    return ids


async def add_action(
    chat: FakeChat, member: int, text: str, owner: str, date: str, dimension: str
) -> None:
    opened = await chat.say(member, f"handling {text}")
    assert "Ny handling" in opened.form.text and text in opened.form.values.values()
    reply = await chat.submit(
        member,
        opened.form.data,
        {"text": text, "owner": owner, "date": date, "dimension": dimension},
    )
    assert "er tilføjet planen for K" in reply.notice.text, reply


async def tick(chat: FakeChat, when: dt.datetime) -> int:
    remind_action_owners(chat.bot.db, chat.bot.settings, when)
    return await chat.deliver()


async def test_results_to_guide_to_plan_to_reminders_to_done_to_digest_to_med(
    db_url: str,
) -> None:
    async with fake_chat(db_url) as chat:
        ids = setup_org(chat.bot.db)
        channel = f"unit:{ids.unit}"

        # Results -> the guide in the leader's DM -> one click to the channel.
        send_dialogue_guides(chat.bot.db, chat.bot.settings, cph("2026-03-05", "12:00"))
        await chat.deliver()
        [guide] = await chat.dm(ids.leader)
        assert "Dialogguide til næste teammøde: K" in guide.text
        [post] = guide.actions
        await chat.click(ids.leader, post, message_id=guide.id)
        await chat.deliver()
        assert any("Det kan vi arbejde med" in t for t in await texts(chat, ids.owner, channel))

        # Two actions, added by typed command and form: one by the leader, one by a member.
        with time_machine.travel(cph("2026-03-05", "13:00"), tick=False):
            await add_action(
                chat,
                ids.leader,
                "Vi afprøver fast overlevering kl. 14.45",
                str(ids.owner),
                "2026-03-19",
                "rc_timely",
            )
            await add_action(
                chat, ids.other, "Tavlemøde hver mandag", "team", "2026-03-17", "bonding"
            )
            # Bad input is a field error, not a crash.
            opened = await chat.say(ids.other, "handling")
            bad = await chat.submit(
                ids.other,
                opened.form.data,
                {"text": "x", "owner": "999999", "date": "i går", "dimension": "nope"},
            )
            assert set(bad.errors) == {"owner", "date", "dimension"}
        await chat.deliver()
        # The channel shows the plan after each change (the second post holds both actions).
        [plan] = [t for t in await texts(chat, ids.owner, channel) if "Tavlemøde" in t]
        assert "Teamets handlingsplan: K" in plan
        assert "Vi afprøver fast overlevering kl. 14.45" in plan
        assert "hele teamet" in plan and "planlagt" in plan

        def reminders_to(member: int) -> list[str]:
            with chat.bot.db.session() as s:
                return [
                    o.dedupe_key
                    for o in s.scalars(
                        select(OutboxMessage)
                        .where(
                            OutboxMessage.address == str(member),
                            OutboxMessage.purpose.in_(["actions.reminder", "actions.due"]),
                        )
                        .order_by(OutboxMessage.id)
                    )
                ]

        with chat.bot.db.session() as s:
            a_id, b_id = (a.id for a in s.scalars(select(TeamAction).order_by(TeamAction.id)))
        # Action B (whole team, due Tue 17 March): first reminder Thu 12 March 09:00.
        assert await tick(chat, cph("2026-03-12", "08:59")) == 0
        assert await tick(chat, cph("2026-03-12", "09:00")) == 9  # 8 members and the leader
        assert reminders_to(ids.other) == [f"actions:{b_id}:2026-03-17:r1:m{ids.other}"]
        assert await tick(chat, cph("2026-03-12", "15:00")) == 0  # at most once per slot
        # Action A (owner, due Thu 19 March): its first slot, Sat 14 March 09:00, is outside
        # working hours and waits for Monday 07:30.
        assert await tick(chat, cph("2026-03-14", "09:00")) == 0
        assert await tick(chat, cph("2026-03-16", "07:29")) == 0
        assert await tick(chat, cph("2026-03-16", "07:30")) == 1
        assert reminders_to(ids.owner)[-1] == f"actions:{a_id}:2026-03-19:r1:m{ids.owner}"
        # B's second (last) reminder Mon 16 March 09:00; none after 17:00.
        assert await tick(chat, cph("2026-03-16", "09:00")) == 9
        assert await tick(chat, cph("2026-03-16", "17:00")) == 0
        # B's date: the question how it went, in working hours.
        assert await tick(chat, cph("2026-03-17", "06:00")) == 0
        assert await tick(chat, cph("2026-03-17", "07:30")) == 9
        # A's second reminder Wed 18 March 09:00, then its date.
        assert await tick(chat, cph("2026-03-18", "09:00")) == 1
        assert await tick(chat, cph("2026-03-19", "07:45")) == 1
        assert await tick(chat, cph("2026-03-19", "10:00")) == 0
        assert reminders_to(ids.owner) == [
            f"actions:{b_id}:2026-03-17:r1:m{ids.owner}",
            f"actions:{a_id}:2026-03-19:r1:m{ids.owner}",
            f"actions:{b_id}:2026-03-17:r2:m{ids.owner}",
            f"actions:{b_id}:2026-03-17:due:m{ids.owner}",
            f"actions:{a_id}:2026-03-19:r2:m{ids.owner}",
            f"actions:{a_id}:2026-03-19:due:m{ids.owner}",
        ]
        dms = await chat.dm(ids.owner)
        assert "Påmindelse: »Vi afprøver fast overlevering kl. 14.45«" in dms[-2].text

        # Marked done at the date, with a line on what happened.
        due = dms[-1]
        assert "Hvordan gik det?" in due.text
        done, _continued, _dropped = due.actions
        with time_machine.travel(cph("2026-03-19", "10:30"), tick=False):
            # Someone else cannot mark the owner's action.
            refused = await chat.click(ids.other, done)
            assert "Kun handlingens ejer" in refused.notice.text
            opened = await chat.click(ids.owner, done, message_id=due.id)
            marked = await chat.submit(
                ids.owner, opened.form.data, {"outcome": "Overleveringen kl. 14.45 holder"}
            )
            assert "gennemført" in marked.notice.text
            # The team's action: any member marks it done.
            [b_due] = [m for m in await chat.dm(ids.other) if "Tavlemøde" in m.text][-1:]
            opened = await chat.click(ids.other, b_due.actions[0])
            await chat.submit(ids.other, opened.form.data, {"outcome": "Holdt hver mandag"})
        await chat.deliver()
        assert any(
            t.count("gennemført") == 2 and "Overleveringen kl. 14.45 holder" in t
            for t in await texts(chat, ids.owner, channel)
        )

        # A new round after the actions; the leader's digest shows status and trend.
        second_round(chat.bot.db, ids, cph("2026-03-26", "11:00"))
        with chat.bot.db.session() as s:
            queue_leader_digests(s, chat.bot.settings, cph("2026-03-30", "08:00"), due_only=False)
        await chat.deliver()
        digest = " ".join((await chat.dm(ids.leader))[-1].text.split())
        assert "Teamets handlingsplan: 0 planlagt, 2 gennemført, 0 droppet" in digest
        assert "Kommunikation i rette tid siden start: 1,0 → 3,0 af 5 (+2,0)" in digest

        # "Tag planen til MED": a proposal with the plan and its thresholded evidence.
        with time_machine.travel(cph("2026-03-30", "10:00"), tick=False):
            [plan_post] = [
                m
                for m in await chat.messages(ids.leader, channel)
                if "Teamets handlingsplan" in m.text
            ][-1:]
            to_med = [a for a in plan_post.actions if a.startswith("actions.to_med|")]
            reply = await chat.click(ids.leader, to_med[0])
            assert "Områdets MED" in reply.notice.text
        await chat.deliver()
        with chat.bot.db.session() as s:
            [proposal] = s.scalars(select(Proposal)).all()
            assert proposal.title == "Handlingsplan fra K"
            assert "Vi afprøver fast overlevering kl. 14.45" in proposal.issue
            assert "Kommunikation i rette tid: 1,0 → 3,0 af 5" in proposal.issue
            assert proposal.proposer_id == ids.leader and proposal.meeting_id is not None
            audit = [
                a.action
                for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("action.%")))
            ]
        assert sorted(audit) == sorted(
            [
                "action.add",
                "action.add",
                "action.mark",
                "action.done",
                "action.done",
                "action.to_med",
            ]
        )
        assert any("Handlingsplan fra K" in t for t in await texts(chat, ids.owner, channel))

        # Before the meeting the committee's channel gets its area's plans, once.
        for _ in range(2):
            send_committee_plan_summaries(
                chat.bot.db, chat.bot.settings, cph("2026-04-13", "09:00")
            )
        await chat.deliver()
        summary = [
            t
            for t in await texts(chat, ids.chair, f"unit:{ids.area}")
            if "Handlingsplaner i Områdets MEDs område" in t
        ]
        assert len(summary) == 1
        assert "K: 0 planlagt, 2 gennemført, 0 droppet" in summary[0]
        assert "Vi afprøver fast overlevering kl. 14.45" in summary[0]
