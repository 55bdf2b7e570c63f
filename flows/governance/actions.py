"""What the governance buttons and forms carry (packed into the platform's button data)."""

from __future__ import annotations

from typing import Literal

from bot.core.actions import ActionData

Kind = Literal["score", "comment"]


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


class DeadlinesApprove(ActionData):
    """Approve deadlines `p`/`r` for committee `c`, as asked in request `n` (its time stamp)."""

    kind = "governance.deadlines"
    c: int
    p: int
    r: int
    n: str
