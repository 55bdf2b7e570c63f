"""Who is asked, and in which language: a member's language, today on the local calendar, and
whether they are paused."""

from __future__ import annotations

import datetime as dt

from bot.core.i18n import Lang, chosen_language
from storage.models import (
    Member,
)


def language(member: Member, default: Lang) -> Lang:
    return chosen_language(member.language, default)


def local_today(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return now.astimezone(tz).date()


def is_paused(member: Member, today: dt.date) -> bool:
    """Paused members are neither asked nor reminded; `paused_until` is inclusive."""
    return member.paused_until is not None and member.paused_until >= today
