"""The MED agenda end to end through the local web chat and the real CLI.

A proposal's whole life: the call for proposals, proposing in one's name and anonymously,
support from colleagues, triage each way by the chair, approval by both chairs, publication on
the release date, the outcome and its follow-up. Each step checks who was told (outbox rows
by address) and that nothing a chair sees names an anonymous proposer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from bot.core.config import Settings
from flows.agenda import (
    Approve,
    Triage,
    TriageForm,
    publish_due_agendas,
    remind_deadlines,
    remind_follow_ups,
)
from flows.decisions import ApproveMinutes, Decide
from flows.schedule import next_working_day, working_days_before
from storage.db import Database
from storage.models import (
    Committee,
    Meeting,
    Member,
    OutboxMessage,
    Proposal,
    Support,
    Unit,
)
from tests.localchat import LocalChat, actions, cli, local_chat, text_of

TZ = ZoneInfo("Europe/Copenhagen")
SOCIAL = "MED Social og Sundhed"
NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
_FORM = re.compile(r'data-form="([^"]+)"')


# --- helpers ------------------------------------------------------------------------------


class Org:
    """Ids of the demo municipality's people and units, looked up by name."""

    def __init__(self, db_url: str) -> None:
        db = Database(db_url)
        with db.session() as s:
            self.people = {m.name: m.id for m in s.scalars(select(Member))}
            self.emails = {m.id: m.email or "" for m in s.scalars(select(Member))}
            self.units = {u.path: u.id for u in s.scalars(select(Unit))}
            self.committees = {c.name: c.id for c in s.scalars(select(Committee))}
        db.dispose()

    def __getitem__(self, name: str) -> int:
        return self.people[name]

    def unit(self, path: str) -> int:
        return self.units[path]


def form_data(html: str) -> str:
    found = _FORM.search(html)
    assert found, html
    return unescape(found.group(1))


def set_meeting(db_url: str, starts: dt.datetime, place: str = "Mødelokale 1") -> None:
    code, out = cli(
        db_url,
        "meeting",
        "add",
        "--committee",
        SOCIAL,
        "--date",
        starts.strftime("%Y-%m-%dT%H:%M"),
        "--place",
        place,
    )
    assert code == 0, out


def meeting_day(days: int = 30) -> dt.datetime:
    """A working day about `days` ahead, 13:00 (meetings on holidays need a confirmation)."""
    day = next_working_day((dt.datetime.now(TZ) + dt.timedelta(days=days)).date())
    return dt.datetime.combine(day, dt.time(13, 0), tzinfo=TZ)


async def propose(
    chat: LocalChat, member: int, *, title: str, identity: str = "named", said: str = "forslag"
) -> dict[str, Any]:
    opened = await chat.say(member, said)
    assert "form" in opened, opened
    reply = await chat.submit(
        member,
        form_data(opened["form"]),
        {
            "title": title,
            "issue": f"{title}: sagen beskrevet",
            "why": "Det påvirker arbejdsmiljøet",
            "suggestion": "",
            "identity": identity,
        },
    )
    assert "errors" not in reply, reply
    return reply


def proposal_by_title(db: Database, title: str) -> Proposal:
    with db.session() as s:
        p = s.scalars(select(Proposal).where(Proposal.title == title)).one()
        s.expunge(p)
        return p


def outbox_since(db: Database, after: int) -> list[tuple[str, str, str]]:
    """(purpose, address kind, address) of rows queued after outbox id `after`."""
    with db.session() as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)
        ).all()
        return [(r.purpose, r.address_kind, r.address) for r in rows]


def last_outbox_id(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc())) or 0)


