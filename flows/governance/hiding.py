"""Hiding a comment from publication takes both sides: the chair's reason, then the employee
side's approval; the request is forgotten when retention takes the round's answers."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select

from bot.core.config import Settings
from bot.core.errors import NotFound, Refused
from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.i18n import Translator
from bot.core.messages import Field_, Form, Message, Reply, Text
from bot.core.outbox import to_member
from bot.core.router import FlowContext
from flows.access import refuse
from flows.approvals import (
    is_approved,
)
from flows.governance.actions import CommentHide, HideApprove, HideForm, HideReject
from flows.governance.comments import pending_hides
from flows.governance.keys import hide_ask_key, hide_outcome_key, hide_subject_of
from flows.governance.outcomes import HIDDEN, REJECTED, HideTold
from flows.governance.sides import (
    asking,
    may_decide,
    other_side,
    settled,
    sign_or_refuse,
    speaking_to,
    tell,
    updated,
)
from flows.privacy import months_before
from flows.scrub import scrub
from storage.audit import audit_entry
from storage.db import Database
from storage.models import Answer, Approval, Committee, HideRequest, Member, PulseRound
from storage.queries import roles_in, subtree

log = logging.getLogger("medpuls.governance")


REASON_MAX = 500


def _answer_for(ctx: FlowContext, data: CommentHide | HideForm) -> tuple[Committee, Answer]:
    """The comment a Hide button points to, if the clicking member chairs a committee over it."""
    member = ctx.member
    committee = ctx.session.get(Committee, data.c)
    pulse_round = ctx.session.get(PulseRound, data.r)
    if committee is None or pulse_round is None or pulse_round.closed_at is None:
        raise NotFound(ctx.t("governance.no_such_comment"))
    covers = pulse_round.unit_id in {u.id for u in subtree(ctx.session, committee.unit)}
    if (
        member is None
        or not covers
        or "chair" not in roles_in(ctx.session, member.id, committee.unit_id)
    ):
        raise refuse(
            ctx.session,
            ctx.t("governance.chairs_only"),
            member,
            "comment.hide",
            f"round:{data.r}",
            now=ctx.now,
        )
    answer = ctx.session.get(Answer, (data.r, data.q, data.k))
    if answer is None or answer.comment is None:
        raise NotFound(ctx.t("governance.no_such_comment"))
    return committee, answer


def on_hide(ctx: FlowContext, event: ButtonClicked, data: CommentHide) -> Reply:
    """Hiding takes both sides: first the chair's reason, then the other side's approval."""
    _answer_for(ctx, data)
    t = ctx.t
    return Reply(
        form=Form(
            data=HideForm(c=data.c, r=data.r, q=data.q, k=data.k).pack(),
            title=t("governance.hide_form_title"),
            submit=t("governance.hide_form_submit"),
            intro=t("governance.hide_form_intro"),
            fields=[
                Field_(
                    name="reason",
                    label=t("governance.hide_reason"),
                    kind="textarea",
                    max_length=REASON_MAX,
                )
            ],
        )
    )


def hide_subject(request: HideRequest) -> str:
    return hide_subject_of(request.id)


def on_hide_submit(ctx: FlowContext, event: FormSubmitted, data: HideForm) -> Reply:
    committee, answer = _answer_for(ctx, data)
    member = ctx.member
    assert member is not None
    t = ctx.t
    reason = (event.values.get("reason") or "").strip()[:REASON_MAX]
    if not reason:
        return Reply(errors={"reason": t("governance.hide_reason_required")})
    if (answer.round_id, answer.question_id, answer.respondent_key) in pending_hides(
        ctx.session, committee
    ):
        return Reply.note(t("governance.hide_waiting"))
    request = HideRequest(
        committee_id=committee.id,
        round_id=answer.round_id,
        question_id=answer.question_id,
        respondent_key=answer.respondent_key,
        reason=reason,
        requested_by=member.id,
        created_at=ctx.now,
    )
    ctx.session.add(request)
    ctx.session.flush()
    sign_or_refuse(
        ctx,
        committee,
        hide_subject(request),
        member,
        refusal="governance.chairs_only",
        action="comment.hide",
        target=f"round:{data.r}",
    )
    # Which round and question, never the comment or the reason: the audit log holds no answers.
    ctx.session.add(
        audit_entry(
            member,
            "comment.hide_request",
            f"round:{data.r}",
            allowed=True,
            now=ctx.now,
            committee=committee.id,
            question=data.q,
            request=request.id,
        )
    )
    word, approvers = other_side(
        ctx, committee, hide_subject(request), member, nobody="governance.hide_no"
    )
    names = list(ctx.session.scalars(select(Member.name).where(Member.erased.is_(False))))
    for approver in approvers:
        ctx.send(
            to_member(
                approver.id,
                hide_ask_key(request.id, approver.id),
                _ask(request, committee, member, answer, names, speaking_to(ctx, approver)),
                purpose="governance.hide",
            )
        )
    return Reply.note(t(f"governance.hide_requested_{word}", committee=committee.name))


def _ask(
    request: HideRequest,
    committee: Committee,
    requester: Member,
    answer: Answer,
    names: list[str],
    t: Translator,
) -> Message:
    """The other side's DM: the reason, the comment (scrubbed of names), hide or keep."""
    text = t(
        "governance.hide_ask",
        requester=requester.name,
        committee=committee.name,
        reason=request.reason,
    )
    comment = scrub(answer.comment or "", names, t("governance.scrubbed"))
    return asking(
        title=t("governance.hide_ask_title"),
        text=text,
        shown=[Text(text=comment, markdown=False)],
        approve=(t("governance.hide_approve"), HideApprove(h=request.id).pack()),
        keep=(t("governance.hide_keep"), HideReject(h=request.id).pack()),
        keep_style="default",
        note=t("governance.hide_ask_note"),
    )


