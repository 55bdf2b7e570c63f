"""A meeting's agenda as one document: the chat message, Markdown and Word (.docx).

The agenda must make sense to employees outside the committee, so it follows the usual MED form:
the meeting's date and place, who takes part and who sent apologies (afbud), standing items first
(approval of the agenda, approval of the last minutes), then each item with its background, a
recommendation ("Det indstilles, at ...") and room for the decision, and "Eventuelt" last. One
`AgendaDocument` feeds all three renderings, so they cannot disagree; the files are written by
flows/documents.py (A4, the reader's language, header, page numbers, core properties).

The approval line says what is true of the version shown: approved when one person from each
side signed this exact version (flows.approvals, flows.agenda.keys.agenda_subject), and by whom.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

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
    SmallPrint,
    Text,
)
from flows import documents
from flows.agenda.keys import agenda_subject
from flows.agenda.render import shown_as, when
from flows.agenda.statuses import ON_THE_AGENDA
from flows.approvals import is_approved, signers
from flows.documents import ApprovalState
from flows.full_text import ShowProposal, summary
from storage.models import Meeting, Proposal

__all__ = [
    "AgendaDocument",
    "AgendaItem",
    "agenda_message",
    "build_agenda",
    "shown_as",
    "to_document",
    "to_docx",
    "to_markdown",
]


@dataclass(frozen=True)
class AgendaItem:
    number: int
    title: str
    presented_by: str | None = None
    background: list[tuple[str, str]] = field(default_factory=list)
    recommendation: str | None = None
    decision_label: str | None = None
    decision: str | None = None
    # A proposal's item: its background is summarised in chat, the whole shown on request.
    proposal_id: int | None = None


@dataclass(frozen=True)
class AgendaDocument:
    title: str
    facts: list[tuple[str, str]]
    status: str
    items: list[AgendaItem]
    decision_placeholder: str
    # The page header and the file's author: every document names its committee.
    committee: str
    language: str = "da"
    approved: bool = False
    kind: str = ""
    show_full: str = ""


def approval_state(session: Session, meeting: Meeting, t: Translator, tz: dt.tzinfo) -> str:
    """The status line: approved (by whom) and published, approved, or still a draft."""
    subject = agenda_subject(meeting)
    if not is_approved(session, subject):
        if meeting.published_at is not None:
            # Sent out before approvals were signed per person: say only what is known.
            return t("agenda.status_published", date=when(t, meeting.published_at, tz))
        return t("agenda.status_draft")
    by = signers(session, subject)
    approved = t(
        "documents.agenda_approved",
        management=by["management"].name,
        employee=by["employee"].name,
    )
    if meeting.published_at is None:
        return t("documents.agenda_approved_not_sent", approved=approved)
    return t(
        "documents.agenda_approved_sent",
        approved=approved,
        date=when(t, meeting.published_at, tz),
    )


def _standing_items(t: Translator) -> list[AgendaItem]:
    return [
        AgendaItem(
            1,
            t("agenda.item_approve_agenda"),
            recommendation=t("agenda.item_approve_agenda_rec"),
            decision_label=t("agenda.decision_label"),
        ),
        AgendaItem(
            2,
            t("agenda.item_approve_minutes"),
            recommendation=t("agenda.item_approve_minutes_rec"),
            decision_label=t("agenda.decision_label"),
        ),
    ]


def _proposal_item(session: Session, p: Proposal, number: int, t: Translator) -> AgendaItem:
    background = [(t("agenda.issue_label"), p.issue), (t("agenda.why_label"), p.why)]
    if p.suggestion:
        background.append((t("agenda.suggestion_label"), p.suggestion))
    return AgendaItem(
        number,
        p.title,
        presented_by=shown_as(session, p, t),
        background=background,
        recommendation=t("agenda.recommendation_line", text=p.recommendation or ""),
        decision_label=t("agenda.decision_label"),
        decision=p.decision,
        proposal_id=p.id,
    )


def build_agenda(
    session: Session, meeting: Meeting, t: Translator, tz: dt.tzinfo
) -> AgendaDocument:
    from flows.attendance import attendance

    items = _standing_items(t)
    proposals = session.scalars(
        select(Proposal)
        .where(Proposal.meeting_id == meeting.id, Proposal.status.in_(ON_THE_AGENDA))
        .order_by(Proposal.position, Proposal.id)
    ).all()
    for p in proposals:
        items.append(_proposal_item(session, p, len(items) + 1, t))
    items.append(AgendaItem(len(items) + 1, t("agenda.item_any_other_business")))
    committee = meeting.committee
    participants, absentees = attendance(session, meeting, t)
    facts = [
        (t("agenda.fact_meeting"), when(t, meeting.starts_at, tz)),
        (t("agenda.fact_place"), meeting.place or "-"),
        (t("agenda.fact_committee"), committee.name),
        (t("documents.participants"), documents.people(participants) or "-"),
        (t("documents.absentees"), documents.people(absentees) or t("documents.no_absentees")),
    ]
    status = approval_state(session, meeting, t, tz)
    return AgendaDocument(
        title=t(
            "agenda.agenda_title",
            committee=committee.name,
            date=t.date(meeting.starts_at.astimezone(tz).date(), "d. MMMM y"),
        ),
        facts=facts,
        status=status,
        items=items,
        decision_placeholder=t("agenda.decision_room"),
        show_full=t("forms.show_full"),
        committee=committee.name,
        language=t.lang,
        approved=status != t("agenda.status_draft"),
        kind=t("documents.kind_agenda"),
    )


def agenda_message(doc: AgendaDocument) -> Message:
    parts: list[Part] = [
        Header(text=doc.title),
        Facts(facts=[Fact(label=label, value=value) for label, value in doc.facts]),
        SmallPrint(text=doc.status),
    ]
    for item in doc.items:
        parts.append(Divider())
        lines = [f"*{item.number}. {item.title}*"]
        if item.presented_by:
            lines.append(f"_{item.presented_by}_")
        background = "\n".join(f"*{label}:* {text}" for label, text in item.background)
        short = summary(background)
        if background:
            lines.append(short)
        if item.recommendation:
            lines.append(item.recommendation)
        if item.decision_label:
            lines.append(f"*{item.decision_label}:* {item.decision or doc.decision_placeholder}")
        parts.append(Text(text="\n".join(lines)))
        if short != background and item.proposal_id is not None:
            show = ShowProposal(p=item.proposal_id).pack()
            parts.append(Buttons(buttons=[Button(label=doc.show_full, data=show)]))
    return Message(summary=doc.title, parts=parts)


def _item_section(doc: AgendaDocument, item: AgendaItem) -> documents.Section:
    blocks: list[documents.Block] = []
    if item.presented_by:
        blocks.append(documents.Paragraph(item.presented_by, emphasis=True))
    blocks.extend(documents.Paragraph(text, label=label) for label, text in item.background)
    if item.recommendation:
        blocks.append(documents.Paragraph(item.recommendation))
    if item.decision_label:
        decision = item.decision or doc.decision_placeholder
        blocks.append(documents.Paragraph(decision, label=item.decision_label))
    return documents.Section(f"{item.number}. {item.title}", blocks)


def to_document(doc: AgendaDocument) -> documents.Document:
    """The agenda in the neutral document model, for flows.documents' writers. Its facts (date,
    place, participants, afbud) are the chat message's, so the renderings cannot disagree."""
    return documents.Document(
        title=doc.title,
        committee=doc.committee,
        language="en" if doc.language == "en" else "da",
        facts=doc.facts,
        attendance=False,
        approval=ApprovalState(doc.approved, doc.status),
        sections=[_item_section(doc, item) for item in doc.items],
        kind=doc.kind,
    )


def to_markdown(doc: AgendaDocument) -> str:
    return documents.to_markdown(to_document(doc))


def to_docx(doc: AgendaDocument) -> bytes:
    return documents.to_docx(to_document(doc))
