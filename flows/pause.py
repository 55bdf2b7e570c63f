"""The member's own pulse settings in chat: `puls` (status), `puls pause <date>`, `puls
genoptag`, `puls regler`; the same as buttons and a date form under the status.

A pause ("on leave until 14 August") sets Member.paused_until, inclusive. While paused a member
is not asked when a round opens (so not counted as missing) and gets no reminders, also in a
round that opened before the pause.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from bot.core.actions import ActionData
from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted, MessageReceived
from bot.core.messages import Button, Buttons, Field_, Form, Header, Message, Reply, Text
from bot.core.router import FlowContext, Router
from flows.pulse import PulseRules, is_paused, local_today, rules_for_member
from storage.models import Participation, PulseRound

MAX_PAUSE = dt.timedelta(days=366)

_MONTHS = {
    "jan": 1, "januar": 1, "january": 1,
    "feb": 2, "februar": 2, "february": 2,
    "mar": 3, "marts": 3, "march": 3,
    "apr": 4, "april": 4,
    "maj": 5, "may": 5,
    "jun": 6, "juni": 6, "june": 6,
    "jul": 7, "juli": 7, "july": 7,
    "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9,
    "okt": 10, "oct": 10, "oktober": 10, "october": 10,
    "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[./-](\d{1,2})(?:[./-](\d{2}|\d{4}))?\b")
_DAY_MONTH = re.compile(r"\b(\d{1,2})\.?\s+([a-zæøå]+)\.?(?:\s+(\d{4}))?", re.IGNORECASE)
_MONTH_DAY = re.compile(r"\b([a-zæøå]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(\d{4}))?", re.I)

PAUSE_WORDS = frozenset({"pause", "orlov", "leave"})
RESUME_WORDS = frozenset({"genoptag", "resume", "fortsæt", "continue"})
RULES_WORDS = frozenset({"regler", "rules", "anonym", "anonymous", "privacy"})
# Said in plain words rather than as a command: "jeg har orlov til 14. august".
_LEAVE_PHRASES = (
    "leave until",
    "orlov til",
    "orlov indtil",
    "pause til",
    "pause until",
    "away until",
)


class PulsePauseOpen(ActionData):
    kind = "pulse.pause"


class PulsePauseForm(ActionData):
    kind = "pulse.pause_form"


class PulseResume(ActionData):
    kind = "pulse.resume"


def parse_until(text: str, today: dt.date) -> dt.date | None:
    """The date in "14. august", "on leave until 14 August 2027", "14/8", "2027-08-14".

    Without a year it is the next such date from today on.
    """
    text = text.strip().lower()
    try:
        if m := _ISO.search(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _NUMERIC.search(text):
            year = None if m[3] is None else int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            return _resolve(int(m[1]), int(m[2]), year, today)
        for pattern, day_first in ((_DAY_MONTH, True), (_MONTH_DAY, False)):
            for m in pattern.finditer(text):
                day, month = (m[1], m[2]) if day_first else (m[2], m[1])
                if month.lower() in _MONTHS:
                    year = int(m[3]) if m[3] else None
                    return _resolve(int(day), _MONTHS[month.lower()], year, today)
    except ValueError:
        return None
    return None


def _resolve(day: int, month: int, year: int | None, today: dt.date) -> dt.date:
    if year is not None:
        return dt.date(year, month, day)
    this_year = dt.date(today.year, month, day)
    return this_year if this_year >= today else dt.date(today.year + 1, month, day)


def status_message(ctx: FlowContext) -> Message:
    """Open rounds, the pause if any, and buttons to pause, resume and read the rules."""
    t = ctx.t
    member = ctx.member
    assert member is not None
    today = local_today(ctx.now, ctx.settings.tz)
    open_rounds = (
        ctx.session.scalar(
            select(func.count())
            .select_from(Participation)
            .join(PulseRound, PulseRound.id == Participation.round_id)
            .where(Participation.member_id == member.id, PulseRound.closed_at.is_(None))
        )
        or 0
    )
    paused = is_paused(member, today)
    lines = [
        t.plural("pulse.status_open", open_rounds) if open_rounds else t("pulse.status_none"),
        t("pulse.status_paused", until=_day(ctx, member.paused_until))
        if paused and member.paused_until
        else t("pulse.status_active"),
    ]
    toggle = (
        Button(label=t("pulse.resume_button"), data=PulseResume().pack())
        if paused
        else Button(label=t("pulse.pause_button"), data=PulsePauseOpen().pack())
    )
    return Message(
        summary=t("pulse.status_title"),
        parts=[
            Header(text=t("pulse.status_title")),
            Text(text="\n".join(lines)),
            Buttons(
                buttons=[
                    toggle,
                    Button(label=t("pulse.rules_button"), data=PulseRules().pack()),
                ]
            ),
        ],
    )


def _day(ctx: FlowContext, day: dt.date | None) -> str:
    return ctx.t.date(day, "d. MMMM y") if day else ""


def pause_form(ctx: FlowContext) -> Form:
    t = ctx.t
    return Form(
        data=PulsePauseForm().pack(),
        title=t("pulse.pause_title"),
        submit=t("pulse.pause_submit"),
        fields=[
            Field_(
                name="until", label=t("pulse.pause_label"), kind="date", hint=t("pulse.pause_hint")
            )
        ],
    )


def pause_until(ctx: FlowContext, text: str) -> tuple[dt.date | None, str | None]:
    """Set the pause from what the member wrote; (date, None) or (None, why not)."""
    today = local_today(ctx.now, ctx.settings.tz)
    until = parse_until(text, today)
    if until is None:
        return None, ctx.t("pulse.pause_bad_date")
    if until < today:
        return None, ctx.t("pulse.pause_past")
    if until - today > MAX_PAUSE:
        return None, ctx.t("pulse.pause_too_far")
    assert ctx.member is not None
    ctx.member.paused_until = until
    ctx.audit("pulse.pause", f"member:{ctx.member.id}")
    return until, None


def on_pulse_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    words = event.text.split()
    sub = words[1].lower() if len(words) > 1 else ""
    rest = " ".join(words[2:])
    if sub in PAUSE_WORDS:
        if not rest:
            return Reply(form=pause_form(ctx))
        until, problem = pause_until(ctx, rest)
        return Reply.note(problem or ctx.t("pulse.paused", until=_day(ctx, until)))
    if sub in RESUME_WORDS:
        return resume(ctx)
    if sub in RULES_WORDS:
        return Reply(notice=rules_for_member(ctx))
    return Reply(notice=status_message(ctx))


def resume(ctx: FlowContext) -> Reply:
    assert ctx.member is not None
    if not is_paused(ctx.member, local_today(ctx.now, ctx.settings.tz)):
        return Reply.note(ctx.t("pulse.not_paused"))
    ctx.member.paused_until = None
    ctx.audit("pulse.resume", f"member:{ctx.member.id}")
    return Reply.note(ctx.t("pulse.resumed"))


def on_pause_open(ctx: FlowContext, event: ButtonClicked, data: PulsePauseOpen) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    return Reply(form=pause_form(ctx))


def on_pause_submit(ctx: FlowContext, event: FormSubmitted, data: PulsePauseForm) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    until, problem = pause_until(ctx, event.values.get("until") or "")
    if problem:
        return Reply(errors={"until": problem})
    return Reply.note(ctx.t("pulse.paused", until=_day(ctx, until)))


def on_resume(ctx: FlowContext, event: ButtonClicked, data: PulseResume) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    return resume(ctx)


def on_message(ctx: FlowContext, event: MessageReceived) -> Reply:
    text = event.text.lower()
    if ctx.member is None or not any(phrase in text for phrase in _LEAVE_PHRASES):
        return Reply()
    until, problem = pause_until(ctx, text)
    return Reply.note(problem or ctx.t("pulse.paused", until=_day(ctx, until)))


def register(router: Router) -> None:
    router.message(on_message)
    router.command("puls", "pulse")(on_pulse_command)
    router.action(PulsePauseOpen)(on_pause_open)
    router.action(PulseResume)(on_resume)
    router.form(PulsePauseForm)(on_pause_submit)
