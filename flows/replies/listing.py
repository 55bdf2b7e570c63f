"""The leader's list of comments to reply to: each with a button, or the plain reason why it
cannot be answered."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.events import CommandInvoked
from bot.core.messages import Button, Buttons, Divider, Header, Part, Reply, SmallPrint, Text
from bot.core.router import FlowContext
from flows.governance import chaired, publishable_comments
from flows.replies.capsule import aead
from flows.replies.data import ReplyStart
from flows.replies.rules import member_names, refusal
from flows.scrub import scrub
from storage.models import Answer, Membership, PulseRound


def _latest_comments(session: Session, unit_id: int) -> tuple[PulseRound | None, list[Answer]]:
    latest = session.scalars(
        select(PulseRound)
        .where(PulseRound.unit_id == unit_id, PulseRound.closed_at.is_not(None))
        .order_by(PulseRound.closed_at.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None, []
    answers = session.scalars(
        select(Answer).where(
            Answer.round_id == latest.id, Answer.comment.is_not(None), Answer.hidden.is_(False)
        )
    ).all()
    return latest, list(answers)


def on_replies_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    """The comments the member may reply to: as a leader, the latest closed round's comments of
    each unit they lead; as a chair, the comments shown to their committee. Each has a button,
    or the plain reason why it cannot be answered."""
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    t = ctx.t
    if aead(ctx.settings) is None:
        return Reply.note(t("replies.no_key"))
    sections: list[tuple[str, list[Answer]]] = []
    led = sorted(
        ms.unit_id
        for ms in ctx.session.scalars(select(Membership).where(Membership.member_id == member.id))
        if "leader" in ms.role_set
    )
    for unit_id in led:
        latest, answers = _latest_comments(ctx.session, unit_id)
        if latest is not None and answers:
            ctx.audit("comments.view", f"round:{latest.id}", allowed=True, via="replies")
            sections.append((latest.unit.name, answers))
    for committee in chaired(ctx.session, member):
        groups, _ = publishable_comments(ctx.session, committee)
        if groups:
            ctx.audit("comments.view", f"committee:{committee.id}", allowed=True, via="replies")
        sections.extend((f"{committee.name} · {unit.name}", answers) for unit, answers in groups)
    parts: list[Part] = [Header(text=t("replies.list_title"))]
    names = member_names(ctx.session)
    seen: set[tuple[int, str, str]] = set()
    shown = 0
    for title, answers in sections:
        parts.extend([Divider(), Text(text=f"*{title}*")])
        for a in sorted(answers, key=lambda a: a.respondent_key):
            key = (a.round_id, a.question_id, a.respondent_key)
            if key in seen:
                continue
            seen.add(key)
            parts.append(Text(text=f"“{scrub(a.comment or '', names)}”", markdown=False))
            reason = refusal(ctx.session, ctx.session.get(PulseRound, a.round_id), a)
            if reason is not None:
                parts.append(SmallPrint(text=t(reason)))
                continue
            data = ReplyStart(r=a.round_id, q=a.question_id, k=a.respondent_key).pack()
            parts.append(Buttons(buttons=[Button(label=t("replies.reply"), data=data)]))
            shown += 1
    if shown == 0:
        parts.append(Text(text=t("replies.none")))
    return Reply.notice_of(t("replies.list_title"), parts)
