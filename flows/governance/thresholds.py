"""A committee's anonymity thresholds: asking to change one in chat (`grænse svar 4`), and a change
put in force (a raise at once, a lowering once the other side approves)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import InvalidInput, NotAllowed
from bot.core.events import CommandInvoked
from bot.core.i18n import Translator, translator
from bot.core.messages import Header, Message, Reply, SmallPrint, Text
from bot.core.outbox import to_member, to_unit_channel
from bot.core.router import FlowContext
from flows.disclosure import MIN_COMMENT_GROUP_FLOOR, MIN_GROUP_FLOOR, check_threshold
from flows.governance.actions import Kind, ThresholdApprove, ThresholdReject
from flows.governance.keys import threshold_announce_key, threshold_ask_key, threshold_subject
from flows.governance.outcomes import IN_FORCE, SUPERSEDED
from flows.governance.sides import (
    asking,
    committee_for,
    led_lines,
    other_side,
    sign_or_refuse,
    speaking_to,
)
from flows.pulse import thresholds_for
from storage.audit import audit_entry
from storage.models import Committee, Member, ThresholdChange
from storage.queries import ancestors

log = logging.getLogger("medpuls.governance")


KIND_WORDS: dict[str, Kind] = {
    "svar": "score",
    "score": "score",
    "tal": "score",
    "kommentar": "comment",
    "kommentarer": "comment",
    "comment": "comment",
    "comments": "comment",
}


def threshold_in_force(
    session: Session, committee: Committee, kind: Kind, settings: Settings
) -> int:
    """What a round opened now in the committee's unit would get (flows.pulse decides that)."""
    score, comment = thresholds_for(session, committee.unit, settings)
    return score if kind == "score" else comment


def ancestor_floor(
    session: Session, committee: Committee, kind: Kind, settings: Settings
) -> tuple[Committee, int] | None:
    """The nearest ancestor committee and its threshold in force: the committee's lower bound."""
    for unit in ancestors(session, committee.unit):
        above = session.scalars(select(Committee).where(Committee.unit_id == unit.id)).first()
        if above is not None:
            score, comment = thresholds_for(session, unit, settings)
            return above, score if kind == "score" else comment
    return None


def subject_of(change: ThresholdChange) -> str:
    """What an approval of the change signs: the request, its kind and its value."""
    return threshold_subject(change.id, change.kind, change.value)


def _set(committee: Committee, kind: Kind, value: int) -> None:
    if kind == "score":
        committee.min_group_size = value
    else:
        committee.min_comment_group_size = value


def put_in_force(ctx: FlowContext, change: ThresholdChange, committee: Committee) -> None:
    """Make the change the committee's threshold from now on, and tell its channel."""
    kind: Kind = "score" if change.kind == "score" else "comment"
    check_threshold(change.value, kind)
    change.effective_at = ctx.now
    change.outcome = IN_FORCE
    _set(committee, kind, change.value)
    t = translator(ctx.settings.language)
    text = t(
        f"governance.announce_{kind}",
        committee=committee.name,
        value=change.value,
    )
    announcement = Message(
        summary=text,
        parts=[
            Header(text=t("governance.announce_title")),
            Text(text=text),
            SmallPrint(text=t("governance.announce_note")),
        ],
    )
    ctx.send(
        to_unit_channel(
            committee.unit_id,
            threshold_announce_key(change.id),
            announcement,
            purpose="governance.threshold",
        )
    )
    ctx.session.add(
        audit_entry(
            ctx.member,
            "threshold.change",
            f"committee:{committee.id}",
            allowed=True,
            now=ctx.now,
            kind=kind,
            value=change.value,
            change=change.id,
        )
    )
    log.info(
        "threshold in force",
        extra={"committee": committee.id, "kind": kind, "value": change.value, "change": change.id},
    )


def _supersede_pending(session: Session, committee: Committee, kind: Kind) -> None:
    """A new request replaces an earlier one still waiting; its buttons then do nothing.

    The row is kept (not deleted), so its id is never handed to a later request."""
    session.execute(
        update(ThresholdChange)
        .where(
            ThresholdChange.committee_id == committee.id,
            ThresholdChange.kind == kind,
            ThresholdChange.outcome.is_(None),
        )
        .values(outcome=SUPERSEDED)
    )


