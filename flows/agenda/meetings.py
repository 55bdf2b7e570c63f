"""A committee's meetings: finding the one a proposal goes to, setting one (from the command
line or the "møde" form in chat), and the call for proposals that setting one sends.

A proposal goes to the first meeting whose proposal deadline is still ahead; after that
deadline it goes to the following meeting, or waits for one to be set. A meeting on a weekend
or a Danish public holiday needs a confirmation.
"""

from __future__ import annotations

import datetime as dt
import logging

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import InvalidInput
from bot.core.events import CommandInvoked, FormSubmitted
from bot.core.i18n import Translator, translator
from bot.core.messages import Field_, Form, Option, Reply
from bot.core.outbox import Outgoing, queue, to_member, to_unit_channel
from bot.core.router import FlowContext
from flows.agenda import keys
from flows.agenda.actions import MeetingForm
from flows.agenda.committees import (
    chaired_by,
    proposer_side,
    refuse_unless_chair,
    units_served,
)
from flows.agenda.render import call_message, note, reference, speak, tell_chairs, when
from flows.agenda.statuses import UNTRIAGED
from flows.schedule import is_working_day
from storage.models import Committee, Meeting, Member, Proposal

log = logging.getLogger("medpuls.agenda")


def meeting_for_new_proposal(
    session: Session, committee_id: int, now: dt.datetime
) -> Meeting | None:
    """The first meeting whose proposal deadline is still ahead (deadline itself is too late)."""
    return session.scalars(
        select(Meeting)
        .where(Meeting.committee_id == committee_id, Meeting.proposal_deadline > now)
        .order_by(Meeting.starts_at)
    ).first()


def next_meeting(session: Session, committee_id: int, now: dt.datetime) -> Meeting | None:
    return session.scalars(
        select(Meeting)
        .where(Meeting.committee_id == committee_id, Meeting.starts_at > now)
        .order_by(Meeting.starts_at)
    ).first()


def meeting_after(session: Session, meeting: Meeting) -> Meeting | None:
    return session.scalars(
        select(Meeting)
        .where(Meeting.committee_id == meeting.committee_id, Meeting.starts_at > meeting.starts_at)
        .order_by(Meeting.starts_at)
    ).first()


