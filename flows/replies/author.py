"""The author's side: whoever the capsule opens to reads the conversation as a private notice,
answers, ends it or switches replies to the comment off. Nothing of the check is written."""

from __future__ import annotations

from bot.core.events import ButtonClicked, FormSubmitted
from bot.core.messages import Button, Buttons, Reply, SmallPrint
from bot.core.router import FlowContext
from flows.replies.conversation import (
    add_line,
    audit_author,
    conversation_parts,
    is_author,
    next_seq,
    tell_replier,
)
from flows.replies.data import AuthorAnswer, AuthorOpen, ReplyEnd, ReplyOff, ReplyRead
from flows.replies.threads import thread_of, thread_or_note
from flows.replies.writing import text_form, written
from storage.models import Answer, CommentThread


def _author_view(ctx: FlowContext, thread: CommentThread, answer: Answer | None) -> Reply:
    parts = conversation_parts(ctx.session, thread, answer, ctx.t, me="author")
    if thread.status == "open":
        parts.append(
            Buttons(
                buttons=[
                    Button(
                        label=ctx.t("replies.answer"),
                        data=AuthorOpen(t=thread.id).pack(),
                        style="primary",
                    ),
                    Button(label=ctx.t("replies.end"), data=ReplyEnd(t=thread.id).pack()),
                    Button(
                        label=ctx.t("replies.off"),
                        data=ReplyOff(t=thread.id).pack(),
                        style="danger",
                    ),
                ]
            )
        )
    parts.append(SmallPrint(text=ctx.t("replies.author_small")))
    # A notice, never an update: an update would change the stored copy of this member's
    # message (the local chat keeps it), and so mark them as the one who read it.
    return Reply.notice_of(ctx.t("replies.conversation_title"), parts)


def on_read(ctx: FlowContext, event: ButtonClicked, data: ReplyRead) -> Reply:
    found = thread_or_note(ctx, data.t)
    if isinstance(found, Reply):
        return found
    thread, answer = found
    if not is_author(ctx, answer):
        return Reply.note(ctx.t("replies.not_yours"))
    return _author_view(ctx, thread, answer)


def _open_to_author(ctx: FlowContext, thread_id: str) -> CommentThread | Reply:
    """The author's open conversation, or the note saying it is not theirs or has ended."""
    found = thread_of(ctx.session, thread_id)
    if found is None or not is_author(ctx, found[1]):
        return Reply.note(ctx.t("replies.not_yours"))
    if found[0].status != "open":
        return Reply.note(ctx.t("replies.ended"))
    return found[0]


def on_author_open(ctx: FlowContext, event: ButtonClicked, data: AuthorOpen) -> Reply:
    thread = _open_to_author(ctx, data.t)
    if isinstance(thread, Reply):
        return thread
    t = ctx.t
    form = text_form(
        AuthorAnswer(t=data.t).pack(),
        t,
        title=t("replies.answer_title"),
        intro=t("replies.answer_intro"),
    )
    return Reply(form=form)


def on_author_submit(ctx: FlowContext, event: FormSubmitted, data: AuthorAnswer) -> Reply:
    thread = _open_to_author(ctx, data.t)
    if isinstance(thread, Reply):
        return thread
    text = written(ctx, event, "replies.names_someone_author")
    if isinstance(text, Reply):
        return text
    seq = add_line(ctx, thread, "author", text)
    audit_author(ctx, "reply.answer", thread)
    tell_replier(ctx, thread, seq, "replies.answered")
    return Reply.note(ctx.t("replies.answer_sent"))


def on_end(ctx: FlowContext, event: ButtonClicked, data: ReplyEnd) -> Reply:
    found = thread_or_note(ctx, data.t)
    if isinstance(found, Reply):
        return found
    thread, answer = found
    replier = ctx.member is not None and thread.replier_id == ctx.member.id
    author = not replier and is_author(ctx, answer)
    if not (replier or author):
        return Reply.note(ctx.t("replies.not_yours"))
    if thread.status == "open":
        thread.status = "ended"
        thread.ended_by = "replier" if replier else "author"
        if replier:
            ctx.audit("reply.end", f"thread:{thread.id}", allowed=True)
        else:
            audit_author(ctx, "reply.end", thread)
            tell_replier(ctx, thread, next_seq(ctx.session, thread), "replies.author_ended")
    return Reply.note(ctx.t("replies.ended_now"))


def on_off(ctx: FlowContext, event: ButtonClicked, data: ReplyOff) -> Reply:
    found = thread_of(ctx.session, data.t)
    if found is None or not is_author(ctx, found[1]):
        return Reply.note(ctx.t("replies.not_yours"))
    thread, answer = found
    assert answer is not None
    # Without the capsule nobody, the operator included, can route a reply to this comment.
    answer.reply_capsule = None
    was_open = thread.status == "open"
    thread.status, thread.ended_by = "ended", thread.ended_by or "author"
    audit_author(ctx, "reply.off", thread)
    if was_open:
        tell_replier(ctx, thread, next_seq(ctx.session, thread), "replies.author_ended")
    return Reply.note(ctx.t("replies.off_done"))
