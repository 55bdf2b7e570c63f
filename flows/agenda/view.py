"""What "dagsorden" shows: for a chair, each of their committees' proposals with a button for
every next step, the agenda's approvals and the held meetings' items to decide; for everyone
else, the published agenda or when the next meeting is.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.events import CommandInvoked
from bot.core.i18n import Translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Fact,
    Facts,
    Header,
    Message,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.router import FlowContext
from flows.agenda.actions import Approve, PublishNow, Triage
from flows.agenda.committees import chaired_by, committees_of
from flows.agenda.export import agenda_message, build_agenda
from flows.agenda.keys import agenda_subject
from flows.agenda.meetings import next_meeting
from flows.agenda.render import proposal_text, reference, shown_as, support_count, when
from flows.agenda.statuses import UNTRIAGED
from flows.approvals import is_approved, signers
from flows.decisions import PassOn, held_meetings, held_parts
from storage.models import Committee, Meeting, Proposal


def triage_message(ctx: FlowContext) -> Message:
    """For a chair: each of their committees' proposals, with a button for every next step."""
    member = ctx.member
    assert member is not None
    t = ctx.t
    parts: list[Part] = []
    for committee in chaired_by(ctx.session, member):
        parts.extend(_triage_parts(ctx, committee))
    return Message(summary=t("agenda.triage_summary"), parts=parts)


def triage_buttons(p: Proposal, t: Translator) -> Buttons:
    """A proposal's next steps: the chair's `dagsorden` view and the new-proposal alert."""
    return Buttons(
        buttons=[
            Button(
                label=t("agenda.btn_agenda"),
                data=Triage(p=p.id, s="agenda").pack(),
                style="primary",
            ),
            Button(label=t("agenda.btn_later"), data=Triage(p=p.id, s="later").pack()),
            Button(label=t("agenda.btn_merge"), data=Triage(p=p.id, s="merge").pack()),
            Button(label=t("agenda.btn_answer"), data=Triage(p=p.id, s="answer").pack()),
            Button(label=t("med.btn_pass"), data=PassOn(p=p.id).pack()),
            Button(
                label=t("agenda.btn_decline"),
                data=Triage(p=p.id, s="decline").pack(),
                style="danger",
            ),
        ]
    )


def _triage_parts(ctx: FlowContext, committee: Committee) -> list[Part]:
    t, tz, session = ctx.t, ctx.settings.tz, ctx.session
    meeting = next_meeting(session, committee.id, ctx.now)
    parts: list[Part] = [Header(text=t("agenda.triage_title", committee=committee.name))]
    if meeting is None:
        parts.append(Text(text=t("agenda.triage_no_meeting")))
    else:
        parts.append(_meeting_facts(session, meeting, t, ctx.settings.tz))
    parts.extend(_untriaged_parts(ctx, committee, meeting))
    if meeting is not None:
        parts.extend(_on_agenda_parts(ctx, meeting))
    for held in held_meetings(session, committee.id, ctx.now):
        parts.append(Divider())
        parts.append(Text(text=f"*{t('minutes.held_title', meeting=when(t, held.starts_at, tz))}*"))
        parts.extend(held_parts(session, t, held, lambda p: _proposal_parts(ctx, p)))
    return parts


def _meeting_facts(session: Session, meeting: Meeting, t: Translator, tz: dt.tzinfo) -> Facts:
    """The next meeting's times and how far its agenda has come (approved by whom, sent)."""
    yes, no = t("agenda.yes"), t("agenda.no")
    signed = signers(session, agenda_subject(meeting))
    return Facts(
        facts=[
            Fact(label=t("agenda.fact_meeting"), value=when(t, meeting.starts_at, tz)),
            Fact(label=t("agenda.fact_place"), value=meeting.place or "-"),
            Fact(label=t("agenda.fact_deadline"), value=when(t, meeting.proposal_deadline, tz)),
            Fact(label=t("agenda.fact_release"), value=when(t, meeting.agenda_release, tz)),
            Fact(
                label=t("agenda.fact_chair_approved"),
                value=signed["management"].name if "management" in signed else no,
            ),
            Fact(
                label=t("agenda.fact_vice_approved"),
                value=signed["employee"].name if "employee" in signed else no,
            ),
            Fact(label=t("agenda.fact_published"), value=yes if meeting.published_at else no),
        ]
    )


