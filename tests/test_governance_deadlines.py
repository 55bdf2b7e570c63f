"""Issue 18, point 3: meeting dates that respect the Danish calendar, and each committee's own
deadlines, set at the command line or in chat by both sides together."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app.wiring import Bot
from bot.core.i18n import translator
from flows.agenda import MeetingForm, off_day_reason
from flows.governance import DeadlinesApprove
from storage.models import Committee, Meeting
from tests.cli import cli
from tests.fake_platform import fake_chat
from tests.test_governance_bypass import click, committee, member_id, outbox, say, shown
from tests.worlds import demo_bot

bot = pytest.fixture(demo_bot, name="bot")

TZ = ZoneInfo("Europe/Copenhagen")
SOCIAL = "MED Social og Sundhed"


def meetings(bot: Bot) -> list[Meeting]:
    with bot.db.session() as s:
        return list(s.scalars(select(Meeting).join(Committee).where(Committee.name == SOCIAL)))


def test_the_danish_calendar_names_the_days_off() -> None:
    da, en = translator("da"), translator("en")
    assert off_day_reason(dt.date(2027, 12, 25), da) == "Juledag"
    assert off_day_reason(dt.date(2027, 12, 25), en) == "Christmas Day"
    assert off_day_reason(dt.date(2027, 1, 1), da) == "Nytårsdag"
    assert off_day_reason(dt.date(2027, 12, 24), da) == "Juleaftensdag"
    assert off_day_reason(dt.date(2027, 3, 13), da) == "weekend"
    assert off_day_reason(dt.date(2027, 3, 10), da) is None


def test_the_demo_meeting_is_on_a_working_day(bot: Bot) -> None:
    with bot.db.session() as s:
        [meeting] = s.scalars(select(Meeting)).all()
        day = meeting.starts_at.astimezone(TZ).date()
    assert off_day_reason(day, translator("da")) is None


def test_a_meeting_on_a_holiday_at_the_command_line_needs_off_day(bot: Bot, db_url: str) -> None:
    code, out = cli(db_url, "meeting", "add", "--committee", SOCIAL, "--date", "2027-12-25T13:00")
    assert code == 2
    assert len(out.strip().splitlines()) == 1
    assert "Christmas Day" in out and "--off-day" in out
    assert meetings(bot) == []
    code, out = cli(
        db_url, "meeting", "add", "--committee", SOCIAL, "--date", "2027-12-25T13:00", "--off-day"
    )
    assert code == 0, out
    assert len(meetings(bot)) == 1


async def test_a_meeting_on_a_holiday_or_weekend_in_chat_needs_a_tick(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            social = s.scalars(select(Committee).where(Committee.name == SOCIAL)).one()
            inger = member_id(chat.bot, "Inger Holm")
        form = MeetingForm(c=social.id).pack()
        opened = await chat.say(inger, "møde")
        assert "Holde mødet alligevel" in opened.form.text
        refused = await chat.submit(inger, form, {"starts_at": "2027-12-25T13:00"})
        assert "Juledag" in refused.errors["starts_at"]
        weekend = await chat.submit(inger, form, {"starts_at": "2027-03-13T13:00"})
        assert "weekend" in weekend.errors["starts_at"]
        assert meetings(chat.bot) == []
        done = await chat.submit(inger, form, {"starts_at": "2027-12-25T13:00", "off_day": "true"})
        assert not done.errors
        assert len(meetings(chat.bot)) == 1


def test_committee_set_changes_the_deadlines_of_meetings_set_after(bot: Bot, db_url: str) -> None:
    code, out = cli(
        db_url, "committee", "set", "--committee", SOCIAL,
        "--proposal-days", "21", "--release-days", "10",
    )  # fmt: skip
    assert code == 0, out
    assert (
        cli(db_url, "meeting", "add", "--committee", SOCIAL, "--date", "2027-03-10T13:00")[0] == 0
    )
    [meeting] = meetings(bot)
    assert meeting.starts_at - meeting.proposal_deadline == dt.timedelta(days=21)
    assert meeting.starts_at - meeting.agenda_release == dt.timedelta(days=10)
    code, out = cli(
        db_url, "committee", "set", "--committee", SOCIAL,
        "--proposal-days", "5", "--release-days", "10",
    )  # fmt: skip
    assert code == 2 and len(out.strip().splitlines()) == 1 and "release days" in out
    code, out = cli(db_url, "committee", "set", "--committee", "Findes ikke", "--release-days", "3")
    assert code == 2 and "unknown committee" in out


def test_deadlines_in_chat_take_both_sides(bot: Bot) -> None:
    assert "næstformanden" in say(bot, "Inger Holm", "frister 21 10")
    assert committee(bot).proposal_deadline_days == 14
    [ask] = outbox(bot, "governance.approval")
    assert ask.address == str(member_id(bot, "Bo Dahl"))
    text, [approve] = shown(ask)
    assert "21 dage" in text and "10 dage" in text
    assert "ikke dig" in click(bot, "Inger Holm", approve)
    data = DeadlinesApprove.model_validate_json(approve.split("|", 1)[1])
    forged = DeadlinesApprove(c=data.c, p=30, r=1, n=data.n).pack()
    click(bot, "Bo Dahl", forged)
    assert committee(bot).proposal_deadline_days == 14
    assert "Godkendt" in click(bot, "Bo Dahl", approve)
    c = committee(bot)
    assert (c.proposal_deadline_days, c.agenda_release_days) == (21, 10)
    assert "afgjort" in click(bot, "Bo Dahl", approve)
    assert "højst 90" in say(bot, "Bo Dahl", "frister 3 10")
