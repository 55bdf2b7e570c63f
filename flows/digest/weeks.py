"""The weeks a digest covers: whole local weeks before the one it is sent in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

SHOWN_WEEKS = 12
# Rotation asks a dimension about every eighth week; the weeks before the chart let the
# first point on it still have a change since the measurement before.
EARLIER_WEEKS = 8


@dataclass(frozen=True)
class Week:
    monday: dt.date
    start: dt.datetime
    end: dt.datetime


def local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def week_key(now: dt.datetime, tz: dt.tzinfo) -> str:
    year, week, _ = now.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def weeks_before(now: dt.datetime, tz: dt.tzinfo, count: int) -> list[Week]:
    """The `count` whole weeks before the local week holding `now`, oldest first.

    The digest of a week shows the weeks that have ended, so every leader of a unit sees the
    same figures whichever day they chose to get it.
    """
    today = now.astimezone(tz).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(count, 0, -1)]
    return [
        Week(m, local_midnight(m, tz), local_midnight(m + dt.timedelta(weeks=1), tz))
        for m in mondays
    ]


def week_of(
    column: InstrumentedAttribute[dt.datetime | None], weeks: Sequence[Week]
) -> ColumnElement[int]:
    # Comparisons with bound instants instead of date functions: the same SQL on SQLite and
    # PostgreSQL, and local weeks (DST included) decided here rather than in the database.
    return case(*[(column < w.end, i) for i, w in enumerate(weeks)], else_=len(weeks))
