"""What the pulse DM's buttons and form carry (packed into the platform's button data)."""

from __future__ import annotations

from bot.core.actions import ActionData

SCALE = (1, 2, 3, 4, 5)


class PulseAnswer(ActionData):
    kind = "pulse.answer"
    r: int
    q: str
    v: int


class PulseCommentOpen(ActionData):
    kind = "pulse.comment"
    r: int


class PulseCommentForm(ActionData):
    kind = "pulse.comment_form"
    r: int


class PulseRules(ActionData):
    """The "how you are anonymous" button; `r` is the round it sits under, if any."""

    kind = "pulse.rules"
    r: int | None = None
