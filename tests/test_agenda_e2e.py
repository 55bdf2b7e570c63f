"""The MED agenda end to end through the local web chat and the real CLI.

A proposal's whole life: the call for proposals, proposing in one's name and anonymously,
support from colleagues, triage each way by the chair, approval by both chairs, publication on
the release date, the outcome and its follow-up. Each step checks who was told (outbox rows
by address) and that nothing a chair sees names an anonymous proposer.
"""

from __future__ import annotations

import datetime as dt
import re

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
from flows.schedule import working_days_before
from storage.db import Database
from storage.models import (
    Committee,
    Meeting,
    OutboxMessage,
    Proposal,
    Support,
)
from tests.fake_platform import Answer, FakeChat, Shown, fake_chat
from tests.worlds import NORD, SOCIAL, TZ, Org, agenda_demo, meeting_day, set_meeting

# Re-exported for the agenda tests that import them from here.
__all__ = ["NORD", "SOCIAL", "TZ", "Org", "meeting_day", "set_meeting"]

demo = pytest.fixture(agenda_demo, name="demo")

# --- helpers ------------------------------------------------------------------------------


async def propose(
    chat: FakeChat, member: int, *, title: str, identity: str = "named", said: str = "forslag"
) -> Answer:
    opened = await chat.say(member, said)
    assert opened.form is not None, opened
    reply = await chat.submit(
        member,
        opened.form.data,
        {
            "title": title,
            "issue": f"{title}: sagen beskrevet",
            "why": "Det påvirker arbejdsmiljøet",
            "suggestion": "",
            "identity": identity,
        },
    )
    assert not reply.errors, reply
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


def triage_button(listing: Shown, proposal_id: int, step: str) -> str:
    wanted = Triage(p=proposal_id, s=step).pack()  # type: ignore[arg-type]
    assert wanted in listing.actions, f"no {step} button for {proposal_id}"
    return wanted


async def dm_text(chat: FakeChat, member: int) -> str:
    """Everything in the member's DM (delivery sends concurrently, so order is not kept)."""
    return "\n".join(m.text for m in await chat.dm(member))


