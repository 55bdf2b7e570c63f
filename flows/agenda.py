"""The MED agenda: proposals from anyone, triage by chair and vice-chair, the agenda published,
the loop closed.

A proposal's life is drawn in docs/flows/agenda.md. The rules that shape this module:

* Anyone in a unit a committee covers may propose, in their own name, "anonymous to the
  committee", or through their TR/AMR (role `rep`), who then presents it in their own name.
  The bot always knows the proposer (it must tell them what happened); the committee never
  learns who an anonymous proposer is: no message, form or button a chair sees holds the
  proposer's name or member id, and no log line or audit entry links a member to a proposal.
* A unit's committee is the nearest committee at or above it. A committee *serves* the units
  whose nearest committee it is: its own unit and every unit below that has no committee of
  its own between. Calls for proposals and reminders go to the channels of the served units
  (a unit with its own local MED proposes there); the published agenda goes to every unit
  below the committee, local MED or not (flows.med_tree).
* A proposal goes to the first meeting whose proposal deadline is still ahead; after that
  deadline it goes to the following meeting, or waits for one to be set.
* Only the committee's chair or vice-chair (roles in the committee's unit, checked when the
  click is handled) may triage, approve the agenda or record decisions (flows.minutes);
  either may act, and every step is shown to the other. Publishing needs both approvals and
  the release date.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import holidays
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.errors import CannotSign, InvalidInput
from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted, MessageRef
from bot.core.i18n import Lang, Translator, chosen_language, translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Fact,
    Facts,
    Field_,
    Form,
    Header,
    Message,
    Option,
    Part,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import Outgoing, queue, to_member, to_unit_channel, update_of
from bot.core.router import FlowContext, Router
from flows.agenda_export import agenda_message, build_agenda, shown_as
from flows.approvals import is_approved, sign, signatures, signers
from flows.approvals import sides_of as approval_sides
from flows.decisions import PassOn, held_meetings, held_parts
from flows.full_text import ShowProposal, summarized
from flows.ledger import cell, round_figures
from flows.med_tree import committee_of_unit, units_informed
from flows.question_bank import default_bank
from flows.schedule import is_working_day, working_days_before
from storage.db import Database
from storage.models import (
    Committee,
    Meeting,
    Member,
    Membership,
    OutboxMessage,
    Proposal,
    PulseRound,
    Question,
    RoundResult,
    Support,
    Unit,
)
from storage.queries import ancestors, subtree

__all__ = [
    "Approve",
    "BringToMed",
    "ProposeForm",
    "ProposeOpen",
    "PublishNow",
    "SupportToggle",
    "Triage",
    "TriageForm",
    "chairs_of",
    "committee_of_unit",
    "meeting_for_new_proposal",
    "reference",
    "schedule_meeting",
    "units_served",
]

log = logging.getLogger("medpuls.agenda")

CHAIR_ROLES = frozenset({"chair", "vice_chair"})
# Proposals the committee still has to decide what to do with.
UNTRIAGED = ("new", "later")
# Proposals colleagues may still back.
SUPPORTABLE = ("new", "later", "on_agenda")
REMINDER_WORKING_DAYS = 3
REMINDER_TIME = dt.time(9, 0)
# A follow-up missed while the scheduler was down is still worth a reminder a few days late.
FOLLOW_UP_GRACE = dt.timedelta(days=7)
TITLE_MAX = 200
TEXT_MAX = 3000

Step = Literal["agenda", "later", "merge", "answer", "decline"]
# A text in the language of the person it goes to.
TextFor = Callable[[Translator], str]


# --- actions ------------------------------------------------------------------------------


class ProposeOpen(ActionData):
    """ "Stil forslag" under a call for proposals; `c` the committee that called."""

    kind = "agenda.open"
    c: int | None = None


class ProposeForm(ActionData):
    kind = "agenda.propose"
    c: int | None = None


class BringToMed(ActionData):
    """ "Bring to MED" on a pulse summary: a proposal pre-filled with the question's figures."""

    kind = "agenda.bring"
    u: int
    q: str
    r: int


class SupportToggle(ActionData):
    kind = "agenda.support"
    p: int


class Present(ActionData):
    """A TR/AMR presents a proposal sent through them, in their own name."""

    kind = "agenda.present"
    p: int


class Triage(ActionData):
    kind = "agenda.triage"
    p: int
    s: Step


class TriageForm(ActionData):
    kind = "agenda.triage_form"
    p: int
    s: Step


class Approve(ActionData):
    """Approve version `v` of meeting `m`'s agenda: the version the approver was shown."""

    kind = "agenda.approve"
    m: int
    v: int


class PublishNow(ActionData):
    """Send out version `v` of an agenda both sides approved, before its release date."""

    kind = "agenda.publish_now"
    m: int
    v: int


class MeetingForm(ActionData):
    kind = "agenda.meeting"
    c: int | None = None


# --- the organisation as the agenda sees it -----------------------------------------------


def units_served(session: Session, committee: Committee) -> list[Unit]:
    """The committee's unit and the units below it that have no nearer committee."""
    owned = set(session.scalars(select(Committee.unit_id)))
    served: list[Unit] = []
    blocked: set[int] = set()
    for unit in subtree(session, committee.unit):
        if unit.parent_id in blocked or (unit.id != committee.unit_id and unit.id in owned):
            blocked.add(unit.id)
            continue
        served.append(unit)
    return served


def committees_of(session: Session, member: Member) -> list[tuple[Committee, Unit]]:
    """Each committee the member may propose to, with the unit through which they belong."""
    found: dict[int, tuple[Committee, Unit]] = {}
    rows = session.scalars(select(Membership).where(Membership.member_id == member.id))
    for ms in sorted(rows, key=lambda m: m.unit.path):
        committee = committee_of_unit(session, ms.unit)
        if committee is not None and committee.id not in found:
            found[committee.id] = (committee, ms.unit)
    return sorted(found.values(), key=lambda pair: pair[0].name)


def chairs_of(session: Session, committee: Committee) -> list[Member]:
    """The chair and vice-chair: members with those roles in the committee's unit."""
    rows = session.scalars(
        select(Membership).where(Membership.unit_id == committee.unit_id).order_by(Membership.id)
    )
    return [ms.member for ms in rows if ms.role_set & CHAIR_ROLES and not ms.member.erased]


