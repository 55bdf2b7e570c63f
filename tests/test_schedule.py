from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.schedule import (
    ScheduleSpec,
    add_working_days,
    closes_at,
    due_runs,
    is_working_day,
    next_period,
    next_working_day,
    opening_time,
    period_of,
    period_start,
    planned_run,
    previous_period,
    reminder_times,
    within_working_hours,
    working_days_before,
)

CPH = ZoneInfo("Europe/Copenhagen")
UTC = dt.UTC
WEEKLY = ScheduleSpec(
    cadence="weekly", weekday=0, local_time="09:00", starts_on=dt.date(2026, 1, 1)
)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=CPH)


def tick(
    spec: ScheduleSpec,
    start: dt.datetime,
    end: dt.datetime,
    *,
    last_period: str | None = None,
    step: dt.timedelta = dt.timedelta(hours=1),
) -> list[tuple[str, dt.datetime]]:
    """Drive due_runs like the scheduler does; returns (period, opened_at) per round opened."""
    opened: list[tuple[str, dt.datetime]] = []
    now = start
    while now < end:
        period = due_runs(spec, last_period=last_period, now=now, tz=CPH)
        if period is not None:
            opened.append((period, now))
            last_period = period
        now = (now.astimezone(UTC) + step).astimezone(CPH)
    return opened


# --- working days ------------------------------------------------------------------------------


def test_danish_holidays_and_the_extra_closed_days() -> None:
    for day in [
        dt.date(2026, 1, 1),
        dt.date(2026, 4, 2),  # skærtorsdag
        dt.date(2026, 4, 3),  # langfredag
        dt.date(2026, 4, 6),  # 2. påskedag
        dt.date(2026, 5, 14),  # Kristi himmelfartsdag
        dt.date(2026, 5, 25),  # 2. pinsedag
        dt.date(2026, 6, 5),  # Grundlovsdag
        dt.date(2026, 12, 24),
        dt.date(2026, 12, 25),
        dt.date(2026, 12, 31),
        dt.date(2026, 11, 28),  # a Saturday
        dt.date(2026, 11, 29),  # a Sunday
    ]:
        assert not is_working_day(day), day
    # Store bededag was abolished from 2024; 1 May is a working day in most municipal jobs.
    assert is_working_day(dt.date(2026, 5, 1))
    assert is_working_day(dt.date(2025, 5, 16))
    assert is_working_day(dt.date(2026, 11, 30))


def test_next_and_add_working_days() -> None:
    assert next_working_day(dt.date(2026, 4, 2)) == dt.date(2026, 4, 7)
    assert next_working_day(dt.date(2026, 4, 7)) == dt.date(2026, 4, 7)
    assert add_working_days(dt.date(2026, 4, 1), 1) == dt.date(2026, 4, 7)
    assert add_working_days(dt.date(2026, 11, 28), 1) == dt.date(2026, 11, 30)
    assert add_working_days(dt.date(2026, 11, 30), 0) == dt.date(2026, 11, 30)
    assert add_working_days(dt.date(2026, 12, 23), 2) == dt.date(2026, 12, 29)
    assert add_working_days(dt.date(2026, 4, 7), -1) == dt.date(2026, 4, 1)


def test_working_days_before_a_deadline() -> None:
    # Deadline Thursday 3 Dec 2026: three working days before is Monday 30 Nov.
    assert working_days_before(dt.date(2026, 12, 3), 3) == dt.date(2026, 11, 30)
    # Across Easter: Wednesday 8 April 2026 minus 3 working days skips Thu-Mon.
    assert working_days_before(dt.date(2026, 4, 8), 3) == dt.date(2026, 3, 31)
    with pytest.raises(ValueError):
        working_days_before(dt.date(2026, 4, 8), -1)


