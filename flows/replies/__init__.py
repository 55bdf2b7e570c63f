"""Anonymous replies to published comments (issue 19, section 3).

A leader of the comment's unit (or the chair of a committee whose area holds it) replies to a
published comment; the reply reaches the comment's author without anyone, the database
included, learning who that is; the author can answer back and either side can end it.

How the reply finds the author without a link in the database:

- When the comment is written, the author's member id is sealed with AES-GCM under
  derive_key(MEDPULS_SECRET_KEY, "comment-replies"), with a random nonce, and stored beside
  the comment (`Answer.reply_capsule`). The key is in the environment, never in a table, so the
  database alone cannot open it; a random nonce makes two capsules of one author unequal.
- A reply is never addressed to the author. Every member asked in the comment's round gets the
  same notice ("a leader has replied to a comment from this round; if it was yours, read it
  here") through the outbox, so the outbox and the chat history are the same for all of them.
- Whoever clicks "read" is checked against the capsule in memory: the author sees the
  conversation as a private notice (never an outbox row, never a stored chat message); anyone
  else is told it is not theirs. Nothing of that check is written.
- The author's answers are stored as "author" lines of the conversation, without a member id,
  and the audit entry names no actor. The conversation row names the replier and the comment.

Whoever holds both the database and MEDPULS_SECRET_KEY (the operator) can open a capsule;
docs/flows/actions.md and the privacy texts say so.
"""

from __future__ import annotations

from bot.core.router import Router
from flows.replies.author import on_author_open, on_author_submit, on_end, on_off, on_read
from flows.replies.capsule import AAD, PURPOSE, open_capsule, seal_author
from flows.replies.data import (
    TEXT_MAX,
    AuthorAnswer,
    AuthorOpen,
    ReplierForm,
    ReplyAgain,
    ReplyEnd,
    ReplyOff,
    ReplyRead,
    ReplyStart,
)
from flows.replies.listing import on_replies_command
from flows.replies.replier import on_again, on_replier_submit, on_start
from flows.replies.rules import answered_in, may_reply, names_someone, refusal

__all__ = [
    "AAD",
    "PURPOSE",
    "TEXT_MAX",
    "AuthorAnswer",
    "AuthorOpen",
    "ReplierForm",
    "ReplyAgain",
    "ReplyEnd",
    "ReplyOff",
    "ReplyRead",
    "ReplyStart",
    "answered_in",
    "may_reply",
    "names_someone",
    "open_capsule",
    "refusal",
    "register",
    "seal_author",
]

REPLY_WORDS = ("svar", "replies")


def register(router: Router) -> None:
    router.command(*REPLY_WORDS)(on_replies_command)
    router.action(ReplyStart)(on_start)
    router.form(ReplierForm, limits={"text": TEXT_MAX})(on_replier_submit)
    router.action(ReplyAgain)(on_again)
    router.action(ReplyRead)(on_read)
    router.action(AuthorOpen)(on_author_open)
    router.form(AuthorAnswer, limits={"text": TEXT_MAX})(on_author_submit)
    router.action(ReplyEnd)(on_end)
    router.action(ReplyOff)(on_off)
