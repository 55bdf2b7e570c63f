"""Queueing the week's digests: to each leader when due, and to each committee before its
meeting; the scheduler's jobs."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.i18n import Lang, translator
from bot.core.outbox import to_member, to_unit_channel
from flows.charts import ChartProcess
from flows.digest.batch import CHART_PROCESS_FROM, Batch, ImageIds, new_image_id
from flows.digest.keys import (
    again_of,
    again_suffix,
    committee_key,
    committee_keys,
    leader_key,
    leader_keys,
)
from flows.digest.loading import load_picture
from flows.digest.picture import Picture
from flows.digest.render import committee_message, leader_message
from flows.digest.weeks import week_key
from flows.heatmap import HeatMaps, heatmap_of
from storage.audit import audit_row
from storage.db import Database
from storage.models import (
    DigestPreference,
    Meeting,
    Member,
    Membership,
    OutboxMessage,
)

log = logging.getLogger("medpuls.digest")


@dataclass(frozen=True)
class Leader:
    member_id: int
    language: Lang
    units: tuple[int, ...]
    weekday: int
    local_time: str
    paused: bool


def _leaders(session: Session, default: Lang) -> list[Leader]:
    rows = session.execute(
        select(
            Membership.member_id,
            Membership.unit_id,
            Member.language,
            DigestPreference.weekday,
            DigestPreference.local_time,
            DigestPreference.paused,
        )
        .join(Member, Member.id == Membership.member_id)
        .outerjoin(DigestPreference, DigestPreference.member_id == Membership.member_id)
        .where(Member.erased.is_(False), Membership.has_role("leader"))
        .order_by(Membership.member_id, Membership.unit_id)
    ).all()
    grouped: dict[int, list[tuple[int, str | None, int | None, str | None, bool | None]]] = (
        defaultdict(list)
    )
    for member_id, unit_id, lang, weekday, local_time, paused in rows:
        grouped[member_id].append((unit_id, lang, weekday, local_time, paused))
    out = []
    for member_id, items in grouped.items():
        _, speaks, day, time, on_hold = items[0]
        out.append(
            Leader(
                member_id,
                speaks if speaks in ("da", "en") else default,  # type: ignore[arg-type]
                tuple(u for u, *_ in items),
                0 if day is None else day,
                time or "08:00",
                bool(on_hold),
            )
        )
    return out


def due_at(leader: Leader, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """When this week's digest is due for the leader; ValueError for a broken preference."""
    if not 0 <= leader.weekday <= 6:
        raise ValueError("weekday out of range")
    hour, minute = (int(x) for x in leader.local_time.split(":"))
    today = now.astimezone(tz).date()
    day = today - dt.timedelta(days=today.weekday() - leader.weekday)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)


def _covered(picture: Picture, units: Sequence[int]) -> list[int]:
    """The led units not already inside another led unit (that digest covers them)."""
    chosen = set(units)
    return [
        u
        for u in units
        if u in picture.units and not any(a in chosen for a in picture.chain(u)[1:])
    ] + [u for u in units if u not in picture.units]


def _sent_keys(session: Session, pattern: str) -> set[str]:
    """The dedupe keys already queued that match the LIKE `pattern`."""
    return set(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like(pattern))
        )
    )


# Messages are written in slices: while one slice's rows go to the database, the chart process
# draws the charts of the slices after it.
def queue_leader_digests(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    *,
    due_only: bool = True,
    image_ids: ImageIds = new_image_id,
    picture: Picture | None = None,
    again: bool = False,
) -> int:
    """Queue this week's digest for every leader (or only those now due); returns how many.

    One leader whose data is broken is logged and skipped; the others are queued. Paused
    leaders get nothing, also from `medpuls digest send-now`. With `again`, every leader gets
    an updated one even if this week's went already: one more per call, each under its own key
    (":again<n>"), so a retried delivery still sends it once.
    """
    tz = settings.tz
    week = week_key(now, tz)
    # This week's only: every week of the year before would pile up here.
    sent = _sent_keys(session, leader_keys(week))
    number = 0
    if again:
        number = 1 + max((again_of(k) for k in sent), default=0)
        sent = {k for k in sent if k.endswith(again_suffix(number))}
    leaders = [ld for ld in _leaders(session, settings.language) if not ld.paused]
    pending: list[tuple[Leader, int]] = []
    for leader in leaders:
        try:
            if due_only and now < due_at(leader, now, tz):
                continue
        except ValueError:
            log.error(
                "digest preference unreadable; leader skipped",
                extra={"member_id": leader.member_id},
            )
            continue
        pending.extend(
            (leader, unit_id)
            for unit_id in leader.units
            if leader_key(leader.member_id, week, unit_id, number) not in sent
        )
    if not pending:
        return 0
    picture = picture or load_picture(session, settings, now)
    painting = _chart_process() if len(pending) >= CHART_PROCESS_FROM else None
    try:
        added, failed = _queue_for_leaders(
            session, picture, pending, week, now, image_ids, painting, number
        )
    finally:
        if painting is not None:
            painting.close()
    log.info("leader digests queued", extra={"count": added, "failed": failed, "week": week})
    return added