def test_within_working_hours() -> None:
    assert within_working_hours(local(2026, 11, 30, 8, 0), CPH)
    assert within_working_hours(local(2026, 11, 30, 15, 59), CPH)
    assert not within_working_hours(local(2026, 11, 30, 16, 0), CPH)
    assert not within_working_hours(local(2026, 11, 30, 7, 59), CPH)
    assert not within_working_hours(local(2026, 11, 29, 10, 0), CPH)  # Sunday
    assert not within_working_hours(local(2026, 12, 24, 10, 0), CPH)
    # 07:30 UTC in winter is 08:30 in Copenhagen.
    assert within_working_hours(dt.datetime(2026, 11, 30, 7, 30, tzinfo=UTC), CPH)
    with pytest.raises(ValueError):
        within_working_hours(dt.datetime(2026, 11, 30, 10, 0), CPH)


# --- periods ---------------------------------------------------------------------------------


def test_weekly_periods() -> None:
    assert period_of(WEEKLY, local(2026, 11, 25, 12), CPH) == "2026-W48"
    assert period_of(WEEKLY, dt.date(2027, 1, 1)) == "2026-W53"
    # 23:30 UTC on Sunday is already Monday in Copenhagen.
    assert period_of(WEEKLY, dt.datetime(2026, 11, 29, 23, 30, tzinfo=UTC), CPH) == "2026-W49"
    assert next_period(WEEKLY, "2026-W53") == "2027-W01"
    assert previous_period(WEEKLY, "2027-W01") == "2026-W53"
    assert planned_run(WEEKLY, "2026-W48", CPH) == local(2026, 11, 23, 9)


def test_biweekly_periods_follow_the_anchor() -> None:
    spec = ScheduleSpec(cadence="biweekly", weekday=2, starts_on=dt.date(2026, 1, 7))  # W02
    assert period_of(spec, dt.date(2026, 1, 5)) == "2026-W02"
    assert period_of(spec, dt.date(2026, 1, 18)) == "2026-W02"
    assert period_of(spec, dt.date(2026, 1, 19)) == "2026-W04"
    assert period_of(spec, dt.date(2026, 1, 4)) == "2025-W52"
    assert next_period(spec, "2026-W52") == "2027-W01"  # 2026 has 53 ISO weeks
    assert previous_period(spec, "2026-W04") == "2026-W02"
    assert planned_run(spec, "2026-W04", CPH) == local(2026, 1, 21, 9)
    with pytest.raises(ValueError, match="biweekly pair"):
        period_start(spec, "2026-W03")
    # The other parity when anchored a week later.
    other = ScheduleSpec(cadence="biweekly", starts_on=dt.date(2026, 1, 12))
    assert period_of(other, dt.date(2026, 1, 19)) == "2026-W03"


def test_biweekly_over_a_year_opens_every_other_week() -> None:
    spec = ScheduleSpec(cadence="biweekly", starts_on=dt.date(2026, 1, 5))
    opened = tick(spec, local(2026, 1, 1), local(2027, 1, 1))
    weeks = [int(p.split("W")[1]) for p, _ in opened]
    assert weeks == list(range(2, 54, 2))
    assert all(is_working_day(at.date()) for _, at in opened)


def test_monthly_periods_open_on_the_first_such_weekday() -> None:
    spec = ScheduleSpec(cadence="monthly", weekday=1, local_time="10:30")  # first Tuesday
    assert period_of(spec, local(2026, 11, 25, 12), CPH) == "2026-11"
    assert planned_run(spec, "2026-11", CPH) == local(2026, 11, 3, 10, 30)
    assert planned_run(spec, "2026-12", CPH) == local(2026, 12, 1, 10, 30)
    assert next_period(spec, "2026-12") == "2027-01"
    assert previous_period(spec, "2026-01") == "2025-12"
    with pytest.raises(ValueError):
        period_start(spec, "2026-W48")
    # First Monday of April 2026 is 2. påskedag; the round opens on Tuesday.
    monday = ScheduleSpec(cadence="monthly", weekday=0)
    assert planned_run(monday, "2026-04", CPH) == local(2026, 4, 6, 9)
    assert opening_time(monday, "2026-04", CPH) == local(2026, 4, 7, 9)