def chair_roles(session: Session, member: Member | None, committee: Committee) -> frozenset[str]:
    if member is None:
        return frozenset()
    ms = session.scalars(
        select(Membership).where(
            Membership.member_id == member.id, Membership.unit_id == committee.unit_id
        )
    ).first()
    return ms.role_set & CHAIR_ROLES if ms else frozenset()


def reps_for(session: Session, unit: Unit, committee: Committee, exclude: int) -> list[Member]:
    """TR/AMRs in the unit or above it, up to the committee's unit."""
    chain = [unit]
    if unit.id != committee.unit_id:
        for parent in ancestors(session, unit):
            chain.append(parent)
            if parent.id == committee.unit_id:
                break
    rows = session.scalars(select(Membership).where(Membership.unit_id.in_([u.id for u in chain])))
    reps = {ms.member.id: ms.member for ms in rows if "rep" in ms.role_set}
    return sorted(
        (m for m in reps.values() if m.id != exclude and not m.erased), key=lambda m: m.name
    )


# --- meetings -----------------------------------------------------------------------------


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
    tz = settings.tz
    default = settings.language
    items: list[Outgoing] = []
    if deadline > now:
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
                t = speak(member, default)
                items.append(
                    to_member(
                        member.id,
                        f"agenda:p{p.id}:found_meeting:{meeting.id}:m{member.id}",
                        note(
                            t(
                                "agenda.waiting_found_meeting",
                                title=p.title,
                                ref=reference(p, tz),
                                meeting=when(t, meeting.starts_at, tz),
                            )
                        ),
                        purpose="agenda.proposer",
                    )
                )
        t = translator(default)
        call = call_message(committee, meeting, t, tz)
        items.extend(
            to_unit_channel(
                unit.id, f"agenda:meeting:{meeting.id}:call:u{unit.id}", call, purpose="agenda.call"
            )
            for unit in units_served(session, committee)
        )
    if by is not None:
        items.extend(
            tell_chairs(
                session,
                committee,
                by,
                settings,
                f"meeting:{meeting.id}:set",
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


# --- texts --------------------------------------------------------------------------------


def speak(member: Member, default: Lang) -> Translator:
    return translator(chosen_language(member.language, default))


def when(t: Translator, value: dt.datetime, tz: dt.tzinfo) -> str:
    local = value.astimezone(tz)
    return t("agenda.when", date=t.date(local.date(), "EEEE d. MMMM y"), time=t.time(local))


def reference(p: Proposal, tz: dt.tzinfo) -> str:
    """ "MED-2026-014": stable, short enough to say aloud at a meeting."""
    return f"MED-{p.created_at.astimezone(tz).year}-{p.id:03d}"


def note(text: str) -> Message:
    return Message(summary=text, parts=[Text(text=text)])


def support_count(session: Session, proposal_id: int) -> int:
    return int(session.scalar(select(func.count()).where(Support.proposal_id == proposal_id)) or 0)


def call_message(committee: Committee, meeting: Meeting, t: Translator, tz: dt.tzinfo) -> Message:
    title = t("agenda.call_title", committee=committee.name)
    parts: list[Part] = [
        Header(text=title),
        Text(
            text=t(
                "agenda.call_body",
                committee=committee.name,
                meeting=when(t, meeting.starts_at, tz),
                deadline=when(t, meeting.proposal_deadline, tz),
            )
        ),
        Buttons(
            buttons=[
                Button(
                    label=t("agenda.propose_button"),
                    data=ProposeOpen(c=committee.id).pack(),
                    style="primary",
                )
            ]
        ),
        SmallPrint(text=t("agenda.call_small_print")),
    ]
    return Message(summary=title, parts=parts)


def reminder_message(
    committee: Committee, meeting: Meeting, t: Translator, tz: dt.tzinfo
) -> Message:
    title = t("agenda.reminder_title", committee=committee.name)
    return Message(
        summary=title,
        parts=[
            Header(text=title),
            Text(
                text=t(
                    "agenda.reminder_body",
                    deadline=when(t, meeting.proposal_deadline, tz),
                    meeting=when(t, meeting.starts_at, tz),
                )
            ),
            Buttons(
                buttons=[
                    Button(
                        label=t("agenda.propose_button"), data=ProposeOpen(c=committee.id).pack()
                    )
                ]
            ),
        ],
    )


def proposal_text(p: Proposal, t: Translator) -> str:
    lines = [p.issue, f"_{t('agenda.why_short')}_ {p.why}"]
    if p.suggestion:
        lines.append(f"_{t('agenda.suggestion_short')}_ {p.suggestion}")
    return "\n".join(lines)


def channel_post(session: Session, p: Proposal, t: Translator) -> Message:
    """The post in the proposer's unit channel; the same for everyone who sees it. A long
    proposal shows its start, and the whole to whoever asks (flows/full_text.py)."""
    count = support_count(session, p.id)
    parts: list[Part] = [
        Header(text=p.title),
        *summarized(proposal_text(p, t), t, ShowProposal(p=p.id).pack()),
        SmallPrint(
            text=t(
                "agenda.post_small_print",
                by=shown_as(session, p, t),
                committee=p.committee.name,
                supports=count,
            )
        ),
    ]
    if p.status in SUPPORTABLE:
        parts.append(
            Buttons(
                buttons=[
                    Button(label=t("agenda.support_button"), data=SupportToggle(p=p.id).pack())
                ]
            )
        )
    else:
        parts.append(SmallPrint(text=t(f"agenda.post_status_{p.status}")))
    return Message(summary=t("agenda.post_summary", title=p.title), parts=parts)


# --- proposing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefill:
    title: str = ""
    issue: str = ""
    why: str = ""
    committee_id: int | None = None


def proposal_form(
    session: Session, member: Member, t: Translator, prefill: Prefill, committee_id: int | None
) -> Form | None:
    choices = committees_of(session, member)
    if not choices:
        return None
    if committee_id is not None and committee_id not in {c.id for c, _ in choices}:
        committee_id = None
    fields: list[Field_] = []
    if committee_id is None and len(choices) > 1:
        fields.append(
            Field_(
                name="committee",
                label=t("agenda.field_committee"),
                kind="choice",
                options=[Option(value=str(c.id), label=c.name) for c, _ in choices],
                initial=str(prefill.committee_id or choices[0][0].id),
            )
        )
    elif committee_id is None:
        committee_id = choices[0][0].id
    committee, unit = next(
        ((c, u) for c, u in choices if c.id == (committee_id or prefill.committee_id)), choices[0]
    )
    identity = [
        Option(value="named", label=t("agenda.identity_named")),
        Option(value="anonymous", label=t("agenda.identity_anonymous")),
    ]
    identity.extend(
        Option(value=f"rep:{rep.id}", label=t("agenda.identity_rep", name=rep.name))
        for rep in reps_for(session, unit, committee, exclude=member.id)
    )
    fields.extend(
        [
            Field_(
                name="title",
                label=t("agenda.field_title"),
                max_length=TITLE_MAX,
                initial=prefill.title[:TITLE_MAX] or None,
            ),
            Field_(
                name="issue",
                label=t("agenda.field_issue"),
                kind="textarea",
                max_length=TEXT_MAX,
                initial=prefill.issue[:TEXT_MAX] or None,
            ),
            Field_(
                name="why",
                label=t("agenda.field_why"),
                kind="textarea",
                max_length=TEXT_MAX,
                initial=prefill.why or None,
            ),
            Field_(
                name="suggestion",
                label=t("agenda.field_suggestion"),
                kind="textarea",
                required=False,
                max_length=TEXT_MAX,
            ),
            Field_(
                name="identity",
                label=t("agenda.field_identity"),
                kind="choice",
                options=identity,
                initial="named",
                hint=t("agenda.identity_hint"),
            ),
        ]
    )
    return Form(
        data=ProposeForm(c=committee_id).pack(),
        title=t("agenda.form_title"),
        submit=t("agenda.form_submit"),
        intro=t("agenda.form_intro"),
        fields=fields,
    )


def _open_form(ctx: FlowContext, prefill: Prefill, committee_id: int | None = None) -> Reply:
    if ctx.member is None:
        return Reply(notice=note(ctx.t("common.unknown_user")))
    form = proposal_form(ctx.session, ctx.member, ctx.t, prefill, committee_id)
    if form is None:
        return Reply(notice=note(ctx.t("agenda.no_committee")))
    return Reply(form=form)


def on_propose_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    text = event.text.strip()
    if not event.command or event.command.startswith("/"):
        # "/med forslag <text>" and a typed "forslag <text>": the words after the command word.
        text = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return _open_form(ctx, Prefill(title=first_line[:80], issue=text))


def on_propose_button(ctx: FlowContext, event: ButtonClicked, data: ProposeOpen) -> Reply:
    return _open_form(ctx, Prefill(), data.c)


def on_bring_to_med(ctx: FlowContext, event: ButtonClicked, data: BringToMed) -> Reply:
    """Pre-fill a proposal from a closed round's published figure for one question."""
    if ctx.member is None:
        return Reply(notice=note(ctx.t("common.unknown_user")))
    pulse_round = ctx.session.get(PulseRound, data.r)
    question = ctx.session.get(Question, data.q)
    if (
        pulse_round is None
        or question is None
        or pulse_round.unit_id != data.u
        or pulse_round.is_open
        or data.q not in {rq.question_id for rq in pulse_round.questions}
    ):
        return Reply(notice=note(ctx.t("agenda.bring_unknown")))
    # Only people who could see the summary: members of the unit or of a unit above it.
    reach = {pulse_round.unit_id, *(u.id for u in ancestors(ctx.session, pulse_round.unit))}
    mine = set(
        ctx.session.scalars(select(Membership.unit_id).where(Membership.member_id == ctx.member.id))
    )
    if not reach & mine:
        ctx.audit("agenda.bring", f"round:{pulse_round.id}", allowed=False)
        return Reply(notice=note(ctx.t("common.not_allowed")))
    # Showing a figure is a view of results, and every view of results is audited.
    ctx.audit("agenda.bring", f"round:{pulse_round.id}", allowed=True, question=question.id)
    t = ctx.t
    dimension = default_bank().dimensions.get(question.dimension)
    label = dimension.label.get(t.lang) if dimension else question.dimension
    text = question.text_en if t.lang == "en" else question.text_da
    result = ctx.session.get(RoundResult, (pulse_round.id, question.id))
    closed = (pulse_round.closed_at or pulse_round.closes_at).astimezone(ctx.settings.tz)
    # The same decision the published summary got, from the ledger (flows.ledger): a figure
    # withheld there, for too few answers or because it could be computed, is not shown here.
    if (
        result is not None
        and round_figures(
            ctx.session,
            pulse_round,
            [[cell(pulse_round.id, question.id)]],
            path="evidence",
            tz=ctx.settings.tz,
        )[0]
    ):
        mean = result.value_sum / result.respondents
        figure = t(
            "agenda.bring_figure",
            mean=t.number(mean),
            score=t.number((mean - 1.0) * 25.0, 0),
            n=result.respondents,
        )
        issue = t(
            "agenda.bring_issue",
            unit=pulse_round.unit.name,
            date=t.date(closed.date(), "d. MMMM y"),
            question=text,
            figure=figure,
        )
    else:
        issue = t(
            "agenda.bring_issue_no_figure",
            unit=pulse_round.unit.name,
            date=t.date(closed.date(), "d. MMMM y"),
            question=text,
        )
    committee = committee_of_unit(ctx.session, pulse_round.unit)
    prefill = Prefill(
        title=t("agenda.bring_title", dimension=label),
        issue=issue,
        committee_id=committee.id if committee else None,
    )
    return _open_form(ctx, prefill)


def on_propose_submit(ctx: FlowContext, event: FormSubmitted, data: ProposeForm) -> Reply:
    member = ctx.member
    if member is None:
        return Reply(notice=note(ctx.t("common.unknown_user")))
    t = ctx.t
    values = {k: (v or "").strip() for k, v in event.values.items()}
    choices = {c.id: (c, u) for c, u in committees_of(ctx.session, member)}
    committee_id = data.c
    if committee_id is None and values.get("committee", "").isdigit():
        committee_id = int(values["committee"])
    if committee_id is None and len(choices) == 1:
        committee_id = next(iter(choices))
    errors: dict[str, str] = {}
    if committee_id not in choices:
        errors["committee"] = t("agenda.error_committee")
    for name in ("title", "issue", "why"):
        if not values.get(name):
            errors[name] = t("agenda.error_required")
    identity = values.get("identity") or "named"
    rep: Member | None = None
    if committee_id in choices and identity.startswith("rep:"):
        committee, unit = choices[committee_id]
        reps = {r.id: r for r in reps_for(ctx.session, unit, committee, exclude=member.id)}
        rep_id = identity[4:]
        rep = reps.get(int(rep_id)) if rep_id.isdigit() else None
        if rep is None:
            errors["identity"] = t("agenda.error_identity")
    elif identity not in ("named", "anonymous"):
        errors["identity"] = t("agenda.error_identity")
    if errors:
        return Reply(errors=errors)
    assert committee_id is not None
    committee, unit = choices[committee_id]
    proposal = Proposal(
        committee_id=committee.id,
        proposer_id=member.id,
        anonymous=identity != "named",
        presenter_id=rep.id if rep else None,
        title=values["title"][:TITLE_MAX],
        issue=values["issue"][:TEXT_MAX],
        why=values["why"][:TEXT_MAX],
        suggestion=values.get("suggestion", "")[:TEXT_MAX] or None,
        status="via_rep" if rep else "new",
        created_at=ctx.now,
    )
    ctx.session.add(proposal)
    ctx.session.flush()
    tz = ctx.settings.tz
    ref = reference(proposal, tz)
    if rep is not None:
        rt = speak(rep, ctx.settings.language)
        receipt = t("agenda.receipt_via_rep", title=proposal.title, ref=ref, rep=rep.name)
        ctx.send(
            to_member(
                rep.id,
                f"agenda:p{proposal.id}:to_rep",
                rep_request(proposal, rt),
                purpose="agenda.rep",
            ),
            to_member(
                member.id,
                f"agenda:p{proposal.id}:receipt",
                note(receipt),
                purpose="agenda.proposer",
            ),
        )
        log.info("proposal sent through a rep", extra={"proposal": proposal.id})
        return Reply(notice=note(receipt))
    return Reply(notice=note(bring_to_committee(ctx, proposal, unit)))


def bring_to_committee(ctx: FlowContext, proposal: Proposal, unit: Unit) -> str:
    """Put the proposal before the committee: its meeting, the channel post, the receipt."""
    tz = ctx.settings.tz
    meeting = meeting_for_new_proposal(ctx.session, proposal.committee_id, ctx.now)
    proposal.meeting_id = meeting.id if meeting else None
    proposal.status = "new"
    ctx.session.flush()
    ctx.send(
        to_unit_channel(
            unit.id,
            f"agenda:p{proposal.id}:post",
            channel_post(ctx.session, proposal, translator(ctx.settings.language)),
            purpose="agenda.post",
        )
    )
    receipts = [
        to_member(
            member.id,
            f"agenda:p{proposal.id}:receipt:m{member.id}",
            note(
                receipt_text(
                    ctx.session,
                    proposal,
                    meeting,
                    speak(member, ctx.settings.language),
                    tz,
                    ctx.now,
                )
            ),
            purpose="agenda.proposer",
        )
        for member in proposer_side(ctx.session, proposal)
    ]
    ctx.send(*receipts)
    # Imported here: flows.agenda_alerts builds on this module (its triage buttons, chairs).
    from flows.agenda_alerts import alert_chairs

    ctx.send(*alert_chairs(ctx.session, proposal, ctx.settings))
    log.info(
        "proposal made",
        extra={
            "proposal": proposal.id,
            "committee": proposal.committee_id,
            "meeting": proposal.meeting_id,
        },
    )
    return receipt_text(ctx.session, proposal, meeting, ctx.t, tz, ctx.now)


def receipt_text(
    session: Session,
    proposal: Proposal,
    meeting: Meeting | None,
    t: Translator,
    tz: dt.tzinfo,
    now: dt.datetime,
) -> str:
    ref = reference(proposal, tz)
    committee = proposal.committee.name
    if meeting is None:
        return t("agenda.receipt_waiting", title=proposal.title, ref=ref, committee=committee)
    missed = session.scalars(
        select(Meeting)
        .where(
            Meeting.committee_id == proposal.committee_id,
            Meeting.starts_at > now,
            Meeting.starts_at < meeting.starts_at,
        )
        .order_by(Meeting.starts_at)
    ).first()
    text = t(
        "agenda.receipt",
        title=proposal.title,
        ref=ref,
        committee=committee,
        meeting=when(t, meeting.starts_at, tz),
    )
    if missed is not None:
        text += "\n" + t("agenda.receipt_after_deadline", missed=when(t, missed.starts_at, tz))
    return text


def rep_request(p: Proposal, t: Translator) -> Message:
    title = t("agenda.rep_title")
    return Message(
        summary=title,
        parts=[
            Header(text=title),
            Text(text=t("agenda.rep_body", committee=p.committee.name)),
            Text(text=f"*{p.title}*\n{proposal_text(p, t)}"),
            Buttons(
                buttons=[
                    Button(
                        label=t("agenda.rep_present"), data=Present(p=p.id).pack(), style="primary"
                    )
                ]
            ),
            SmallPrint(text=t("agenda.rep_small_print")),
        ],
    )


def on_present(ctx: FlowContext, event: ButtonClicked, data: Present) -> Reply:
    proposal = ctx.session.get(Proposal, data.p)
    if proposal is None or ctx.member is None or proposal.presenter_id != ctx.member.id:
        return Reply(notice=note(ctx.t("common.not_allowed")))
    if proposal.status != "via_rep":
        return Reply(notice=note(ctx.t("agenda.rep_already")))
    proposer = session_member(ctx.session, proposal.proposer_id)
    unit = _proposer_unit(ctx.session, proposal, proposer) or proposal.committee.unit
    bring_to_committee(ctx, proposal, unit)
    done = ctx.t("agenda.rep_done", title=proposal.title, ref=reference(proposal, ctx.settings.tz))
    update = Message(summary=done, parts=[Header(text=proposal.title), Text(text=done)])
    return Reply(update=update if event.message else None, notice=note(done))


def session_member(session: Session, member_id: int | None) -> Member | None:
    member = session.get(Member, member_id) if member_id is not None else None
    return member if member is not None and not member.erased else None


def _proposer_unit(session: Session, p: Proposal, proposer: Member | None) -> Unit | None:
    if proposer is None:
        return None
    for committee, unit in committees_of(session, proposer):
        if committee.id == p.committee_id:
            return unit
    return None


def proposer_side(session: Session, p: Proposal) -> list[Member]:
    """Who hears about the proposal's fate: the proposer and the TR/AMR who presented it."""
    people = [session_member(session, p.proposer_id)]
    if p.status != "via_rep":
        people.append(session_member(session, p.presenter_id))
    seen: dict[int, Member] = {}
    for m in people:
        if m is not None:
            seen.setdefault(m.id, m)
    return list(seen.values())


# --- supporting ---------------------------------------------------------------------------


def on_support(ctx: FlowContext, event: ButtonClicked, data: SupportToggle) -> Reply:
    proposal = ctx.session.get(Proposal, data.p)
    member = ctx.member
    if proposal is None or member is None:
        return Reply(notice=note(ctx.t("common.unknown_user")))
    if proposal.status not in SUPPORTABLE:
        return Reply(notice=note(ctx.t("agenda.support_closed")))
    if member.id in (proposal.proposer_id, proposal.presenter_id):
        return Reply(notice=note(ctx.t("agenda.support_own")))
    existing = ctx.session.get(Support, (proposal.id, member.id))
    if existing is None:
        ctx.session.add(Support(proposal_id=proposal.id, member_id=member.id))
        text = ctx.t("agenda.support_added", title=proposal.title)
    else:
        ctx.session.delete(existing)
        text = ctx.t("agenda.support_removed", title=proposal.title)
    ctx.session.flush()
    post = channel_post(ctx.session, proposal, translator(ctx.settings.language))
    if event.message is not None and event.message == posted_ref(ctx.session, proposal):
        return Reply(update=post, notice=note(text))
    refresh_post(ctx, proposal)
    return Reply(notice=note(text))


def _post_row(session: Session, p: Proposal) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"agenda:p{p.id}:post")
    ).first()


