"""Joint governance of what a committee publishes: its anonymity thresholds and its comments.

A MED committee is run by both sides: its chair (management) and vice-chair (employees).
Lowering a threshold makes small groups more visible, so it takes both of them: one asks in
chat (`grænse svar 4`), the other approves with a button. Raising protects people more, so
either may do it alone. A change applies to rounds that open after it takes effect: a round
keeps the thresholds it opened with (PulseRound.min_group_size), so nothing already asked or
published changes meaning. Thresholds never go below the floors (3 for figures, 5 for
comments), and every change is announced in the committee's channel.

A chair may also hide a comment from publication. The chair's view of a closed round's
comments shows only groups that clear the comment threshold, scrubbed and in random order, and
each Hide button carries a handle of the answer row, whose key was re-drawn at random when the
round closed and so points to nobody.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.actions import ActionData
from bot.config import Settings
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.events import ButtonClicked, CommandInvoked
from bot.i18n import Translator, translator
from bot.messages import Button, Buttons, Context, Divider, Header, Message, Reply, Text
from bot.outbox import to_member, to_unit_channel
from bot.router import Context as FlowContext
from bot.router import Router
from flows.access import audit_entry, latest_batch, refuse, require_results_access
from flows.disclosure import (
    MIN_COMMENT_GROUP_FLOOR,
    MIN_GROUP_FLOOR,
    check_threshold,
    comment_home,
)
from flows.pulse import language, thresholds_for
from flows.scrub import scrub
from storage.models import (
    Answer,
    Committee,
    Member,
    Membership,
    Participation,
    PulseRound,
    ThresholdChange,
    Unit,
)
from storage.queries import roles_in, subtree

log = logging.getLogger("medpuls.governance")

Kind = Literal["score", "comment"]
Side = Literal["chair", "vice_chair"]
KIND_WORDS: dict[str, Kind] = {
    "svar": "score",
    "score": "score",
    "tal": "score",
    "kommentar": "comment",
    "kommentarer": "comment",
    "comment": "comment",
    "comments": "comment",
}


class ThresholdApprove(ActionData):
    kind = "governance.approve"
    c: int


class ThresholdReject(ActionData):
    kind = "governance.reject"
    c: int


class CommentHide(ActionData):
    kind = "governance.hide"
    c: int
    r: int
    q: str
    k: str


# --- who holds the committee ----------------------------------------------------------------


def sides_of(session: Session, member: Member, committee: Committee) -> frozenset[Side]:
    roles = roles_in(session, member.id, committee.unit_id)
    sides: tuple[Side, ...] = ("chair", "vice_chair")
    return frozenset(side for side in sides if side in roles)


def committees_led_by(session: Session, member: Member) -> list[Committee]:
    """Committees in which the member is chair or vice-chair."""
    return [
        c
        for c in session.scalars(select(Committee).order_by(Committee.name))
        if sides_of(session, member, c)
    ]


def holders(session: Session, committee: Committee, side: Side) -> list[Member]:
    rows = session.scalars(select(Membership).where(Membership.unit_id == committee.unit_id)).all()
    return [ms.member for ms in rows if side in ms.role_set and not ms.member.erased]


def other(side: Side) -> Side:
    return "vice_chair" if side == "chair" else "chair"


# --- thresholds ---------------------------------------------------------------------------


def threshold_in_force(
    session: Session, committee: Committee, kind: Kind, settings: Settings
) -> int:
    """What a round opened now in the committee's unit would get (flows.pulse decides that)."""
    score, comment = thresholds_for(session, committee.unit, settings)
    return score if kind == "score" else comment


def _set(committee: Committee, kind: Kind, value: int) -> None:
    if kind == "score":
        committee.min_group_size = value
    else:
        committee.min_comment_group_size = value


def _approve(change: ThresholdChange, side: Side, now: dt.datetime) -> None:
    if side == "chair":
        change.chair_approved_at = now
    else:
        change.vice_chair_approved_at = now


def _missing_side(change: ThresholdChange) -> Side | None:
    if change.chair_approved_at is None:
        return "chair"
    if change.vice_chair_approved_at is None:
        return "vice_chair"
    return None