def test_monthly_over_a_year_opens_twelve_rounds() -> None:
    spec = ScheduleSpec(cadence="monthly", weekday=0, starts_on=dt.date(2026, 1, 1))
    opened = tick(spec, local(2026, 1, 1), local(2027, 1, 1))
    assert [p for p, _ in opened] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert opened[0][1] == local(2026, 1, 5, 9)


def test_bad_period_keys_and_specs() -> None:
    for key in ["2026-W54", "2026-13", "26-W01", "2026W01"]:
        with pytest.raises(ValueError):
            period_start(WEEKLY, key)
    with pytest.raises(ValueError):
        ScheduleSpec(cadence="daily")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ScheduleSpec(local_time="9:00")
    with pytest.raises(ValueError):
        ScheduleSpec(weekday=7)


# --- a year of weekly rounds -------------------------------------------------------------------


def test_weekly_schedule_over_2026() -> None:
    opened = tick(WEEKLY, local(2026, 1, 1), local(2027, 1, 1))
    mondays = {
        dt.date(2026, 1, 1) + dt.timedelta(days=i)
        for i in range(365)
        if (dt.date(2026, 1, 1) + dt.timedelta(days=i)).weekday() == 0
    }
    expected_weeks = {_iso_week(d) for d in mondays}
    assert len(opened) == len(expected_weeks) == 52
    assert {p for p, _ in opened} == expected_weeks
    days = [at.date() for _, at in opened]
    assert all(is_working_day(d) for d in days)
    assert all(at.hour == 9 and at.minute == 0 for _, at in opened)
    assert dt.date(2026, 4, 6) not in days and dt.date(2026, 4, 7) in days
    assert dt.date(2026, 5, 25) not in days and dt.date(2026, 5, 26) in days
    shifted = {d for d in days if d.weekday() != 0}
    assert shifted == {dt.date(2026, 4, 7), dt.date(2026, 5, 26)}
    # Each opening is exactly the period's (holiday-shifted) opening time.
    for period, at in opened:
        assert opening_time(WEEKLY, period, CPH) == at


