"""A conversation under a comment: its lines, how each side sees it, and who is told of a new
line. The author is never addressed: the round's members all get the same notice, and the
author's steps are audited without an actor."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.i18n import Translator, chosen_language, translator
from bot.core.messages import Button, Buttons, Divider, Header, Message, Part, SmallPrint, Text
from bot.core.outbox import queue_to_members, to_member
from bot.core.router import FlowContext
from flows.replies.capsule import open_capsule
from flows.replies.data import ReplyAgain, ReplyEnd, ReplyRead
from flows.replies.keys import notice_key_prefix, replier_key
from flows.replies.rules import member_names
from flows.scrub import scrub
from storage.audit import audit_entry
from storage.models import Answer, CommentThread, Member, Participation, PulseRound, ThreadMessage


def _messages(session: Session, thread: CommentThread) -> list[ThreadMessage]:
    return list(
        session.scalars(
            select(ThreadMessage)
            .where(ThreadMessage.thread_id == thread.id)
            .order_by(ThreadMessage.seq)
        )
    )


def conversation_parts(
    session: Session, thread: CommentThread, answer: Answer | None, t: Translator, *, me: str
) -> list[Part]:
    comment = scrub(answer.comment or "", member_names(session)) if answer else ""
    parts: list[Part] = [
        Header(text=t("replies.conversation_title")),
        Text(text=t("replies.the_comment", comment=comment), markdown=False),
        Divider(),
    ]
    for m in _messages(session, thread):
        who = t("replies.you") if m.side == me else t(f"replies.side_{m.side}")
        parts.append(Text(text=f"*{who}:* {m.text}"))
    if thread.status != "open":
        parts.append(SmallPrint(text=t("replies.ended")))
    return parts


def next_seq(session: Session, thread: CommentThread) -> int:
    return (
        int(
            session.scalar(
                select(func.coalesce(func.max(ThreadMessage.seq), 0)).where(
                    ThreadMessage.thread_id == thread.id
                )
            )
            or 0
        )
        + 1
    )


def add_line(ctx: FlowContext, thread: CommentThread, side: str, text: str) -> int:
    """A line of the conversation by `side` (replier or author, never a member id); its seq."""
    seq = next_seq(ctx.session, thread)
    ctx.session.add(ThreadMessage(thread_id=thread.id, seq=seq, side=side, text=text))
    return seq


def broadcast(ctx: FlowContext, thread: CommentThread, seq: int) -> int:
    """The same notice to every member asked in the comment's round, whoever wrote it."""
    t = translator(ctx.settings.language)
    pulse_round = ctx.session.get(PulseRound, thread.round_id)
    assert pulse_round is not None
    date = t.date(pulse_round.opened_at.astimezone(ctx.settings.tz).date())
    text = t("replies.notice", unit=pulse_round.unit.name, date=date)
    message = Message(
        summary=text,
        parts=[
            Text(text=text),
            Buttons(buttons=[Button(label=t("replies.read"), data=ReplyRead(t=thread.id).pack())]),
            SmallPrint(text=t("replies.notice_small")),
        ],
    )
    asked = (
        select(Participation.member_id)
        .join(Member, Member.id == Participation.member_id)
        .where(Participation.round_id == thread.round_id, Member.erased.is_(False))
    )
    return queue_to_members(
        ctx.session,
        asked,
        key_prefix=notice_key_prefix(thread.id, seq),
        message=message,
        purpose="replies.notice",
    )


def is_author(ctx: FlowContext, answer: Answer | None) -> bool:
    return (
        ctx.member is not None
        and answer is not None
        and open_capsule(ctx.settings, answer.reply_capsule) == ctx.member.id
    )


def audit_author(ctx: FlowContext, action: str, thread: CommentThread) -> None:
    # The author's own steps are audited without an actor: naming them would be the link.
    ctx.session.add(audit_entry(None, action, f"thread:{thread.id}", allowed=True, now=ctx.now))


def tell_replier(ctx: FlowContext, thread: CommentThread, seq: int, key: str) -> None:
    replier = ctx.session.get(Member, thread.replier_id) if thread.replier_id else None
    if replier is None or replier.erased:
        return
    rt = translator(chosen_language(replier.language, ctx.settings.language))
    answer = ctx.session.get(Answer, (thread.round_id, thread.question_id, thread.respondent_key))
    parts = conversation_parts(ctx.session, thread, answer, rt, me="replier")
    parts.insert(1, Text(text=rt(key)))
    if thread.status == "open":
        parts.append(
            Buttons(
                buttons=[
                    Button(label=rt("replies.again"), data=ReplyAgain(t=thread.id).pack()),
                    Button(label=rt("replies.end"), data=ReplyEnd(t=thread.id).pack()),
                ]
            )
        )
    ctx.send(
        to_member(
            replier.id,
            replier_key(thread.id, seq),
            Message(summary=rt(key), parts=parts),
            purpose="replies.replier",
        )
    )