def put_in_force(ctx: FlowContext, change: ThresholdChange, committee: Committee) -> None:
    """Make the change the committee's threshold from now on, and tell its channel."""
    kind: Kind = "score" if change.kind == "score" else "comment"
    check_threshold(change.value, kind)
    change.effective_at = ctx.now
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
            Context(text=t("governance.announce_note")),
        ],
    )
    ctx.send(
        to_unit_channel(
            committee.unit_id,
            f"governance:threshold:{change.id}:announce",
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


def _drop_pending(session: Session, committee: Committee, kind: Kind) -> None:
    """A new request replaces an earlier one still waiting; its buttons then do nothing."""
    session.execute(
        delete(ThresholdChange).where(
            ThresholdChange.committee_id == committee.id,
            ThresholdChange.kind == kind,
            ThresholdChange.effective_at.is_(None),
        )
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


def _committee_for(ctx: FlowContext, member: Member, name: str) -> Committee:
    led = committees_led_by(ctx.session, member)
    if name:
        led = [c for c in led if c.name.lower() == name.lower()]
    if not led:
        raise refuse(
            ctx.session,
            ctx.t("governance.not_chair"),
            member,
            "threshold.request",
            name or "committee",
            now=ctx.now,
        )
    if len(led) > 1:
        names = ", ".join(c.name for c in led)
        raise InvalidInput(ctx.t("governance.which_committee", committees=names))
    return led[0]


def on_threshold(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    member = ctx.member
    if member is None:
        raise NotAllowed(t("common.unknown_user"))
    words = event.text.split()
    if len(words) == 1:
        return _notice(current_thresholds(ctx, member))
    kind, value, name = _parse(words, t)
    committee = _committee_for(ctx, member, name)
    try:
        check_threshold(value, kind)
    except ValueError:
        floor = check_floor(kind)
        raise InvalidInput(t(f"governance.below_floor_{kind}", floor=floor)) from None
    current = threshold_in_force(ctx.session, committee, kind, ctx.settings)
    if value == current:
        return _notice(t(f"governance.unchanged_{kind}", value=value, committee=committee.name))
    [side, *_] = sorted(sides_of(ctx.session, member, committee))
    _drop_pending(ctx.session, committee, kind)
    change = ThresholdChange(
        committee_id=committee.id,
        kind=kind,
        value=value,
        requested_by=member.id,
        created_at=ctx.now,
    )
    _approve(change, side, ctx.now)
    ctx.session.add(change)
    ctx.session.flush()
    ctx.session.add(
        audit_entry(
            member,
            "threshold.request",
            f"committee:{committee.id}",
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
        return _notice(t(f"governance.raised_{kind}", value=value, committee=committee.name))
    needed = other(side)
    approvers = [m for m in holders(ctx.session, committee, needed) if m.id != member.id]
    if not approvers:
        raise InvalidInput(t(f"governance.no_{needed}", committee=committee.name))
    for approver in approvers:
        ctx.send(
            to_member(
                approver.id,
                f"governance:threshold:{change.id}:ask:{approver.id}",
                approval_request(
                    change, committee, member, translator(language(approver, ctx.settings.language))
                ),
                purpose="governance.approval",
            )
        )
    return _notice(
        t(f"governance.requested_{needed}", value=value, committee=committee.name, current=current)
    )


def check_floor(kind: Kind) -> int:
    return MIN_GROUP_FLOOR if kind == "score" else MIN_COMMENT_GROUP_FLOOR


def current_thresholds(ctx: FlowContext, member: Member) -> str:
    t = ctx.t
    lines = [t("governance.usage")]
    for committee in committees_led_by(ctx.session, member):
        lines.append(
            t(
                "governance.current",
                committee=committee.name,
                score=threshold_in_force(ctx.session, committee, "score", ctx.settings),
                comment=threshold_in_force(ctx.session, committee, "comment", ctx.settings),
            )
        )
    return "\n".join(lines)


def approval_request(
    change: ThresholdChange, committee: Committee, requester: Member, t: Translator
) -> Message:
    kind = "score" if change.kind == "score" else "comment"
    text = t(
        f"governance.approval_{kind}",
        requester=requester.name,
        committee=committee.name,
        value=change.value,
    )
    return Message(
        summary=text,
        parts=[
            Header(text=t("governance.approval_title")),
            Text(text=text),
            Buttons(
                buttons=[
                    Button(
                        label=t("governance.approve"),
                        data=ThresholdApprove(c=change.id).pack(),
                        style="primary",
                    ),
                    Button(
                        label=t("governance.reject"),
                        data=ThresholdReject(c=change.id).pack(),
                        style="danger",
                    ),
                ]
            ),
            Context(text=t("governance.approval_note")),
        ],
    )


def _pending(ctx: FlowContext, change_id: int) -> tuple[ThresholdChange, Committee] | None:
    change = ctx.session.get(ThresholdChange, change_id)
    if change is None or change.effective_at is not None:
        return None
    committee = ctx.session.get(Committee, change.committee_id)
    assert committee is not None
    return change, committee


def _may_decide(
    ctx: FlowContext, change: ThresholdChange, committee: Committee, action: str
) -> Side:
    """The side the clicking member signs for, or a refusal that is audited."""
    member = ctx.member
    needed = _missing_side(change)
    allowed = (
        member is not None
        and needed is not None
        and member.id != change.requested_by
        and needed in sides_of(ctx.session, member, committee)
    )
    if not allowed or needed is None:
        raise refuse(
            ctx.session,
            ctx.t("governance.not_yours"),
            member,
            action,
            f"committee:{committee.id}",
            now=ctx.now,
            change=change.id,
        )
    return needed


def on_approve(ctx: FlowContext, event: ButtonClicked, data: ThresholdApprove) -> Reply:
    found = _pending(ctx, data.c)
    if found is None:
        return _settled(ctx)
    change, committee = found
    side = _may_decide(ctx, change, committee, "threshold.approve")
    _approve(change, side, ctx.now)
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
    if _missing_side(change) is None:
        put_in_force(ctx, change, committee)
        _tell_requester(ctx, change, committee, "approved")
    text = ctx.t("governance.approved", committee=committee.name, value=change.value)
    return Reply(update=Message(summary=text, parts=[Text(text=text)]))


def on_reject(ctx: FlowContext, event: ButtonClicked, data: ThresholdReject) -> Reply:
    found = _pending(ctx, data.c)
    if found is None:
        return _settled(ctx)
    change, committee = found
    _may_decide(ctx, change, committee, "threshold.reject")
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
    ctx.session.delete(change)
    text = ctx.t("governance.rejected", committee=committee.name, value=change.value)
    return Reply(update=Message(summary=text, parts=[Text(text=text)]))


def _tell_requester(
    ctx: FlowContext, change: ThresholdChange, committee: Committee, outcome: str
) -> None:
    requester = ctx.session.get(Member, change.requested_by) if change.requested_by else None
    if requester is None or requester.erased:
        return
    t = translator(language(requester, ctx.settings.language))
    text = t(f"governance.requester_{outcome}", committee=committee.name, value=change.value)
    ctx.send(
        to_member(
            requester.id,
            f"governance:threshold:{change.id}:{outcome}",
            Message(summary=text, parts=[Text(text=text)]),
            purpose="governance.outcome",
        )
    )


def _settled(ctx: FlowContext) -> Reply:
    text = ctx.t("governance.settled")
    return Reply(update=Message(summary=text, parts=[Text(text=text)]))


# --- comments -----------------------------------------------------------------------------


def chaired(session: Session, member: Member) -> list[Committee]:
    return [
        c for c in committees_led_by(session, member) if "chair" in sides_of(session, member, c)
    ]


def publishable_comments(
    session: Session, committee: Committee
) -> tuple[list[tuple[Unit, list[Answer]]], int]:
    """The latest closed round's comments in the committee's units, grouped where the comment
    group clears the threshold; and how many are hidden. Groups that do not clear it, and
    their comments, are left out entirely."""
    units = subtree(session, committee.unit)
    ids = {u.id for u in units}
    batch = [r for r in latest_batch(session, units) if r.unit_id in ids]
    if not batch:
        return [], 0
    by_unit = {r.unit_id: r for r in batch}
    counts = {
        str(r.unit_id): int(
            session.scalar(
                select(func.count()).where(
                    Participation.round_id == r.id, Participation.answered.is_(True)
                )
            )
            or 0
        )
        for r in batch
    }
    parents = {str(u.id): (str(u.parent_id) if u.id != committee.unit_id else None) for u in units}
    minimum = max(r.min_comment_group_size for r in batch)
    homes: dict[int, list[Answer]] = {}
    hidden = 0
    for unit_id, r in by_unit.items():
        home = comment_home(str(unit_id), counts, parents, minimum)
        if home is None:
            continue
        for answer in session.scalars(
            select(Answer).where(Answer.round_id == r.id, Answer.comment.is_not(None))
        ):
            if answer.hidden:
                hidden += 1
            else:
                homes.setdefault(int(home), []).append(answer)
    by_id = {u.id: u for u in units}
    groups = []
    for unit_id, answers in sorted(homes.items(), key=lambda kv: by_id[kv[0]].path):
        # Random order: neither the order of answering nor of storage may show through.
        random.SystemRandom().shuffle(answers)
        groups.append((by_id[unit_id], answers))
    return groups, hidden


def comments_message(session: Session, committee: Committee, t: Translator) -> Message:
    groups, hidden = publishable_comments(session, committee)
    names = list(session.scalars(select(Member.name).where(Member.erased.is_(False))))
    placeholder = t("governance.scrubbed")
    parts: list[Any] = [Header(text=t("governance.comments_title", committee=committee.name))]
    if not groups:
        parts.append(Text(text=t("governance.no_comments")))
    for unit, answers in groups:
        parts.extend([Divider(), Text(text=f"*{unit.name}*")])
        for answer in answers:
            parts.append(Text(text=scrub(answer.comment or "", names, placeholder), markdown=False))
            parts.append(
                Buttons(
                    buttons=[
                        Button(
                            label=t("governance.hide"),
                            data=CommentHide(
                                c=committee.id,
                                r=answer.round_id,
                                q=answer.question_id,
                                k=answer.respondent_key,
                            ).pack(),
                        )
                    ]
                )
            )
    if hidden:
        parts.append(Context(text=t("governance.hidden_count", n=hidden)))
    return Message(summary=t("governance.comments_title", committee=committee.name), parts=parts)


def on_comments(ctx: FlowContext, event: CommandInvoked) -> Reply:
    member = ctx.member
    if member is None:
        raise NotAllowed(ctx.t("common.unknown_user"))
    committees = chaired(ctx.session, member)
    if not committees:
        raise refuse(
            ctx.session,
            ctx.t("governance.chairs_only"),
            member,
            "comments.view",
            "comments",
            now=ctx.now,
        )
    messages = []
    for committee in committees:
        require_results_access(ctx, member, committee.unit, "comments.view")
        messages.append(comments_message(ctx.session, committee, ctx.t))
    if len(messages) == 1:
        return Reply(notice=messages[0])
    parts = [part for m in messages for part in m.parts]
    return Reply(notice=Message(summary=messages[0].summary, parts=parts))


def on_hide(ctx: FlowContext, event: ButtonClicked, data: CommentHide) -> Reply:
    member = ctx.member
    committee = ctx.session.get(Committee, data.c)
    pulse_round = ctx.session.get(PulseRound, data.r)
    if committee is None or pulse_round is None or pulse_round.closed_at is None:
        raise NotFound(ctx.t("governance.no_such_comment"))
    covers = pulse_round.unit_id in {u.id for u in subtree(ctx.session, committee.unit)}
    if member is None or not covers or "chair" not in sides_of(ctx.session, member, committee):
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
    answer.hidden = True
    # Which round and question, never the comment: the audit log holds no answers.
    ctx.session.add(
        audit_entry(
            member,
            "comment.hide",
            f"round:{data.r}",
            allowed=True,
            now=ctx.now,
            committee=committee.id,
            question=data.q,
        )
    )
    ctx.session.flush()
    return Reply(update=comments_message(ctx.session, committee, ctx.t))


def _notice(text: str) -> Reply:
    return Reply(notice=Message(summary=text, parts=[Text(text=text)]))


def register(router: Router) -> None:
    router.command("grænse", "graense", "threshold")(on_threshold)
    router.command("kommentarer", "comments")(on_comments)
    router.action(ThresholdApprove)(on_approve)
    router.action(ThresholdReject)(on_reject)
    router.action(CommentHide)(on_hide)
