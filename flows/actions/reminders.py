"""Reminders before the date (at most two, within working hours) and the question at it."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.i18n import Translator, chosen_language, translator
from bot.core.messages import Button, Buttons, Message, SmallPrint, Text
from bot.core.outbox import Outgoing, queue_due, to_member
from flows.actions.data import STATUSES, ActionMark
from flows.actions.hours import in_working_hours, reminder_slots, zone
from flows.actions.keys import due_key, reminder_key
from flows.actions.people import owners_of
from storage.db import Database
from storage.models import Member, TeamAction

log = logging.getLogger("flows.actions")


def _reminder(action: TeamAction, t: Translator) -> Message:
    text = t("actions.reminder", text=action.text, date=t.date(action.due_on, "EEEE d. MMMM"))
    small = SmallPrint(text=t("actions.reminder_small"))
    return Message(summary=text, parts=[Text(text=text), small])


def _due_message(action: TeamAction, t: Translator) -> Message:
    text = t("actions.due", text=action.text)
    buttons = [
        Button(
            label=t(f"actions.mark_{s}"),
            data=ActionMark(a=action.id, s=s).pack(),
            style="primary" if s == "done" else "default",
        )
        for s in STATUSES
    ]
    return Message(summary=text, parts=[Text(text=text), Buttons(buttons=buttons)])


def _speak(member: Member, settings: Settings) -> Translator:
    return translator(chosen_language(member.language, settings.language))


def reminders_for(session: Session, settings: Settings, now: dt.datetime) -> list[Outgoing]:
    """The reminders and at-the-date questions due now; nothing outside working hours."""
    tz = settings.tz
    if not in_working_hours(now, tz):
        return []
    today = now.astimezone(tz).date()
    items: list[Outgoing] = []
    for action in session.scalars(
        select(TeamAction).where(TeamAction.status == "planned").order_by(TeamAction.id)
    ):
        if today >= action.due_on:
            for m in owners_of(session, action):
                items.append(
                    to_member(
                        m.id,
                        due_key(action.id, action.due_on, m.id),
                        _due_message(action, _speak(m, settings)),
                        purpose="actions.due",
                    )
                )
            continue
        due_now = sum(slot <= now for slot in reminder_slots(action.due_on, zone(tz)))
        if due_now <= action.reminders_sent:
            continue
        # Missed slots are not caught up one by one: one reminder now, never more than two.
        action.reminders_sent = due_now
        for m in owners_of(session, action):
            items.append(
                to_member(
                    m.id,
                    reminder_key(action.id, action.due_on, due_now, m.id),
                    _reminder(action, _speak(m, settings)),
                    purpose="actions.reminder",
                )
            )
    return items


def remind_action_owners(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: reminders before the date, the question at it (outbox-deduplicated)."""
    added = queue_due(db, lambda session: reminders_for(session, settings, now))
    if added is not None:
        log.info("action reminders queued", extra={"count": added})
