"""The pulse round: open_round, record_answer, comments, close_round, and the scheduler job
that opens rounds by each unit's schedule (open_due_rounds).

Anonymity lives here as much as in the schema (docs/privacy.md): an answer is stored under
HMAC(K, round nonce || member id), where K is the "pulse-answers" subkey of
MEDPULS_SECRET_KEY, which never enters the database. So while the round is open a member can
change their answer, and nobody holding only the database can tell whose it is; only someone
holding both the database and the server's key could. Recording an answer writes nothing
else: no participation flag (it would share the answer's transaction, and its timing), so
while open "has answered" is computed from the keys (answered_members). close_round
aggregates in SQL, sets every participation flag at once, destroys the nonce, and rewrites the
round's answers under random keys in random order, so neither a key nor the physical row
order links an answer to a member or to a moment; storage.scrub then removes the old row
versions from the database files.

Who is asked is fixed when the round opens: members of the unit who are neither paused nor
unreachable get a Participation row and a DM. Someone who joins the unit later is asked from
the next round; someone who pauses later is not reminded (flows.reminders).

The package, one concept a module: actions (what the buttons carry), keys (outbox dedupe keys),
members (who is asked), messages (what is shown), opening, answering, anonymity (the keyed
answers and their unlinking), closing, closed_dms (the DMs rewritten after close), questions
(which questions a round asks), thresholds, and jobs (by hand and by schedule). This module
offers the flow's public names, registers its listeners and names its scheduler jobs, which
therefore keep their names `flows.pulse.<job>`.
"""

from __future__ import annotations

from bot.core.router import Router
from flows.pulse.actions import SCALE, PulseAnswer, PulseCommentForm, PulseCommentOpen, PulseRules
from flows.pulse.anonymity import (
    MARK_CHUNK,
    answered_members,
    answers_key,
    mark_answered,
    my_answers,
    record_answer,
    respondent_key,
    unlink_answers,
)
from flows.pulse.answering import (
    closed_reply,
    on_answer,
    on_comment_open,
    on_comment_submit,
    on_rules,
    rules_for_member,
)
from flows.pulse.closed_dms import (
    CLOSED_PURPOSE,
    PULSE_DMS,
    REWRITE_WINDOW,
    queue_closed_rewrites,
    rewrite_closed_round_dms,
    round_still_open,
)
from flows.pulse.closing import QuestionResult, aggregate, close_round, score
from flows.pulse.jobs import (
    as_zoneinfo,
    close_due_rounds,
    close_now,
    has_open_round,
    open_due_rounds,
    open_scheduled_round,
    run_now,
    scrub_closed_rounds,
)
from flows.pulse.members import is_paused, language, local_today
from flows.pulse.messages import (
    answer_noted,
    ask_message,
    closed_message,
    comment_form,
    comments_where,
    question_text,
    rules_message,
    rules_text,
)
from flows.pulse.opening import Opened, open_round
from flows.pulse.questions import (
    as_bank_question,
    check_question_bank,
    committees_over,
    next_questions,
    sync_bank,
    unit_bank,
)
from flows.pulse.thresholds import thresholds_for

__all__ = [
    "CLOSED_PURPOSE",
    "JOBS",
    "MARK_CHUNK",
    "PULSE_DMS",
    "REWRITE_WINDOW",
    "SCALE",
    "Opened",
    "PulseAnswer",
    "PulseCommentForm",
    "PulseCommentOpen",
    "PulseRules",
    "QuestionResult",
    "aggregate",
    "answer_noted",
    "answered_members",
    "answers_key",
    "as_bank_question",
    "as_zoneinfo",
    "ask_message",
    "check_question_bank",
    "close_due_rounds",
    "close_now",
    "close_round",
    "closed_message",
    "closed_reply",
    "comment_form",
    "comments_where",
    "committees_over",
    "has_open_round",
    "is_paused",
    "language",
    "local_today",
    "mark_answered",
    "my_answers",
    "next_questions",
    "on_answer",
    "on_comment_open",
    "on_comment_submit",
    "on_rules",
    "open_due_rounds",
    "open_round",
    "open_scheduled_round",
    "question_text",
    "queue_closed_rewrites",
    "record_answer",
    "register",
    "respondent_key",
    "rewrite_closed_round_dms",
    "round_still_open",
    "rules_for_member",
    "rules_message",
    "rules_text",
    "run_now",
    "score",
    "scrub_closed_rounds",
    "sync_bank",
    "thresholds_for",
    "unit_bank",
    "unlink_answers",
]


def register(router: Router) -> None:
    router.action(PulseAnswer)(on_answer)
    router.action(PulseCommentOpen)(on_comment_open)
    router.action(PulseRules)(on_rules)
    router.form(PulseCommentForm, limits={"comment": 1000})(on_comment_submit)


# Closing first: a unit's next round waits for its previous one to close (open_scheduled_round).
JOBS = [close_due_rounds, rewrite_closed_round_dms, open_due_rounds, scrub_closed_rounds]