def posted_ref(session: Session, p: Proposal) -> MessageRef | None:
    row = _post_row(session, p)
    if row is None or not row.message_ref:
        return None
    platform, conversation, message_id = row.message_ref.split("|", 2)
    return MessageRef(platform, conversation, message_id)  # type: ignore[arg-type]


def refresh_post(ctx: FlowContext, p: Proposal) -> None:
    """Bring the channel post up to date: an update once it is out, else a new payload."""
    row = _post_row(ctx.session, p)
    if row is None:
        return
    post = channel_post(ctx.session, p, translator(ctx.settings.language))
    ref = posted_ref(ctx.session, p)
    if ref is not None:
        ctx.send(
            update_of(
                ref, f"agenda:p{p.id}:post:update:{stamp(ctx.now)}", post, purpose="agenda.post"
            )
        )
    elif row.status == "pending":
        # Not sent yet: the post goes out as it is now, and nothing needs updating later.
        row.payload = post.model_dump(mode="json")


def stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%f")


# --- triage -------------------------------------------------------------------------------


def tell_chairs(
    session: Session,
    committee: Committee,
    actor: Member,
    settings: Settings,
    key: str,
    text: TextFor,
) -> list[Outgoing]:
    """The other chair(s) see what one of them did."""
    return [
        to_member(
            chair.id,
            f"agenda:{key}:chair:m{chair.id}",
            note(text(speak(chair, settings.language))),
            purpose="agenda.chair",
        )
        for chair in chairs_of(session, committee)
        if chair.id != actor.id
    ]


