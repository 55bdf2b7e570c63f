"""The two sides of a committee (flows.approvals) as governance uses them: who chairs it, one
side signing a request and the other asked to approve it, who may still decide, and the one-line
messages that tell them how it went."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.errors import CannotSign, InvalidInput
from bot.core.i18n import Translator, translator
from bot.core.messages import Button, Buttons, Header, Message, Reply, SmallPrint, Text
from bot.core.outbox import to_member
from bot.core.router import FlowContext
from flows.access import refuse
from flows.approvals import Side, missing_sides, sign, signatures, who_may_sign
from flows.approvals import sides_of as approval_sides
from flows.pulse import language
from storage.models import Committee, Member
from storage.queries import roles_in

CHAIR_ROLES = frozenset({"chair", "vice_chair"})
# How the messages name the side a request waits for.
SIDE_WORD: dict[Side, str] = {"management": "chair", "employee": "vice_chair"}


def chair_roles(session: Session, member: Member, committee: Committee) -> frozenset[str]:
    return roles_in(session, member.id, committee.unit_id) & CHAIR_ROLES


def committees_led_by(session: Session, member: Member) -> list[Committee]:
    """Committees in which the member is chair or vice-chair."""
    return [
        c
        for c in session.scalars(select(Committee).order_by(Committee.name))
        if chair_roles(session, member, c)
    ]


def chaired(session: Session, member: Member) -> list[Committee]:
    return [
        c
        for c in committees_led_by(session, member)
        if "chair" in roles_in(session, member.id, c.unit_id)
    ]


def led_lines(
    ctx: FlowContext, member: Member, usage: str, line: Callable[[Committee], str]
) -> str:
    """A command's usage, then one line per committee the member leads (what holds now)."""
    lines = [ctx.t(usage)]
    lines.extend(line(c) for c in committees_led_by(ctx.session, member))
    return "\n".join(lines)


def asking(
    *,
    title: str,
    text: str,
    shown: Sequence[Text] = (),
    approve: tuple[str, str],
    keep: tuple[str, str],
    keep_style: Literal["default", "danger"],
    note: str,
) -> Message:
    """The DM that asks the other side: what is asked, what it is about (`shown`), the two
    buttons, each (label, packed data), to approve or to reject or keep, and a note."""
    buttons = Buttons(
        buttons=[
            Button(label=approve[0], data=approve[1], style="primary"),
            Button(label=keep[0], data=keep[1], style=keep_style),
        ]
    )
    return Message(
        summary=text,
        parts=[Header(text=title), Text(text=text), *shown, buttons, SmallPrint(text=note)],
    )


def committee_for(ctx: FlowContext, member: Member, name: str) -> Committee:
    """The committee a request names (or the only one the member leads)."""
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


def sign_or_refuse(
    ctx: FlowContext,
    committee: Committee,
    subject: str,
    member: Member,
    *,
    refusal: str,
    action: str,
    target: str,
    **detail: Any,
) -> None:
    """The member signs `subject` for their side; one who cannot is refused (and audited) with
    the text `refusal`, as `action` on `target`."""
    try:
        sign(ctx.session, committee, subject, member, ctx.now)
    except CannotSign:
        raise refuse(
            ctx.session, ctx.t(refusal), member, action, target, now=ctx.now, **detail
        ) from None


def other_side(
    ctx: FlowContext, committee: Committee, subject: str, member: Member, *, nobody: str
) -> tuple[str, list[Member]]:
    """The side still to sign `subject` once `member` has: how the messages name it, and whom
    to ask for it (never `member`). Nobody to ask refuses with the text `<nobody>_<side word>`."""
    [needed] = missing_sides(ctx.session, subject)
    approvers = who_may_sign(ctx.session, committee, needed, exclude=[member.id])
    word = SIDE_WORD[needed]
    if not approvers:
        raise InvalidInput(ctx.t(f"{nobody}_{word}", committee=committee.name))
    return word, approvers


def may_decide(ctx: FlowContext, subject: str, committee: Committee) -> bool:
    """The member holds a side still to sign and has not signed: theirs to approve or reject."""
    member = ctx.member
    if member is None:
        return False
    if any(a.member_id == member.id for a in signatures(ctx.session, subject)):
        return False
    held = approval_sides(ctx.session, member, committee)
    return any(side in held for side in missing_sides(ctx.session, subject))


def speaking_to(ctx: FlowContext, member: Member) -> Translator:
    """The texts in the member's language (not the acting member's)."""
    return translator(language(member, ctx.settings.language))


def plain(text: str) -> Message:
    return Message(summary=text, parts=[Text(text=text)])


def updated(text: str) -> Reply:
    """The clicked message replaced by one line saying how the request stands."""
    return Reply(update=plain(text))


def settled(ctx: FlowContext) -> Reply:
    return updated(ctx.t("governance.settled"))


def tell(ctx: FlowContext, member: Member, key: str, text: str, *, purpose: str) -> None:
    """A one-line DM to the member, through the outbox under dedupe key `key`."""
    ctx.send(to_member(member.id, key, plain(text), purpose=purpose))
