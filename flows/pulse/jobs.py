"""Rounds opened and closed by hand (the CLI) and by schedule: the scheduler's jobs, each safe to
run twice."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import NotFound
from flows.pulse.anonymity import answers_key
from flows.pulse.closed_dms import queue_closed_rewrites
from flows.pulse.closing import close_round
from flows.pulse.members import local_today
from flows.pulse.opening import Opened, open_round
from flows.pulse.questions import next_questions
from flows.pulse.thresholds import thresholds_for
from flows.question_bank import (
    question_bank,
)
from flows.schedule import ScheduleSpec, due_runs, period_start, rotation_slot
from flows.schedule import closes_at as schedule_closes_at
from storage.db import Database
from storage.models import PulseRound, Schedule
from storage.queries import members_of, subtree, unit_by_path
from storage.scrub import WAIT_SECONDS as SCRUB_WAIT
from storage.scrub import scrub_after_close

log = logging.getLogger("medpuls.pulse")


def has_open_round(session: Session, unit_id: int) -> bool:
    return (
        session.scalars(
            select(PulseRound.id).where(
                PulseRound.unit_id == unit_id, PulseRound.closed_at.is_(None)
            )
        ).first()
        is not None
    )


def run_now(
    session: Session, unit_path: str, *, now: dt.datetime, settings: Settings
) -> list[Opened]:
    """Open a round now for the unit and each unit below it that has members."""
    unit = unit_by_path(session, unit_path)
    if unit is None:
        raise NotFound(f"unknown unit path {unit_path!r}")
    bank = question_bank(settings)
    opened = []
    for u in subtree(session, unit):
        if not members_of(session, u.id) or has_open_round(session, u.id):
            continue
        schedule = session.scalars(select(Schedule).where(Schedule.unit_id == u.id)).first()
        count = schedule.questions_per_round if schedule else 2
        spec = ScheduleSpec.from_row(schedule) if schedule else ScheduleSpec()
        score_min, comment_min = thresholds_for(session, u, settings)
        opened.append(
            open_round(
                session,
                u,
                next_questions(
                    session,
                    u,
                    count,
                    bank,
                    slot=rotation_slot(spec.cadence, local_today(now, settings.tz)),
                ),
                now=now,
                closes_at=schedule_closes_at(
                    now, spec, as_zoneinfo(settings.tz), hours=settings.quiet_hours
                ),
                min_group_size=score_min,
                min_comment_group_size=comment_min,
                default_language=settings.language,
                tz=settings.tz,
            )
        )
    return opened


def open_scheduled_round(
    session: Session, schedule: Schedule, *, now: dt.datetime, settings: Settings
) -> Opened | None:
    """Open the schedule's due round, if one is due and not opened yet; None otherwise.

    The period comes from flows.schedule.due_runs, with the newest period this schedule has
    opened: a holiday moves a run to the next working day, and after downtime only the latest
    missed period is caught up. A unit whose previous round is still open waits for it to
    close, so nobody holds two rounds of the same unit at once.
    """
    spec = ScheduleSpec.from_row(schedule)
    tz = settings.tz
    last_period = session.scalars(
        select(PulseRound.period)
        .where(PulseRound.schedule_id == schedule.id, PulseRound.period.is_not(None))
        .order_by(PulseRound.opened_at.desc(), PulseRound.id.desc())
        .limit(1)
    ).first()
    period = due_runs(spec, last_period=last_period, now=now, tz=as_zoneinfo(tz))
    if period is None:
        return None
    already = session.scalars(
        select(PulseRound.id).where(
            PulseRound.schedule_id == schedule.id, PulseRound.period == period
        )
    ).first()
    unit = schedule.unit
    if already is not None or has_open_round(session, unit.id) or not members_of(session, unit.id):
        return None
    score_min, comment_min = thresholds_for(session, unit, settings)
    return open_round(
        session,
        unit,
        next_questions(
            session,
            unit,
            schedule.questions_per_round,
            question_bank(settings),
            slot=rotation_slot(spec.cadence, period_start(spec, period)),
        ),
        now=now,
        closes_at=schedule_closes_at(now, spec, as_zoneinfo(tz), hours=settings.quiet_hours),
        min_group_size=score_min,
        min_comment_group_size=comment_min,
        default_language=settings.language,
        tz=tz,
        schedule_id=schedule.id,
        period=period,
    )


def as_zoneinfo(tz: dt.tzinfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))


def open_due_rounds(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: open every schedule's due round (one transaction per schedule).

    Safe to run twice: a round exists at most once per (schedule, period); a second tick that
    races the first past the check loses on the unique constraint and changes nothing.
    """
    with db.session() as session:
        schedule_ids = list(
            session.scalars(
                select(Schedule.id).where(Schedule.active.is_(True)).order_by(Schedule.id)
            )
        )
    for schedule_id in schedule_ids:
        try:
            with db.session() as session:
                schedule = session.get(Schedule, schedule_id)
                if schedule is not None and schedule.active:
                    open_scheduled_round(session, schedule, now=now, settings=settings)
        except IntegrityError:
            log.info("scheduled round opened by another tick", extra={"schedule_id": schedule_id})
        except ValueError as err:
            log.error(
                "schedule cannot be read", extra={"schedule_id": schedule_id, "reason": str(err)}
            )


def close_now(session: Session, unit_path: str, *, now: dt.datetime, settings: Settings) -> int:
    """Close the open rounds of the unit and the units below it; returns how many closed."""
    unit = unit_by_path(session, unit_path)
    if unit is None:
        raise NotFound(f"unknown unit path {unit_path!r}")
    ids = [u.id for u in subtree(session, unit)]
    rounds = session.scalars(
        select(PulseRound).where(PulseRound.unit_id.in_(ids), PulseRound.closed_at.is_(None))
    ).all()
    key = answers_key(settings) if rounds else b""
    for r in rounds:
        close_round(session, r, now=now, default_language=settings.language, key=key)
        queue_closed_rewrites(session, r, settings.language)
    return len(rounds)


def close_due_rounds(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Close every round whose time is up (one transaction per round), then scrub the files."""
    with db.session() as session:
        due = list(
            session.scalars(
                select(PulseRound.id).where(
                    PulseRound.closed_at.is_(None), PulseRound.closes_at <= now
                )
            )
        )
    if not due:
        return
    key = answers_key(settings)
    for round_id in due:
        with db.session() as session:
            r = session.get(PulseRound, round_id, with_for_update=db.is_postgres)
            if r is not None and r.closed_at is None:
                close_round(session, r, now=now, default_language=settings.language, key=key)
                queue_closed_rewrites(session, r, settings.language)
    scrub_closed_rounds(db, settings, now)


def scrub_closed_rounds(
    db: Database, settings: Settings, now: dt.datetime, *, wait: float = SCRUB_WAIT
) -> None:
    """Scheduler job: remove closed rounds' old row versions from the database files, when a
    close left some (storage.scrub); a no-op query otherwise."""
    with db.session() as session:
        pending = session.scalars(
            select(PulseRound.id).where(PulseRound.scrub_pending.is_(True)).limit(1)
        ).first()
    if pending is None:
        return
    if scrub_after_close(db, wait=wait):
        with db.session() as session:
            session.execute(
                update(PulseRound)
                .where(PulseRound.scrub_pending.is_(True))
                .values(scrub_pending=False)
                .execution_options(synchronize_session=False)
            )
        log.info("closed rounds scrubbed from the database files")