def tell_proposer(
    session: Session, p: Proposal, settings: Settings, key: str, text: TextFor
) -> list[Outgoing]:
    return [
        to_member(
            m.id,
            f"agenda:{key}:proposer:m{m.id}",
            note(text(speak(m, settings.language))),
            purpose="agenda.proposer",
        )
        for m in proposer_side(session, p)
    ]


def _guard(ctx: FlowContext, committee: Committee, action: str, subject: str) -> Reply | None:
    """Only the committee's chair or vice-chair; checked now, not when the button was drawn."""
    if chair_roles(ctx.session, ctx.member, committee):
        ctx.audit(action, subject, allowed=True)
        return None
    ctx.audit(action, subject, allowed=False)
    return Reply(notice=note(ctx.t("agenda.chairs_only")))


def on_triage(ctx: FlowContext, event: ButtonClicked, data: Triage) -> Reply:
    proposal = ctx.session.get(Proposal, data.p)
    if proposal is None:
        return Reply(notice=note(ctx.t("agenda.no_such_proposal")))
    refused = _guard(ctx, proposal.committee, f"agenda.triage.{data.s}", f"proposal:{proposal.id}")
    if refused is not None:
        return refused
    problem = _step_problem(ctx, proposal, data.s)
    if problem:
        return Reply(notice=note(problem))
    if data.s == "later":
        text = move_later(ctx, proposal)
        update = triage_message(ctx) if event.message is not None else None
        return Reply(update=update, notice=note(text))
    return Reply(form=triage_form(ctx, proposal, data.s))