def _parse(words: Sequence[str], t: Translator) -> tuple[Kind, int, str]:
    if len(words) < 3 or words[1].lower() not in KIND_WORDS:
        raise InvalidInput(t("governance.usage"))
    kind = KIND_WORDS[words[1].lower()]
    try:
        value = int(words[2])
    except ValueError:
        raise InvalidInput(t("governance.usage")) from None
    return kind, value, " ".join(words[3:])


def on_threshold(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """`grænse svar 4 [udvalg]`: a raise holds at once, a lowering waits for the other side."""
    member = ctx.member
    if member is None:
        raise NotAllowed(ctx.t("common.unknown_user"))
    words = event.text.split()
    if len(words) == 1:
        return Reply.note(current_thresholds(ctx, member))
    kind, value, name = _parse(words, ctx.t)
    committee = committee_for(ctx, member, name)
    _check_value(ctx, committee, kind, value)
    current = threshold_in_force(ctx.session, committee, kind, ctx.settings)
    if value == current:
        return Reply.note(
            ctx.t(f"governance.unchanged_{kind}", value=value, committee=committee.name)
        )
    return _request(ctx, member, committee, kind, value, current)


def _check_value(ctx: FlowContext, committee: Committee, kind: Kind, value: int) -> None:
    """Never below the floor, nor below the threshold of an ancestor committee."""
    try:
        check_threshold(value, kind)
    except ValueError:
        floor = check_floor(kind)
        raise InvalidInput(ctx.t(f"governance.below_floor_{kind}", floor=floor)) from None
    bound = ancestor_floor(ctx.session, committee, kind, ctx.settings)
    if bound is not None and value < bound[1]:
        above, minimum = bound
        raise InvalidInput(
            ctx.t(
                f"governance.below_ancestor_{kind}",
                committee=committee.name,
                ancestor=above.name,
                value=minimum,
            )
        )


def _request(
    ctx: FlowContext, member: Member, committee: Committee, kind: Kind, value: int, current: int
) -> Reply:
    """Record the request signed by the member's side; then put it in force or ask the other."""
    _supersede_pending(ctx.session, committee, kind)
    change = ThresholdChange(
        committee_id=committee.id,
        kind=kind,
        value=value,
        requested_by=member.id,
        created_at=ctx.now,
    )
    ctx.session.add(change)
    ctx.session.flush()
    target = f"committee:{committee.id}"
    sign_or_refuse(
        ctx,
        committee,
        subject_of(change),
        member,
        refusal="governance.not_chair",
        action="threshold.request",
        target=target,
    )
    ctx.session.add(
        audit_entry(
            member,
            "threshold.request",
            target,
            allowed=True,
            now=ctx.now,
            kind=kind,
            value=value,
            current=current,
            change=change.id,
        )
    )
    if value > current:
        # More protection needs no second signature.
        put_in_force(ctx, change, committee)
        return Reply.note(ctx.t(f"governance.raised_{kind}", value=value, committee=committee.name))
    word, approvers = other_side(ctx, committee, subject_of(change), member, nobody="governance.no")
    for approver in approvers:
        ctx.send(
            to_member(
                approver.id,
                threshold_ask_key(change.id, approver.id),
                approval_request(change, committee, member, speaking_to(ctx, approver)),
                purpose="governance.approval",
            )
        )
    return Reply.note(
        ctx.t(
            f"governance.requested_{word}", value=value, committee=committee.name, current=current
        )
    )


def check_floor(kind: Kind) -> int:
    return MIN_GROUP_FLOOR if kind == "score" else MIN_COMMENT_GROUP_FLOOR


def current_thresholds(ctx: FlowContext, member: Member) -> str:
    return led_lines(
        ctx,
        member,
        "governance.usage",
        lambda committee: ctx.t(
            "governance.current",
            committee=committee.name,
            score=threshold_in_force(ctx.session, committee, "score", ctx.settings),
            comment=threshold_in_force(ctx.session, committee, "comment", ctx.settings),
        ),
    )


def approval_request(
    change: ThresholdChange, committee: Committee, requester: Member, t: Translator
) -> Message:
    kind: Kind = "score" if change.kind == "score" else "comment"
    text = t(
        f"governance.approval_{kind}",
        requester=requester.name,
        committee=committee.name,
        value=change.value,
    )
    return asking(
        title=t("governance.approval_title"),
        text=text,
        approve=(
            t("governance.approve"),
            ThresholdApprove(c=change.id, k=kind, v=change.value).pack(),
        ),
        keep=(t("governance.reject"), ThresholdReject(c=change.id, k=kind, v=change.value).pack()),
        keep_style="danger",
        note=t("governance.approval_note"),
    )
