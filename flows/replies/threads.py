"""Finding a conversation by the id its buttons carry, with the answer it is on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.core.messages import Reply
from bot.core.router import FlowContext
from storage.models import Answer, CommentThread


def thread_of(session: Session, thread_id: str) -> tuple[CommentThread, Answer | None] | None:
    thread = session.get(CommentThread, thread_id)
    if thread is None:
        return None
    answer = session.get(Answer, (thread.round_id, thread.question_id, thread.respondent_key))
    return thread, answer


def thread_or_note(ctx: FlowContext, thread_id: str) -> tuple[CommentThread, Answer | None] | Reply:
    """The conversation and the answer it is on, or the note that there is no such one."""
    found = thread_of(ctx.session, thread_id)
    return Reply.note(ctx.t("replies.unknown")) if found is None else found
