"""Issue 18, points 1 and 6: an agenda is approved by one person from each side, for the exact
version they saw, and then either may publish it at once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.core.config import Settings
from flows.agenda import Approve, PublishNow, publish_due_agendas
from storage.models import Approval, Committee, Meeting
from tests.fake_platform import FakeChat, fake_chat
from tests.test_agenda_e2e import (
    NORD,
    SOCIAL,
    Org,
    last_outbox_id,
    outbox_since,
    proposal_by_title,
    propose,
    triage_button,
)
from tests.worlds import agenda_demo

demo = pytest.fixture(agenda_demo, name="demo")


def social_meeting(chat: FakeChat) -> tuple[int, int, dt.datetime]:
    with chat.bot.db.session() as s:
        meeting = s.scalars(select(Meeting).join(Committee).where(Committee.name == SOCIAL)).one()
        return meeting.id, meeting.agenda_version, meeting.agenda_release


async def put_on_agenda(chat: FakeChat, chair: int, title: str) -> None:
    p = proposal_by_title(chat.bot.db, title)
    listing = (await chat.say(chair, "dagsorden")).notice
    form = await chat.click(chair, triage_button(listing, p.id, "agenda"))
    await chat.submit(chair, form.form.data, {"recommendation": "det vedtages"})


async def test_an_approval_is_of_the_version_seen_and_a_change_needs_both_again(
    db_url: str, demo: Org
) -> None:
    anne, niels, inger, bo = (
        demo["Anne Hansen"],
        demo["Søren Jensen"],
        demo["Inger Holm"],
        demo["Bo Dahl"],
    )
    settings = Settings(DATABASE_URL=db_url)
    async with fake_chat(db_url) as chat:
        await propose(chat, anne, title="Faste pauser")
        await propose(chat, niels, title="Tunge løft")
        await put_on_agenda(chat, inger, "Faste pauser")
        meeting_id, seen, release = social_meeting(chat)
        await chat.click(inger, Approve(m=meeting_id, v=seen).pack())
        # Bo changes the agenda: a new version, which Inger has not seen.
        await put_on_agenda(chat, bo, "Tunge løft")
        _, current, _ = social_meeting(chat)
        assert current != seen
        stale = await chat.click(bo, Approve(m=meeting_id, v=seen).pack())
        assert "ændret, siden du så den" in stale.notice.text
        await chat.click(bo, Approve(m=meeting_id, v=current).pack())
        publish_due_agendas(chat.bot.db, settings, release + dt.timedelta(minutes=1))
        assert not [r for r in outbox_since(chat.bot.db, 0) if r[0] == "agenda.published"]
        # Inger approves what she sees now; then it goes out on its release date.
        listing = (await chat.say(inger, "dagsorden")).notice
        assert Approve(m=meeting_id, v=current).pack() in listing.actions
        assert "Bo Dahl" in listing.text
        await chat.click(inger, Approve(m=meeting_id, v=current).pack())
        publish_due_agendas(chat.bot.db, settings, release + dt.timedelta(minutes=1))
        assert [r for r in outbox_since(chat.bot.db, 0) if r[0] == "agenda.published"]
        with chat.bot.db.session() as s:
            rows = s.scalars(select(Approval).order_by(Approval.id)).all()
            assert [(a.member_id, a.side, a.subject) for a in rows] == [
                (inger, "management", f"agenda:{meeting_id}:v{seen}"),
                (bo, "employee", f"agenda:{meeting_id}:v{current}"),
                (inger, "management", f"agenda:{meeting_id}:v{current}"),
            ]


async def test_publish_now_once_both_sides_approved(db_url: str, demo: Org) -> None:
    anne, inger, bo, lars = (
        demo["Anne Hansen"],
        demo["Inger Holm"],
        demo["Bo Dahl"],
        demo["Lars Pedersen"],
    )
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        await propose(chat, anne, title="Faste pauser")
        await put_on_agenda(chat, inger, "Faste pauser")
        meeting_id, version, _ = social_meeting(chat)
        early = await chat.click(inger, PublishNow(m=meeting_id, v=version).pack())
        assert "når én fra hver side" in early.notice.text
        first = await chat.click(inger, Approve(m=meeting_id, v=version).pack())
        assert PublishNow.kind not in " ".join(first.notice.actions)
        second = await chat.click(bo, Approve(m=meeting_id, v=version).pack())
        [publish_now] = [a for a in second.notice.actions if a.startswith(PublishNow.kind)]
        # The button is in the chair's view too; an outsider's click is refused.
        listing = (await chat.say(inger, "dagsorden")).notice
        assert publish_now in listing.actions
        refused = await chat.click(lars, publish_now)
        assert "Kun udvalgets formand og næstformand" in refused.notice.text
        before = last_outbox_id(db)
        done = await chat.click(inger, publish_now)
        assert "har udsendt dagsordenen" in done.notice.text
        published = [int(a) for p, k, a in outbox_since(db, before) if p == "agenda.published"]
        assert demo.unit(NORD) in published
        told = [(p, a) for p, k, a in outbox_since(db, before) if k == "member"]
        assert told == [("agenda.chair", str(bo))]
        again = await chat.click(bo, publish_now)
        assert "allerede udsendt" in again.notice.text
