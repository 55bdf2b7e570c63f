"""The replies' buttons and forms: the callback data each one packs."""

from __future__ import annotations

from bot.core.actions import ActionData

# The longest line either side may write in a conversation.
TEXT_MAX = 1000


class _OfComment(ActionData):
    """Data naming a published comment: its round (`r`), question (`q`) and answer key (`k`)."""

    r: int
    q: str
    k: str


class _OfThread(ActionData):
    """Data naming a conversation (`t`, the thread's random id)."""

    t: str


class ReplyStart(_OfComment):
    """A leader or chair opens the reply form under a comment (round, question, answer key)."""

    kind = "replies.start"


class ReplierForm(_OfComment):
    kind = "replies.send"


class ReplyAgain(_OfThread):
    """The replier writes again in an open conversation."""

    kind = "replies.again"


class ReplyRead(_OfThread):
    """ "Read the reply" on the notice every member asked in the round gets."""

    kind = "replies.read"


class AuthorOpen(_OfThread):
    kind = "replies.answer_open"


class AuthorAnswer(_OfThread):
    kind = "replies.answer"


class ReplyEnd(_OfThread):
    kind = "replies.end"


class ReplyOff(_OfThread):
    """The author ends the conversation and switches replies to the comment off."""

    kind = "replies.off"
