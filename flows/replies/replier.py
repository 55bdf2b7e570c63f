"""The replier's side: a leader or chair writes to a published comment, and again later."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import select

from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.messages import Reply
from bot.core.router import FlowContext
from flows.replies.capsule import aead
from flows.replies.conversation import add_line, broadcast
from flows.replies.data import ReplierForm, ReplyAgain, ReplyStart
from flows.replies.rules import may_reply, member_names, refusal
from flows.replies.threads import thread_or_note
from flows.replies.writing import text_form, written
from flows.scrub import scrub
from storage.models import Answer, CommentThread, PulseRound

log = logging.getLogger("flows.replies")


def _comment(ctx: FlowContext, r: int, q: str, k: str) -> tuple[PulseRound | None, Answer | None]:
    return ctx.session.get(PulseRound, r), ctx.session.get(Answer, (r, q, k))


def _refused(
    ctx: FlowContext, pulse_round: PulseRound | None, answer: Answer | None, step: str, r: int
) -> Reply | None:
    """The note when this member may not reply to this comment (audited), else None."""
    if aead(ctx.settings) is None:
        return Reply.note(ctx.t("replies.no_key"))
    if pulse_round is None or not may_reply(ctx.session, ctx.member, pulse_round.unit):
        ctx.audit(step, f"round:{r}", allowed=False)
        return Reply.note(ctx.t("replies.not_allowed"))
    reason = refusal(ctx.session, pulse_round, answer)
    if reason is not None:
        ctx.audit(step, f"round:{r}", allowed=False, reason=reason.split(".")[-1])
        return Reply.note(ctx.t(reason))
    return None


def _open_replier_form(
    ctx: FlowContext,
    pulse_round: PulseRound | None,
    answer: Answer | None,
    r: int,
    q: str,
    k: str,
) -> Reply:
    refused = _refused(ctx, pulse_round, answer, "reply.start", r)
    if refused is not None:
        return refused
    assert answer is not None
    t = ctx.t
    comment = scrub(answer.comment or "", member_names(ctx.session))
    form = text_form(
        ReplierForm(r=r, q=q, k=k).pack(),
        t,
        title=t("replies.form_title"),
        intro=t("replies.form_intro", comment=comment),
    )
    return Reply(form=form)


def on_start(ctx: FlowContext, event: ButtonClicked, data: ReplyStart) -> Reply:
    pulse_round, answer = _comment(ctx, data.r, data.q, data.k)
    return _open_replier_form(ctx, pulse_round, answer, data.r, data.q, data.k)


def on_replier_submit(ctx: FlowContext, event: FormSubmitted, data: ReplierForm) -> Reply:
    pulse_round, answer = _comment(ctx, data.r, data.q, data.k)
    refused = _refused(ctx, pulse_round, answer, "reply.send", data.r)
    if refused is not None:
        return refused
    text = written(ctx, event, "replies.names_someone")
    if isinstance(text, Reply):
        return text
    assert ctx.member is not None
    thread = ctx.session.scalars(
        select(CommentThread).where(
            CommentThread.round_id == data.r,
            CommentThread.question_id == data.q,
            CommentThread.respondent_key == data.k,
            CommentThread.replier_id == ctx.member.id,
            CommentThread.status == "open",
        )
    ).first()
    if thread is None:
        thread = ctx.added(
            CommentThread(
                id=secrets.token_hex(16),
                round_id=data.r,
                question_id=data.q,
                respondent_key=data.k,
                replier_id=ctx.member.id,
            )
        )
    seq = add_line(ctx, thread, "replier", text)
    ctx.audit("reply.send", f"thread:{thread.id}", allowed=True, round=data.r)
    broadcast(ctx, thread, seq)
    log.info("comment reply sent", extra={"round_id": data.r})
    return Reply.note(ctx.t("replies.sent"))


def on_again(ctx: FlowContext, event: ButtonClicked, data: ReplyAgain) -> Reply:
    found = thread_or_note(ctx, data.t)
    if isinstance(found, Reply):
        return found
    thread, answer = found
    if ctx.member is None or thread.replier_id != ctx.member.id:
        ctx.audit("reply.send", f"thread:{data.t}", allowed=False)
        return Reply.note(ctx.t("replies.not_allowed"))
    if thread.status != "open":
        return Reply.note(ctx.t("replies.ended"))
    pulse_round = ctx.session.get(PulseRound, thread.round_id)
    return _open_replier_form(
        ctx, pulse_round, answer, thread.round_id, thread.question_id, thread.respondent_key
    )