def _step_problem(ctx: FlowContext, p: Proposal, step: Step) -> str | None:
    t = ctx.t
    if p.status not in SUPPORTABLE:
        return t("agenda.already_handled")
    if step == "agenda" and p.meeting is None:
        return t("agenda.needs_meeting")
    if step == "merge" and not merge_targets(ctx.session, p):
        return t("agenda.nothing_to_merge_with")
    return None


def merge_targets(session: Session, p: Proposal) -> list[Proposal]:
    return list(
        session.scalars(
            select(Proposal)
            .where(
                Proposal.committee_id == p.committee_id,
                Proposal.id != p.id,
                Proposal.status.in_(SUPPORTABLE),
            )
            .order_by(Proposal.id)
        )
    )


def triage_form(ctx: FlowContext, p: Proposal, step: Step) -> Form:
    t = ctx.t
    data = TriageForm(p=p.id, s=step).pack()
    intro = f"*{p.title}*\n{proposal_text(p, t)}"
    fields: list[Field_]
    if step == "agenda":
        fields = [
            Field_(
                name="recommendation",
                label=t("agenda.field_recommendation"),
                kind="textarea",
                max_length=TEXT_MAX,
                initial=p.recommendation or p.suggestion or t("agenda.default_recommendation"),
                hint=t("agenda.recommendation_hint"),
            )
        ]
    elif step == "merge":
        fields = [
            Field_(
                name="target",
                label=t("agenda.field_merge_target"),
                kind="choice",
                options=[
                    Option(value=str(q.id), label=f"{reference(q, ctx.settings.tz)} {q.title}"[:75])
                    for q in merge_targets(ctx.session, p)
                ],
            )
        ]
    elif step == "answer":
        fields = [
            Field_(
                name="text", label=t("agenda.field_answer"), kind="textarea", max_length=TEXT_MAX
            )
        ]
    else:
        fields = [
            Field_(
                name="text",
                label=t("agenda.field_reason"),
                kind="textarea",
                max_length=TEXT_MAX,
                hint=t("agenda.reason_hint"),
            )
        ]
    return Form(
        data=data,
        title=t(f"agenda.form_{step}_title"),
        submit=t(f"agenda.form_{step}_submit"),
        intro=intro,
        fields=fields,
    )


