"""The scheduler jobs over time: a year of weekly rounds, holidays, DST, outages, double ticks."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import time_machine
from sqlalchemy import func, select

from bot.app.wiring import Bot
from flows.pulse import close_due_rounds, open_due_rounds
from storage.models import OutboxMessage, PulseRound
from tests.test_pulse_support import (
    CPH,
    WEEKLY_MONDAY_9,
    local,
    make_bot,
    organisation,
    schedule,
)


def tick(bot: Bot, when: dt.datetime) -> None:
    """One scheduler tick at `when`, with the clock frozen there."""
    with time_machine.travel(when, tick=False):
        now = dt.datetime.now(dt.UTC)
        close_due_rounds(bot.db, bot.settings, now)
        open_due_rounds(bot.db, bot.settings, now)


def rounds(bot: Bot) -> list[PulseRound]:
    with bot.db.session() as s:
        found = list(s.scalars(select(PulseRound).order_by(PulseRound.opened_at)))
        for r in found:
            _ = [rq.question_id for rq in r.questions]
        return found


def test_a_year_of_weekly_rounds(db_url: str) -> None:
    bot = make_bot(db_url)
    unit_id, _ = organisation(bot, members=6)
    schedule(bot, unit_id, starts_on=dt.date(2026, 1, 1), **WEEKLY_MONDAY_9)
    day = dt.date(2026, 1, 1)
    while day.year == 2026:
        # 06-08 UTC brackets 09:00 local in summer (07 UTC) and in winter (08 UTC): a clock
        # that got DST wrong would open an hour early or late, and the assertion below sees it.
        for hour in (6, 7, 8, 15):
            tick(bot, dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC))
        day += dt.timedelta(days=1)
    found = rounds(bot)
    bot.db.dispose()

    assert len(found) == 52
    assert len({r.period for r in found}) == 52
    opened = [r.opened_at.astimezone(CPH) for r in found]
    assert all(o.time() == dt.time(9, 0) for o in opened)
    days = {o.date() for o in opened}
    # Easter Monday and Whit Monday: moved to the Tuesday, not dropped.
    assert dt.date(2026, 4, 6) not in days and dt.date(2026, 4, 7) in days
    assert dt.date(2026, 5, 25) not in days and dt.date(2026, 5, 26) in days
    assert sum(o.weekday() == 1 for o in opened) == 2
    assert sum(o.weekday() == 0 for o in opened) == 50
    # The Mondays after both DST changes open at 09:00 local, i.e. 07:00 and 08:00 UTC.
    utc = {r.opened_at.astimezone(dt.UTC) for r in found}
    assert dt.datetime(2026, 3, 30, 7, tzinfo=dt.UTC) in utc
    assert dt.datetime(2026, 10, 26, 8, tzinfo=dt.UTC) in utc
    # Every round but the last closed on time; nobody gets the same question twice in a row.
    assert all(r.closed_at == r.closes_at for r in found[:-1])
    for before, after in pairwise(found):
        assert not {q.question_id for q in before.questions} & {
            q.question_id for q in after.questions
        }


def test_after_a_three_day_outage_exactly_one_catch_up_round_opens(db_url: str) -> None:
    bot = make_bot(db_url)
    unit_id, _ = organisation(bot, members=6)
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1), **WEEKLY_MONDAY_9)
    tick(bot, local(2026, 3, 2, 9))  # Monday: the week's round
    tick(bot, local(2026, 3, 5, 9))  # Thursday: it closes
    assert len(rounds(bot)) == 1
    # Down from Sunday 8 March to Wednesday 11 March: Monday 9 March 09:00 was missed.
    for day in (11, 12, 13):
        for hour in (9, 12, 15):
            tick(bot, local(2026, 3, day, hour))
    found = rounds(bot)
    assert len(found) == 2
    assert found[1].opened_at == local(2026, 3, 11, 9).astimezone(dt.UTC)
    assert found[1].period == "2026-W11"

    # Three weeks down: still one round, for the latest missed week, not three in a row.
    tick(bot, local(2026, 3, 14, 9))  # the catch-up round closes; then down until 8 April
    tick(bot, local(2026, 4, 8, 9))
    tick(bot, local(2026, 4, 8, 10))
    found = rounds(bot)
    bot.db.dispose()
    assert [r.period for r in found] == ["2026-W10", "2026-W11", "2026-W15"]


def test_two_ticks_in_the_same_minute_open_one_round(db_url: str) -> None:
    bot = make_bot(db_url)
    unit_id, members = organisation(bot, members=6)
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1), **WEEKLY_MONDAY_9)
    tick(bot, local(2026, 3, 2, 9))
    tick(bot, local(2026, 3, 2, 9))
    with time_machine.travel(local(2026, 3, 2, 9, 0) + dt.timedelta(seconds=30), tick=False):
        open_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))
    assert len(rounds(bot)) == 1
    with bot.db.session() as s:
        asks = s.scalar(select(func.count()).where(OutboxMessage.purpose == "pulse.ask"))
    bot.db.dispose()
    assert asks == len(members)


def test_a_schedule_starts_on_its_first_day_and_a_stopped_one_opens_nothing(db_url: str) -> None:
    bot = make_bot(db_url)
    unit_id, _ = organisation(bot, members=6)
    schedule_id = schedule(bot, unit_id, starts_on=dt.date(2026, 3, 4), **WEEKLY_MONDAY_9)
    tick(bot, local(2026, 3, 4, 9))  # the week's Monday lies before starts_on
    assert rounds(bot) == []
    tick(bot, local(2026, 3, 9, 9))
    assert len(rounds(bot)) == 1
    from storage.models import Schedule

    with bot.db.session() as s:
        row = s.get(Schedule, schedule_id)
        assert row is not None
        row.active = False
    tick(bot, local(2026, 3, 16, 9))
    assert len(rounds(bot)) == 1
    bot.db.dispose()
