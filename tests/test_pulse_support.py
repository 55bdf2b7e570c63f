"""Shared set-up for the pulse tests (no tests here): a small organisation, clicks as events."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app.wiring import Bot, build
from bot.core.config import Settings
from bot.core.events import (
    Actor,
    ButtonClicked,
    CommandInvoked,
    Conversation,
    FormSubmitted,
    MessageReceived,
)
from bot.core.messages import Reply
from flows.organisation import import_members, import_units
from flows.pulse import PulseAnswer
from storage.models import Membership, Schedule, Unit

CPH = ZoneInfo("Europe/Copenhagen")
TOP = "Kommune"
UNIT = "Kommune/Hjemmeplejen"


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
        unit = s.scalars(select(Unit).where(Unit.path == UNIT)).one()
        ids = list(
            s.scalars(
                select(Membership.member_id)
                .where(Membership.unit_id == unit.id)
                .order_by(Membership.member_id)
            )
        )
        return unit.id, ids


def schedule(bot: Bot, unit_id: int, **values: object) -> int:
    with bot.db.session() as s:
        row = Schedule(unit_id=unit_id, **values)
        s.add(row)
        s.flush()
        return row.id


def actor(member_id: int) -> Actor:
    return Actor(platform="local", user_id=str(member_id))


def click(bot: Bot, member_id: int, data: str) -> Reply:
    return bot.core.handle_sync(
        ButtonClicked(
            actor=actor(member_id),
            conversation=Conversation("local", f"member:{member_id}"),
            data=data,
        )
    )


def answer(bot: Bot, member_id: int, round_id: int, question_id: str, value: int) -> Reply:
    return click(bot, member_id, PulseAnswer(r=round_id, q=question_id, v=value).pack())


def say(bot: Bot, member_id: int, text: str) -> Reply:
    return bot.core.handle_sync(
        CommandInvoked(
            actor=actor(member_id),
            conversation=Conversation("local", f"member:{member_id}"),
            command="",
            text=text,
        )
    )


def tell(bot: Bot, member_id: int, text: str) -> Reply:
    """A plain message, not a command word."""
    return bot.core.handle_sync(
        MessageReceived(
            actor=actor(member_id),
            conversation=Conversation("local", f"member:{member_id}"),
            text=text,
        )
    )


def submit(bot: Bot, member_id: int, data: str, values: dict[str, str]) -> Reply:
    return bot.core.handle_sync(
        FormSubmitted(
            actor=actor(member_id),
            conversation=Conversation("local", f"member:{member_id}"),
            data=data,
            values=values,
        )
    )


def text_of(reply: Reply) -> str:
    message = reply.notice or reply.update
    assert message is not None, reply
    return " ".join(
        [message.summary]
        + [str(getattr(p, "text", "")) for p in message.parts]
        + [str(getattr(p, "label", "") or "") for p in message.parts]
    )
