"""Joint governance of what a committee publishes: its anonymity thresholds and its comments.

A MED committee is run by both sides (flows.approvals): management (its chair, the managers)
and employees (its vice-chair, the representatives). Lowering a threshold makes small groups
more visible, so it takes one person from each side: one asks in chat (`grænse svar 4`), the
other approves with a button that names the request, its kind and its value; a later request
replaces the earlier one, whose buttons then do nothing. Raising protects people more, so
either may do it alone. A committee's thresholds are never below an ancestor committee's
(flows.pulse.thresholds_for), field by field. A change applies to rounds that open after it
takes effect: a round keeps the thresholds it opened with (PulseRound.min_group_size), so
nothing already asked or published changes meaning. Thresholds never go below the floors (3
for figures, 5 for comments), and every change is announced in the committee's channel.

A chair may ask to hide a comment from publication, with a reason; it is hidden when someone
from the employee side agrees. The chair's view of a closed round's comments shows only groups
that clear the comment threshold, scrubbed and in random order, and each Hide button carries a
handle of the answer row, whose key was re-drawn at random when the round closed and so points
to nobody.

The package, one concept a module: actions (what the buttons carry), keys (dedupe keys and
approval subjects), outcomes (how a request ends), sides (who chairs, who signs, who is asked),
thresholds and threshold_decisions, deadlines, comments (the chair's view), hiding. This module
offers the flow's public names, registers its listeners and names its scheduler job, which
therefore keeps its name `flows.governance.forget_expired_hide_requests`.
"""

from __future__ import annotations

from bot.core.router import Router
from flows.disclosure import MIN_COMMENT_GROUP_FLOOR, MIN_GROUP_FLOOR
from flows.governance.actions import (
    CommentHide,
    DeadlinesApprove,
    HideApprove,
    HideForm,
    HideReject,
    Kind,
    ThresholdApprove,
    ThresholdReject,
)
from flows.governance.comments import (
    comments_message,
    on_comments,
    pending_hides,
    publishable_comments,
)
from flows.governance.deadlines import (
    MAX_DEADLINE_DAYS,
    check_deadlines,
    on_deadlines,
    on_deadlines_approve,
)
from flows.governance.hiding import (
    REASON_MAX,
    forget_expired_hide_requests,
    hide_subject,
    on_hide,
    on_hide_approve,
    on_hide_reject,
    on_hide_submit,
)
from flows.governance.keys import deadlines_subject
from flows.governance.sides import CHAIR_ROLES, SIDE_WORD, chair_roles, chaired, committees_led_by
from flows.governance.threshold_decisions import on_approve, on_reject
from flows.governance.thresholds import (
    KIND_WORDS,
    ancestor_floor,
    approval_request,
    check_floor,
    current_thresholds,
    on_threshold,
    put_in_force,
    subject_of,
    threshold_in_force,
)

__all__ = [
    "CHAIR_ROLES",
    "JOBS",
    "KIND_WORDS",
    "MAX_DEADLINE_DAYS",
    "MIN_COMMENT_GROUP_FLOOR",
    "MIN_GROUP_FLOOR",
    "REASON_MAX",
    "SIDE_WORD",
    "CommentHide",
    "DeadlinesApprove",
    "HideApprove",
    "HideForm",
    "HideReject",
    "Kind",
    "ThresholdApprove",
    "ThresholdReject",
    "ancestor_floor",
    "approval_request",
    "chair_roles",
    "chaired",
    "check_deadlines",
    "check_floor",
    "comments_message",
    "committees_led_by",
    "current_thresholds",
    "deadlines_subject",
    "forget_expired_hide_requests",
    "hide_subject",
    "on_approve",
    "on_comments",
    "on_deadlines",
    "on_deadlines_approve",
    "on_hide",
    "on_hide_approve",
    "on_hide_reject",
    "on_hide_submit",
    "on_reject",
    "on_threshold",
    "pending_hides",
    "publishable_comments",
    "put_in_force",
    "register",
    "subject_of",
    "threshold_in_force",
]

JOBS = [forget_expired_hide_requests]


def register(router: Router) -> None:
    router.command("grænse", "graense", "threshold")(on_threshold)
    router.command("kommentarer", "comments")(on_comments)
    router.command("frister", "deadlines")(on_deadlines)
    router.action(DeadlinesApprove)(on_deadlines_approve)
    router.action(ThresholdApprove)(on_approve)
    router.action(ThresholdReject)(on_reject)
    router.action(CommentHide)(on_hide)
    router.form(HideForm, limits={"reason": REASON_MAX})(on_hide_submit)
    router.action(HideApprove)(on_hide_approve)
    router.action(HideReject)(on_hide_reject)