def on_triage_submit(ctx: FlowContext, event: FormSubmitted, data: TriageForm) -> Reply:
    proposal = ctx.session.get(Proposal, data.p)
    if proposal is None:
        return Reply(notice=note(ctx.t("agenda.no_such_proposal")))
    refused = _guard(ctx, proposal.committee, f"agenda.triage.{data.s}", f"proposal:{proposal.id}")
    if refused is not None:
        return refused
    problem = _step_problem(ctx, proposal, data.s)
    if problem:
        return Reply(notice=note(problem))
    values = {k: (v or "").strip() for k, v in event.values.items()}
    t = ctx.t
    if data.s == "agenda":
        if not values.get("recommendation"):
            return Reply(errors={"recommendation": t("agenda.error_required")})
        return Reply(notice=note(put_on_agenda(ctx, proposal, values["recommendation"])))
    if data.s == "later":
        return Reply(notice=note(move_later(ctx, proposal)))
    if data.s == "merge":
        targets = {q.id: q for q in merge_targets(ctx.session, proposal)}
        chosen = values.get("target", "")
        target = targets.get(int(chosen)) if chosen.isdigit() else None
        if target is None:
            return Reply(errors={"target": t("agenda.error_merge_target")})
        return Reply(notice=note(merge(ctx, proposal, target)))
    if not values.get("text"):
        return Reply(errors={"text": t("agenda.error_required")})
    return Reply(notice=note(close_without_meeting(ctx, proposal, data.s, values["text"])))


def _unapprove(session: Session, meeting: Meeting | None) -> bool:
    """A changed agenda is a new version: approvals of the old one no longer count (unless it is
    already out). True if someone had approved the old version."""
    if meeting is None or meeting.published_at is not None:
        return False
    had = bool(signatures(session, agenda_subject(meeting)))
    meeting.agenda_version += 1
    return had


def _step_done(
    ctx: FlowContext,
    proposal: Proposal,
    step: str,
    chair_key: str,
    proposer_key: str,
    **values: object,
) -> str:
    """Tell the other chair(s) and the proposer side; returns the acting chair's confirmation."""
    actor = ctx.member
    assert actor is not None
    tz = ctx.settings.tz
    key = f"p{proposal.id}:{step}:{stamp(ctx.now)}"

    def filled(t: Translator, template: str) -> str:
        meeting = proposal.meeting
        return t(
            template,
            actor=actor.name,
            title=proposal.title,
            ref=reference(proposal, tz),
            committee=proposal.committee.name,
            meeting=when(t, meeting.starts_at, tz) if meeting else t("agenda.no_meeting_yet"),
            **values,
        )

    ctx.send(
        *tell_chairs(
            ctx.session,
            proposal.committee,
            actor,
            ctx.settings,
            key,
            lambda t: filled(t, chair_key),
        ),
        *tell_proposer(ctx.session, proposal, ctx.settings, key, lambda t: filled(t, proposer_key)),
    )
    log.info("proposal triaged", extra={"proposal": proposal.id, "step": step})
    return filled(ctx.t, chair_key)


def put_on_agenda(ctx: FlowContext, proposal: Proposal, recommendation: str) -> str:
    meeting = proposal.meeting
    assert meeting is not None
    if proposal.status != "on_agenda":
        last = ctx.session.scalar(
            select(func.max(Proposal.position)).where(
                Proposal.meeting_id == meeting.id, Proposal.status == "on_agenda"
            )
        )
        proposal.position = (last or 0) + 1
    proposal.status = "on_agenda"
    proposal.recommendation = recommendation[:TEXT_MAX]
    reset = _unapprove(ctx.session, meeting)
    ctx.session.flush()
    text = _step_done(
        ctx, proposal, "agenda", "agenda.chair_put_on_agenda", "agenda.proposer_on_agenda"
    )
    return text + ("\n" + ctx.t("agenda.approvals_reset") if reset else "")


def move_later(ctx: FlowContext, proposal: Proposal) -> str:
    current = proposal.meeting
    if current is not None and proposal.status == "on_agenda":
        _unapprove(ctx.session, current)
    following = meeting_after(ctx.session, current) if current else None
    proposal.meeting_id = following.id if following else None
    proposal.status = "later"
    proposal.position = None
    ctx.session.flush()
    ctx.session.refresh(proposal)
    return _step_done(
        ctx, proposal, "later", "agenda.chair_moved_later", "agenda.proposer_moved_later"
    )


def merge(ctx: FlowContext, proposal: Proposal, target: Proposal) -> str:
    if proposal.status == "on_agenda":
        _unapprove(ctx.session, proposal.meeting)
    proposal.status = "merged"
    proposal.merged_into_id = target.id
    proposal.position = None
    # Backing a proposal means backing the item it became part of.
    already = set(
        ctx.session.scalars(select(Support.member_id).where(Support.proposal_id == target.id))
    )
    moved = [
        s.member_id
        for s in ctx.session.scalars(select(Support).where(Support.proposal_id == proposal.id))
        if s.member_id not in already and s.member_id not in (target.proposer_id,)
    ]
    ctx.session.execute(delete(Support).where(Support.proposal_id == proposal.id))
    ctx.session.add_all(Support(proposal_id=target.id, member_id=m) for m in moved)
    ctx.session.flush()
    _refresh_posts(ctx, proposal, target)
    return _step_done(
        ctx, proposal, "merge", "agenda.chair_merged", "agenda.proposer_merged", target=target.title
    )


def close_without_meeting(ctx: FlowContext, proposal: Proposal, step: str, text: str) -> str:
    if proposal.status == "on_agenda":
        _unapprove(ctx.session, proposal.meeting)
    proposal.status = "answered" if step == "answer" else "declined"
    proposal.response = text[:TEXT_MAX]
    proposal.position = None
    ctx.session.flush()
    _refresh_posts(ctx, proposal)
    return _step_done(
        ctx,
        proposal,
        step,
        f"agenda.chair_{proposal.status}",
        f"agenda.proposer_{proposal.status}",
        text=proposal.response,
    )


