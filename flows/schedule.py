"""Schedule arithmetic for pulse rounds: periods, opening and closing, reminders, working days.

Pure functions over aware datetimes. Local wall-clock times ("09:00") are turned into instants
with zoneinfo on the day itself, never with a fixed offset, so 09:00 stays 09:00 across DST.

Periods are the identity of a scheduled round: the store keeps one round per (schedule, period),
which is what makes a doubled scheduler tick harmless. Keys are "2026-W48" for weekly and
biweekly schedules (biweekly: the first ISO week of the pair) and "2026-11" for monthly ones.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol, cast, get_args
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_TZ",
    "LATEST_REMINDER",
    "WORKDAY_END",
    "WORKDAY_START",
    "Cadence",
    "ScheduleSpec",
    "add_working_days",
    "closes_at",
    "due_runs",
    "is_working_day",
    "next_period",
    "next_working_day",
    "next_working_hours",
    "opening_time",
    "period_of",
    "period_start",
    "planned_run",
    "previous_period",
    "reminder_times",
    "rotation_slot",
    "within_working_hours",
    "working_days_before",
]

DEFAULT_TZ = ZoneInfo("Europe/Copenhagen")
Cadence = Literal["weekly", "biweekly", "monthly"]

WORKDAY_START = dt.time(8, 0)
WORKDAY_END = dt.time(16, 0)
# A reminder set for after hours is pulled to 15:00, not 15:59, so people still have time to
# answer before they leave.
LATEST_REMINDER = dt.time(15, 0)

# Biweekly parity needs an anchor; without `starts_on` every installation uses the same Monday
# (2024-W01), so two units with the same settings run in the same weeks.
_BIWEEKLY_EPOCH = dt.date(2024, 1, 1)

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_WEEK_KEY = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
_MONTH_KEY = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def _parse_hhmm(value: str, what: str) -> dt.time:
    m = _HHMM.match(value)
    if not m:
        raise ValueError(f"{what} must be HH:MM, not {value!r}")
    return dt.time(int(m.group(1)), int(m.group(2)))


class _ScheduleRow(Protocol):
    @property
    def cadence(self) -> str: ...
    @property
    def weekday(self) -> int: ...
    @property
    def local_time(self) -> str: ...
    @property
    def open_hours(self) -> int: ...
    @property
    def reminder_time(self) -> str: ...
    @property
    def starts_on(self) -> dt.date | None: ...


@dataclass(frozen=True)
class ScheduleSpec:
    """When a unit's rounds open. `starts_on` anchors biweekly parity; no round opens before it."""

    cadence: Cadence = "weekly"
    weekday: int = 0  # Monday = 0
    local_time: str = "09:00"
    open_hours: int = 72
    reminder_time: str = "10:00"
    starts_on: dt.date | None = None

    def __post_init__(self) -> None:
        if self.cadence not in get_args(Cadence):
            raise ValueError(f"cadence must be weekly, biweekly or monthly, not {self.cadence!r}")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if self.open_hours < 1:
            raise ValueError(f"open_hours must be at least 1, not {self.open_hours}")
        _parse_hhmm(self.local_time, "local_time")
        _parse_hhmm(self.reminder_time, "reminder_time")

    @classmethod
    def from_row(cls, row: _ScheduleRow) -> ScheduleSpec:
        """From anything with the schedule's attributes (e.g. storage.models.Schedule)."""
        return cls(
            cadence=cast(Cadence, row.cadence),
            weekday=row.weekday,
            local_time=row.local_time,
            open_hours=row.open_hours,
            reminder_time=row.reminder_time,
            starts_on=row.starts_on,
        )

    @property
    def opens_at(self) -> dt.time:
        return _parse_hhmm(self.local_time, "local_time")

    @property
    def reminds_at(self) -> dt.time:
        return _parse_hhmm(self.reminder_time, "reminder_time")


# --- working days -------------------------------------------------------------------------------


@lru_cache(maxsize=128)
def _closed_days(year: int) -> frozenset[dt.date]:
    official = holidays.country_holidays("DK", years=year)
    # The holidays package lists only the statutory helligdage. Grundlovsdag (June 5), juleaftensdag
    # (Dec 24) and nytårsaftensdag (Dec 31) are not statutory, but the municipal collective
    # agreements give them off and offices close, so a round opened then would reach nobody.
    # 1 May is left out: it is a day off only for some groups, and most workplaces are staffed.
    extra = {dt.date(year, 6, 5), dt.date(year, 12, 24), dt.date(year, 12, 31)}
    return frozenset(official.keys()) | frozenset(extra)


