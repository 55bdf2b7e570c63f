"""Quiet hours (issue 16, point 8): outside MEDPULS_WORKING_HOURS on Danish working days nothing
reaches anyone unasked. A catch-up digest at 00:48 or `pulse run-now` at night waits for the
next start of working hours, and the CLI says when; a reply to a person's own action still goes.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from flows.schedule import next_working_hours
from storage.models import Member, Membership, OutboxMessage, Unit
from tests.cli import cli
from tests.fake_platform import fake_chat

CPH = ZoneInfo("Europe/Copenhagen")
START, END = dt.time(7, 30), dt.time(17, 0)
NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CPH)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(2026, 12, 2, 10, 0), at(2026, 12, 2, 10, 0)),  # a Wednesday morning: at once
        (at(2026, 12, 2, 0, 48), at(2026, 12, 2, 7, 30)),  # the night before: this morning
        (at(2026, 12, 2, 17, 0), at(2026, 12, 3, 7, 30)),  # the end is already quiet
        (at(2026, 12, 18, 18, 0), at(2026, 12, 21, 7, 30)),  # Friday evening: Monday
        (at(2026, 12, 23, 17, 30), at(2026, 12, 28, 7, 30)),  # Dec 24-27 closed
        (at(2027, 3, 28, 1, 30), at(2027, 3, 30, 7, 30)),  # DST night, Easter: Tuesday
    ],
)
def test_the_next_moment_within_working_hours(moment: dt.datetime, expected: dt.datetime) -> None:
    assert next_working_hours(moment, START, END, CPH) == expected


def test_a_setting_that_is_not_a_span_is_a_one_line_error(db_url: str) -> None:
    code, output = cli(db_url, "pulse", "run-now", "--unit", NORD, MEDPULS_WORKING_HOURS="8-16")
    assert code == 2
    assert "MEDPULS_WORKING_HOURS must look like 07:30-17:00" in output
    assert "Traceback" not in output


async def test_run_now_at_night_waits_for_the_morning_and_the_cli_says_so(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDPULS_WORKING_HOURS", "07:30-17:00")
    assert cli(db_url, "demo", "--no-history")[0] == 0
    async with fake_chat(db_url) as chat:
        with time_machine.travel(at(2026, 12, 2, 0, 48), tick=False):
            code, output = cli(db_url, "pulse", "run-now", "--unit", NORD)
            assert code == 0, output
            assert "held until Wed 02 Dec 07:30" in output
            assert await chat.deliver() == 0
        with time_machine.travel(at(2026, 12, 2, 7, 29), tick=False):
            assert await chat.deliver() == 0
        with time_machine.travel(at(2026, 12, 2, 7, 30), tick=False):
            assert await chat.deliver() > 0
        with chat.bot.db.session() as s:
            waiting = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
            assert list(waiting) == []


async def test_a_reply_to_ones_own_action_goes_at_night(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDPULS_WORKING_HOURS", "07:30-17:00")
    assert cli(db_url, "demo", "--no-history")[0] == 0
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            unit = s.scalars(select(Unit).where(Unit.path == NORD)).one()
            member = s.scalars(
                select(Member)
                .join(Membership, Membership.member_id == Member.id)
                .where(Membership.unit_id == unit.id, Member.seen_privacy_notice.is_(False))
            ).first()
            assert member is not None
            member_id = member.id
        with time_machine.travel(at(2026, 12, 2, 23, 15), tick=False):
            # The first thing one writes brings the privacy notice: an answer to them, now.
            reply = await chat.say(member_id, "hej")
            assert reply
            assert await chat.deliver() == 1
            with chat.bot.db.session() as s:
                [notice] = s.scalars(
                    select(OutboxMessage).where(OutboxMessage.purpose == "privacy")
                ).all()
                assert notice.reply and notice.status == "sent"
