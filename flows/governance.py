"""Joint governance of what a committee publishes: its anonymity thresholds and its comments.

A MED committee is run by both sides (flows.approvals): management (its chair, the managers)
and employees (its vice-chair, the representatives). Lowering a threshold makes small groups
more visible, so it takes one person from each side: one asks in chat (`grænse svar 4`), the
other approves with a button that names the request, its kind and its value; a later request
replaces the earlier one, whose buttons then do nothing. Raising protects people more, so
either may do it alone. A committee's thresholds are never below an ancestor committee's
(flows.pulse.thresholds_for), field by field. A change applies to rounds that open after it
takes effect: a round keeps the thresholds it opened with (PulseRound.min_group_size), so
nothing already asked or published changes meaning. Thresholds never go below the floors (3
for figures, 5 for comments), and every change is announced in the committee's channel.

A chair may ask to hide a comment from publication, with a reason; it is hidden when someone
from the employee side agrees. The chair's view of a closed round's comments shows only groups
that clear the comment threshold, scrubbed and in random order, and each Hide button carries a
handle of the answer row, whose key was re-drawn at random when the round closed and so points
to nobody.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.errors import CannotSign, InvalidInput, NotAllowed, NotFound, Refused
from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted
from bot.core.i18n import Translator, translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Field_,
    Form,
    Header,
    Message,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import to_member, to_unit_channel
from bot.core.router import FlowContext, Router
from flows.access import latest_batch, refuse, require_results_access
from flows.approvals import (
    Side,
    is_approved,
    missing_sides,
    sign,
    signatures,
    who_may_sign,
)
from flows.approvals import sides_of as approval_sides
from flows.disclosure import (
    MIN_COMMENT_GROUP_FLOOR,
    MIN_GROUP_FLOOR,
    check_threshold,
    comment_home,
)
from flows.privacy import months_before
from flows.pulse import language, thresholds_for
from flows.scrub import scrub
from storage.audit import audit_entry
from storage.db import Database
from storage.models import (
    Answer,
    Approval,
    Committee,
    HideRequest,
    Member,
    Participation,
    PulseRound,
    ThresholdChange,
    Unit,
)
from storage.queries import ancestors, roles_in, subtree

log = logging.getLogger("medpuls.governance")

Kind = Literal["score", "comment"]
KIND_WORDS: dict[str, Kind] = {
    "svar": "score",
    "score": "score",
    "tal": "score",
    "kommentar": "comment",
    "kommentarer": "comment",
    "comment": "comment",
    "comments": "comment",
}
CHAIR_ROLES = frozenset({"chair", "vice_chair"})
# How the messages name the side a request waits for.
SIDE_WORD: dict[Side, str] = {"management": "chair", "employee": "vice_chair"}
REASON_MAX = 500


class ThresholdApprove(ActionData):
    """Approve change `c`, which must still be the request for kind `k` and value `v` shown."""

    kind = "governance.approve"
    c: int
    k: Kind
    v: int


class ThresholdReject(ActionData):
    kind = "governance.reject"
    c: int
    k: Kind
    v: int


class CommentHide(ActionData):
    kind = "governance.hide"
    c: int
    r: int
    q: str
    k: str


class HideForm(ActionData):
    """The reason for hiding a comment, asked before the other side is asked to agree."""

    kind = "governance.hide_form"
    c: int
    r: int
    q: str
    k: str


class HideApprove(ActionData):
    kind = "governance.hide_approve"
    h: int


class HideReject(ActionData):
    kind = "governance.hide_reject"
    h: int


# --- who holds the committee ----------------------------------------------------------------


def chair_roles(session: Session, member: Member, committee: Committee) -> frozenset[str]:
    return roles_in(session, member.id, committee.unit_id) & CHAIR_ROLES


def committees_led_by(session: Session, member: Member) -> list[Committee]:
    """Committees in which the member is chair or vice-chair."""
    return [
        c
        for c in session.scalars(select(Committee).order_by(Committee.name))
        if chair_roles(session, member, c)
    ]


# --- thresholds ---------------------------------------------------------------------------


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
    return f"threshold:{change.id}:{change.kind}={change.value}"


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
    change.outcome = "in_force"
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
        .values(outcome="superseded")
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
        return Reply.note(current_thresholds(ctx, member))
    kind, value, name = _parse(words, t)
    committee = _committee_for(ctx, member, name)
    try:
        check_threshold(value, kind)
    except ValueError:
        floor = check_floor(kind)
        raise InvalidInput(t(f"governance.below_floor_{kind}", floor=floor)) from None
    bound = ancestor_floor(ctx.session, committee, kind, ctx.settings)
    if bound is not None and value < bound[1]:
        above, minimum = bound
        raise InvalidInput(
            t(
                f"governance.below_ancestor_{kind}",
                committee=committee.name,
                ancestor=above.name,
                value=minimum,
            )
        )
    current = threshold_in_force(ctx.session, committee, kind, ctx.settings)
    if value == current:
        return Reply.note(t(f"governance.unchanged_{kind}", value=value, committee=committee.name))
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
    try:
        sign(ctx.session, committee, subject_of(change), member, ctx.now)
    except CannotSign:
        raise refuse(
            ctx.session,
            t("governance.not_chair"),
            member,
            "threshold.request",
            f"committee:{committee.id}",
            now=ctx.now,
        ) from None
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
        return Reply.note(t(f"governance.raised_{kind}", value=value, committee=committee.name))
    [needed] = missing_sides(ctx.session, subject_of(change))
    approvers = who_may_sign(ctx.session, committee, needed, exclude=[member.id])
    word = SIDE_WORD[needed]
    if not approvers:
        raise InvalidInput(t(f"governance.no_{word}", committee=committee.name))
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
    return Reply.note(
        t(f"governance.requested_{word}", value=value, committee=committee.name, current=current)
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
    kind: Kind = "score" if change.kind == "score" else "comment"
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
                        data=ThresholdApprove(c=change.id, k=kind, v=change.value).pack(),
                        style="primary",
                    ),
                    Button(
                        label=t("governance.reject"),
                        data=ThresholdReject(c=change.id, k=kind, v=change.value).pack(),
                        style="danger",
                    ),
                ]
            ),
            SmallPrint(text=t("governance.approval_note")),
        ],
    )


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
        return _settled(ctx)
    change, committee = found
    if ctx.member is None:
        raise _refuse_decision(ctx, change, committee, "threshold.approve")
    try:
        sign(ctx.session, committee, subject_of(change), ctx.member, ctx.now)
    except CannotSign:
        raise _refuse_decision(ctx, change, committee, "threshold.approve") from None
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
    text = ctx.t("governance.approved", committee=committee.name, value=change.value)
    return Reply(update=Message(summary=text, parts=[Text(text=text)]))


def _may_decide(ctx: FlowContext, subject: str, committee: Committee) -> bool:
    """The member holds a side still to sign and has not signed: theirs to approve or reject."""
    member = ctx.member
    if member is None:
        return False
    if any(a.member_id == member.id for a in signatures(ctx.session, subject)):
        return False
    held = approval_sides(ctx.session, member, committee)
    return any(side in held for side in missing_sides(ctx.session, subject))


def on_reject(ctx: FlowContext, event: ButtonClicked, data: ThresholdReject) -> Reply:
    found = _pending(ctx, data)
    if found is None:
        return _settled(ctx)
    change, committee = found
    if not _may_decide(ctx, subject_of(change), committee):
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
    change.outcome = "rejected"
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


# --- the committee's deadlines ------------------------------------------------------------

MAX_DEADLINE_DAYS = 90


class DeadlinesApprove(ActionData):
    """Approve deadlines `p`/`r` for committee `c`, as asked in request `n` (its time stamp)."""

    kind = "governance.deadlines"
    c: int
    p: int
    r: int
    n: str


def check_deadlines(proposal_days: int, release_days: int) -> None:
    """Proposals due before the agenda goes out, which goes out before the meeting."""
    if not 0 <= release_days <= proposal_days <= MAX_DEADLINE_DAYS:
        raise InvalidInput(
            f"need 0 <= release days ({release_days}) <= proposal days ({proposal_days}) "
            f"<= {MAX_DEADLINE_DAYS}"
        )


def deadlines_subject(c: int, p: int, r: int, n: str) -> str:
    return f"deadlines:{c}:{p}:{r}:{n}"


def on_deadlines(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """`frister 21 10 [udvalg]`: one side asks, the other approves; then meetings use them."""
    t = ctx.t
    member = ctx.member
    if member is None:
        raise NotAllowed(t("common.unknown_user"))
    words = event.text.split()
    if len(words) < 3 or not words[1].isdigit() or not words[2].isdigit():
        lines = [t("governance.deadlines_usage")]
        for c in committees_led_by(ctx.session, member):
            lines.append(
                t(
                    "governance.deadlines_current",
                    committee=c.name,
                    proposal=t.plural("governance.days", c.proposal_deadline_days),
                    release=t.plural("governance.days", c.agenda_release_days),
                )
            )
        return Reply.note("\n".join(lines))
    proposal, release = int(words[1]), int(words[2])
    try:
        check_deadlines(proposal, release)
    except InvalidInput:
        raise InvalidInput(t("governance.deadlines_invalid", most=MAX_DEADLINE_DAYS)) from None
    committee = _committee_for(ctx, member, " ".join(words[3:]))
    stamp = ctx.now.strftime("%Y%m%dT%H%M%S%f")
    subject = deadlines_subject(committee.id, proposal, release, stamp)
    try:
        sign(ctx.session, committee, subject, member, ctx.now)
    except CannotSign:
        raise refuse(
            ctx.session,
            t("governance.not_chair"),
            member,
            "deadlines.request",
            f"committee:{committee.id}",
            now=ctx.now,
        ) from None
    ctx.session.add(
        audit_entry(
            member,
            "deadlines.request",
            f"committee:{committee.id}",
            allowed=True,
            now=ctx.now,
            proposal=proposal,
            release=release,
        )
    )
    [needed] = missing_sides(ctx.session, subject)
    approvers = who_may_sign(ctx.session, committee, needed, exclude=[member.id])
    word = SIDE_WORD[needed]
    if not approvers:
        raise InvalidInput(t(f"governance.no_{word}", committee=committee.name))
    data = DeadlinesApprove(c=committee.id, p=proposal, r=release, n=stamp).pack()
    for approver in approvers:
        tt = translator(language(approver, ctx.settings.language))
        text = tt(
            "governance.deadlines_ask",
            requester=member.name,
            committee=committee.name,
            proposal=tt.plural("governance.days", proposal),
            release=tt.plural("governance.days", release),
        )
        ctx.send(
            to_member(
                approver.id,
                f"governance:deadlines:{committee.id}:{stamp}:ask:{approver.id}",
                Message(
                    summary=text,
                    parts=[
                        Text(text=text),
                        Buttons(
                            buttons=[
                                Button(label=tt("governance.approve"), data=data, style="primary")
                            ]
                        ),
                    ],
                ),
                purpose="governance.approval",
            )
        )
    return Reply.note(t(f"governance.deadlines_requested_{word}", committee=committee.name))


def on_deadlines_approve(ctx: FlowContext, event: ButtonClicked, data: DeadlinesApprove) -> Reply:
    committee = ctx.session.get(Committee, data.c)
    subject = deadlines_subject(data.c, data.p, data.r, data.n)
    if committee is None or is_approved(ctx.session, subject):
        return _settled(ctx)
    if ctx.member is None:
        raise NotAllowed(ctx.t("common.unknown_user"))
    try:
        sign(ctx.session, committee, subject, ctx.member, ctx.now)
    except CannotSign:
        raise refuse(
            ctx.session,
            ctx.t("governance.not_yours"),
            ctx.member,
            "deadlines.approve",
            f"committee:{committee.id}",
            now=ctx.now,
        ) from None
    if not is_approved(ctx.session, subject):
        # Signed for a side, but the request it answers was never made by the other side.
        return _settled(ctx)
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
    return Reply(update=Message(summary=text, parts=[Text(text=text)]))


# --- comments -----------------------------------------------------------------------------


def chaired(session: Session, member: Member) -> list[Committee]:
    return [
        c
        for c in committees_led_by(session, member)
        if "chair" in roles_in(session, member.id, c.unit_id)
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


def pending_hides(session: Session, committee: Committee) -> set[tuple[int, str, str]]:
    """The answers of the committee's comments that wait for the other side's answer."""
    rows = session.scalars(
        select(HideRequest).where(
            HideRequest.committee_id == committee.id, HideRequest.outcome.is_(None)
        )
    )
    return {(h.round_id, h.question_id, h.respondent_key) for h in rows}


def comments_message(session: Session, committee: Committee, t: Translator) -> Message:
    groups, hidden = publishable_comments(session, committee)
    names = list(session.scalars(select(Member.name).where(Member.erased.is_(False))))
    placeholder = t("governance.scrubbed")
    parts: list[Any] = [Header(text=t("governance.comments_title", committee=committee.name))]
    if not groups:
        parts.append(Text(text=t("governance.no_comments")))
    waiting = pending_hides(session, committee)
    for unit, answers in groups:
        parts.extend([Divider(), Text(text=f"*{unit.name}*")])
        for answer in answers:
            parts.append(Text(text=scrub(answer.comment or "", names, placeholder), markdown=False))
            if (answer.round_id, answer.question_id, answer.respondent_key) in waiting:
                parts.append(SmallPrint(text=t("governance.hide_waiting")))
                continue
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
        parts.append(SmallPrint(text=t.plural("governance.hidden_count", hidden)))
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
    return f"hide:{request.id}"


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
    try:
        sign(ctx.session, committee, hide_subject(request), member, ctx.now)
    except CannotSign:
        raise refuse(
            ctx.session,
            t("governance.chairs_only"),
            member,
            "comment.hide",
            f"round:{data.r}",
            now=ctx.now,
        ) from None
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
    [needed] = missing_sides(ctx.session, hide_subject(request))
    approvers = who_may_sign(ctx.session, committee, needed, exclude=[member.id])
    word = SIDE_WORD[needed]
    if not approvers:
        raise InvalidInput(t(f"governance.hide_no_{word}", committee=committee.name))
    names = list(ctx.session.scalars(select(Member.name).where(Member.erased.is_(False))))
    for approver in approvers:
        tt = translator(language(approver, ctx.settings.language))
        text = tt(
            "governance.hide_ask",
            requester=member.name,
            committee=committee.name,
            reason=reason,
        )
        ctx.send(
            to_member(
                approver.id,
                f"governance:hide:{request.id}:ask:{approver.id}",
                Message(
                    summary=text,
                    parts=[
                        Header(text=tt("governance.hide_ask_title")),
                        Text(text=text),
                        Text(
                            text=scrub(answer.comment or "", names, tt("governance.scrubbed")),
                            markdown=False,
                        ),
                        Buttons(
                            buttons=[
                                Button(
                                    label=tt("governance.hide_approve"),
                                    data=HideApprove(h=request.id).pack(),
                                    style="primary",
                                ),
                                Button(
                                    label=tt("governance.hide_keep"),
                                    data=HideReject(h=request.id).pack(),
                                ),
                            ]
                        ),
                        SmallPrint(text=tt("governance.hide_ask_note")),
                    ],
                ),
                purpose="governance.hide",
            )
        )
    return Reply.note(t(f"governance.hide_requested_{word}", committee=committee.name))


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


def _tell_hide_requester(ctx: FlowContext, request: HideRequest, outcome: str) -> None:
    requester = ctx.session.get(Member, request.requested_by) if request.requested_by else None
    committee = ctx.session.get(Committee, request.committee_id)
    if requester is None or requester.erased or committee is None or ctx.member is None:
        return
    t = translator(language(requester, ctx.settings.language))
    text = t(f"governance.hide_{outcome}", committee=committee.name, actor=ctx.member.name)
    ctx.send(
        to_member(
            requester.id,
            f"governance:hide:{request.id}:{outcome}",
            Message(summary=text, parts=[Text(text=text)]),
            purpose="governance.outcome",
        )
    )


def on_hide_approve(ctx: FlowContext, event: ButtonClicked, data: HideApprove) -> Reply:
    found = _hide_pending(ctx, data.h)
    if found is None:
        return _settled(ctx)
    request, committee = found
    if ctx.member is None:
        raise _refuse_hide(ctx, request, "comment.hide")
    try:
        sign(ctx.session, committee, hide_subject(request), ctx.member, ctx.now)
    except CannotSign:
        raise _refuse_hide(ctx, request, "comment.hide") from None
    if not is_approved(ctx.session, hide_subject(request)):
        return _settled(ctx)
    answer = ctx.session.get(
        Answer, (request.round_id, request.question_id, request.respondent_key)
    )
    if answer is not None:
        answer.hidden = True
    request.outcome = "hidden"
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
    text = ctx.t("governance.hide_approved", committee=committee.name)
    return Reply(update=Message(summary=text, parts=[Text(text=text)]))


def on_hide_reject(ctx: FlowContext, event: ButtonClicked, data: HideReject) -> Reply:
    found = _hide_pending(ctx, data.h)
    if found is None:
        return _settled(ctx)
    request, committee = found
    if not _may_decide(ctx, hide_subject(request), committee):
        raise _refuse_hide(ctx, request, "comment.hide_reject")
    request.outcome = "rejected"
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
    text = ctx.t("governance.hide_kept_here", committee=committee.name)
    return Reply(update=Message(summary=text, parts=[Text(text=text)]))


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
        session.execute(delete(Approval).where(Approval.subject.in_([f"hide:{i}" for i in ids])))
        session.execute(delete(HideRequest).where(HideRequest.id.in_(ids)))
    log.info("expired hide requests forgotten", extra={"count": len(ids)})


JOBS = [forget_expired_hide_requests]


def register(router: Router) -> None:
    router.command("grænse", "graense", "threshold")(on_threshold)
    router.command("kommentarer", "comments")(on_comments)
    router.command("frister", "deadlines")(on_deadlines)
    router.action(DeadlinesApprove)(on_deadlines_approve)
    router.action(ThresholdApprove)(on_approve)
    router.action(ThresholdReject)(on_reject)
    router.action(CommentHide)(on_hide)
    router.form(HideForm, limits={"reason": REASON_MAX})(on_hide_submit)
    router.action(HideApprove)(on_hide_approve)
    router.action(HideReject)(on_hide_reject)
