"""Triage: the chair's or vice-chair's next step for a proposal, and who is told of it.

Put it on the agenda (with a recommendation), move it to a later meeting, merge it into another
proposal, answer it directly, or decline it (with a reason). Every step is checked against the
chair roles when it is handled, audited, shown to the other chair and told to the proposer side.
A change to an agenda not yet sent out makes a new version: approvals of the old one no longer
count.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.i18n import Translator
from bot.core.messages import Field_, Form, Option, Reply
from bot.core.router import FlowContext
from flows.agenda import keys
from flows.agenda.actions import TEXT_MAX, Step, Triage, TriageForm
from flows.agenda.committees import refuse_unless_chair
from flows.agenda.keys import agenda_subject
from flows.agenda.meetings import meeting_after
from flows.agenda.render import (
    note,
    proposal_text,
    reference,
    tell_chairs,
    tell_proposer,
    when,
)
from flows.agenda.statuses import SUPPORTABLE
from flows.agenda.supporting import refresh_post
from flows.agenda.view import triage_message
from flows.approvals import signatures
from storage.models import Meeting, Proposal, Support

log = logging.getLogger("medpuls.agenda")


def _proposal_for(ctx: FlowContext, data: Triage | TriageForm) -> Proposal | Reply:
    """The proposal a step is for, if this chair may take that step on it now; else the answer."""
    proposal = ctx.session.get(Proposal, data.p)
    if proposal is None:
        return Reply.note(ctx.t("agenda.no_such_proposal"))
    action, subject = f"agenda.triage.{data.s}", f"proposal:{proposal.id}"
    refused = refuse_unless_chair(ctx, proposal.committee, action, subject)
    if refused is not None:
        return refused
    problem = _step_problem(ctx, proposal, data.s)
    if problem:
        return Reply.note(problem)
    return proposal


def on_triage(ctx: FlowContext, event: ButtonClicked, data: Triage) -> Reply:
    proposal = _proposal_for(ctx, data)
    if isinstance(proposal, Reply):
        return proposal
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
    proposal = _proposal_for(ctx, data)
    if isinstance(proposal, Reply):
        return proposal
    values = {k: (v or "").strip() for k, v in event.values.items()}
    t = ctx.t
    if data.s == "agenda":
        if not values.get("recommendation"):
            return Reply(errors={"recommendation": t("agenda.error_required")})
        return Reply.note(put_on_agenda(ctx, proposal, values["recommendation"]))
    if data.s == "later":
        return Reply.note(move_later(ctx, proposal))
    if data.s == "merge":
        targets = {q.id: q for q in merge_targets(ctx.session, proposal)}
        chosen = values.get("target", "")
        target = targets.get(int(chosen)) if chosen.isdigit() else None
        if target is None:
            return Reply(errors={"target": t("agenda.error_merge_target")})
        return Reply.note(merge(ctx, proposal, target))
    if not values.get("text"):
        return Reply(errors={"text": t("agenda.error_required")})
    return Reply.note(close_without_meeting(ctx, proposal, data.s, values["text"]))


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
    key = keys.step(proposal.id, step, ctx.now)

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


def _refresh_posts(ctx: FlowContext, *proposals: Proposal) -> None:
    for p in proposals:
        refresh_post(ctx, p)