def follow_up_text(t: Translator, p: Proposal) -> str:
    if p.follow_up_date is None and not p.follow_up_owner:
        return ""
    return t(
        "agenda.follow_up_line",
        owner=p.follow_up_owner or t("agenda.follow_up_no_owner"),
        date=t.date(p.follow_up_date, "d. MMMM y") if p.follow_up_date else "-",
    )


def _refresh_posts(ctx: FlowContext, *proposals: Proposal) -> None:
    for p in proposals:
        refresh_post(ctx, p)


# --- approving and publishing ---------------------------------------------------------------


def agenda_subject(meeting: Meeting) -> str:
    """What an approval of the agenda signs: this meeting's agenda in its current version."""
    return f"agenda:{meeting.id}:v{meeting.agenda_version}"


def _approval_refused(ctx: FlowContext, meeting: Meeting, action: str) -> Reply:
    ctx.audit(action, f"meeting:{meeting.id}", allowed=False)
    return Reply(notice=note(ctx.t("agenda.chairs_only")))


def on_approve(ctx: FlowContext, event: ButtonClicked, data: Approve) -> Reply:
    meeting = ctx.session.get(Meeting, data.m)
    if meeting is None:
        return Reply(notice=note(ctx.t("agenda.no_such_meeting")))
    committee = meeting.committee
    actor = ctx.member
    if actor is None or not approval_sides(ctx.session, actor, committee):
        return _approval_refused(ctx, meeting, "agenda.approve")
    t = ctx.t
    if meeting.published_at is not None:
        return Reply(notice=note(t("agenda.already_published")))
    if data.v != meeting.agenda_version:
        # The agenda changed after the approver saw it: they approve what they see now.
        update = triage_message(ctx) if event.message is not None else None
        return Reply(update=update, notice=note(t("agenda.approve_stale")))
    try:
        sign(ctx.session, committee, agenda_subject(meeting), actor, ctx.now)
    except CannotSign as refused:
        key = "agenda.already_approved" if refused.reason == "signed" else "agenda.side_approved"
        return Reply(notice=note(t(key)))
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
            f"meeting:{meeting.id}:approve:{stamp(ctx.now)}",
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


def on_publish_now(ctx: FlowContext, event: ButtonClicked, data: PublishNow) -> Reply:
    """Either side sends out an agenda both approved, without waiting for the release date."""
    meeting = ctx.session.get(Meeting, data.m)
    if meeting is None:
        return Reply(notice=note(ctx.t("agenda.no_such_meeting")))
    actor = ctx.member
    if actor is None or not approval_sides(ctx.session, actor, meeting.committee):
        return _approval_refused(ctx, meeting, "agenda.publish_now")
    t = ctx.t
    if meeting.published_at is not None:
        return Reply(notice=note(t("agenda.already_published")))
    if data.v != meeting.agenda_version or not is_approved(ctx.session, agenda_subject(meeting)):
        return Reply(notice=note(t("agenda.publish_needs_both")))
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
            f"meeting:{meeting.id}:publish_now",
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
                f"agenda:meeting:{meeting.id}:publish:u{unit.id}",
                message,
                purpose="agenda.published",
            )
            for unit in units_informed(session, meeting.committee)
        ],
    )
    meeting.published_at = now
    log.info("agenda published", extra={"meeting": meeting.id, "committee": meeting.committee_id})


# --- what "dagsorden" shows -----------------------------------------------------------------


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


def chaired_by(session: Session, member: Member) -> list[Committee]:
    units = [
        ms.unit_id
        for ms in session.scalars(select(Membership).where(Membership.member_id == member.id))
        if ms.role_set & CHAIR_ROLES
    ]
    if not units:
        return []
    return list(
        session.scalars(
            select(Committee).where(Committee.unit_id.in_(units)).order_by(Committee.name)
        )
    )


def _triage_parts(ctx: FlowContext, committee: Committee) -> list[Part]:
    t, tz, session = ctx.t, ctx.settings.tz, ctx.session
    meeting = next_meeting(session, committee.id, ctx.now)
    parts: list[Part] = [Header(text=t("agenda.triage_title", committee=committee.name))]
    if meeting is None:
        parts.append(Text(text=t("agenda.triage_no_meeting")))
    else:
        yes, no = t("agenda.yes"), t("agenda.no")
        signed = signers(session, agenda_subject(meeting))
        parts.append(
            Facts(
                facts=[
                    Fact(label=t("agenda.fact_meeting"), value=when(t, meeting.starts_at, tz)),
                    Fact(label=t("agenda.fact_place"), value=meeting.place or "-"),
                    Fact(
                        label=t("agenda.fact_deadline"),
                        value=when(t, meeting.proposal_deadline, tz),
                    ),
                    Fact(label=t("agenda.fact_release"), value=when(t, meeting.agenda_release, tz)),
                    Fact(
                        label=t("agenda.fact_chair_approved"),
                        value=signed["management"].name if "management" in signed else no,
                    ),
                    Fact(
                        label=t("agenda.fact_vice_approved"),
                        value=signed["employee"].name if "employee" in signed else no,
                    ),
                    Fact(
                        label=t("agenda.fact_published"), value=yes if meeting.published_at else no
                    ),
                ]
            )
        )
    cutoff = meeting.starts_at if meeting else None
    untriaged = [
        p
        for p in session.scalars(
            select(Proposal)
            .where(Proposal.committee_id == committee.id, Proposal.status.in_(UNTRIAGED))
            .order_by(Proposal.id)
        )
        if p.meeting is None or cutoff is None or p.meeting.starts_at <= cutoff
    ]
    parts.append(Divider())
    parts.append(Text(text=f"*{t('agenda.triage_new')}*"))
    if not untriaged:
        parts.append(SmallPrint(text=t("agenda.triage_none")))
    for p in untriaged:
        parts.extend(_proposal_parts(ctx, p))
        parts.append(triage_buttons(p, t))
    if meeting is not None:
        on_agenda = _on_agenda(session, meeting)
        parts.append(Divider())
        parts.append(Text(text=f"*{t('agenda.triage_on_agenda')}*"))
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
            parts.append(
                Buttons(
                    buttons=[
                        Button(
                            label=t("agenda.btn_approve"),
                            data=Approve(m=meeting.id, v=meeting.agenda_version).pack(),
                            style="primary",
                        )
                    ]
                )
            )
            if is_approved(session, agenda_subject(meeting)):
                parts.append(publish_now_button(t, meeting))
    for held in held_meetings(session, committee.id, ctx.now):
        parts.append(Divider())
        parts.append(Text(text=f"*{t('minutes.held_title', meeting=when(t, held.starts_at, tz))}*"))
        parts.extend(held_parts(session, t, held, lambda p: _proposal_parts(ctx, p)))
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
        return Reply(notice=note(ctx.t("common.unknown_user")))
    if chaired_by(ctx.session, ctx.member):
        ctx.audit("agenda.view", "triage")
        return Reply(notice=triage_message(ctx))
    return Reply(notice=member_view(ctx))