def parse_when(value: str, tz: dt.tzinfo) -> dt.datetime:
    """ "2026-12-15T13:00" (local time) or an ISO instant with an offset."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


class OffDay(InvalidInput):
    """A meeting on a weekend or public holiday, not confirmed; `reason` names the day."""

    def __init__(self, day: dt.date, reason: str) -> None:
        super().__init__(f"{day.isoformat()} is not a working day ({reason})")
        self.day = day
        self.reason = reason


def off_day_reason(day: dt.date, t: Translator) -> str | None:
    """Why a meeting should not be held on `day` (a holiday's name, or weekend), or None."""
    if is_working_day(day):
        return None
    language = "da" if t.lang == "da" else "en_US"
    name = holidays.country_holidays("DK", years=day.year, language=language).get(day)
    if name:
        return str(name)
    for month, date, key in (
        (6, 5, "constitution_day"),
        (12, 24, "christmas_eve"),
        (12, 31, "new_years_eve"),
    ):
        if (day.month, day.day) == (month, date):
            return t(f"agenda.off_{key}")
    return t("agenda.off_weekend")


def schedule_meeting(
    session: Session,
    committee: Committee,
    starts_at: dt.datetime,
    *,
    now: dt.datetime,
    settings: Settings,
    place: str | None = None,
    proposal_deadline: dt.datetime | None = None,
    agenda_release: dt.datetime | None = None,
    by: Member | None = None,
    off_day_confirmed: bool = False,
) -> Meeting:
    """Set a meeting, bring waiting proposals to it, and call for proposals.

    A meeting on a weekend or a Danish public holiday needs `off_day_confirmed` (raises OffDay).
    """
    deadline = proposal_deadline or starts_at - dt.timedelta(days=committee.proposal_deadline_days)
    release = agenda_release or starts_at - dt.timedelta(days=committee.agenda_release_days)
    if starts_at <= now:
        raise InvalidInput("the meeting must be in the future")
    if not deadline <= release <= starts_at:
        raise InvalidInput("the proposal deadline must come before the agenda release")
    day = starts_at.astimezone(settings.tz).date()
    reason = off_day_reason(day, translator("en"))
    if reason is not None and not off_day_confirmed:
        raise OffDay(day, reason)
    meeting = Meeting(
        committee_id=committee.id,
        starts_at=starts_at,
        place=(place or "").strip()[:300] or None,
        proposal_deadline=deadline,
        agenda_release=release,
    )
    session.add(meeting)
    session.flush()
    items: list[Outgoing] = []
    if deadline > now:
        items.extend(_bring_waiting(session, committee, meeting, settings))
        call = call_message(committee, meeting, translator(settings.language), settings.tz)
        items.extend(
            to_unit_channel(unit.id, keys.call(meeting.id, unit.id), call, purpose="agenda.call")
            for unit in units_served(session, committee)
        )
    if by is not None:
        tz = settings.tz
        items.extend(
            tell_chairs(
                session,
                committee,
                by,
                settings,
                keys.meeting_set(meeting.id),
                lambda t: t(
                    "agenda.chair_set_meeting",
                    actor=by.name,
                    committee=committee.name,
                    meeting=when(t, meeting.starts_at, tz),
                ),
            )
        )
    queue(session, items)
    log.info("meeting set", extra={"committee": committee.id, "meeting": meeting.id})
    return meeting


def _bring_waiting(
    session: Session, committee: Committee, meeting: Meeting, settings: Settings
) -> list[Outgoing]:
    """Attach the proposals waiting for a meeting to this one, and tell their people."""
    tz = settings.tz
    items: list[Outgoing] = []
    waiting = session.scalars(
        select(Proposal).where(
            Proposal.committee_id == committee.id,
            Proposal.meeting_id.is_(None),
            Proposal.status.in_(UNTRIAGED),
        )
    ).all()
    for p in waiting:
        p.meeting_id = meeting.id
        for member in proposer_side(session, p):
            t = speak(member, settings.language)
            text = t(
                "agenda.waiting_found_meeting",
                title=p.title,
                ref=reference(p, tz),
                meeting=when(t, meeting.starts_at, tz),
            )
            items.append(
                to_member(
                    member.id,
                    keys.found_meeting(p.id, meeting.id, member.id),
                    note(text),
                    purpose="agenda.proposer",
                )
            )
    return items


def on_meeting_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    if ctx.member is None:
        return Reply.note(t("common.unknown_user"))
    committees = chaired_by(ctx.session, ctx.member)
    if not committees:
        ctx.audit("agenda.meeting", "form", allowed=False)
        return Reply.note(t("agenda.chairs_only"))
    fields: list[Field_] = []
    if len(committees) > 1:
        fields.append(
            Field_(
                name="committee",
                label=t("agenda.field_committee"),
                kind="choice",
                options=[Option(value=str(c.id), label=c.name) for c in committees],
            )
        )
    first = committees[0]
    fields.extend(
        [
            Field_(name="starts_at", label=t("agenda.field_starts_at"), kind="datetime"),
            Field_(name="place", label=t("agenda.field_place"), required=False, max_length=300),
            *(
                Field_(
                    name=name,
                    label=t(f"agenda.field_{name}"),
                    kind="datetime",
                    required=False,
                    hint=t.plural(f"agenda.{name}_hint", days),
                )
                for name, days in (
                    ("deadline", first.proposal_deadline_days),
                    ("release", first.agenda_release_days),
                )
            ),
            Field_(
                name="off_day",
                label=t("agenda.field_off_day"),
                kind="checkbox",
                required=False,
                hint=t("agenda.off_day_hint"),
            ),
        ]
    )
    return Reply(
        form=Form(
            data=MeetingForm(c=first.id if len(committees) == 1 else None).pack(),
            title=t("agenda.meeting_form_title"),
            submit=t("agenda.meeting_form_submit"),
            fields=fields,
        )
    )


def on_meeting_submit(ctx: FlowContext, event: FormSubmitted, data: MeetingForm) -> Reply:
    t, tz = ctx.t, ctx.settings.tz
    values = {k: (v or "").strip() for k, v in event.values.items()}
    committee_id = data.c
    if committee_id is None and values.get("committee", "").isdigit():
        committee_id = int(values["committee"])
    committee = ctx.session.get(Committee, committee_id) if committee_id is not None else None
    if committee is None:
        return Reply(errors={"committee": t("agenda.error_committee")})
    refused = refuse_unless_chair(ctx, committee, "agenda.meeting", f"committee:{committee.id}")
    if refused is not None:
        return refused
    errors: dict[str, str] = {}
    parsed: dict[str, dt.datetime | None] = {}
    for name in ("starts_at", "deadline", "release"):
        raw = values.get(name, "")
        if not raw:
            parsed[name] = None
            if name == "starts_at":
                errors[name] = t("agenda.error_required")
            continue
        try:
            parsed[name] = parse_when(raw, tz)
        except InvalidInput:
            errors[name] = t("agenda.error_datetime")
    if errors:
        return Reply(errors=errors)
    starts_at = parsed["starts_at"]
    assert starts_at is not None
    try:
        meeting = schedule_meeting(
            ctx.session,
            committee,
            starts_at,
            now=ctx.now,
            settings=ctx.settings,
            place=values.get("place"),
            proposal_deadline=parsed["deadline"],
            agenda_release=parsed["release"],
            by=ctx.member,
            off_day_confirmed=values.get("off_day", "").lower() in ("true", "on", "1", "yes"),
        )
    except OffDay as off:
        reason = off_day_reason(off.day, t) or off.reason
        return Reply(
            errors={
                "starts_at": t(
                    "agenda.error_off_day", day=t.date(off.day, "d. MMMM y"), reason=reason
                )
            }
        )
    except InvalidInput:
        return Reply(errors={"starts_at": t("agenda.error_meeting_times")})
    return Reply.note(
        t(
            "agenda.meeting_set",
            committee=committee.name,
            meeting=when(t, meeting.starts_at, tz),
            deadline=when(t, meeting.proposal_deadline, tz),
            release=when(t, meeting.agenda_release, tz),
        )
    )
