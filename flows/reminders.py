"""Reminders for an open pulse round: at most two, only to those who have not answered.

The moments come from flows.schedule.reminder_times (working days, 08-16 local, before the
round closes). At each moment the job queues one reminder per member still owed one, under
the dedupe key "pulse:<round>:remind<n>:<member>", so a doubled tick sends nothing twice. The
decision is taken twice: when queueing (non-answerers only) and again right before the send
(`still_wanted_if`), so a member who answers in between never gets it.

A committee may choose "remind everyone" (Schedule.remind_everyone): then every member asked
gets the same neutral text, which says nothing about whether they have answered. Paused
members get nothing either way.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.i18n import translator
from bot.core.outbox import Outgoing, queue, still_wanted_if, to_member
from bot.core.secret_key import PULSE_ANSWERS, in_force
from flows.pulse import (
    answered_members,
    answers_key,
    as_zoneinfo,
    ask_message,
    is_paused,
    language,
    local_today,
)
from flows.schedule import ScheduleSpec, reminder_times, within_working_hours
from storage.db import Database
from storage.models import Member, OutboxMessage, Participation, PulseRound, Schedule, utcnow

log = logging.getLogger("medpuls.reminders")

TO_NON_RESPONDERS = "pulse.remind"
TO_EVERYONE = "pulse.remind_all"


def reminder_moments(session: Session, pulse_round: PulseRound, tz: dt.tzinfo) -> list[dt.datetime]:
    """The round's reminder moments; a round opened by hand uses its unit's schedule, if any."""
    schedule = (
        session.get(Schedule, pulse_round.schedule_id)
        if pulse_round.schedule_id is not None
        else session.scalars(
            select(Schedule).where(Schedule.unit_id == pulse_round.unit_id)
        ).first()
    )
    spec = ScheduleSpec.from_row(schedule) if schedule is not None else ScheduleSpec()
    return reminder_times(pulse_round.opened_at, pulse_round.closes_at, spec, as_zoneinfo(tz))


def remind_everyone(session: Session, pulse_round: PulseRound) -> bool:
    if pulse_round.schedule_id is None:
        return False
    schedule = session.get(Schedule, pulse_round.schedule_id)
    return bool(schedule and schedule.remind_everyone)


def remind_round(
    session: Session, pulse_round: PulseRound, *, now: dt.datetime, settings: Settings
) -> int:
    """Queue the reminder that is due now, if any; returns how many were queued.

    Only the latest moment that has passed counts: after downtime a member gets one reminder,
    not two at once.
    """
    tz = settings.tz
    due = [
        n for n, moment in enumerate(reminder_moments(session, pulse_round, tz), 1) if moment <= now
    ]
    if not due or not pulse_round.is_open or now >= pulse_round.closes_at:
        return 0
    n = due[-1]
    everyone = remind_everyone(session, pulse_round)
    owed = (
        select(Participation, Member)
        .join(Member, Member.id == Participation.member_id)
        .where(Participation.round_id == pulse_round.id, Participation.reminders_sent < n)
        .where(Member.erased.is_(False), Member.unreachable.is_(None))
        .order_by(Participation.member_id)
    )
    # Who has answered comes from the keys (Participation.answered is set only at close).
    answered = (
        set() if everyone else answered_members(session, pulse_round, key=answers_key(settings))
    )
    today = local_today(now, tz)
    questions = [rq.question for rq in pulse_round.questions]
    purpose = TO_EVERYONE if everyone else TO_NON_RESPONDERS
    messages: list[Outgoing] = []
    reminded: list[int] = []
    for _, member in session.execute(owed).tuples():
        if member.id in answered or is_paused(member, today):
            continue
        t = translator(language(member, settings.language))
        intro = t("pulse.remind_all_intro" if everyone else "pulse.remind_intro")
        messages.append(
            to_member(
                member.id,
                f"pulse:{pulse_round.id}:remind{n}:{member.id}",
                ask_message(pulse_round, pulse_round.unit, questions, t, tz=tz, intro=intro),
                purpose=purpose,
                round_id=pulse_round.id,
            )
        )
        reminded.append(member.id)
    if not reminded:
        return 0
    queue(session, messages)
    session.execute(
        update(Participation)
        .where(Participation.round_id == pulse_round.id, Participation.member_id.in_(reminded))
        .values(reminders_sent=n)
    )
    log.info(
        "reminders queued",
        extra={"round_id": pulse_round.id, "count": len(reminded), "reminder": n},
    )
    return len(reminded)


def send_due_reminders(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: queue the due reminders of every open round (one transaction each)."""
    if not within_working_hours(now, as_zoneinfo(settings.tz)):
        return
    with db.session() as session:
        open_ids = list(
            session.scalars(
                select(PulseRound.id).where(
                    PulseRound.closed_at.is_(None), PulseRound.closes_at > now
                )
            )
        )
    for round_id in open_ids:
        with db.session() as session:
            pulse_round = session.get(PulseRound, round_id, with_for_update=db.is_postgres)
            if pulse_round is not None and pulse_round.is_open:
                remind_round(session, pulse_round, now=now, settings=settings)


def _round_and_member(
    session: Session, row: OutboxMessage
) -> tuple[PulseRound, Member, Participation] | None:
    if row.round_id is None or row.address_kind != "member":
        return None
    pulse_round = session.get(PulseRound, row.round_id)
    member = session.get(Member, int(row.address))
    participation = session.get(Participation, (row.round_id, int(row.address)))
    if pulse_round is None or member is None or participation is None or not pulse_round.is_open:
        return None
    return pulse_round, member, participation


@still_wanted_if(TO_NON_RESPONDERS)
def still_unanswered(session: Session, row: OutboxMessage) -> bool:
    """Send a reminder only if the round is open, the member has still not answered and has
    not paused since it was queued."""
    found = _round_and_member(session, row)
    if found is None:
        return False
    pulse_round, member, _ = found
    # Participation.answered is set at close only; while open, the keys say it.
    key = in_force(PULSE_ANSWERS)
    answered = answered_members(session, pulse_round, key=key, member_ids=[member.id])
    return not answered and not _paused_today(member)


@still_wanted_if(TO_EVERYONE)
def round_still_open(session: Session, row: OutboxMessage) -> bool:
    found = _round_and_member(session, row)
    return found is not None and not _paused_today(found[1])


def _paused_today(member: Member) -> bool:
    # Local dates differ from UTC ones by at most a day; a pause is about whole days, so the
    # UTC date errs by at most the last hours of a pause's final day.
    return is_paused(member, utcnow().date())


JOBS = [send_due_reminders]
