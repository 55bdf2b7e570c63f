"""Decisions and minutes, the vocabulary (issue 18, point 4): the kinds of decision, the
buttons that lead to them, and the chair's view of held meetings.

This module knows the record (tables decisions and minutes) but not the agenda flow, so that
flows.agenda can draw these buttons in the chair's `dagsorden` view without importing the
flow that handles them (flows.minutes, flows.med_network).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions import ActionData
from bot.i18n import Translator
from bot.messages import Button, Buttons, Context, Divider, Part, Text
from flows.approvals import signers
from storage.models import Committee, Decision, Meeting, Minutes, Proposal

Kind = Literal["adopted", "rejected", "postponed", "referred", "noted"]
KINDS: tuple[Kind, ...] = ("adopted", "rejected", "postponed", "referred", "noted")
REASON_MAX = 3000


class Decide(ActionData):
    """ "Registrér beslutning" on an item of a held meeting: opens the decision form."""

    kind = "minutes.decide"
    p: int


class DecideForm(ActionData):
    kind = "minutes.decide_form"
    p: int


class ApproveMinutes(ActionData):
    """Approve version `v` of meeting `m`'s minutes: the version the approver was shown."""

    kind = "minutes.approve"
    m: int
    v: int


class PassOn(ActionData):
    """ "Send videre": pass a proposal to the parent or a child committee (a form)."""

    kind = "med.pass"
    p: int


class PassForm(ActionData):
    kind = "med.pass_form"
    p: int


def minutes_subject(minutes: Minutes) -> str:
    """What an approval of the minutes signs: this meeting's minutes in their current version."""
    return f"minutes:{minutes.meeting_id}:v{minutes.version}"


def minutes_of(session: Session, meeting: Meeting) -> Minutes | None:
    return session.get(Minutes, meeting.id)


def decisions_of(session: Session, meeting: Meeting) -> dict[int, Decision]:
    rows = session.scalars(select(Decision).where(Decision.meeting_id == meeting.id))
    return {d.proposal_id: d for d in rows}


def items_of(session: Session, meeting: Meeting) -> list[Proposal]:
    """The meeting's items: on its agenda, or decided there (merged ones are in their target)."""
    decided = select(Decision.proposal_id).where(Decision.meeting_id == meeting.id)
    return list(
        session.scalars(
            select(Proposal)
            .where(
                (Proposal.id.in_(decided))
                | ((Proposal.meeting_id == meeting.id) & (Proposal.status == "on_agenda"))
            )
            .order_by(Proposal.position, Proposal.id)
        )
    )


def kind_label(t: Translator, kind: str) -> str:
    return t(f"minutes.kind_{kind}")


def decision_line(t: Translator, d: Decision, referred_to: str | None) -> str:
    head = kind_label(t, d.kind)
    if d.kind == "referred" and referred_to:
        head = t("minutes.referred_to", committee=referred_to)
    return t("minutes.decision_line", kind=head, reason=d.reason)


def held_meetings(session: Session, committee_id: int, now: dt.datetime) -> list[Meeting]:
    """Meetings held whose minutes are not out yet and which have items to decide."""
    meetings = session.scalars(
        select(Meeting)
        .where(
            Meeting.committee_id == committee_id,
            Meeting.starts_at <= now,
            Meeting.published_at.is_not(None) | Meeting.id.in_(select(Decision.meeting_id)),
        )
        .order_by(Meeting.starts_at)
    ).all()
    out = []
    for m in meetings:
        minutes = minutes_of(session, m)
        if (minutes is None or minutes.published_at is None) and items_of(session, m):
            out.append(m)
    return out


def held_parts(
    session: Session,
    t: Translator,
    meeting: Meeting,
    render: Callable[[Proposal], list[Part]],
) -> list[Part]:
    """A held meeting in the chair's view: each item with its decision, then the minutes."""
    decided = decisions_of(session, meeting)
    parts: list[Part] = []
    for p in items_of(session, meeting):
        parts.extend(render(p))
        d = decided.get(p.id)
        label = "minutes.btn_decide"
        if d is not None:
            target = session.get(Committee, d.referred_to_id) if d.referred_to_id else None
            parts.append(Context(text=decision_line(t, d, target.name if target else None)))
            label = "minutes.btn_edit_decision"
        parts.append(Buttons(buttons=[Button(label=t(label), data=Decide(p=p.id).pack())]))
    parts.append(Divider())
    minutes = minutes_of(session, meeting)
    if minutes is None or len(decided) < len(items_of(session, meeting)):
        parts.append(Context(text=t("minutes.missing_decisions")))
        return parts
    signed = signers(session, minutes_subject(minutes))
    no = t("agenda.no")
    parts.append(
        Text(
            text=t(
                "minutes.approval_state",
                management=signed["management"].name if "management" in signed else no,
                employee=signed["employee"].name if "employee" in signed else no,
            )
        )
    )
    parts.append(
        Buttons(
            buttons=[
                Button(
                    label=t("minutes.btn_approve"),
                    data=ApproveMinutes(m=meeting.id, v=minutes.version).pack(),
                    style="primary",
                )
            ]
        )
    )
    return parts