def _chart_process() -> ChartProcess | None:
    try:
        return ChartProcess()
    except OSError as err:  # drawing here is slower, not wrong
        log.warning("chart process not started", extra={"error": type(err).__name__})
        return None


def _queue_for_leaders(
    session: Session,
    picture: Picture,
    pending: Sequence[tuple[Leader, int]],
    week: str,
    now: dt.datetime,
    image_ids: ImageIds,
    painting: ChartProcess | None,
    again: int = 0,
) -> tuple[int, int]:
    """Build and write the pending digests; returns how many were queued and how many not."""
    batch = Batch(picture, now, image_ids, painting)
    heat_maps = HeatMaps()
    failed = 0
    by_leader: dict[int, tuple[Leader, list[int]]] = {}
    for leader, unit_id in pending:
        by_leader.setdefault(leader.member_id, (leader, []))[1].append(unit_id)
    for leader, units in by_leader.values():
        t = translator(leader.language)
        for unit_id in _covered(picture, units):
            try:
                unit = picture.units[unit_id]
                image_id = batch.chart_for(unit_id, t)
                heat = heat_maps.parts(unit_id, t, partial(heatmap_of, picture, unit_id, t))
                message = leader_message(picture, unit_id, t, image_id, heat)
            except Exception as err:  # one leader's broken data must not stop the others
                failed += 1
                log.error(
                    "digest not built; leader skipped",
                    extra={
                        "member_id": leader.member_id,
                        "unit": unit_id,
                        "error": type(err).__name__,
                    },
                )
                continue
            batch.add(
                to_member(
                    leader.member_id,
                    leader_key(leader.member_id, week, unit_id, again),
                    message,
                    purpose="digest.leader",
                ),
                audit_row(
                    leader.member_id,
                    "view.digest",
                    unit.path,
                    allowed=True,
                    now=now,
                    week=week,
                    kind="leader",
                ),
                image_id,
                {"member_id": leader.member_id, "unit": unit_id},
            )
            batch.write_ready(session)
    heat_maps.write(session, now)
    added = batch.write(session)
    return added, failed + batch.failed


def queue_committee_digests(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    *,
    image_ids: ImageIds = new_image_id,
) -> int:
    """Queue the pulse picture to each committee whose agenda is released and meeting to come."""
    sent = _sent_keys(session, committee_keys())
    meetings = [
        m
        for m in session.scalars(
            select(Meeting).where(Meeting.agenda_release <= now, Meeting.starts_at > now)
        )
        if committee_key(m.id) not in sent
    ]
    if not meetings:
        return 0
    picture = load_picture(session, settings, now)
    batch = Batch(picture, now, image_ids)
    t = translator(settings.language)
    for meeting in meetings:
        committee = meeting.committee
        try:
            image_id = batch.chart_for(committee.unit_id, t)
            message = committee_message(picture, committee, meeting, t, image_id, settings.tz)
        except Exception as err:  # one committee's broken data must not stop the others
            log.error(
                "committee digest not built",
                extra={"committee": committee.id, "error": type(err).__name__},
            )
            continue
        batch.add(
            to_unit_channel(
                committee.unit_id,
                committee_key(meeting.id),
                message,
                purpose="digest.committee",
            ),
            audit_row(
                None,
                "view.digest",
                committee.unit.path,
                allowed=True,
                now=now,
                kind="committee",
                committee=committee.name,
            ),
            image_id,
            {"committee": committee.id},
        )
        batch.write_ready(session)
    return batch.write(session)


def send_due_digests(db: Database, settings: Settings, now: dt.datetime) -> None:
    with db.session() as session:
        queue_leader_digests(session, settings, now, due_only=True)


def send_committee_digests(db: Database, settings: Settings, now: dt.datetime) -> None:
    with db.session() as session:
        queue_committee_digests(session, settings, now)