def _untriaged_parts(ctx: FlowContext, committee: Committee, meeting: Meeting | None) -> list[Part]:
    """Proposals still to triage, up to the next meeting (later ones wait for their turn)."""
    t = ctx.t
    cutoff = meeting.starts_at if meeting else None
    untriaged = [
        p
        for p in ctx.session.scalars(
            select(Proposal)
            .where(Proposal.committee_id == committee.id, Proposal.status.in_(UNTRIAGED))
            .order_by(Proposal.id)
        )
        if p.meeting is None or cutoff is None or p.meeting.starts_at <= cutoff
    ]
    parts: list[Part] = [Divider(), Text(text=f"*{t('agenda.triage_new')}*")]
    if not untriaged:
        parts.append(SmallPrint(text=t("agenda.triage_none")))
    for p in untriaged:
        parts.extend(_proposal_parts(ctx, p))
        parts.append(triage_buttons(p, t))
    return parts


def _on_agenda_parts(ctx: FlowContext, meeting: Meeting) -> list[Part]:
    """The next meeting's items, and its approval buttons while it is not sent out."""
    t, session = ctx.t, ctx.session
    on_agenda = _on_agenda(session, meeting)
    parts: list[Part] = [Divider(), Text(text=f"*{t('agenda.triage_on_agenda')}*")]
    if not on_agenda:
        parts.append(SmallPrint(text=t("agenda.triage_none")))
    for p in on_agenda:
        parts.extend(_proposal_parts(ctx, p))
        line = t("agenda.recommendation_line", text=p.recommendation or "")
        parts.append(SmallPrint(text=line))
        parts.append(
            Buttons(
                buttons=[
                    Button(label=t("agenda.btn_edit"), data=Triage(p=p.id, s="agenda").pack()),
                    Button(label=t("agenda.btn_later"), data=Triage(p=p.id, s="later").pack()),
                ]
            )
        )
    if meeting.published_at is None:
        approve = Button(
            label=t("agenda.btn_approve"),
            data=Approve(m=meeting.id, v=meeting.agenda_version).pack(),
            style="primary",
        )
        parts.append(Buttons(buttons=[approve]))
        if is_approved(session, agenda_subject(meeting)):
            parts.append(publish_now_button(t, meeting))
    return parts


def _on_agenda(session: Session, meeting: Meeting) -> list[Proposal]:
    return list(
        session.scalars(
            select(Proposal)
            .where(Proposal.meeting_id == meeting.id, Proposal.status == "on_agenda")
            .order_by(Proposal.position, Proposal.id)
        )
    )


def _proposal_parts(ctx: FlowContext, p: Proposal) -> list[Part]:
    t = ctx.t
    count = support_count(ctx.session, p.id)
    head = f"*{p.title}* · {reference(p, ctx.settings.tz)} · {shown_as(ctx.session, p, t)}"
    small = t("agenda.supports", n=count)
    if p.status == "later":
        small += " · " + t("agenda.moved_earlier")
    if p.meeting is None:
        small += " · " + t("agenda.no_meeting_yet")
    return [Text(text=f"{head}\n{proposal_text(p, t)}"), SmallPrint(text=small)]


def member_view(ctx: FlowContext) -> Message:
    """For everyone else: the published agenda, or when the next meeting is."""
    member = ctx.member
    assert member is not None
    t, tz = ctx.t, ctx.settings.tz
    parts: list[Part] = []
    for committee, _ in committees_of(ctx.session, member):
        meeting = next_meeting(ctx.session, committee.id, ctx.now)
        if meeting is not None and meeting.published_at is not None:
            parts.extend(agenda_message(build_agenda(ctx.session, meeting, t, tz)).parts)
            continue
        parts.append(Header(text=committee.name))
        if meeting is None:
            parts.append(Text(text=t("agenda.member_no_meeting")))
        else:
            parts.append(
                Text(
                    text=t(
                        "agenda.member_next_meeting",
                        meeting=when(t, meeting.starts_at, tz),
                        deadline=when(t, meeting.proposal_deadline, tz),
                        release=when(t, meeting.agenda_release, tz),
                    )
                )
            )
    if not parts:
        parts.append(Text(text=t("agenda.no_committee")))
    return Message(summary=t("agenda.member_summary"), parts=parts)


def on_agenda_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    if chaired_by(ctx.session, ctx.member):
        ctx.audit("agenda.view", "triage")
        return Reply(notice=triage_message(ctx))
    return Reply(notice=member_view(ctx))


def publish_now_button(t: Translator, meeting: Meeting) -> Buttons:
    return Buttons(
        buttons=[
            Button(
                label=t("agenda.btn_publish_now"),
                data=PublishNow(m=meeting.id, v=meeting.agenda_version).pack(),
                style="primary",
            )
        ]
    )
