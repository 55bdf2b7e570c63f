"""A meeting's agenda as one document: the chat message, Markdown and Word (.docx).

The agenda must make sense to employees outside the committee, so it follows the usual MED form:
standing items first (approval of the agenda, approval of the last minutes), then each item with
its background, a recommendation ("Det indstilles, at ...") and room for the decision, and
"Eventuelt" last. One `AgendaDocument` feeds all three renderings, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from docx import Document
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import Translator
from bot.messages import (
    Button,
    Buttons,
    Context,
    Divider,
    Fact,
    Facts,
    Header,
    Message,
    Part,
    Text,
)
from flows.full_text import ShowProposal, summary
from storage.models import Meeting, Member, Proposal

__all__ = [
    "AgendaDocument",
    "AgendaItem",
    "agenda_message",
    "build_agenda",
    "shown_as",
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
    show_full: str = ""


def _when(t: Translator, value: dt.datetime, tz: dt.tzinfo) -> str:
    local = value.astimezone(tz)
    return t("agenda.when", date=t.date(local.date(), "EEEE d. MMMM y"), time=t.time(local))


def shown_as(session: Session, p: Proposal, t: Translator) -> str:
    """Who the committee and everyone else see behind a proposal: never an anonymous proposer."""
    if p.presenter_id is not None:
        presenter = session.get(Member, p.presenter_id)
        if presenter is not None and not presenter.erased:
            return t("agenda.by_rep", name=presenter.name)
    proposer = session.get(Member, p.proposer_id) if p.proposer_id is not None else None
    if p.anonymous or proposer is None or proposer.erased:
        return t("agenda.by_anonymous")
    return t("agenda.by_named", name=proposer.name)


def build_agenda(
    session: Session, meeting: Meeting, t: Translator, tz: dt.tzinfo
) -> AgendaDocument:
    items = [
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
    proposals = session.scalars(
        select(Proposal)
        .where(Proposal.meeting_id == meeting.id, Proposal.status.in_(("on_agenda", "decided")))
        .order_by(Proposal.position, Proposal.id)
    ).all()
    for p in proposals:
        background = [(t("agenda.issue_label"), p.issue), (t("agenda.why_label"), p.why)]
        if p.suggestion:
            background.append((t("agenda.suggestion_label"), p.suggestion))
        items.append(
            AgendaItem(
                len(items) + 1,
                p.title,
                presented_by=shown_as(session, p, t),
                background=background,
                recommendation=t("agenda.recommendation_line", text=p.recommendation or ""),
                decision_label=t("agenda.decision_label"),
                decision=p.decision,
                proposal_id=p.id,
            )
        )
    items.append(AgendaItem(len(items) + 1, t("agenda.item_any_other_business")))
    committee = meeting.committee
    facts = [
        (t("agenda.fact_meeting"), _when(t, meeting.starts_at, tz)),
        (t("agenda.fact_place"), meeting.place or "-"),
        (t("agenda.fact_committee"), committee.name),
    ]
    status = (
        t("agenda.status_published", date=_when(t, meeting.published_at, tz))
        if meeting.published_at
        else t("agenda.status_draft")
    )
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
    )


def agenda_message(doc: AgendaDocument) -> Message:
    parts: list[Part] = [
        Header(text=doc.title),
        Facts(facts=[Fact(label=label, value=value) for label, value in doc.facts]),
        Context(text=doc.status),
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


def to_markdown(doc: AgendaDocument) -> str:
    out = [f"# {doc.title}", ""]
    out.extend(f"- **{label}:** {value}" for label, value in doc.facts)
    out.extend(["", f"_{doc.status}_", ""])
    for item in doc.items:
        out.append(f"## {item.number}. {item.title}")
        out.append("")
        if item.presented_by:
            out.extend([f"_{item.presented_by}_", ""])
        for label, text in item.background:
            out.extend([f"**{label}:** {text}", ""])
        if item.recommendation:
            out.extend([item.recommendation, ""])
        if item.decision_label:
            out.extend(
                [f"**{item.decision_label}:** {item.decision or doc.decision_placeholder}", ""]
            )
    return "\n".join(out).rstrip() + "\n"


def to_docx(doc: AgendaDocument) -> bytes:
    document = Document()
    document.add_heading(doc.title, level=0)
    for label, value in doc.facts:
        para = document.add_paragraph()
        para.add_run(f"{label}: ").bold = True
        para.add_run(value)
    document.add_paragraph().add_run(doc.status).italic = True
    for item in doc.items:
        document.add_heading(f"{item.number}. {item.title}", level=1)
        if item.presented_by:
            document.add_paragraph().add_run(item.presented_by).italic = True
        for label, text in item.background:
            para = document.add_paragraph()
            para.add_run(f"{label}: ").bold = True
            para.add_run(text)
        if item.recommendation:
            document.add_paragraph(item.recommendation)
        if item.decision_label:
            para = document.add_paragraph()
            para.add_run(f"{item.decision_label}: ").bold = True
            para.add_run(item.decision or doc.decision_placeholder)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