# --- meetings from chat ---------------------------------------------------------------------


def on_meeting_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    if ctx.member is None:
        return Reply(notice=note(t("common.unknown_user")))
    committees = chaired_by(ctx.session, ctx.member)
    if not committees:
        ctx.audit("agenda.meeting", "form", allowed=False)
        return Reply(notice=note(t("agenda.chairs_only")))
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
            Field_(
                name="deadline",
                label=t("agenda.field_deadline"),
                kind="datetime",
                required=False,
                hint=t.plural("agenda.deadline_hint", first.proposal_deadline_days),
            ),
            Field_(
                name="release",
                label=t("agenda.field_release"),
                kind="datetime",
                required=False,
                hint=t.plural("agenda.release_hint", first.agenda_release_days),
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
    refused = _guard(ctx, committee, "agenda.meeting", f"committee:{committee.id}")
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
    return Reply(
        notice=note(
            t(
                "agenda.meeting_set",
                committee=committee.name,
                meeting=when(t, meeting.starts_at, tz),
                deadline=when(t, meeting.proposal_deadline, tz),
                release=when(t, meeting.agenda_release, tz),
            )
        )
    )


# --- the scheduler's jobs -------------------------------------------------------------------


def remind_deadlines(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Three working days before a proposal deadline, remind the units a committee serves."""
    tz = settings.tz
    with db.session() as session:
        for meeting in session.scalars(
            select(Meeting).where(Meeting.proposal_deadline > now).order_by(Meeting.id)
        ):
            remind_at = reminder_time(meeting, tz)
            if now < remind_at:
                continue
            t = translator(settings.language)
            message = reminder_message(meeting.committee, meeting, t, tz)
            items = []
            for unit in units_served(session, meeting.committee):
                call_sent = session.scalar(
                    select(OutboxMessage.created_at).where(
                        OutboxMessage.dedupe_key == f"agenda:meeting:{meeting.id}:call:u{unit.id}"
                    )
                )
                # A call made after the reminder's time already says everything a reminder would.
                if call_sent is not None and call_sent >= remind_at:
                    continue
                items.append(
                    to_unit_channel(
                        unit.id,
                        f"agenda:meeting:{meeting.id}:reminder:u{unit.id}",
                        message,
                        purpose="agenda.reminder",
                    )
                )
            queue(session, items)


def reminder_time(meeting: Meeting, tz: dt.tzinfo) -> dt.datetime:
    deadline_day = meeting.proposal_deadline.astimezone(tz).date()
    day = working_days_before(deadline_day, REMINDER_WORKING_DAYS)
    return dt.datetime.combine(day, REMINDER_TIME, tzinfo=tz)


def publish_due_agendas(db: Database, settings: Settings, now: dt.datetime) -> None:
    """On the release date, publish agendas both chairs approved; nudge them if not."""
    with db.session() as session:
        due = list(
            session.scalars(
                select(Meeting.id).where(
                    Meeting.published_at.is_(None),
                    Meeting.agenda_release <= now,
                    Meeting.starts_at > now,
                )
            )
        )
    for meeting_id in due:
        with db.session() as session:
            meeting = session.get(Meeting, meeting_id, with_for_update=db.is_postgres)
            if meeting is None or meeting.published_at is not None:
                continue
            if is_approved(session, agenda_subject(meeting)):
                publish(session, meeting, settings, now)
                continue
            tz = settings.tz
            queue(
                session,
                [
                    to_member(
                        chair.id,
                        f"agenda:meeting:{meeting.id}:unapproved:m{chair.id}",
                        note(
                            speak(chair, settings.language)(
                                "agenda.release_waiting",
                                committee=meeting.committee.name,
                                meeting=when(
                                    speak(chair, settings.language), meeting.starts_at, tz
                                ),
                            )
                        ),
                        purpose="agenda.chair",
                    )
                    for chair in chairs_of(session, meeting.committee)
                ],
            )


def remind_follow_ups(db: Database, settings: Settings, now: dt.datetime) -> None:
    """On an outcome's follow-up date, remind the committee's chairs."""
    today = now.astimezone(settings.tz).date()
    with db.session() as session:
        due = session.scalars(
            select(Proposal).where(
                Proposal.status == "decided",
                Proposal.follow_up_date <= today,
                Proposal.follow_up_date >= today - FOLLOW_UP_GRACE,
            )
        ).all()
        items = []
        for p in due:
            for chair in chairs_of(session, p.committee):
                t = speak(chair, settings.language)
                items.append(
                    to_member(
                        chair.id,
                        f"agenda:p{p.id}:follow_up:{p.follow_up_date}:m{chair.id}",
                        note(
                            t(
                                "agenda.follow_up_reminder",
                                title=p.title,
                                ref=reference(p, settings.tz),
                                committee=p.committee.name,
                                decision=p.decision or "",
                                follow_up=follow_up_text(t, p),
                            )
                        ),
                        purpose="agenda.follow_up",
                    )
                )
        queue(session, items)


JOBS = [remind_deadlines, publish_due_agendas, remind_follow_ups]


def register(router: Router) -> None:
    router.command("forslag", "proposal", "propose")(on_propose_command)
    router.command("dagsorden", "agenda")(on_agenda_command)
    router.command("møde", "mode", "meeting")(on_meeting_command)
    router.action(ProposeOpen)(on_propose_button)
    router.action(BringToMed)(on_bring_to_med)
    router.form(
        ProposeForm,
        limits={"title": TITLE_MAX, "issue": TEXT_MAX, "why": TEXT_MAX, "suggestion": TEXT_MAX},
    )(on_propose_submit)
    router.action(SupportToggle)(on_support)
    router.action(Present)(on_present)
    router.action(Triage)(on_triage)
    router.form(TriageForm, limits={"owner": 200})(on_triage_submit)
    router.action(Approve)(on_approve)
    router.action(PublishNow)(on_publish_now)
    router.form(MeetingForm, limits={"place": 300})(on_meeting_submit)