def is_working_day(day: dt.date) -> bool:
    """Monday-Friday and not a Danish public holiday, Grundlovsdag, Dec 24 or Dec 31."""
    return day.weekday() < 5 and day not in _closed_days(day.year)


def next_working_day(day: dt.date) -> dt.date:
    """`day` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day: dt.date, n: int) -> dt.date:
    """The date `n` working days after `day` (before it for negative `n`); `day` for 0.

    `day` itself need not be a working day: add_working_days(saturday, 1) is the Monday.
    """
    step = dt.timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_before(day: dt.date, n: int) -> dt.date:
    """The date `n` working days before `day` (a deadline minus 3 working days, say)."""
    if n < 0:
        raise ValueError(f"n must not be negative, not {n}")
    return add_working_days(day, -n)


def within_working_hours(when: dt.datetime, tz: ZoneInfo = DEFAULT_TZ) -> bool:
    """On a working day and between 08:00 (inclusive) and 16:00 (exclusive), local time."""
    local = _aware(when, "when").astimezone(tz)
    return is_working_day(local.date()) and WORKDAY_START <= local.time() < WORKDAY_END


def next_working_hours(
    when: dt.datetime, start: dt.time, end: dt.time, tz: ZoneInfo = DEFAULT_TZ
) -> dt.datetime:
    """`when` itself if it is within [start, end) on a working day, else the next `start`.

    Quiet hours (MEDPULS_WORKING_HOURS): what no one asked for waits until then.
    """
    local = _aware(when, "when").astimezone(tz)
    day = local.date()
    if is_working_day(day) and start <= local.time() < end:
        return when
    if not (is_working_day(day) and local.time() < start):
        day = next_working_day(day + dt.timedelta(days=1))
    return _at(day, start, tz)


def rotation_slot(cadence: Cadence, day: dt.date) -> int:
    """The number of the period holding `day` on one calendar for the whole organisation
    (weeks, fortnights or months since 2024), so every unit with the same cadence asks the same
    dimensions in the same period (flows.question_bank.pick_questions)."""
    if cadence == "monthly":
        return (day.year - _BIWEEKLY_EPOCH.year) * 12 + day.month - 1
    weeks = (_monday(day) - _BIWEEKLY_EPOCH).days // 7
    return weeks // 2 if cadence == "biweekly" else weeks


# --- periods ----------------------------------------------------------------------------------


def _aware(when: dt.datetime, what: str) -> dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return when


def _at(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    # The UTC round trip normalises a wall time that falls in the spring-forward gap to a real
    # instant, so comparisons and arithmetic on the result are sound.
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _week_key(day: dt.date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _biweekly_anchor(spec: ScheduleSpec) -> dt.date:
    return _monday(spec.starts_on or _BIWEEKLY_EPOCH)


def _key_start(period: str) -> dt.date:
    """The first day of a period key of any cadence."""
    if m := _WEEK_KEY.match(period):
        try:
            return dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            pass
    elif (m := _MONTH_KEY.match(period)) and 1 <= int(m.group(2)) <= 12:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    raise ValueError(f"not a period key: {period!r}")


def period_start(spec: ScheduleSpec, period: str) -> dt.date:
    """The first day of `period` (a Monday, or the 1st of the month); ValueError if malformed."""
    start = _key_start(period)
    monthly = spec.cadence == "monthly"
    if monthly != bool(_MONTH_KEY.match(period)):
        raise ValueError(f"{period!r} is not a {spec.cadence} period")
    if spec.cadence == "biweekly" and (start - _biweekly_anchor(spec)).days % 14:
        raise ValueError(f"{period!r} is not the first week of a biweekly pair")
    return start


def _period_of_day(spec: ScheduleSpec, day: dt.date) -> str:
    if spec.cadence == "monthly":
        return f"{day.year:04d}-{day.month:02d}"
    monday = _monday(day)
    if spec.cadence == "biweekly":
        anchor = _biweekly_anchor(spec)
        monday = anchor + dt.timedelta(days=14 * ((monday - anchor).days // 14))
    return _week_key(monday)


def period_of(spec: ScheduleSpec, when: dt.datetime | dt.date, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """The period the local date of `when` falls in.

    A run moved past a holiday keeps the key of its nominal period: use the key `due_runs`
    returns for a round, not period_of(opened_at).
    """
    if isinstance(when, dt.datetime):
        when = _aware(when, "when").astimezone(tz).date()
    return _period_of_day(spec, when)


def next_period(spec: ScheduleSpec, period: str) -> str:
    start = period_start(spec, period)
    if spec.cadence == "monthly":
        return _period_of_day(spec, (start + dt.timedelta(days=31)).replace(day=1))
    return _period_of_day(spec, start + dt.timedelta(days=7 if spec.cadence == "weekly" else 14))


def previous_period(spec: ScheduleSpec, period: str) -> str:
    start = period_start(spec, period)
    return _period_of_day(spec, start - dt.timedelta(days=1))


def _nominal_day(spec: ScheduleSpec, period: str) -> dt.date:
    start = period_start(spec, period)
    # Weeks start on Monday, so the weekday's offset is the weekday itself; a month starts on
    # any day, so count forward to its first such weekday.
    offset = spec.weekday if spec.cadence != "monthly" else (spec.weekday - start.weekday()) % 7
    return start + dt.timedelta(days=offset)


def planned_run(spec: ScheduleSpec, period: str, tz: ZoneInfo = DEFAULT_TZ) -> dt.datetime:
    """The nominal opening of `period`: local_time on the weekday (monthly: its first in the
    month), before any holiday shift."""
    return _at(_nominal_day(spec, period), spec.opens_at, tz)


def opening_time(spec: ScheduleSpec, period: str, tz: ZoneInfo = DEFAULT_TZ) -> dt.datetime:
    """When `period`'s round really opens: the planned run moved off weekends and holidays to
    the next working day, same local time."""
    return _at(next_working_day(_nominal_day(spec, period)), spec.opens_at, tz)


def due_runs(
    spec: ScheduleSpec,
    *,
    last_period: str | None,
    now: dt.datetime | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
) -> str | None:
    """The one period to open now, or None.

    That is the latest period whose opening time has come, if it is after `last_period` (the
    newest period already opened) and does not start before `starts_on`. After downtime this
    catches up once, with the latest missed period: rounds that would already be stale are not
    opened one after another. `now` defaults to the clock.
    """
    now = dt.datetime.now(tz) if now is None else _aware(now, "now")
    period = _period_of_day(spec, now.astimezone(tz).date())
    # A holiday shift is under a week, so at most two steps back reach an opening in the past.
    for _ in range(4):
        if opening_time(spec, period, tz) <= now:
            break
        period = previous_period(spec, period)
    else:  # pragma: no cover - unreachable while shifts stay shorter than a period
        return None
    if spec.starts_on is not None and _nominal_day(spec, period) < spec.starts_on:
        return None
    # Compared by start date so a schedule whose cadence changed still compares sensibly.
    if last_period is not None and period_start(spec, period) <= _key_start(last_period):
        return None
    return period


def closes_at(
    opened_at: dt.datetime,
    spec: ScheduleSpec,
    tz: ZoneInfo = DEFAULT_TZ,
    *,
    hours: tuple[dt.time, dt.time] | None = None,
) -> dt.datetime:
    """`open_hours` after opening, counted on the local wall clock so a round opened at 09:00
    closes at 09:00 even when a DST change falls in between.

    With working `hours` (MEDPULS_WORKING_HOURS), a close that falls outside them moves on to
    their next start: a round opened by hand at 00:37 does not close, and post its summary to
    the channel, at 00:37 three nights later. Moving on, not back, so a round is never shorter
    than asked; its invitations were held until working hours too.
    """
    local = _aware(opened_at, "opened_at").astimezone(tz)
    wall = local.replace(tzinfo=None) + dt.timedelta(hours=spec.open_hours)
    closing = wall.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)
    if hours is None:
        return closing
    return next_working_hours(closing, hours[0], hours[1], tz).astimezone(tz)


def reminder_times(
    opened_at: dt.datetime,
    closes_at: dt.datetime,
    spec: ScheduleSpec,
    tz: ZoneInfo = DEFAULT_TZ,
) -> list[dt.datetime]:
    """At most two reminders, at reminder_time local (pulled into 08:00-15:00), on working days
    after the opening day and strictly before closing: the first and the last such day, so one
    nudge comes early and one as a last call."""
    opened = _aware(opened_at, "opened_at").astimezone(tz)
    closing = _aware(closes_at, "closes_at").astimezone(tz)
    at = min(max(spec.reminds_at, WORKDAY_START), LATEST_REMINDER)
    found: list[dt.datetime] = []
    day = opened.date() + dt.timedelta(days=1)
    while day <= closing.date():
        if is_working_day(day):
            moment = _at(day, at, tz)
            if opened < moment < closing and within_working_hours(moment, tz):
                found.append(moment)
        day += dt.timedelta(days=1)
    return found if len(found) <= 2 else [found[0], found[-1]]