def hides(person: int, org: Org, *shown: str | Shown | Answer) -> None:
    """None of what was shown names the person, shows their e-mail or their member id."""
    name = next(n for n, i in org.people.items() if i == person)
    for text in (s if isinstance(s, str) else s.raw for s in shown):
        assert name not in text
        assert org.emails[person] not in text
        assert f"member:{person}" not in text
        assert f'"member": {person}' not in text and f'"member":{person}' not in text


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
    async with fake_chat(db_url) as chat:
        rows = outbox_since(chat.bot.db, 0)
        calls = {int(a) for p, k, a in rows if p == "agenda.call"}
        assert calls == {
            demo.unit("Eksempel Kommune/Social og Sundhed"),
            demo.unit(NORD),
            demo.unit("Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd"),
        }
        await chat.deliver()
        [call] = await chat.messages(demo["Anne Hansen"], f"unit:{demo.unit(NORD)}")
        assert "Forslag til MED Social og Sundhed" in call.text
        # The button under the call opens the proposal form.
        [button] = call.actions
        reply = await chat.click(
            demo["Anne Hansen"],
            button,
            message_id=call.id,
            conversation=f"unit:{demo.unit(NORD)}",
        )
        assert "Hvorfor er det vigtigt" in reply.form.text


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
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        await chat.deliver()
        before = last_outbox_id(db)
        named = await propose(chat, anne, title="Faste pauser")
        assert re.search(r"MED-\d{4}-\d{3}", named.notice.text)
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

        posts = [m for m in await chat.messages(lars, nord) if "Tunge løft" in m.text]
        [anon_post] = posts
        assert "Anonymt forslag" in anon_post.text
        hides(soeren, demo, anon_post)
        [named_post] = [m for m in await chat.messages(lars, nord) if "Faste pauser" in m.text]
        assert "Foreslået af Anne Hansen" in named_post.text

        # Support is a toggle, one vote each, and the count on the post follows.
        [support] = anon_post.actions
        for expected in (1, 0, 1):
            reply = await chat.click(lars, support, message_id=anon_post.id, conversation=nord)
            assert reply.notice is not None
            [post] = [m for m in await chat.messages(lars, nord) if m.id == anon_post.id]
            assert f"støttet af {expected}" in post.text
        await chat.click(hanne, support, message_id=anon_post.id, conversation=nord)
        [named_support] = named_post.actions
        await chat.click(hanne, named_support, message_id=named_post.id, conversation=nord)
        with db.session() as s:
            assert s.query(Support).count() == 3

        # The chair's list: both proposals with counts, the anonymous one without a name.
        listing = await chat.say(inger, "dagsorden")
        notice = listing.notice
        text = notice.text
        assert "Faste pauser" in text and "Tunge løft" in text
        assert "Støttet af 2" in text
        hides(soeren, demo, listing)
        # Every form a chair can open on the anonymous proposal hides the proposer as well.
        p = proposal_by_title(db, "Tunge løft")
        for step in ("agenda", "merge", "answer", "decline"):
            opened = await chat.click(inger, triage_button(notice, p.id, step))
            assert opened.form is not None
            hides(soeren, demo, opened)
        # A member who is not a chair sees the next meeting's date instead.
        mine = await chat.say(lars, "dagsorden")
        assert "Næste møde er" in mine.notice.text
        assert not [a for a in mine.notice.actions if a.startswith("agenda.triage")]
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
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        await propose(chat, anne, title="Andet forslag")
        await propose(chat, soeren, title="Vagtplanen", identity="anonymous")
        p = proposal_by_title(db, "Vagtplanen")
        before = last_outbox_id(db)
        listing = (await chat.say(bo, "dagsorden")).notice
        reply = await chat.click(bo, triage_button(listing, p.id, step))
        if step != "later":
            values = {
                "agenda": {"recommendation": "vagtplanen lægges fire uger frem"},
                "merge": {"target": str(proposal_by_title(db, "Andet forslag").id)},
                "answer": {"text": "Det er allerede besluttet i LMU."},
                "decline": {"text": "Hører under arbejdsmiljøgruppen."},
            }[step]
            reply = await chat.submit(bo, reply.form.data, values)
        assert not reply.errors
        hides(soeren, demo, reply)
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
                if "Vagtplanen" in m.text
            ]
            assert posts and not posts[0].actions


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
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        await propose(chat, anne, title="Faste pauser")
        await propose(chat, soeren, title="Tunge løft", identity="anonymous")
        await chat.deliver()
        for title, recommendation in (
            ("Tunge løft", "der indkøbes flere personløftere"),
            ("Faste pauser", "der indføres faste pauser"),
        ):
            p = proposal_by_title(db, title)
            listing = (await chat.say(inger, "dagsorden")).notice
            form = await chat.click(inger, triage_button(listing, p.id, "agenda"))
            await chat.submit(inger, form.form.data, {"recommendation": recommendation})
        [post] = [m for m in await chat.messages(hanne, nord) if "Tunge løft" in m.text]
        await chat.click(hanne, post.actions[0], message_id=post.id, conversation=nord)

        with db.session() as s:
            meeting = s.scalars(
                select(Meeting).join(Committee).where(Committee.name == SOCIAL)
            ).one()
            meeting_id, release, starts = meeting.id, meeting.agenda_release, meeting.starts_at
        # One approval is not enough; a non-chair's approval is refused and changes nothing.
        refused = await chat.click(
            lars, Approve(m=meeting_id, v=agenda_version(db, meeting_id)).pack()
        )
        assert "Kun udvalgets formand og næstformand" in refused.notice.text
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
        [agenda] = [m for m in await chat.messages(lars, nord) if "Dagsorden:" in m.text]
        text = agenda.text
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
        hides(soeren, demo, agenda)
        mine = await chat.say(lars, "dagsorden")
        assert "3. Tunge løft" in mine.notice.text

        # After the meeting the chair records the decision; the vice-chair hears at once, the
        # proposer and supporter once both sides have approved the minutes.
        p = proposal_by_title(db, "Tunge løft")
        early = await chat.click(inger, Decide(p=p.id).pack())
        assert "ikke begyndt endnu" in early.notice.text
        follow_up = (starts + dt.timedelta(days=30)).astimezone(TZ).date()
        with time_machine.travel(starts + dt.timedelta(hours=3), tick=True):
            listing = (await chat.say(inger, "dagsorden")).notice
            assert "Beslutninger fra mødet" in listing.text
            for title, kind, reason in (
                ("Tunge løft", "adopted", "Der købes to løftere."),
                ("Faste pauser", "noted", "Ledelsen orienterer om pauser i januar."),
            ):
                q = proposal_by_title(db, title)
                assert Decide(p=q.id).pack() in listing.actions
                form = await chat.click(inger, Decide(p=q.id).pack())
                before = last_outbox_id(db)
                reply = await chat.submit(
                    inger,
                    form.form.data,
                    {
                        "kind": kind,
                        "reason": reason,
                        "owner": "Inger Holm" if title == "Tunge løft" else "",
                        "follow_up": follow_up.isoformat() if title == "Tunge løft" else "",
                    },
                )
                hides(soeren, demo, reply)
                assert dm_rows(outbox_since(db, before)) == {bo: ["agenda.chair"]}
            listing = (await chat.say(inger, "dagsorden")).notice
            [approve] = [a for a in listing.actions if a.startswith(ApproveMinutes.kind)]
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
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        before = last_outbox_id(db)
        reply = await propose(chat, niels, title="Nattevagter", identity=f"rep:{bo}")
        assert "Bo Dahl" in reply.notice.text
        assert dm_rows(outbox_since(db, before)) == {
            bo: ["agenda.rep"],
            niels: ["agenda.proposer"],
        }
        await chat.deliver()
        # Not before the committee until the rep presents it.
        listing = (await chat.say(inger, "dagsorden")).notice
        assert "Nattevagter" not in listing.text
        [request] = [m for m in await chat.dm(bo) if "Nattevagter" in m.text]
        hides(niels, demo, request)
        [present] = request.actions
        before = last_outbox_id(db)
        done = await chat.click(bo, present, message_id=request.id)
        assert "i dit navn" in done.notice.text
        again = await chat.click(bo, present, message_id=request.id)
        assert "allerede fremsat" in again.notice.text
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
        assert "Fremsat af Bo Dahl (TR/AMR)" in listing.notice.text
        hides(niels, demo, listing)
        [post] = [
            m
            for m in await chat.messages(lars, f"unit:{demo.unit(NORD)}")
            if "Nattevagter" in m.text
        ]
        assert "Fremsat af Bo Dahl" in post.text
        hides(niels, demo, post)
        # Somebody else cannot present it.
        assert p.id
        stranger = await chat.click(lars, present)
        assert "adgang" in stranger.notice.text


async def test_message_text_prefills_the_form(db_url: str, demo: Org) -> None:
    async with fake_chat(db_url) as chat:
        opened = await chat.say(demo["Anne Hansen"], "forslag Stoleleje er i stykker\nDet gør ondt")
        assert opened.form is not None
        assert opened.form.values["title"] == "Stoleleje er i stykker"
        assert "Det gør ondt" in opened.form.values["issue"]


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
