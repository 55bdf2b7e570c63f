"""Approving and publishing the agenda.

Two sides, two people (flows.approvals): one from the management side and another from the
employee side each sign the agenda's current version (flows.agenda.keys.agenda_subject). The
agenda goes out at its release time once both have signed, or at once with "Udsend nu", to the
committee's channel and every unit below it (flows.med_tree.units_informed).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import CannotSign
from bot.core.events import ButtonClicked
from bot.core.i18n import Translator, translator
from bot.core.messages import Message, Part, Reply, Text
from bot.core.outbox import queue, to_unit_channel
from bot.core.router import FlowContext
from flows.agenda import keys
from flows.agenda.actions import Approve, PublishNow
from flows.agenda.export import agenda_message, build_agenda
from flows.agenda.keys import agenda_subject
from flows.agenda.render import note, tell_chairs, when
from flows.agenda.view import publish_now_button, triage_message
from flows.approvals import is_approved, sign
from flows.approvals import sides_of as approval_sides
from flows.med_tree import units_informed
from storage.models import Meeting

log = logging.getLogger("medpuls.agenda")


def _approval_refused(ctx: FlowContext, meeting: Meeting, action: str) -> Reply:
    ctx.audit(action, f"meeting:{meeting.id}", allowed=False)
    return Reply.note(ctx.t("agenda.chairs_only"))


def on_approve(ctx: FlowContext, event: ButtonClicked, data: Approve) -> Reply:
    meeting = ctx.session.get(Meeting, data.m)
    if meeting is None:
        return Reply.note(ctx.t("agenda.no_such_meeting"))
    committee = meeting.committee
    actor = ctx.member
    if actor is None or not approval_sides(ctx.session, actor, committee):
        return _approval_refused(ctx, meeting, "agenda.approve")
    t = ctx.t
    if meeting.published_at is not None:
        return Reply.note(t("agenda.already_published"))
    if data.v != meeting.agenda_version:
        # The agenda changed after the approver saw it: they approve what they see now.
        update = triage_message(ctx) if event.message is not None else None
        return Reply(update=update, notice=note(t("agenda.approve_stale")))
    try:
        sign(ctx.session, committee, agenda_subject(meeting), actor, ctx.now)
    except CannotSign as refused:
        key = "agenda.already_approved" if refused.reason == "signed" else "agenda.side_approved"
        return Reply.note(t(key))
    ctx.audit(
        "agenda.approve", f"meeting:{meeting.id}", allowed=True, version=meeting.agenda_version
    )
    tz = ctx.settings.tz
    both = is_approved(ctx.session, agenda_subject(meeting))
    template = "agenda.chair_approved_both" if both else "agenda.chair_approved_one"

    def text(tt: Translator) -> str:
        return tt(
            template,
            actor=actor.name,
            committee=committee.name,
            meeting=when(tt, meeting.starts_at, tz),
            release=when(tt, meeting.agenda_release, tz),
        )

    ctx.send(
        *tell_chairs(
            ctx.session,
            committee,
            actor,
            ctx.settings,
            keys.agenda_approved(meeting.id, ctx.now),
            text,
        )
    )
    ctx.session.flush()
    if both and meeting.agenda_release <= ctx.now:
        publish(ctx.session, meeting, ctx.settings, ctx.now)
    update = triage_message(ctx) if event.message is not None else None
    parts: list[Part] = [Text(text=text(t))]
    if both and meeting.published_at is None:
        parts.append(publish_now_button(t, meeting))
    return Reply(update=update, notice=Message(summary=text(t), parts=parts))


def on_publish_now(ctx: FlowContext, event: ButtonClicked, data: PublishNow) -> Reply:
    """Either side sends out an agenda both approved, without waiting for the release date."""
    meeting = ctx.session.get(Meeting, data.m)
    if meeting is None:
        return Reply.note(ctx.t("agenda.no_such_meeting"))
    actor = ctx.member
    if actor is None or not approval_sides(ctx.session, actor, meeting.committee):
        return _approval_refused(ctx, meeting, "agenda.publish_now")
    t = ctx.t
    if meeting.published_at is not None:
        return Reply.note(t("agenda.already_published"))
    if data.v != meeting.agenda_version or not is_approved(ctx.session, agenda_subject(meeting)):
        return Reply.note(t("agenda.publish_needs_both"))
    publish(ctx.session, meeting, ctx.settings, ctx.now)
    ctx.audit("agenda.publish_now", f"meeting:{meeting.id}", version=meeting.agenda_version)
    tz = ctx.settings.tz

    def text(tt: Translator) -> str:
        return tt(
            "agenda.published_now",
            actor=actor.name,
            committee=meeting.committee.name,
            meeting=when(tt, meeting.starts_at, tz),
        )

    ctx.send(
        *tell_chairs(
            ctx.session,
            meeting.committee,
            actor,
            ctx.settings,
            keys.published_now(meeting.id),
            text,
        )
    )
    update = triage_message(ctx) if event.message is not None else None
    return Reply(update=update, notice=note(text(t)))


def publish(session: Session, meeting: Meeting, settings: Settings, now: dt.datetime) -> None:
    """Post the approved agenda to the committee's channel and every unit below it."""
    if meeting.published_at is not None:
        return
    t = translator(settings.language)
    message = agenda_message(build_agenda(session, meeting, t, settings.tz))
    queue(
        session,
        [
            to_unit_channel(
                unit.id,
                keys.published(meeting.id, unit.id),
                message,
                purpose="agenda.published",
            )
            for unit in units_informed(session, meeting.committee)
        ],
    )
    meeting.published_at = now
    log.info("agenda published", extra={"meeting": meeting.id, "committee": meeting.committee_id})
