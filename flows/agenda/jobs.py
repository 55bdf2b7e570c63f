"""The agenda's scheduler jobs, each `job(db, settings, now)` and safe to run twice (their
messages carry dedupe keys, flows.agenda.keys).

The scheduler knows them as flows.agenda.<name> (flows/__init__.py names a job after the module
that lists it in JOBS: the package, flows/agenda/__init__.py), as it did before the package.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.i18n import translator
from bot.core.outbox import Outgoing, queue, to_unit_channel
from flows.agenda import keys
from flows.agenda.committees import chairs_of, units_served
from flows.agenda.keys import agenda_subject
from flows.agenda.publishing import publish
from flows.agenda.render import follow_up_text, reference, reminder_message, tell_each, when
from flows.approvals import is_approved
from flows.schedule import working_days_before
from storage.db import Database
from storage.models import Meeting, OutboxMessage, Proposal

REMINDER_WORKING_DAYS = 3
REMINDER_TIME = dt.time(9, 0)
# A follow-up missed while the scheduler was down is still worth a reminder a few days late.
FOLLOW_UP_GRACE = dt.timedelta(days=7)


def remind_deadlines(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Three working days before a proposal deadline, remind the units a committee serves."""
    tz = settings.tz
    with db.session() as session:
        for meeting in session.scalars(
            select(Meeting).where(Meeting.proposal_deadline > now).order_by(Meeting.id)
        ):
            remind_at = reminder_time(meeting, tz)
            if now < remind_at:
                continue
            t = translator(settings.language)
            message = reminder_message(meeting.committee, meeting, t, tz)
            items = []
            for unit in units_served(session, meeting.committee):
                call_sent = session.scalar(
                    select(OutboxMessage.created_at).where(
                        OutboxMessage.dedupe_key == keys.call(meeting.id, unit.id)
                    )
                )
                # A call made after the reminder's time already says everything a reminder would.
                if call_sent is not None and call_sent >= remind_at:
                    continue
                items.append(
                    to_unit_channel(
                        unit.id,
                        keys.reminder(meeting.id, unit.id),
                        message,
                        purpose="agenda.reminder",
                    )
                )
            queue(session, items)


def reminder_time(meeting: Meeting, tz: dt.tzinfo) -> dt.datetime:
    deadline_day = meeting.proposal_deadline.astimezone(tz).date()
    day = working_days_before(deadline_day, REMINDER_WORKING_DAYS)
    return dt.datetime.combine(day, REMINDER_TIME, tzinfo=tz)


def publish_due_agendas(db: Database, settings: Settings, now: dt.datetime) -> None:
    """On the release date, publish agendas both chairs approved; nudge them if not."""
    with db.session() as session:
        due = list(
            session.scalars(
                select(Meeting.id).where(
                    Meeting.published_at.is_(None),
                    Meeting.agenda_release <= now,
                    Meeting.starts_at > now,
                )
            )
        )
    for meeting_id in due:
        with db.session() as session:
            meeting = session.get(Meeting, meeting_id, with_for_update=db.is_postgres)
            if meeting is None or meeting.published_at is not None:
                continue
            if is_approved(session, agenda_subject(meeting)):
                publish(session, meeting, settings, now)
                continue
            queue(session, _nudge(session, meeting, settings))


def remind_follow_ups(db: Database, settings: Settings, now: dt.datetime) -> None:
    """On an outcome's follow-up date, remind the committee's chairs."""
    today = now.astimezone(settings.tz).date()
    with db.session() as session:
        due = session.scalars(
            select(Proposal).where(
                Proposal.status == "decided",
                Proposal.follow_up_date <= today,
                Proposal.follow_up_date >= today - FOLLOW_UP_GRACE,
            )
        ).all()
        items = [item for p in due for item in _follow_up_reminders(session, p, settings)]
        queue(session, items)


def _nudge(session: Session, meeting: Meeting, settings: Settings) -> list[Outgoing]:
    """The chairs of an agenda due out but not approved by both sides."""
    tz = settings.tz
    return tell_each(
        chairs_of(session, meeting.committee),
        settings,
        lambda chair: keys.unapproved(meeting.id, chair),
        lambda t: t(
            "agenda.release_waiting",
            committee=meeting.committee.name,
            meeting=when(t, meeting.starts_at, tz),
        ),
        "agenda.chair",
    )


def _follow_up_reminders(session: Session, p: Proposal, settings: Settings) -> list[Outgoing]:
    return tell_each(
        chairs_of(session, p.committee),
        settings,
        lambda chair: keys.follow_up(p.id, p.follow_up_date, chair),
        lambda t: t(
            "agenda.follow_up_reminder",
            title=p.title,
            ref=reference(p, settings.tz),
            committee=p.committee.name,
            decision=p.decision or "",
            follow_up=follow_up_text(t, p),
        ),
        "agenda.follow_up",
    )