def dm_rows(rows: list[tuple[str, str, str]]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for purpose, kind, address in rows:
        if kind == "member":
            out.setdefault(int(address), []).append(purpose)
    return out


def triage_button(html: str, proposal_id: int, step: str) -> str:
    wanted = Triage(p=proposal_id, s=step).pack()  # type: ignore[arg-type]
    assert wanted in actions(html), f"no {step} button for {proposal_id}"
    return wanted


async def dm_text(chat: LocalChat, member: int) -> str:
    """Everything in the member's DM (delivery sends concurrently, so order is not kept)."""
    return "\n".join(text_of(m["html"]) for m in await chat.dm(member))


def hides(person: int, org: Org, *texts: str) -> None:
    """None of the texts names the person, shows their e-mail or their member id."""
    name = next(n for n, i in org.people.items() if i == person)
    for text in texts:
        assert name not in text
        assert org.emails[person] not in text
        assert f"member:{person}" not in text
        assert f'"member": {person}' not in text and f'"member":{person}' not in text


@pytest.fixture
def demo(db_url: str) -> Iterator[Org]:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    set_meeting(db_url, meeting_day())
    yield Org(db_url)


def agenda_version(db: Database, meeting_id: int) -> int:
    """The version of the agenda a chair sees now (approvals are of one version)."""
    with db.session() as s:
        meeting = s.get(Meeting, meeting_id)
        assert meeting is not None
        return meeting.agenda_version


# --- tests --------------------------------------------------------------------------------


async def test_call_for_proposals_reaches_the_units_the_committee_serves(
    db_url: str, demo: Org
) -> None:
    async with local_chat(db_url) as chat:
        rows = outbox_since(chat.bot.db, 0)
        calls = {int(a) for p, k, a in rows if p == "agenda.call"}
        assert calls == {
            demo.unit("Eksempel Kommune/Social og Sundhed"),
            demo.unit(NORD),
            demo.unit("Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd"),
        }
        await chat.deliver()
        [call] = await chat.messages(demo["Anne Hansen"], f"unit:{demo.unit(NORD)}")
        assert "Forslag til MED Social og Sundhed" in text_of(call["html"])
        # The button under the call opens the proposal form.
        [button] = actions(call["html"])
        reply = await chat.click(
            demo["Anne Hansen"],
            button,
            message_id=call["id"],
            conversation=f"unit:{demo.unit(NORD)}",
        )
        assert "Hvorfor er det vigtigt" in text_of(reply["form"])


async def test_named_and_anonymous_proposals_support_and_the_chairs_view(
    db_url: str, demo: Org
) -> None:
    anne, soeren, lars, hanne = (
        demo["Anne Hansen"],
        demo["Søren Jensen"],
        demo["Lars Pedersen"],
        demo["Hanne Larsen"],
    )
    inger, bo = demo["Inger Holm"], demo["Bo Dahl"]
    nord = f"unit:{demo.unit(NORD)}"
    async with local_chat(db_url) as chat:
        db = chat.bot.db
        await chat.deliver()
        before = last_outbox_id(db)
        named = await propose(chat, anne, title="Faste pauser")
        assert re.search(r"MED-\d{4}-\d{3}", text_of(named["notice"]))
        await propose(chat, soeren, title="Tunge løft", identity="anonymous")
        rows = outbox_since(db, before)
        # A receipt to each proposer, one post in their unit's channel, and the chairs hear at
        # once (issue 18); nobody else is told.
        assert dm_rows(rows) == {
            anne: ["agenda.proposer"],
            soeren: ["agenda.proposer"],
            inger: ["agenda.alert", "agenda.alert"],
            bo: ["agenda.alert", "agenda.alert"],
        }
        assert [(p, a) for p, k, a in rows if k == "unit"] == [
            ("agenda.post", str(demo.unit(NORD))),
            ("agenda.post", str(demo.unit(NORD))),
        ]
        await chat.deliver()
        receipt = await dm_text(chat, soeren)
        assert "Tunge løft" in receipt and re.search(r"MED-\d{4}-\d{3}", receipt)

        posts = [m for m in await chat.messages(lars, nord) if "Tunge løft" in m["html"]]
        [anon_post] = posts
        assert "Anonymt forslag" in text_of(anon_post["html"])
        hides(soeren, demo, anon_post["html"])
        [named_post] = [m for m in await chat.messages(lars, nord) if "Faste pauser" in m["html"]]
        assert "Foreslået af Anne Hansen" in text_of(named_post["html"])

        # Support is a toggle, one vote each, and the count on the post follows.
        [support] = actions(anon_post["html"])
        for expected in (1, 0, 1):
            reply = await chat.click(lars, support, message_id=anon_post["id"], conversation=nord)
            assert "notice" in reply
            [post] = [m for m in await chat.messages(lars, nord) if m["id"] == anon_post["id"]]
            assert f"støttet af {expected}" in text_of(post["html"])
        await chat.click(hanne, support, message_id=anon_post["id"], conversation=nord)
        [named_support] = actions(named_post["html"])
        await chat.click(hanne, named_support, message_id=named_post["id"], conversation=nord)
        with db.session() as s:
            assert s.query(Support).count() == 3

        # The chair's list: both proposals with counts, the anonymous one without a name.
        listing = await chat.say(inger, "dagsorden")
        html = listing["notice"]
        text = text_of(html)
        assert "Faste pauser" in text and "Tunge løft" in text
        assert "Støttet af 2" in text
        hides(soeren, demo, html, json.dumps(listing, ensure_ascii=False))
        # Every form a chair can open on the anonymous proposal hides the proposer as well.
        p = proposal_by_title(db, "Tunge løft")
        for step in ("agenda", "merge", "answer", "decline"):
            opened = await chat.click(inger, triage_button(html, p.id, step))
            assert "form" in opened
            hides(soeren, demo, json.dumps(opened, ensure_ascii=False))
        # A member who is not a chair sees the next meeting's date instead.
        mine = await chat.say(lars, "dagsorden")
        assert "Næste møde er" in text_of(mine["notice"])
        assert not [a for a in actions(mine["notice"]) if a.startswith("agenda.triage")]
        _ = bo


@pytest.mark.parametrize("step", ["agenda", "later", "merge", "answer", "decline"])
async def test_each_triage_step_tells_the_proposer_and_the_other_chair_only(
    db_url: str, demo: Org, step: str
) -> None:
    anne, soeren, inger, bo = (
        demo["Anne Hansen"],
        demo["Søren Jensen"],
        demo["Inger Holm"],
        demo["Bo Dahl"],
    )
    lars = demo["Lars Pedersen"]
    set_meeting(db_url, meeting_day(60), place="Teams-link")
    async with local_chat(db_url) as chat:
        db = chat.bot.db
        await propose(chat, anne, title="Andet forslag")
        await propose(chat, soeren, title="Vagtplanen", identity="anonymous")
        p = proposal_by_title(db, "Vagtplanen")
        before = last_outbox_id(db)
        listing = (await chat.say(bo, "dagsorden"))["notice"]
        reply = await chat.click(bo, triage_button(listing, p.id, step))
        if step != "later":
            values = {
                "agenda": {"recommendation": "vagtplanen lægges fire uger frem"},
                "merge": {"target": str(proposal_by_title(db, "Andet forslag").id)},
                "answer": {"text": "Det er allerede besluttet i LMU."},
                "decline": {"text": "Hører under arbejdsmiljøgruppen."},
            }[step]
            reply = await chat.submit(bo, form_data(reply["form"]), values)
        assert "errors" not in reply
        hides(soeren, demo, json.dumps(reply, ensure_ascii=False))
        rows = outbox_since(db, before)
        told = dm_rows(rows)
        assert told == {soeren: ["agenda.proposer"], inger: ["agenda.chair"]}, rows
        await chat.deliver()
        to_proposer = await dm_text(chat, soeren)
        to_chair = await dm_text(chat, inger)
        hides(soeren, demo, to_chair)
        after = proposal_by_title(db, "Vagtplanen")
        expected = {
            "agenda": ("on_agenda", "dagsordenen"),
            "later": ("later", "senere møde"),
            "merge": ("merged", "Andet forslag"),
            "answer": ("answered", "allerede besluttet i LMU"),
            "decline": ("declined", "arbejdsmiljøgruppen"),
        }[step]
        assert after.status == expected[0]
        assert expected[1] in to_proposer
        assert "Bo Dahl" in to_chair
        if step == "later":
            with db.session() as s:
                later = s.scalars(select(Meeting).order_by(Meeting.starts_at.desc())).first()
                assert later is not None and after.meeting_id == later.id
        if step in ("answer", "decline", "merge"):
            # The channel post shows the proposal is closed and can no longer be supported.
            posts = [
                m
                for m in await chat.messages(lars, f"unit:{demo.unit(NORD)}")
                if "Vagtplanen" in m["html"]
            ]
            assert posts and not actions(posts[0]["html"])


async def test_agenda_approved_by_both_is_published_on_the_release_date_and_outcomes_close_the_loop(
    db_url: str, demo: Org
) -> None:
    anne, soeren, inger, bo = (
        demo["Anne Hansen"],
        demo["Søren Jensen"],
        demo["Inger Holm"],
        demo["Bo Dahl"],
    )
    hanne, lars = demo["Hanne Larsen"], demo["Lars Pedersen"]
    nord = f"unit:{demo.unit(NORD)}"
    settings = Settings(DATABASE_URL=db_url)
    async with local_chat(db_url) as chat:
        db = chat.bot.db
        await propose(chat, anne, title="Faste pauser")
        await propose(chat, soeren, title="Tunge løft", identity="anonymous")
        await chat.deliver()
        for title, recommendation in (
            ("Tunge løft", "der indkøbes flere personløftere"),
            ("Faste pauser", "der indføres faste pauser"),
        ):
            p = proposal_by_title(db, title)
            listing = (await chat.say(inger, "dagsorden"))["notice"]
            form = await chat.click(inger, triage_button(listing, p.id, "agenda"))
            await chat.submit(inger, form_data(form["form"]), {"recommendation": recommendation})
        [post] = [m for m in await chat.messages(hanne, nord) if "Tunge løft" in m["html"]]
        await chat.click(hanne, actions(post["html"])[0], message_id=post["id"], conversation=nord)

        with db.session() as s:
            meeting = s.scalars(
                select(Meeting).join(Committee).where(Committee.name == SOCIAL)
            ).one()
            meeting_id, release, starts = meeting.id, meeting.agenda_release, meeting.starts_at
        # One approval is not enough; a non-chair's approval is refused and changes nothing.
        refused = await chat.click(
            lars, Approve(m=meeting_id, v=agenda_version(db, meeting_id)).pack()
        )
        assert "Kun udvalgets formand og næstformand" in text_of(refused["notice"])
        before = last_outbox_id(db)
        await chat.click(inger, Approve(m=meeting_id, v=agenda_version(db, meeting_id)).pack())
        assert dm_rows(outbox_since(db, before)) == {bo: ["agenda.chair"]}
        publish_due_agendas(db, settings, release + dt.timedelta(minutes=1))
        assert not [r for r in outbox_since(db, before) if r[0] == "agenda.published"]
        before = last_outbox_id(db)
        await chat.click(bo, Approve(m=meeting_id, v=agenda_version(db, meeting_id)).pack())
        assert dm_rows(outbox_since(db, before)) == {inger: ["agenda.chair"]}

        # Not before the release date; then once, to the committee's and the served units' channels.
        publish_due_agendas(db, settings, release - dt.timedelta(minutes=1))
        assert not [r for r in outbox_since(db, before) if r[0] == "agenda.published"]
        publish_due_agendas(db, settings, release + dt.timedelta(minutes=1))
        publish_due_agendas(db, settings, release + dt.timedelta(minutes=2))
        published = [int(a) for p, k, a in outbox_since(db, before) if p == "agenda.published"]
        assert sorted(published) == sorted(
            [
                demo.unit("Eksempel Kommune/Social og Sundhed"),
                demo.unit(NORD),
                demo.unit("Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd"),
            ]
        )
        await chat.deliver()
        [agenda] = [m for m in await chat.messages(lars, nord) if "Dagsorden:" in m["html"]]
        text = text_of(agenda["html"])
        order = [
            text.index(s)
            for s in (
                "1. Godkendelse af dagsorden",
                "2. Godkendelse af referat fra sidste møde",
                "3. Tunge løft",
                "4. Faste pauser",
                "5. Eventuelt",
            )
        ]
        assert order == sorted(order)
        assert "Det indstilles, at der indkøbes flere personløftere" in text
        assert "Anonymt forslag" in text and "Foreslået af Anne Hansen" in text
        hides(soeren, demo, agenda["html"])
        mine = await chat.say(lars, "dagsorden")
        assert "3. Tunge løft" in text_of(mine["notice"])

        # After the meeting the chair records the decision; the vice-chair hears at once, the
        # proposer and supporter once both sides have approved the minutes.
        p = proposal_by_title(db, "Tunge løft")
        early = await chat.click(inger, Decide(p=p.id).pack())
        assert "ikke begyndt endnu" in text_of(early["notice"])
        follow_up = (starts + dt.timedelta(days=30)).astimezone(TZ).date()
        with time_machine.travel(starts + dt.timedelta(hours=3), tick=True):
            listing = (await chat.say(inger, "dagsorden"))["notice"]
            assert "Beslutninger fra mødet" in text_of(listing)
            for title, kind, reason in (
                ("Tunge løft", "adopted", "Der købes to løftere."),
                ("Faste pauser", "noted", "Ledelsen orienterer om pauser i januar."),
            ):
                q = proposal_by_title(db, title)
                assert Decide(p=q.id).pack() in actions(listing)
                form = await chat.click(inger, Decide(p=q.id).pack())
                before = last_outbox_id(db)
                reply = await chat.submit(
                    inger,
                    form_data(form["form"]),
                    {
                        "kind": kind,
                        "reason": reason,
                        "owner": "Inger Holm" if title == "Tunge løft" else "",
                        "follow_up": follow_up.isoformat() if title == "Tunge løft" else "",
                    },
                )
                hides(soeren, demo, json.dumps(reply, ensure_ascii=False))
                assert dm_rows(outbox_since(db, before)) == {bo: ["agenda.chair"]}
            listing = (await chat.say(inger, "dagsorden"))["notice"]
            [approve] = [a for a in actions(listing) if a.startswith(ApproveMinutes.kind)]
            before = last_outbox_id(db)
            await chat.click(inger, approve)
            await chat.click(bo, approve)
            told = dm_rows(outbox_since(db, before))
            assert told == {
                soeren: ["minutes.proposer"],
                anne: ["minutes.proposer"],
                hanne: ["minutes.supporter"],
                # Each side hears the other's approval.
                bo: ["agenda.chair"],
                inger: ["agenda.chair"],
            }
            await chat.deliver()
        assert "Der købes to løftere" in await dm_text(chat, soeren)
        assert "som du støttede" in await dm_text(chat, hanne)
        assert "Begrundelse: Der købes to løftere" in await dm_text(chat, hanne)

        # On the follow-up date the chairs are reminded, once.
        before = last_outbox_id(db)
        on_the_day = dt.datetime.combine(follow_up, dt.time(9, 0), tzinfo=TZ)
        remind_follow_ups(db, settings, on_the_day - dt.timedelta(days=1))
        assert outbox_since(db, before) == []
        remind_follow_ups(db, settings, on_the_day)
        remind_follow_ups(db, settings, on_the_day + dt.timedelta(minutes=1))
        assert dm_rows(outbox_since(db, before)) == {
            inger: ["agenda.follow_up"],
            bo: ["agenda.follow_up"],
        }


async def test_a_proposal_through_the_rep_is_presented_in_the_reps_name(
    db_url: str, demo: Org
) -> None:
    niels, bo, inger, lars = (
        demo["Niels Jørgensen"],
        demo["Bo Dahl"],
        demo["Inger Holm"],
        demo["Lars Pedersen"],
    )
    async with local_chat(db_url) as chat:
        db = chat.bot.db
        before = last_outbox_id(db)
        reply = await propose(chat, niels, title="Nattevagter", identity=f"rep:{bo}")
        assert "Bo Dahl" in text_of(reply["notice"])
        assert dm_rows(outbox_since(db, before)) == {
            bo: ["agenda.rep"],
            niels: ["agenda.proposer"],
        }
        await chat.deliver()
        # Not before the committee until the rep presents it.
        listing = (await chat.say(inger, "dagsorden"))["notice"]
        assert "Nattevagter" not in text_of(listing)
        [request] = [m for m in await chat.dm(bo) if "Nattevagter" in m["html"]]
        hides(niels, demo, request["html"])
        [present] = actions(request["html"])
        before = last_outbox_id(db)
        done = await chat.click(bo, present, message_id=request["id"])
        assert "i dit navn" in text_of(done["notice"])
        again = await chat.click(bo, present, message_id=request["id"])
        assert "allerede fremsat" in text_of(again["notice"])
        rows = outbox_since(db, before)
        assert dm_rows(rows) == {
            niels: ["agenda.proposer"],
            bo: ["agenda.proposer"],
            inger: ["agenda.alert"],
        }
        assert [a for p, k, a in rows if k == "unit"] == [str(demo.unit(NORD))]
        p = proposal_by_title(db, "Nattevagter")
        assert p.presenter_id == bo and p.status == "new"
        await chat.deliver()
        listing = await chat.say(inger, "dagsorden")
        assert "Fremsat af Bo Dahl (TR/AMR)" in text_of(listing["notice"])
        hides(niels, demo, json.dumps(listing, ensure_ascii=False))
        [post] = [
            m
            for m in await chat.messages(lars, f"unit:{demo.unit(NORD)}")
            if "Nattevagter" in m["html"]
        ]
        assert "Fremsat af Bo Dahl" in text_of(post["html"])
        hides(niels, demo, post["html"])
        # Somebody else cannot present it.
        assert p.id
        stranger = await chat.click(lars, present)
        assert "adgang" in text_of(stranger["notice"])


async def test_message_text_prefills_the_form(db_url: str, demo: Org) -> None:
    async with local_chat(db_url) as chat:
        opened = await chat.say(demo["Anne Hansen"], "forslag Stoleleje er i stykker\nDet gør ondt")
        form = opened["form"]
        assert 'value="Stoleleje er i stykker"' in form
        assert "Det gør ondt" in form


async def test_deadline_reminder_three_working_days_before(db_url: str, demo: Org) -> None:
    settings = Settings(DATABASE_URL=db_url)
    db = Database(db_url)
    with db.session() as s:
        meeting = s.scalars(select(Meeting).join(Committee).where(Committee.name == SOCIAL)).one()
        deadline, meeting_id = meeting.proposal_deadline, meeting.id

    day = working_days_before(deadline.astimezone(TZ).date(), 3)
    remind_at = dt.datetime.combine(day, dt.time(9, 0), tzinfo=TZ)
    remind_deadlines(db, settings, remind_at - dt.timedelta(minutes=1))
    with db.session() as s:
        assert not s.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == "agenda.reminder")
        ).all()
    remind_deadlines(db, settings, remind_at)
    remind_deadlines(db, settings, remind_at + dt.timedelta(hours=1))
    with db.session() as s:
        reminders = s.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == "agenda.reminder")
        ).all()
        social = {
            demo.unit("Eksempel Kommune/Social og Sundhed"),
            demo.unit(NORD),
            demo.unit("Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd"),
        }
        mine = [
            int(r.address)
            for r in reminders
            if r.dedupe_key.startswith(f"agenda:meeting:{meeting_id}:")
        ]
        assert sorted(mine) == sorted(social)
    db.dispose()


_ = TriageForm
