"""A leader's digest preferences: "digest pause", "digest resume", "digest tid man 08:00"."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.core.events import CommandInvoked
from bot.core.i18n import Translator
from bot.core.messages import (
    Reply,
)
from bot.core.router import FlowContext, Router
from storage.models import (
    DigestPreference,
    Membership,
)

_DAYS = {
    **{d: i for i, d in enumerate(("man", "tir", "ons", "tor", "fre", "lør", "søn"))},
    **{d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
}
_PAUSE = {"pause", "stop"}
_RESUME = {"resume", "genoptag", "start"}
_TIME = {"tid", "time"}


def _day(word: str) -> int | None:
    return _DAYS.get(word.lower()[:3])


def _hhmm(word: str) -> str | None:
    hour, sep, minute = word.replace(".", ":").partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(minute) == 2):
        return None
    if not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
        return None
    return f"{int(hour):02d}:{minute}"


def on_digest_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    member = ctx.member
    if member is None:
        return Reply.note(t("common.unknown_user"))
    is_leader = ctx.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.member_id == member.id,
            Membership.has_role("leader"),
        )
    )
    if not is_leader:
        return Reply.note(t("digest.pref_not_leader"))
    words = event.text.split()[1:]
    pref = ctx.session.get(DigestPreference, member.id)
    if pref is None:
        pref = DigestPreference(member_id=member.id, weekday=0, local_time="08:00", paused=False)
        ctx.session.add(pref)
    head = words[0].lower() if words else ""
    if head in _PAUSE:
        pref.paused = True
        return Reply.note(t("digest.pref_paused"))
    if head in _RESUME:
        pref.paused = False
        return Reply.note(t("digest.pref_resumed", when=_when(t, pref)))
    if head in _TIME and len(words) == 3:
        day, time = _day(words[1]), _hhmm(words[2])
        if day is not None and time is not None:
            pref.weekday = day
            pref.local_time = time
            pref.paused = False
            return Reply.note(t("digest.pref_time", when=_when(t, pref)))
    return Reply.note(t("digest.pref_help", when=_when(t, pref)))


def _when(t: Translator, pref: DigestPreference) -> str:
    monday = dt.date(2024, 1, 1)
    hour, minute = (int(x) for x in pref.local_time.split(":"))
    moment = dt.datetime.combine(monday + dt.timedelta(days=pref.weekday), dt.time(hour, minute))
    return t.weekday_time(moment)


def register(router: Router) -> None:
    router.command("digest", "overblik")(on_digest_command)
