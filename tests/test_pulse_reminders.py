"""Reminders: only non-responders, once per moment, at most twice, never after they answered."""

from __future__ import annotations

import asyncio
import datetime as dt

import time_machine
from sqlalchemy import select

from bot.app.wiring import Bot
from flows.reminders import send_due_reminders
from storage.models import LocalMessage, OutboxMessage, Participation
from tests.test_pulse_support import (
    WEEKLY_MONDAY_9,
    answer,
    local,
    make_bot,
    open_first_round,
    organisation,
    say,
    schedule,
    tell,
)

SCHEDULE = {**WEEKLY_MONDAY_9, "starts_on": dt.date(2026, 3, 1)}


def at(when: dt.datetime) -> time_machine.travel:
    return time_machine.travel(when, tick=False)


def remind(bot: Bot, when: dt.datetime) -> None:
    with at(when):
        send_due_reminders(bot.db, bot.settings, dt.datetime.now(dt.UTC))


def deliver(bot: Bot, when: dt.datetime) -> None:
    with at(when):
        while asyncio.run(bot.delivery.run_once()):
            pass


def reminder_rows(bot: Bot) -> list[OutboxMessage]:
    with bot.db.session() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose.like("pulse.remind%"))
                .order_by(OutboxMessage.id)
            )
        )


def received(bot: Bot, member: int) -> list[str]:
    with bot.db.session() as s:
        return [
            str(m.dedupe_key)
            for m in s.scalars(
                select(LocalMessage).where(LocalMessage.conversation == f"member:{member}")
            )
        ]


def test_only_non_responders_are_reminded_twice_and_late_answers_stop_the_reminder(
    db_url: str,
) -> None:
    bot = make_bot(db_url)
    unit_id, m = organisation(bot, members=6)
    schedule(bot, unit_id, **SCHEDULE)
    with at(local(2026, 2, 27, 12)):
        say(bot, m[5], "puls pause 2026-03-31")
    round_id, questions = open_first_round(bot)
    with bot.db.session() as s:
        asked = set(s.scalars(select(Participation.member_id)))
    assert asked == set(m[:5])  # the paused member is not asked, so not missing either
    with at(local(2026, 3, 2, 9, 30)):
        answer(bot, m[0], round_id, questions[0], 4)
        answer(bot, m[1], round_id, questions[1], 2)

    remind(bot, local(2026, 3, 2, 15))  # the opening day: no reminder
    remind(bot, local(2026, 3, 3, 9, 59))
    assert reminder_rows(bot) == []
    remind(bot, local(2026, 3, 3, 10))
    remind(bot, local(2026, 3, 3, 10))  # a doubled tick
    remind(bot, local(2026, 3, 3, 14))
    first = reminder_rows(bot)
    assert sorted(int(r.address) for r in first) == [m[2], m[3], m[4]]
    assert {r.dedupe_key for r in first} == {f"pulse:{round_id}:remind1:{x}" for x in m[2:5]}
    assert {r.purpose for r in first} == {"pulse.remind"}

    # After the reminder was queued, m3 answers and m4 goes on leave: neither gets it.
    with at(local(2026, 3, 3, 14, 1)):
        answer(bot, m[3], round_id, questions[0], 5)
        say(bot, m[4], "puls pause 2026-03-20")
    deliver(bot, local(2026, 3, 3, 14, 2))
    assert [k for k in received(bot, m[2]) if "remind" in k] == [f"pulse:{round_id}:remind1:{m[2]}"]
    for member in (m[0], m[1], m[3], m[4], m[5]):
        assert not [k for k in received(bot, member) if "remind" in k]
    statuses = {int(r.address): r.status for r in reminder_rows(bot)}
    assert statuses == {m[2]: "sent", m[3]: "skipped", m[4]: "skipped"}

    remind(bot, local(2026, 3, 4, 10))  # the last call, Wednesday
    remind(bot, local(2026, 3, 5, 8))  # Thursday before closing: no third reminder
    second = [r for r in reminder_rows(bot) if "remind2" in r.dedupe_key]
    assert [int(r.address) for r in second] == [m[2]]
    deliver(bot, local(2026, 3, 4, 10, 1))
    assert len([k for k in received(bot, m[2]) if "remind" in k]) == 2
    with bot.db.session() as s:
        reminded = {p.member_id: p.reminders_sent for p in s.scalars(select(Participation))}
    assert max(reminded.values()) == 2
    bot.db.dispose()


def test_remind_everyone_sends_the_same_neutral_text_to_all_but_the_paused(db_url: str) -> None:
    bot = make_bot(db_url)
    unit_id, m = organisation(bot, members=6)
    schedule(bot, unit_id, remind_everyone=True, **SCHEDULE)
    with at(local(2026, 2, 27, 12)):
        tell(bot, m[5], "jeg har orlov til 31. marts")
    round_id, questions = open_first_round(bot)
    with at(local(2026, 3, 2, 9, 30)):
        answer(bot, m[0], round_id, questions[0], 4)
    remind(bot, local(2026, 3, 3, 10))
    rows = reminder_rows(bot)
    assert sorted(int(r.address) for r in rows) == m[:5]
    assert {r.purpose for r in rows} == {"pulse.remind_all"}
    # One text for all: nothing in it depends on whether the member answered.
    assert len({str(r.payload) for r in rows}) == 1
    assert "har du allerede svaret" in str(rows[0].payload).lower()
    deliver(bot, local(2026, 3, 3, 10, 1))
    assert all([k for k in received(bot, x) if "remind" in k] for x in m[:5])
    assert not received(bot, m[5])
    bot.db.dispose()
