"""Issue 13, finding 5: threshold governance cannot be bypassed by one person.

Each test is an attack tried as a chair would: a bait-and-switch of approval messages, a local
threshold set under an ancestor committee's, a comment hidden by one side alone, and one person
holding both chairs. Driven through the real core and CLI on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import holidays
import pytest
from sqlalchemy import select

from bot.app.wiring import Bot
from bot.core.events import Actor, ButtonClicked, CommandInvoked, Conversation
from bot.core.messages import Buttons, Message, Reply
from flows.agenda import Approve, publish_due_agendas
from flows.governance import ThresholdApprove
from storage.db import Database
from storage.models import (
    Committee,
    Meeting,
    Member,
    Membership,
    OutboxMessage,
    PulseRound,
    ThresholdChange,
    Unit,
)
from tests.cli import cli
from tests.worlds import demo_bot

bot = pytest.fixture(demo_bot, name="bot")

TOP = "Eksempel Kommune"
SOCIAL = f"{TOP}/Social og Sundhed"
NORD = f"{SOCIAL}/Hjemmeplejen Nord"


def member_id(bot: Bot, name: str) -> int:
    with bot.db.session() as s:
        return s.scalars(select(Member.id).where(Member.name == name)).one()


def _text(reply: Reply) -> str:
    message = reply.notice or reply.update
    assert message is not None
    return " ".join([message.summary, *(getattr(p, "text", "") for p in message.parts)])


def say(bot: Bot, name: str, text: str) -> str:
    who = str(member_id(bot, name))
    return _text(
        bot.core.handle_sync(
            CommandInvoked(
                actor=Actor("local", who),
                conversation=Conversation("local", f"member:{who}"),
                text=text,
            )
        )
    )


def click(bot: Bot, name: str, data: str) -> str:
    who = str(member_id(bot, name))
    return _text(
        bot.core.handle_sync(ButtonClicked(actor=Actor("local", who), conversation=None, data=data))
    )


def committee(bot: Bot, name: str = "MED Social og Sundhed") -> Committee:
    with bot.db.session() as s:
        return s.scalars(select(Committee).where(Committee.name == name)).one()


def outbox(bot: Bot, purpose: str) -> list[OutboxMessage]:
    with bot.db.session() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == purpose)
                .order_by(OutboxMessage.id)
            )
        )


def shown(row: OutboxMessage) -> tuple[str, list[str]]:
    message = Message.model_validate(row.payload)
    buttons = [b.data for p in message.parts if isinstance(p, Buttons) for b in p.buttons]
    return message.summary, buttons


def open_round_threshold(bot: Bot, path: str) -> tuple[int, int]:
    with bot.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.path == path)).one()
        r = s.scalars(
            select(PulseRound).where(PulseRound.unit_id == unit.id, PulseRound.closed_at.is_(None))
        ).one()
        return r.min_group_size, r.min_comment_group_size


def give_roles(bot: Bot, name: str, path: str, roles: str) -> None:
    """State an older installation may hold (roles written before the import refused them)."""
    with bot.db.session() as s:
        member = s.scalars(select(Member).where(Member.name == name)).one()
        unit = s.scalars(select(Unit).where(Unit.path == path)).one()
        ms = s.scalars(
            select(Membership).where(
                Membership.member_id == member.id, Membership.unit_id == unit.id
            )
        ).one()
        ms.roles = roles


# --- bait and switch ------------------------------------------------------------------------


def test_bait_and_switch_the_approval_shown_is_the_only_thing_it_approves(bot: Bot) -> None:
    # Karen chairs Hoved-MED, Ole is its vice-chair.
    say(bot, "Karen Lund", "grænse svar 4")
    say(bot, "Karen Lund", "grænse svar 3")
    asks = outbox(bot, "governance.approval")
    # The second request reaches the vice-chair with its own message, saying 3.
    assert len(asks) == 2
    (first_text, first_buttons), (second_text, second_buttons) = map(shown, asks)
    assert "ned til 4" in first_text and "ned til 3" in second_text
    # Approving the message that says 4 puts nothing into force: that request was replaced.
    assert "erstattet" in click(bot, "Ole Vestergaard", first_buttons[0])
    assert committee(bot, "Hoved-MED").min_group_size is None
    assert "Godkendt" in click(bot, "Ole Vestergaard", second_buttons[0])
    assert committee(bot, "Hoved-MED").min_group_size == 3


def test_a_request_after_a_rejection_gets_its_own_id_and_message(bot: Bot) -> None:
    say(bot, "Karen Lund", "grænse svar 4")
    [ask] = outbox(bot, "governance.approval")
    assert "Afvist" in click(bot, "Ole Vestergaard", shown(ask)[1][1])
    say(bot, "Karen Lund", "grænse svar 3")
    first, second = outbox(bot, "governance.approval")
    assert "ned til 3" in shown(second)[0]
    with bot.db.session() as s:
        ids = sorted(s.scalars(select(ThresholdChange.id)))
    assert len(ids) == 2 and ids[0] != ids[1]
    # The old message's buttons stay dead.
    assert "afgjort" in click(bot, "Ole Vestergaard", shown(first)[1][0])
    assert committee(bot, "Hoved-MED").min_group_size is None


def test_a_button_altered_to_another_value_approves_nothing(bot: Bot) -> None:
    say(bot, "Karen Lund", "grænse svar 4")
    [ask] = outbox(bot, "governance.approval")
    with bot.db.session() as s:
        change = s.scalars(select(ThresholdChange)).one()
        forged = ThresholdApprove(c=change.id, k="score", v=3).pack()
    assert "afgjort" in click(bot, "Ole Vestergaard", forged)
    assert committee(bot, "Hoved-MED").min_group_size is None
    assert "Godkendt" in click(bot, "Ole Vestergaard", shown(ask)[1][0])
    assert committee(bot, "Hoved-MED").min_group_size == 4


# --- never below an ancestor committee -------------------------------------------------------


def test_a_local_committee_never_goes_below_hoved_med_field_by_field(bot: Bot, db_url: str) -> None:
    assert "er nu 8" in say(bot, "Karen Lund", "grænse svar 8 Hoved-MED")
    assert "er nu 12" in say(bot, "Inger Holm", "grænse kommentar 12")
    assert cli(db_url, "pulse", "run-now", "--unit", NORD)[0] == 0
    assert open_round_threshold(bot, NORD) == (8, 12)
    assert "mindst 8" in say(bot, "Inger Holm", "grænse")
    # Asking for less than Hoved-MED's 8 is refused outright; nothing goes to the vice-chair.
    assert "Hoved-MED" in say(bot, "Inger Holm", "grænse svar 6")
    assert outbox(bot, "governance.approval") == []


def test_an_ancestor_raising_later_lifts_a_lower_local_threshold(bot: Bot, db_url: str) -> None:
    assert "er nu 6" in say(bot, "Inger Holm", "grænse svar 6")
    assert "er nu 9" in say(bot, "Karen Lund", "grænse svar 9 Hoved-MED")
    assert cli(db_url, "pulse", "run-now", "--unit", NORD)[0] == 0
    assert open_round_threshold(bot, NORD)[0] == 9


# --- one person, both chairs ------------------------------------------------------------------


def test_one_person_holding_both_chairs_cannot_approve_an_agenda_alone(
    bot: Bot, db_url: str
) -> None:
    give_roles(bot, "Inger Holm", SOCIAL, "leader;chair;vice_chair")
    starts = f"{workday(30):%Y-%m-%d}T13:00"
    code, out = cli(
        db_url, "meeting", "add", "--committee", "MED Social og Sundhed", "--date", starts
    )
    assert code == 0, out
    inger = str(member_id(bot, "Inger Holm"))
    for _ in range(2):
        listing = bot.core.handle_sync(
            CommandInvoked(
                actor=Actor("local", inger),
                conversation=Conversation("local", f"member:{inger}"),
                text="dagsorden",
            )
        )
        assert listing.notice is not None
        [approve] = [
            b.data
            for p in listing.notice.parts
            if isinstance(p, Buttons)
            for b in p.buttons
            if b.data.startswith(Approve.kind)
        ]
        click(bot, "Inger Holm", approve)
    with bot.db.session() as s:
        meeting = s.scalars(
            select(Meeting).join(Committee).where(Committee.name == "MED Social og Sundhed")
        ).one()
        # Her release date has come: were the agenda approved by both, it would go out now.
        release = meeting.agenda_release
    publish_due_agendas(bot.db, bot.settings, release + dt.timedelta(minutes=1))
    assert outbox(bot, "agenda.published") == []


def test_one_person_holding_both_chairs_cannot_lower_a_threshold_alone(bot: Bot) -> None:
    give_roles(bot, "Inger Holm", SOCIAL, "leader;chair;vice_chair")
    give_roles(bot, "Bo Dahl", SOCIAL, "rep")
    assert "er nu 7" in say(bot, "Inger Holm", "grænse svar 7")
    assert "næstformanden" in say(bot, "Inger Holm", "grænse svar 6")
    # The request goes to the employee side's other person (Bo, a representative), not to her.
    [ask] = outbox(bot, "governance.approval")
    assert ask.address == str(member_id(bot, "Bo Dahl"))
    approve = shown(ask)[1][0]
    assert "ikke dig" in click(bot, "Inger Holm", approve)
    assert committee(bot).min_group_size == 7
    assert "Godkendt" in click(bot, "Bo Dahl", approve)
    assert committee(bot).min_group_size == 6


def test_an_import_giving_one_person_both_chairs_is_refused_naming_the_row(
    db_url: str, tmp_path: Path
) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    csv = tmp_path / "members.csv"
    csv.write_text(
        "unit_path,email,name,role\n"
        f"{SOCIAL},ny@eksempel.dk,Ny Person,member\n"
        f"{SOCIAL},inger.holm@eksempel.dk,Inger Holm,leader;chair;vice_chair\n",
        encoding="utf-8",
    )
    code, out = cli(db_url, "org", "import-members", str(csv))
    assert code == 2
    lines = [line for line in out.strip().splitlines() if line]
    assert len(lines) == 1
    assert "row 3, column role" in lines[0] and "chair" in lines[0] and "vice_chair" in lines[0]
    db = Database(db_url)
    with db.session() as s:
        assert s.scalars(select(Member).where(Member.email == "ny@eksempel.dk")).first() is None
    db.dispose()


def workday(days: int) -> dt.date:
    """A Danish working day at least `days` ahead (no weekend, no public holiday)."""
    dk = holidays.country_holidays("DK")
    day = dt.date.today() + dt.timedelta(days=days)
    while day.weekday() >= 5 or day in dk:
        day += dt.timedelta(days=1)
    return day


def test_a_persons_approvals_are_in_their_gdpr_export(bot: Bot, db_url: str) -> None:
    say(bot, "Karen Lund", "grænse svar 4")
    [ask] = outbox(bot, "governance.approval")
    click(bot, "Ole Vestergaard", shown(ask)[1][0])
    code, out = cli(db_url, "gdpr", "export", "--email", "ole.vestergaard@eksempel.dk")
    assert code == 0, out
    [signed] = json.loads(out)["approvals"]
    assert (signed["committee"], signed["side"]) == ("Hoved-MED", "employee")
    assert signed["approved"].endswith(":score=4")
