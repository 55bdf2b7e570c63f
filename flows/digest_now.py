"""`medpuls digest send-now [--again]`: send this week's leader digests now, and say what was
done and why (issue 17, point 5): a newcomer who runs it after the week's digests went out
learns that they did, when, and how to send an updated one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.i18n import Translator
from flows.digest import queue_leader_digests, week_key
from storage.models import OutboxMessage

__all__ = ["SendNow", "send_now", "send_now_lines"]


@dataclass(frozen=True)
class SendNow:
    queued: int
    again: bool
    # Leaders who had this week's digest before this call, and when the first of them got it
    # (sent, or else queued: `delivered` says which).
    already: int
    first: dt.datetime | None
    delivered: bool


def _this_weeks(session: Session, week: str) -> tuple[int, dt.datetime | None, bool]:
    base = OutboxMessage.dedupe_key.like(f"digest:leader:%:{week}:%")
    rows = session.execute(
        select(OutboxMessage.address, OutboxMessage.sent_at, OutboxMessage.created_at).where(
            base, OutboxMessage.purpose == "digest.leader"
        )
    ).all()
    leaders = {address for address, _, _ in rows}
    sent = [at for _, at, _ in rows if at is not None]
    if sent:
        return len(leaders), min(sent), True
    queued = [at for _, _, at in rows]
    return len(leaders), min(queued, default=None), False


def send_now(session: Session, settings: Settings, now: dt.datetime, *, again: bool) -> SendNow:
    week = week_key(now, settings.tz)
    already, first, delivered = _this_weeks(session, week)
    queued = queue_leader_digests(session, settings, now, due_only=False, again=again)
    return SendNow(queued, again, already, first, delivered)


def send_now_lines(report: SendNow, t: Translator, tz: dt.tzinfo) -> list[str]:
    """What the command prints, one line each."""
    lines: list[str] = []
    if report.again:
        lines.append(t.plural("digest.send_now_again", report.queued))
        return lines
    if report.queued:
        lines.append(t.plural("digest.send_now_queued", report.queued))
    if report.already and report.first is not None:
        first = report.first if report.first.tzinfo else report.first.replace(tzinfo=dt.UTC)
        when = t.weekday_time(first.astimezone(tz))
        key = "digest.send_now_already" if report.delivered else "digest.send_now_pending"
        lines.append(t.plural(key, report.already, when=when))
    if not lines:
        lines.append(t("digest.send_now_nobody"))
    return lines
