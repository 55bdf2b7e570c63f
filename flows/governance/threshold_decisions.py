"""The other side's answer to a request to lower a threshold: approve or reject."""

from __future__ import annotations

from bot.core.errors import Refused
from bot.core.events import ButtonClicked
from bot.core.messages import (
    Reply,
)
from bot.core.router import FlowContext
from flows.access import refuse
from flows.approvals import (
    is_approved,
)
from flows.governance.actions import ThresholdApprove, ThresholdReject
from flows.governance.keys import threshold_outcome_key
from flows.governance.outcomes import REJECTED, ThresholdTold
from flows.governance.sides import may_decide, settled, sign_or_refuse, speaking_to, tell, updated
from flows.governance.thresholds import put_in_force, subject_of
from storage.audit import audit_entry
from storage.models import Committee, Member, ThresholdChange


def _pending(
    ctx: FlowContext, data: ThresholdApprove | ThresholdReject
) -> tuple[ThresholdChange, Committee] | None:
    """The change the button was drawn for, if it still waits with the kind and value shown."""
    change = ctx.session.get(ThresholdChange, data.c)
    if (
        change is None
        or change.outcome is not None
        or change.kind != data.k
        or change.value != data.v
    ):
        return None
    committee = ctx.session.get(Committee, change.committee_id)
    assert committee is not None
    return change, committee


def _refuse_decision(
    ctx: FlowContext, change: ThresholdChange, committee: Committee, action: str
) -> Refused:
    return refuse(
        ctx.session,
        ctx.t("governance.not_yours"),
        ctx.member,
        action,
        f"committee:{committee.id}",
        now=ctx.now,
        change=change.id,
    )


def on_approve(ctx: FlowContext, event: ButtonClicked, data: ThresholdApprove) -> Reply:
    found = _pending(ctx, data)
    if found is None:
        return settled(ctx)
    change, committee = found
    if ctx.member is None:
        raise _refuse_decision(ctx, change, committee, "threshold.approve")
    sign_or_refuse(
        ctx,
        committee,
        subject_of(change),
        ctx.member,
        refusal="governance.not_yours",
        action="threshold.approve",
        target=f"committee:{committee.id}",
        change=change.id,
    )
    ctx.session.add(
        audit_entry(
            ctx.member,
            "threshold.approve",
            f"committee:{committee.id}",
            allowed=True,
            now=ctx.now,
            change=change.id,
        )
    )
    if is_approved(ctx.session, subject_of(change)):
        put_in_force(ctx, change, committee)
        _tell_requester(ctx, change, committee, "approved")
    return updated(ctx.t("governance.approved", committee=committee.name, value=change.value))


def on_reject(ctx: FlowContext, event: ButtonClicked, data: ThresholdReject) -> Reply:
    found = _pending(ctx, data)
    if found is None:
        return settled(ctx)
    change, committee = found
    if not may_decide(ctx, subject_of(change), committee):
        raise _refuse_decision(ctx, change, committee, "threshold.reject")
    ctx.session.add(
        audit_entry(
            ctx.member,
            "threshold.reject",
            f"committee:{committee.id}",
            allowed=True,
            now=ctx.now,
            change=change.id,
            kind=change.kind,
            value=change.value,
        )
    )
    _tell_requester(ctx, change, committee, "rejected")
    change.outcome = REJECTED
    return updated(ctx.t("governance.rejected", committee=committee.name, value=change.value))


def _tell_requester(
    ctx: FlowContext, change: ThresholdChange, committee: Committee, outcome: ThresholdTold
) -> None:
    requester = ctx.session.get(Member, change.requested_by) if change.requested_by else None
    if requester is None or requester.erased:
        return
    text = speaking_to(ctx, requester)(
        f"governance.requester_{outcome}", committee=committee.name, value=change.value
    )
    tell(
        ctx,
        requester,
        threshold_outcome_key(change.id, outcome),
        text,
        purpose="governance.outcome",
    )
