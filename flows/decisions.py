"""Decisions and minutes, the record (issue 18, point 4): the kinds of decision, recording one
(chat and `medpuls minutes record` alike), the buttons that lead there, and the chair's view of
held meetings.

Recording or changing a decision raises the minutes' version; an approval names the version
(`minutes_subject`), so a signature given before a change no longer counts. This module knows
the tables decisions and minutes but not the agenda flow, so that flows.agenda can draw these
buttons in the chair's `dagsorden` view without importing the flows that handle them
(flows.minutes, flows.med_network).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.errors import InvalidInput
from bot.core.i18n import Translator
from bot.core.messages import Button, Buttons, Divider, Part, SmallPrint, Text
from flows.approvals import signatures, signers
from flows.med_tree import neighbours
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


# What a chair types in `medpuls minutes record --decision`; Danish and English.
KIND_WORDS: dict[str, str] = {
    "vedtaget": "adopted",
    "afvist": "rejected",
    "udsat": "postponed",
    "sendt-videre": "referred",
    "sendt videre": "referred",
    "efterretning": "noted",
    "taget-til-efterretning": "noted",
    "taget til efterretning": "noted",
    **{k: k for k in KINDS},
}


class DecisionRefused(InvalidInput):
    """A decision that cannot be recorded; `key` names the text under `minutes.` to show."""

    def __init__(self, key: str, english: str) -> None:
        super().__init__(english)
        self.key = key


def check_decidable(session: Session, meeting: Meeting, p: Proposal, now: dt.datetime) -> None:
    minutes = minutes_of(session, meeting)
    if minutes is not None and minutes.published_at is not None:
        raise DecisionRefused("published", "the minutes of that meeting are approved and out")
    if meeting.starts_at > now:
        raise DecisionRefused("too_early", "the meeting has not begun yet")
    if p.id not in {q.id for q in items_of(session, meeting)}:
        raise DecisionRefused("not_an_item", f"»{p.title}« is not an item of that meeting")


def record_decision(
    session: Session,
    meeting: Meeting,
    p: Proposal,
    kind: str,
    reason: str,
    now: dt.datetime,
    *,
    referred_to: Committee | None = None,
    owner: str | None = None,
    follow_up: dt.date | None = None,
) -> bool:
    """Record or change the item's decision. True if this voided an approval of the minutes."""
    check_decidable(session, meeting, p, now)
    if kind not in KINDS:
        raise DecisionRefused("unknown_kind", f"unknown decision {kind!r}")
    reason = reason.strip()[:REASON_MAX]
    if not reason:
        raise DecisionRefused("reason_required", "a decision needs a reason")
    allowed = {c.id for c in neighbours(session, p.committee)}
    if kind == "referred" and (referred_to is None or referred_to.id not in allowed):
        raise DecisionRefused("bad_target", "refer it to the parent or a child committee")
    values = {
        "kind": kind,
        "reason": reason,
        "referred_to_id": referred_to.id if kind == "referred" and referred_to else None,
        "follow_up_owner": (owner or "").strip()[:200] or None,
        "follow_up_date": follow_up,
    }
    decision = decisions_of(session, meeting).get(p.id)
    if decision is not None and all(getattr(decision, k) == v for k, v in values.items()):
        return False  # the same form sent twice changes nothing
    if decision is None:
        decision = Decision(meeting_id=meeting.id, proposal_id=p.id, position=p.position)
        session.add(decision)
    for k, v in values.items():
        setattr(decision, k, v)
    decision.recorded_at = now
    minutes = minutes_of(session, meeting)
    voided = False
    if minutes is None:
        session.add(Minutes(meeting_id=meeting.id, version=1))
    else:
        voided = bool(signatures(session, minutes_subject(minutes)))
        minutes.version += 1
    session.flush()
    return voided


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
    """Meetings begun whose minutes are not out yet and which have items to decide."""
    meetings = session.scalars(
        select(Meeting)
        .where(Meeting.committee_id == committee_id, Meeting.starts_at <= now)
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
            parts.append(SmallPrint(text=decision_line(t, d, target.name if target else None)))
            label = "minutes.btn_edit_decision"
        parts.append(Buttons(buttons=[Button(label=t(label), data=Decide(p=p.id).pack())]))
    parts.append(Divider())
    minutes = minutes_of(session, meeting)
    if minutes is None or len(decided) < len(items_of(session, meeting)):
        parts.append(SmallPrint(text=t("minutes.missing_decisions")))
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


def decided_between(
    session: Session, committee_id: int, start: dt.datetime, end: dt.datetime
) -> list[tuple[Meeting, Proposal, Decision]]:
    """What the committee decided at its meetings in [start, end), by approved minutes only:
    for the annual work-environment discussion and anything else that looks back."""
    rows = session.execute(
        select(Meeting, Proposal, Decision)
        .join(Decision, Decision.meeting_id == Meeting.id)
        .join(Proposal, Proposal.id == Decision.proposal_id)
        .join(Minutes, Minutes.meeting_id == Meeting.id)
        .where(
            Meeting.committee_id == committee_id,
            Meeting.starts_at >= start,
            Meeting.starts_at < end,
            Minutes.published_at.is_not(None),
        )
        .order_by(Meeting.starts_at, Decision.position, Decision.id)
    ).all()
    return [(m, p, d) for m, p, d in rows]