def _iso_week(day: dt.date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@pytest.mark.parametrize(
    ("period", "utc_hour"),
    [
        ("2026-W13", 8),  # week with the last Sunday of March; Monday still CET
        ("2026-W14", 7),  # first Monday on CEST
        ("2026-W43", 7),  # week with the last Sunday of October; Monday still CEST
        ("2026-W44", 8),  # first Monday back on CET
    ],
)
def test_dst_weeks_open_at_nine_local(period: str, utc_hour: int) -> None:
    at = opening_time(WEEKLY, period, CPH)
    assert (at.hour, at.minute) == (9, 0)
    assert at.astimezone(UTC).hour == utc_hour


def test_dst_weeks_open_at_nine_when_ticking() -> None:
    opened = dict(tick(WEEKLY, local(2026, 3, 20), local(2026, 4, 1), last_period="2026-W12"))
    assert opened["2026-W14"].astimezone(UTC) == dt.datetime(2026, 3, 30, 7, tzinfo=UTC)
    opened = dict(tick(WEEKLY, local(2026, 10, 20), local(2026, 11, 1), last_period="2026-W43"))
    assert opened["2026-W44"].astimezone(UTC) == dt.datetime(2026, 10, 26, 8, tzinfo=UTC)


def test_sunday_run_in_the_spring_forward_gap() -> None:
    # 02:30 does not exist on 29 March 2026; the run is moved to Monday anyway (Sunday).
    spec = ScheduleSpec(weekday=6, local_time="02:30")
    assert opening_time(spec, "2026-W13", CPH) == local(2026, 3, 30, 2, 30)


# --- catch-up --------------------------------------------------------------------------------


def test_doubled_tick_returns_the_same_period_once_opened() -> None:
    now = local(2026, 11, 30, 9, 0)
    assert due_runs(WEEKLY, last_period="2026-W48", now=now, tz=CPH) == "2026-W49"
    assert due_runs(WEEKLY, last_period="2026-W49", now=now, tz=CPH) is None
    before = local(2026, 11, 30, 8, 59)
    assert due_runs(WEEKLY, last_period="2026-W48", now=before, tz=CPH) is None


def test_three_day_outage_catches_up_once() -> None:
    # Up until Sunday evening, down until Wednesday noon: Monday's round opens once on return.
    before = tick(WEEKLY, local(2026, 11, 16), local(2026, 11, 29, 20), last_period="2026-W46")
    assert [p for p, _ in before] == ["2026-W47", "2026-W48"]
    after = tick(WEEKLY, local(2026, 12, 2, 12), local(2026, 12, 10), last_period="2026-W48")
    assert after == [("2026-W49", local(2026, 12, 2, 12)), ("2026-W50", local(2026, 12, 7, 9))]


def test_three_week_outage_catches_up_once_with_the_latest() -> None:
    # Down from Sunday 29 Nov to Thursday 17 Dec: W49, W50 and W51 were missed.
    after = tick(WEEKLY, local(2026, 12, 17, 12), local(2026, 12, 22), last_period="2026-W48")
    assert after == [("2026-W51", local(2026, 12, 17, 12)), ("2026-W52", local(2026, 12, 21, 9))]


def test_catch_up_before_the_shifted_opening_takes_the_period_before() -> None:
    # Easter Monday 2026: W15 opens Tuesday 7 April. On Monday W14 is still the latest due.
    assert due_runs(WEEKLY, last_period="2026-W13", now=local(2026, 4, 6, 12), tz=CPH) == "2026-W14"
    assert due_runs(WEEKLY, last_period="2026-W14", now=local(2026, 4, 6, 12), tz=CPH) is None
    assert due_runs(WEEKLY, last_period="2026-W14", now=local(2026, 4, 7, 9), tz=CPH) == "2026-W15"


def test_nothing_opens_before_starts_on() -> None:
    spec = ScheduleSpec(starts_on=dt.date(2026, 12, 2))
    assert due_runs(spec, last_period=None, now=local(2026, 12, 3, 12), tz=CPH) is None
    assert due_runs(spec, last_period=None, now=local(2026, 12, 7, 9), tz=CPH) == "2026-W50"


def test_new_schedule_without_anchor_opens_the_current_period() -> None:
    spec = ScheduleSpec()
    assert due_runs(spec, last_period=None, now=local(2026, 12, 3, 12), tz=CPH) == "2026-W49"


def test_due_runs_reads_the_clock() -> None:
    with time_machine.travel(dt.datetime(2026, 3, 30, 7, 0, 1, tzinfo=UTC), tick=False):
        assert due_runs(WEEKLY, last_period="2026-W13", tz=CPH) == "2026-W14"
    with time_machine.travel(dt.datetime(2026, 3, 30, 6, 59, tzinfo=UTC), tick=False):
        assert due_runs(WEEKLY, last_period="2026-W13", tz=CPH) is None


def test_due_runs_rejects_naive_now() -> None:
    with pytest.raises(ValueError):
        due_runs(WEEKLY, last_period=None, now=dt.datetime(2026, 3, 30, 9), tz=CPH)


# --- closing and reminders ---------------------------------------------------------------------


def test_closes_at_keeps_the_local_hour_across_dst() -> None:
    spec = ScheduleSpec(open_hours=72)
    assert closes_at(local(2026, 11, 30, 9), spec, CPH) == local(2026, 12, 3, 9)
    friday = local(2026, 3, 27, 9)
    assert closes_at(friday, spec, CPH) == local(2026, 3, 30, 9)
    assert closes_at(friday.astimezone(UTC), spec, CPH).astimezone(UTC).hour == 7


def test_reminders_on_working_days_between_opening_and_closing() -> None:
    spec = ScheduleSpec(reminder_time="10:00")
    opened = local(2026, 11, 30, 9)
    assert reminder_times(opened, closes_at(opened, spec, CPH), spec, CPH) == [
        local(2026, 12, 1, 10),
        local(2026, 12, 2, 10),
    ]


def test_reminders_skip_easter_and_weekends() -> None:
    spec = ScheduleSpec(reminder_time="10:00", open_hours=24 * 7)
    opened = local(2026, 4, 1, 9)  # Wednesday before Easter
    reminders = reminder_times(opened, closes_at(opened, spec, CPH), spec, CPH)
    # Candidates are only Tue 7 April and Wed 8 April 10:00 (closing is 09:00).
    assert reminders == [local(2026, 4, 7, 10)]


def test_reminders_first_and_last_of_many() -> None:
    spec = ScheduleSpec(reminder_time="11:00", open_hours=24 * 7)
    opened = local(2026, 11, 30, 9)
    assert reminder_times(opened, closes_at(opened, spec, CPH), spec, CPH) == [
        local(2026, 12, 1, 11),
        local(2026, 12, 4, 11),  # the round closes Monday 7 Dec at 09:00, before 11:00
    ]


@pytest.mark.parametrize(("configured", "used"), [("06:30", (8, 0)), ("19:00", (15, 0))])
def test_reminder_time_is_pulled_into_working_hours(configured: str, used: tuple[int, int]) -> None:
    spec = ScheduleSpec(reminder_time=configured)
    opened = local(2026, 11, 30, 9)
    reminders = reminder_times(opened, closes_at(opened, spec, CPH), spec, CPH)
    assert reminders and all((r.hour, r.minute) == used for r in reminders)


def test_no_reminder_for_a_short_round() -> None:
    spec = ScheduleSpec(open_hours=20)
    opened = local(2026, 11, 30, 9)
    assert reminder_times(opened, closes_at(opened, spec, CPH), spec, CPH) == []


# Any moment in Copenhagen over four years: DST changes, holidays and leap day included.
COPENHAGEN_2025_2028 = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),
    max_value=dt.datetime(2028, 12, 31),
    timezones=st.just(CPH),
)


