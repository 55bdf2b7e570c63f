"""When an owner may be reminded: working hours, 07:30-17:00 Copenhagen time on Danish working
days; a reminder due outside them waits for the next working morning."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flows.schedule import next_working_hours

WORK_START = dt.time(7, 30)
WORK_END = dt.time(17, 0)
# Reminders fall due this many days before the date, at REMIND_AT local time: at most two.
REMIND_DAYS_BEFORE = (5, 1)
REMIND_AT = dt.time(9, 0)


def in_working_hours(now: dt.datetime, tz: dt.tzinfo) -> bool:
    """07:30 (inclusive) to 17:00 (exclusive), local time, on a Danish working day."""
    return next_working_moment(now, tz) == now


def next_working_moment(when: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """`when` itself within working hours, else the next working morning at 07:30."""
    return next_working_hours(when, WORK_START, WORK_END, zone(tz))


def reminder_slots(due_on: dt.date, tz: dt.tzinfo) -> list[dt.datetime]:
    """When each reminder may go: its nominal time moved to the next working-hours moment."""
    return [
        next_working_moment(
            dt.datetime.combine(due_on - dt.timedelta(days=d), REMIND_AT, tzinfo=tz), tz
        )
        for d in REMIND_DAYS_BEFORE
    ]


def zone(tz: dt.tzinfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
