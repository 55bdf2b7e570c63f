"""A committee's deadlines (proposals due, agenda released): one side asks (`frister 21 10`), the
other approves; then meetings use them."""

from __future__ import annotations

from bot.core.errors import InvalidInput, NotAllowed
from bot.core.events import ButtonClicked, CommandInvoked
from bot.core.i18n import Translator
from bot.core.messages import Button, Buttons, Message, Reply, Text
from bot.core.outbox import to_member
from bot.core.router import FlowContext
from flows.approvals import (
    is_approved,
)
from flows.governance.actions import DeadlinesApprove
from flows.governance.keys import deadlines_ask_key, deadlines_subject
from flows.governance.sides import (
    committee_for,
    led_lines,
    other_side,
    settled,
    sign_or_refuse,
    speaking_to,
    updated,
)
from storage.audit import audit_entry
from storage.models import Committee, Member

MAX_DEADLINE_DAYS = 90


def check_deadlines(proposal_days: int, release_days: int) -> None:
    """Proposals due before the agenda goes out, which goes out before the meeting."""
    if not 0 <= release_days <= proposal_days <= MAX_DEADLINE_DAYS:
        raise InvalidInput(
            f"need 0 <= release days ({release_days}) <= proposal days ({proposal_days}) "
            f"<= {MAX_DEADLINE_DAYS}"
        )


def on_deadlines(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """`frister 21 10 [udvalg]`: one side asks, the other approves; then meetings use them."""
    t = ctx.t
    member = ctx.member
    if member is None:
        raise NotAllowed(t("common.unknown_user"))
    words = event.text.split()
    if len(words) < 3 or not words[1].isdigit() or not words[2].isdigit():
        return Reply.note(_current_deadlines(ctx, member))
    proposal, release = int(words[1]), int(words[2])
    try:
        check_deadlines(proposal, release)
    except InvalidInput:
        raise InvalidInput(t("governance.deadlines_invalid", most=MAX_DEADLINE_DAYS)) from None
    committee = committee_for(ctx, member, " ".join(words[3:]))
    stamp = ctx.now.strftime("%Y%m%dT%H%M%S%f")
    subject = deadlines_subject(committee.id, proposal, release, stamp)
    target = f"committee:{committee.id}"
    sign_or_refuse(
        ctx,
        committee,
        subject,
        member,
        refusal="governance.not_chair",
        action="deadlines.request",
        target=target,
    )
    ctx.session.add(
        audit_entry(
            member,
            "deadlines.request",
            target,
            allowed=True,
            now=ctx.now,
            proposal=proposal,
            release=release,
        )
    )
    word, approvers = other_side(ctx, committee, subject, member, nobody="governance.no")
    data = DeadlinesApprove(c=committee.id, p=proposal, r=release, n=stamp)
    for approver in approvers:
        ctx.send(
            to_member(
                approver.id,
                deadlines_ask_key(committee.id, stamp, approver.id),
                _ask(data, committee, member, speaking_to(ctx, approver)),
                purpose="governance.approval",
            )
        )
    return Reply.note(t(f"governance.deadlines_requested_{word}", committee=committee.name))


def _current_deadlines(ctx: FlowContext, member: Member) -> str:
    t = ctx.t
    return led_lines(
        ctx,
        member,
        "governance.deadlines_usage",
        lambda c: t(
            "governance.deadlines_current",
            committee=c.name,
            proposal=t.plural("governance.days", c.proposal_deadline_days),
            release=t.plural("governance.days", c.agenda_release_days),
        ),
    )


def _ask(data: DeadlinesApprove, committee: Committee, requester: Member, t: Translator) -> Message:
    """The other side's DM: the deadlines asked for, and the button that approves them."""
    text = t(
        "governance.deadlines_ask",
        requester=requester.name,
        committee=committee.name,
        proposal=t.plural("governance.days", data.p),
        release=t.plural("governance.days", data.r),
    )
    approve = Button(label=t("governance.approve"), data=data.pack(), style="primary")
    return Message(summary=text, parts=[Text(text=text), Buttons(buttons=[approve])])


def on_deadlines_approve(ctx: FlowContext, event: ButtonClicked, data: DeadlinesApprove) -> Reply:
    committee = ctx.session.get(Committee, data.c)
    subject = deadlines_subject(data.c, data.p, data.r, data.n)
    if committee is None or is_approved(ctx.session, subject):
        return settled(ctx)
    if ctx.member is None:
        raise NotAllowed(ctx.t("common.unknown_user"))
    sign_or_refuse(
        ctx,
        committee,
        subject,
        ctx.member,
        refusal="governance.not_yours",
        action="deadlines.approve",
        target=f"committee:{committee.id}",
    )
    if not is_approved(ctx.session, subject):
        # Signed for a side, but the request it answers was never made by the other side.
        return settled(ctx)
    check_deadlines(data.p, data.r)
    committee.proposal_deadline_days, committee.agenda_release_days = data.p, data.r
    ctx.session.add(
        audit_entry(
            ctx.member,
            "deadlines.change",
            f"committee:{committee.id}",
            allowed=True,
            now=ctx.now,
            proposal=data.p,
            release=data.r,
        )
    )
    text = ctx.t(
        "governance.deadlines_set",
        committee=committee.name,
        proposal=ctx.t.plural("governance.days", data.p),
        release=ctx.t.plural("governance.days", data.r),
    )
    return updated(text)
