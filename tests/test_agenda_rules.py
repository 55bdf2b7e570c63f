"""The agenda's rules: deadlines to the minute, who may triage, meetings from chat, the exports,
and "Bring to MED" from a pulse summary."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pytest
import time_machine
from sqlalchemy import func, select

from flows.agenda import Approve, BringToMed, MeetingForm, Triage, TriageForm
from flows.decisions import ApproveMinutes, Decide, DecideForm, PassForm, PassOn
from storage.db import Database
from storage.models import (
    Approval,
    AuditEntry,
    Committee,
    Meeting,
    PulseRound,
)
from tests.cli import cli
from tests.fake_platform import FakeChat, fake_chat
from tests.test_agenda_e2e import (
    NORD,
    SOCIAL,
    Org,
    dm_rows,
    last_outbox_id,
    outbox_since,
    proposal_by_title,
    propose,
    triage_button,
)

TZ = ZoneInfo("Europe/Copenhagen")
FIRST = dt.datetime(2027, 3, 10, 13, 0, tzinfo=TZ)
SECOND = dt.datetime(2027, 4, 14, 13, 0, tzinfo=TZ)


def add_meeting(db_url: str, starts: dt.datetime) -> None:
    code, out = cli(
        db_url, "meeting", "add", "--committee", SOCIAL, "--date", f"{starts:%Y-%m-%dT%H:%M}"
    )
    assert code == 0, out


@pytest.fixture
def org(db_url: str) -> Iterator[Org]:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    yield Org(db_url)


def meeting_of(db: Database, title: str) -> dt.datetime | None:
    p = proposal_by_title(db, title)
    with db.session() as s:
        meeting = s.get(Meeting, p.meeting_id) if p.meeting_id else None
        return meeting.starts_at if meeting else None


# --- deadlines ----------------------------------------------------------------------------


def agenda_version(db: Database, meeting_id: int) -> int:
    """The version of the agenda a chair sees now (approvals are of one version)."""
    with db.session() as s:
        meeting = s.get(Meeting, meeting_id)
        assert meeting is not None
        return meeting.agenda_version


async def test_one_minute_before_the_deadline_goes_to_that_meeting(db_url: str, org: Org) -> None:
    add_meeting(db_url, FIRST)
    add_meeting(db_url, SECOND)
    deadline = FIRST - dt.timedelta(days=14)
    async with fake_chat(db_url) as chat:
        with time_machine.travel(deadline - dt.timedelta(minutes=1), tick=True):
            reply = await propose(chat, org["Anne Hansen"], title="Lige i tide")
        assert meeting_of(chat.bot.db, "Lige i tide") == FIRST
        assert "10. marts 2027" in reply.notice.text
        assert "overskredet" not in reply.notice.text


async def test_one_minute_after_the_deadline_goes_to_the_following_meeting(
    db_url: str, org: Org
) -> None:
    add_meeting(db_url, FIRST)
    add_meeting(db_url, SECOND)
    deadline = FIRST - dt.timedelta(days=14)
    async with fake_chat(db_url) as chat:
        with time_machine.travel(deadline + dt.timedelta(minutes=1), tick=True):
            reply = await propose(chat, org["Anne Hansen"], title="For sent")
        assert meeting_of(chat.bot.db, "For sent") == SECOND
        text = reply.notice.text
        assert "14. april 2027" in text
        assert "Fristen for mødet onsdag 10. marts 2027 kl. 13:00 er overskredet" in text


async def test_after_the_last_deadline_a_proposal_waits_for_the_next_meeting(
    db_url: str, org: Org
) -> None:
    add_meeting(db_url, FIRST)
    anne = org["Anne Hansen"]
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        with time_machine.travel(
            FIRST - dt.timedelta(days=14) + dt.timedelta(minutes=1), tick=True
        ):
            reply = await propose(chat, anne, title="Venter")
            assert "du får besked" in reply.notice.text
            assert meeting_of(db, "Venter") is None
            before = last_outbox_id(db)
            add_meeting(db_url, SECOND)
            assert meeting_of(db, "Venter") == SECOND
            assert dm_rows(outbox_since(db, before)) == {anne: ["agenda.proposer"]}
            await chat.deliver()
        texts = [m.text for m in await chat.dm(anne)]
        assert any("behandles til mødet onsdag 14. april 2027" in t for t in texts)


# --- permissions --------------------------------------------------------------------------


async def test_a_non_chair_pressing_triage_buttons_is_refused_and_nothing_changes(
    db_url: str, org: Org
) -> None:
    add_meeting(db_url, FIRST)
    lars, ole, anne = org["Lars Pedersen"], org["Ole Vestergaard"], org["Anne Hansen"]
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        await propose(chat, anne, title="Et forslag")
        await propose(chat, anne, title="Et andet")
        p = proposal_by_title(db, "Et forslag")
        other = proposal_by_title(db, "Et andet")
        with db.session() as s:
            meeting = s.scalars(
                select(Meeting).join(Committee).where(Committee.name == SOCIAL)
            ).one()
            meeting_id = meeting.id
        before = last_outbox_id(db)
        forged_values = {
            "agenda": {"recommendation": "x"},
            "later": {},
            "merge": {"target": str(other.id)},
            "answer": {"text": "x"},
            "decline": {"text": "x"},
        }
        refusals = 0
        # Ole chairs another committee (Hoved-MED): that gives him nothing here.
        for who in (lars, ole):
            for step, values in forged_values.items():
                clicked = await chat.click(who, Triage(p=p.id, s=step).pack())  # type: ignore[arg-type]
                assert "Kun udvalgets formand og næstformand" in clicked.notice.text
                assert clicked.form is None
                submitted = await chat.submit(
                    who,
                    TriageForm(p=p.id, s=step).pack(),  # type: ignore[arg-type]
                    values,
                )
                assert "Kun udvalgets formand og næstformand" in submitted.notice.text
                refusals += 2
            approved = await chat.click(
                who, Approve(m=meeting_id, v=agenda_version(db, meeting_id)).pack()
            )
            assert "Kun udvalgets formand og næstformand" in approved.notice.text
            meeting_form = await chat.submit(
                who, MeetingForm(c=p.committee_id).pack(), {"starts_at": "2027-05-01T13:00"}
            )
            assert "Kun udvalgets formand og næstformand" in meeting_form.notice.text
            refusals += 2
            # Decisions, minutes and passing a proposal on are the chairs' too (issue 18).
            for forged in (
                await chat.click(who, Decide(p=p.id).pack()),
                await chat.submit(
                    who, DecideForm(p=p.id).pack(), {"kind": "adopted", "reason": "x"}
                ),
                await chat.click(who, ApproveMinutes(m=meeting_id, v=1).pack()),
                await chat.click(who, PassOn(p=p.id).pack()),
                await chat.submit(who, PassForm(p=p.id).pack(), {"target": "1", "reason": "x"}),
            ):
                assert "Kun udvalgets formand og næstformand" in forged.notice.text
                refusals += 1
        lars_meeting = await chat.say(lars, "møde")
        assert lars_meeting.form is None
        refusals += 1
        after = proposal_by_title(db, "Et forslag")
        assert (after.status, after.meeting_id, after.recommendation, after.response) == (
            p.status,
            p.meeting_id,
            p.recommendation,
            p.response,
        )
        assert proposal_by_title(db, "Et andet").status == "new"
        assert outbox_since(db, before) == []
        with db.session() as s:
            m = s.get(Meeting, meeting_id)
            assert m is not None
            assert s.scalars(select(Approval)).all() == []
            assert s.scalar(select(func.count()).select_from(Meeting)) == 2
            refused = s.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.allowed.is_(False))
            )
            assert refused == refusals
        # The same button pressed by the chair works.
        listing = (await chat.say(org["Inger Holm"], "dagsorden")).notice
        done = await chat.click(org["Inger Holm"], triage_button(listing, p.id, "later"))
        assert done.notice is not None and proposal_by_title(db, "Et forslag").status == "later"


# --- meetings from chat -------------------------------------------------------------------


async def test_the_chair_sets_a_meeting_in_chat_with_the_committee_defaults(
    db_url: str, org: Org
) -> None:
    inger, bo = org["Inger Holm"], org["Bo Dahl"]
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        opened = await chat.say(inger, "møde")
        before = last_outbox_id(db)
        reply = await chat.submit(
            inger,
            opened.form.data,
            {"starts_at": "2027-01-20T13:00", "place": "https://teams.example/med"},
        )
        assert "20. januar 2027" in reply.notice.text
        with db.session() as s:
            meeting = s.scalars(
                select(Meeting).join(Committee).where(Committee.name == SOCIAL)
            ).one()
            assert meeting.place == "https://teams.example/med"
            assert meeting.starts_at - meeting.proposal_deadline == dt.timedelta(days=14)
            assert meeting.starts_at - meeting.agenda_release == dt.timedelta(days=7)
        rows = outbox_since(db, before)
        assert dm_rows(rows) == {bo: ["agenda.chair"]}
        assert sorted(int(a) for p, k, a in rows if p == "agenda.call") == sorted(
            [
                org.unit("Eksempel Kommune/Social og Sundhed"),
                org.unit(NORD),
                org.unit("Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd"),
            ]
        )
        bad = await chat.submit(inger, opened.form.data, {"starts_at": "i morgen"})
        assert "starts_at" in bad.errors


def test_meeting_add_rejects_an_unknown_committee_in_one_line(db_url: str, org: Org) -> None:
    code, out = cli(
        db_url, "meeting", "add", "--committee", "Findes ikke", "--date", "2027-01-20T13:00"
    )
    assert code == 2 and out.strip() == "error: unknown committee 'Findes ikke'"
    code, out = cli(db_url, "meeting", "add", "--committee", SOCIAL, "--date", "snart")
    assert code == 2 and "Traceback" not in out


# --- exports ------------------------------------------------------------------------------


async def _agenda_with_items(db_url: str, org: Org, titles: list[str]) -> None:
    add_meeting(db_url, FIRST)
    inger = org["Inger Holm"]
    async with fake_chat(db_url) as chat:
        for i, title in enumerate(titles):
            await propose(
                chat, org["Anne Hansen"], title=title, identity="anonymous" if i == 1 else "named"
            )
        # Put on in reverse order: the agenda follows the order they were put on.
        for title in reversed(titles):
            p = proposal_by_title(chat.bot.db, title)
            listing = (await chat.say(inger, "dagsorden")).notice
            form = await chat.click(inger, triage_button(listing, p.id, "agenda"))
            await chat.submit(inger, form.form.data, {"recommendation": f"{title} vedtages"})


async def test_the_docx_export_holds_every_item_in_order(
    db_url: str, org: Org, tmp_path: Path
) -> None:
    titles = ["Arbejdstider", "Kørsel", "Uddannelse"]
    await _agenda_with_items(db_url, org, titles)
    out = tmp_path / "dagsorden.docx"
    code, said = cli(
        db_url, "agenda", "export", "--committee", SOCIAL, "--format", "docx", "--out", str(out)
    )
    assert code == 0, said
    document = docx.Document(str(out))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading 1")]
    assert headings == [
        "1. Godkendelse af dagsorden",
        "2. Godkendelse af referat fra sidste møde",
        "3. Uddannelse",
        "4. Kørsel",
        "5. Arbejdstider",
        "6. Eventuelt",
    ]
    body = "\n".join(p.text for p in document.paragraphs)
    assert "Det indstilles, at Kørsel vedtages" in body
    assert "Anonymt forslag" in body and "Anne Hansen" in body
    assert body.count("Beslutning:") == 5


async def test_the_markdown_export(db_url: str, org: Org, tmp_path: Path) -> None:
    await _agenda_with_items(db_url, org, ["Arbejdstider", "Kørsel"])
    out = tmp_path / "dagsorden.md"
    code, said = cli(
        db_url, "agenda", "export", "--committee", SOCIAL, "--format", "md", "--out", str(out)
    )
    assert code == 0, said
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Dagsorden: MED Social og Sundhed, 10. marts 2027")
    positions = [
        text.index(h)
        for h in ("## 1. ", "## 2. ", "## 3. Kørsel", "## 4. Arbejdstider", "## 5. Eventuelt")
    ]
    assert positions == sorted(positions)
    assert "Udkast" in text
    code, said = cli(
        db_url, "agenda", "export", "--committee", "Hoved-MED", "--format", "pdf", "--out", str(out)
    )
    assert code == 2


# --- Bring to MED -------------------------------------------------------------------------


async def _round_with_answers(db_url: str, org: Org, chat: FakeChat, answering: int) -> int:
    code, out = cli(db_url, "pulse", "run-now", "--unit", NORD)
    assert code == 0, out
    await chat.deliver()
    nord = [
        org[n]
        for n in (
            "Søren Jensen",
            "Anne Hansen",
            "Lars Pedersen",
            "Kirsten Andersen",
            "Jens Christensen",
            "Hanne Larsen",
            "Peter Sørensen",
        )
    ]
    for member in nord[:answering]:
        [msg] = await chat.dm(member)
        for packed in msg.actions:
            if packed.startswith("pulse.answer|") and json.loads(packed.split("|", 1)[1])["v"] == 4:
                await chat.click(member, packed, message_id=msg.id)
    code, out = cli(db_url, "pulse", "close-now", "--unit", NORD)
    assert code == 0, out
    with chat.bot.db.session() as s:
        return int(s.scalars(select(PulseRound.id)).one())


async def test_bring_to_med_prefills_the_published_figure(db_url: str, org: Org) -> None:
    add_meeting(db_url, FIRST)
    async with fake_chat(db_url) as chat:
        round_id = await _round_with_answers(db_url, org, chat, answering=6)
        with chat.bot.db.session() as s:
            r = s.get(PulseRound, round_id)
            assert r is not None
            question = r.questions[0].question_id
            unit = r.unit_id
        packed = BringToMed(u=unit, q=question, r=round_id).pack()
        opened = await chat.click(org["Anne Hansen"], packed)
        form = opened.form.text
        assert "4,0 af 5 (score 75, 6 svar)" in form
        assert "Pulsmålingen i Hjemmeplejen Nord" in form
        reply = await chat.submit(
            org["Anne Hansen"],
            opened.form.data,
            {"title": "Fra pulsen", "issue": "Tallene", "why": "Trivsel", "identity": "named"},
        )
        assert "MED-" in reply.notice.text
        # Someone from another part of the organisation cannot use the round.
        refused = await chat.click(org["Maria Mortensen"], packed)
        assert "adgang" in refused.notice.text
        # Forged ids change nothing and open nothing.
        forged = await chat.click(
            org["Anne Hansen"], BringToMed(u=unit + 1, q=question, r=round_id).pack()
        )
        assert forged.form is None


async def test_bring_to_med_shows_no_figure_below_the_threshold(db_url: str, org: Org) -> None:
    async with fake_chat(db_url) as chat:
        round_id = await _round_with_answers(db_url, org, chat, answering=4)
        with chat.bot.db.session() as s:
            r = s.get(PulseRound, round_id)
            assert r is not None
            question, unit = r.questions[0].question_id, r.unit_id
        opened = await chat.click(
            org["Anne Hansen"], BringToMed(u=unit, q=question, r=round_id).pack()
        )
        form = opened.form.text
        assert "Pulsmålingen i Hjemmeplejen Nord" in form
        assert "af 5" not in form and "svar)" not in form
