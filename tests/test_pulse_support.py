"""Shared set-up for the pulse tests (no tests here): a small organisation, clicks as events."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from bot.app.wiring import Bot, build
from bot.core import events
from bot.core.config import Settings
from bot.core.messages import Reply
from flows.organisation import import_members, import_units
from flows.pulse import PulseAnswer, open_due_rounds
from storage.models import PulseRound, Schedule
from storage.queries import members_of, unit_by_path

CPH = ZoneInfo("Europe/Copenhagen")
TOP = "Kommune"
UNIT = "Kommune/Hjemmeplejen"
# Weekly on Mondays at 09:00 (Copenhagen), two questions, open three days, reminders at 10:00.
WEEKLY_MONDAY_9: dict[str, Any] = {
    "cadence": "weekly",
    "weekday": 0,
    "local_time": "09:00",
    "questions_per_round": 2,
    "open_hours": 72,
    "reminder_time": "10:00",
}


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=CPH)


def make_bot(db_url: str, **settings: object) -> Bot:
    # The local chat is the platform these tests deliver to (it runs only when asked for).
    values: dict[str, object] = {"MEDPULS_LOCAL_CHAT": True, **settings}
    return build(Settings(DATABASE_URL=db_url, **values))  # type: ignore[arg-type]


def organisation(bot: Bot, members: int = 8, *, extra_first: int = 0) -> tuple[int, list[int]]:
    """Units "Kommune" (committee Hoved-MED, chair and admin) and "Kommune/Hjemmeplejen" with
    `members` members; `extra_first` members of the top unit are created before them."""
    units = "unit_path,slack_channel_id,teams_channel_id,committee\n"
    units += f"{TOP},,,Hoved-MED\n{UNIT},,,\n"
    rows = ["unit_path,email,name,role,slack_user_id,teams_user_id"]
    rows += [f"{TOP},x{i}@k.dk,Ekstra {i},member,," for i in range(extra_first)]
    rows += [f"{UNIT},m{i}@k.dk,Medarbejder {i},member,," for i in range(members)]
    rows += [f"{TOP},chair@k.dk,Formand,chair,,", f"{TOP},admin@k.dk,Admin,admin,,"]
    with bot.db.session() as s:
        import_units(s, units)
        import_members(s, "\n".join(rows) + "\n")
        unit = unit_by_path(s, UNIT)
        assert unit is not None
        return unit.id, [m.id for m in members_of(s, unit.id)]


def schedule(bot: Bot, unit_id: int, **values: object) -> int:
    with bot.db.session() as s:
        row = Schedule(unit_id=unit_id, **values)
        s.add(row)
        s.flush()
        return row.id


def open_first_round(bot: Bot) -> tuple[int, list[str]]:
    """Runs the opening job at 09:00 on Monday 2 March 2026 (a schedule starting 1 March opens
    then); the one round it opened, and its questions."""
    with time_machine.travel(local(2026, 3, 2, 9), tick=False):
        open_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))
    with bot.db.session() as s:
        r = s.scalars(select(PulseRound)).one()
        return r.id, [rq.question_id for rq in r.questions]


def actor(member_id: int) -> events.Actor:
    return events.Actor(platform="local", user_id=str(member_id))


def handle(bot: Bot, member_id: int, kind: type[events.InboundEvent], **fields: Any) -> Reply:
    """An event of `kind` from the member, in their own conversation with the bot (local)."""
    conversation = events.Conversation("local", f"member:{member_id}")
    event = kind(actor=actor(member_id), conversation=conversation, **fields)
    return bot.core.handle_sync(event)


def click(bot: Bot, member_id: int, data: str) -> Reply:
    return handle(bot, member_id, events.ButtonClicked, data=data)


def answer(bot: Bot, member_id: int, round_id: int, question_id: str, value: int) -> Reply:
    return click(bot, member_id, PulseAnswer(r=round_id, q=question_id, v=value).pack())


def say(bot: Bot, member_id: int, text: str) -> Reply:
    return handle(bot, member_id, events.CommandInvoked, command="", text=text)


def tell(bot: Bot, member_id: int, text: str) -> Reply:
    """A plain message, not a command word."""
    return handle(bot, member_id, events.MessageReceived, text=text)


def submit(bot: Bot, member_id: int, data: str, values: dict[str, str]) -> Reply:
    return handle(bot, member_id, events.FormSubmitted, data=data, values=values)


def text_of(reply: Reply) -> str:
    message = reply.notice or reply.update
    assert message is not None, reply
    return " ".join(
        [message.summary]
        + [str(getattr(p, "text", "")) for p in message.parts]
        + [str(getattr(p, "label", "") or "") for p in message.parts]
    )
