"""The minutes as a document (chat, Markdown, Word) and `beslutninger`: what a member's
committees and every committee above them decided last (issue 18, points 4 and 5).

`build_minutes` gives the agenda's document shape (flows.agenda.export.AgendaDocument), which
the chat message is drawn from; `minutes_file` turns that same document into the neutral
flows.documents.Document the files are written from (A4, da-DK, header, page numbers), so the
chat and the files cannot disagree.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.events import CommandInvoked
from bot.core.i18n import Lang, Translator
from bot.core.messages import Header, Message, Part, Reply, Text
from bot.core.router import FlowContext, Router
from flows.agenda import committees_of, reference, when
from flows.agenda.export import AgendaDocument, AgendaItem, agenda_message, shown_as
from flows.approvals import is_approved, signers
from flows.attendance import attendance
from flows.decisions import decision_line, decisions_of, items_of, minutes_of, minutes_subject
from flows.documents import ApprovalState, Block, Paragraph, Section
from flows.documents import Document as FileDocument
from flows.med_tree import parent_committee
from storage.models import Committee, Meeting, Minutes


def build_minutes(
    session: Session, meeting: Meeting, t: Translator, tz: dt.tzinfo
) -> AgendaDocument:
    """The minutes as the agenda's document shape, so every rendering (chat, md, docx) fits."""
    decided = decisions_of(session, meeting)
    ordered = sorted(
        items_of(session, meeting),
        key=lambda p: (
            (decided[p.id].position if p.id in decided else p.position) or 0,
            p.id,
        ),
    )
    items = []
    for number, p in enumerate(ordered, start=3):
        d = decided.get(p.id)
        text = None
        if d is not None:
            target = session.get(Committee, d.referred_to_id) if d.referred_to_id else None
            text = decision_line(t, d, target.name if target else None)
            if d.follow_up_date or d.follow_up_owner:
                text += " " + t(
                    "agenda.follow_up_line",
                    owner=d.follow_up_owner or t("agenda.follow_up_no_owner"),
                    date=t.date(d.follow_up_date, "d. MMMM y") if d.follow_up_date else "-",
                )
        items.append(
            AgendaItem(
                number,
                p.title,
                presented_by=f"{shown_as(session, p, t)} · {reference(p, tz)}",
                recommendation=t("agenda.recommendation_line", text=p.recommendation)
                if p.recommendation
                else None,
                decision_label=t("agenda.decision_label"),
                decision=text,
            )
        )
    return AgendaDocument(
        title=t(
            "minutes.title",
            committee=meeting.committee.name,
            date=t.date(meeting.starts_at.astimezone(tz).date(), "d. MMMM y"),
        ),
        facts=[
            (t("agenda.fact_meeting"), when(t, meeting.starts_at, tz)),
            (t("agenda.fact_place"), meeting.place or "-"),
            (t("agenda.fact_committee"), meeting.committee.name),
        ],
        status=status_line(session, meeting, t, tz),
        items=items,
        decision_placeholder=t("minutes.no_decision_yet"),
        committee=meeting.committee.name,
        language=t.lang,
        kind=t("minutes.document_kind"),
    )


def minutes_file(session: Session, meeting: Meeting, lang: Lang, tz: dt.tzinfo) -> FileDocument:
    """The minutes for `medpuls minutes export`, in the documents' common form."""
    t = Translator(lang)
    doc = build_minutes(session, meeting, t, tz)
    minutes = minutes_of(session, meeting)
    participants, absentees = attendance(session, meeting, t)
    sections = []
    for item in doc.items:
        blocks: list[Block] = []
        if item.presented_by:
            blocks.append(Paragraph(item.presented_by, emphasis=True))
        if item.recommendation:
            blocks.append(Paragraph(item.recommendation))
        blocks.append(
            Paragraph(item.decision or doc.decision_placeholder, label=item.decision_label)
        )
        sections.append(Section(heading=f"{item.number}. {item.title}", blocks=blocks))
    approved = minutes is not None and is_approved(session, minutes_subject(minutes))
    return FileDocument(
        title=doc.title,
        committee=meeting.committee.name,
        language=lang,
        date=when(t, meeting.starts_at, tz),
        place=meeting.place,
        # Afbud recorded for the meeting (flows/attendance.py); the rest of the committee attended.
        participants=participants,
        absentees=absentees,
        approval=ApprovalState(approved=approved, text=doc.status),
        sections=sections,
        kind=t("minutes.document_kind"),
        created=minutes.published_at if minutes is not None else None,
    )


def status_line(session: Session, meeting: Meeting, t: Translator, tz: dt.tzinfo) -> str:
    minutes = minutes_of(session, meeting)
    if minutes is None or minutes.published_at is None:
        return t("minutes.status_draft")
    signed = signers(session, minutes_subject(minutes))
    return t(
        "minutes.status_approved",
        management=signed["management"].name if "management" in signed else "-",
        employee=signed["employee"].name if "employee" in signed else "-",
        date=when(t, minutes.published_at, tz),
    )


def latest_minutes(session: Session, committee: Committee) -> Meeting | None:
    return session.scalars(
        select(Meeting)
        .join(Minutes, Minutes.meeting_id == Meeting.id)
        .where(Meeting.committee_id == committee.id, Minutes.published_at.is_not(None))
        .order_by(Meeting.starts_at.desc())
    ).first()


# --- what the parent decided ----------------------------------------------------------------------


def decisions_view(ctx: FlowContext) -> Message:
    """The latest approved minutes of the member's committees and of every committee above."""
    member = ctx.member
    assert member is not None
    t = ctx.t
    seen: dict[int, Committee] = {}
    for committee, _ in committees_of(ctx.session, member):
        current: Committee | None = committee
        while current is not None and current.id not in seen:
            seen[current.id] = current
            current = parent_committee(ctx.session, current)
    parts: list[Part] = []
    for committee in seen.values():
        meeting = latest_minutes(ctx.session, committee)
        if meeting is None:
            parts += [Header(text=committee.name), Text(text=t("minutes.none_yet"))]
            continue
        doc = build_minutes(ctx.session, meeting, t, ctx.settings.tz)
        parts.extend(agenda_message(doc).parts)
    if not parts:
        parts.append(Text(text=t("agenda.no_committee")))
    return Message(summary=t("minutes.view_summary"), parts=parts)


def on_decisions_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    ctx.audit("minutes.view", "decisions")
    return Reply(notice=decisions_view(ctx))


def register(router: Router) -> None:
    router.command("beslutninger", "decisions", "referat", "minutes")(on_decisions_command)