@settings(max_examples=300, deadline=None)
@given(
    opened=COPENHAGEN_2025_2028,
    hours=st.integers(1, 24 * 21),
    reminder=st.tuples(st.integers(0, 23), st.integers(0, 59)),
)
def test_reminders_never_outside_working_hours(
    opened: dt.datetime, hours: int, reminder: tuple[int, int]
) -> None:
    spec = ScheduleSpec(open_hours=hours, reminder_time=f"{reminder[0]:02d}:{reminder[1]:02d}")
    closing = closes_at(opened, spec, CPH)
    reminders = reminder_times(opened, closing, spec, CPH)
    assert len(reminders) <= 2
    assert reminders == sorted(reminders)
    for r in reminders:
        local_r = r.astimezone(CPH)
        assert is_working_day(local_r.date())
        assert dt.time(8) <= local_r.time() < dt.time(16)
        assert within_working_hours(r, CPH)
        assert opened < r < closing
        assert local_r.date() > opened.astimezone(CPH).date()


@settings(max_examples=200, deadline=None)
@given(
    now=COPENHAGEN_2025_2028,
    cadence=st.sampled_from(["weekly", "biweekly", "monthly"]),
    weekday=st.integers(0, 6),
)
def test_due_period_has_opened_and_is_the_latest(
    now: dt.datetime, cadence: str, weekday: int
) -> None:
    spec = ScheduleSpec(cadence=cadence, weekday=weekday)  # type: ignore[arg-type]
    period = due_runs(spec, last_period=None, now=now, tz=CPH)
    assert period is not None
    opens = opening_time(spec, period, CPH)
    assert opens <= now
    assert is_working_day(opens.astimezone(CPH).date())
    assert opening_time(spec, next_period(spec, period), CPH) > now
    assert due_runs(spec, last_period=period, now=now, tz=CPH) is None