def _hide_pending(ctx: FlowContext, request_id: int) -> tuple[HideRequest, Committee] | None:
    request = ctx.session.get(HideRequest, request_id)
    if request is None or request.outcome is not None:
        return None
    committee = ctx.session.get(Committee, request.committee_id)
    assert committee is not None
    return request, committee


def _refuse_hide(ctx: FlowContext, request: HideRequest, action: str) -> Refused:
    return refuse(
        ctx.session,
        ctx.t("governance.not_yours"),
        ctx.member,
        action,
        f"round:{request.round_id}",
        now=ctx.now,
        request=request.id,
    )


def _tell_hide_requester(ctx: FlowContext, request: HideRequest, outcome: HideTold) -> None:
    requester = ctx.session.get(Member, request.requested_by) if request.requested_by else None
    committee = ctx.session.get(Committee, request.committee_id)
    if requester is None or requester.erased or committee is None or ctx.member is None:
        return
    text = speaking_to(ctx, requester)(
        f"governance.hide_{outcome}", committee=committee.name, actor=ctx.member.name
    )
    key = hide_outcome_key(request.id, outcome)
    tell(ctx, requester, key, text, purpose="governance.outcome")


def on_hide_approve(ctx: FlowContext, event: ButtonClicked, data: HideApprove) -> Reply:
    found = _hide_pending(ctx, data.h)
    if found is None:
        return settled(ctx)
    request, committee = found
    if ctx.member is None:
        raise _refuse_hide(ctx, request, "comment.hide")
    sign_or_refuse(
        ctx,
        committee,
        hide_subject(request),
        ctx.member,
        refusal="governance.not_yours",
        action="comment.hide",
        target=f"round:{request.round_id}",
        request=request.id,
    )
    if not is_approved(ctx.session, hide_subject(request)):
        return settled(ctx)
    answer = ctx.session.get(
        Answer, (request.round_id, request.question_id, request.respondent_key)
    )
    if answer is not None:
        answer.hidden = True
    request.outcome = HIDDEN
    ctx.session.add(
        audit_entry(
            ctx.member,
            "comment.hide",
            f"round:{request.round_id}",
            allowed=True,
            now=ctx.now,
            committee=committee.id,
            question=request.question_id,
            request=request.id,
        )
    )
    _tell_hide_requester(ctx, request, "done")
    return updated(ctx.t("governance.hide_approved", committee=committee.name))


def on_hide_reject(ctx: FlowContext, event: ButtonClicked, data: HideReject) -> Reply:
    found = _hide_pending(ctx, data.h)
    if found is None:
        return settled(ctx)
    request, committee = found
    if not may_decide(ctx, hide_subject(request), committee):
        raise _refuse_hide(ctx, request, "comment.hide_reject")
    request.outcome = REJECTED
    ctx.session.add(
        audit_entry(
            ctx.member,
            "comment.hide_reject",
            f"round:{request.round_id}",
            allowed=True,
            now=ctx.now,
            committee=committee.id,
            request=request.id,
        )
    )
    _tell_hide_requester(ctx, request, "kept")
    return updated(ctx.t("governance.hide_kept_here", committee=committee.name))


def forget_expired_hide_requests(db: Database, settings: Settings, now: dt.datetime) -> None:
    """Scheduler job: a hide request (its reason may quote the comment) goes when the retention
    period takes the round's answers (flows.privacy.delete_expired_answers); safe to run twice."""
    cutoff = months_before(now, settings.retention_months)
    expired = select(PulseRound.id).where(
        PulseRound.closed_at.is_not(None), PulseRound.closed_at < cutoff
    )
    with db.session() as session:
        ids = list(session.scalars(select(HideRequest.id).where(HideRequest.round_id.in_(expired))))
        if not ids:
            return
        session.execute(
            delete(Approval).where(Approval.subject.in_([hide_subject_of(i) for i in ids]))
        )
        session.execute(delete(HideRequest).where(HideRequest.id.in_(ids)))
    log.info("expired hide requests forgotten", extra={"count": len(ids)})
