"""The names other code and the database rely on stay as they were when flows/pulse.py and
flows/governance.py became packages: the scheduler's job names (its lease and run rows are
keyed by them), the public names of both flows, and the dedupe keys and approval subjects
already stored in outboxes and approvals."""

from __future__ import annotations

import importlib

from flows import scheduled_jobs
from flows.governance import keys as governance_keys
from flows.pulse import keys as pulse_keys

JOB_NAMES = [
    "flows.actions.remind_action_owners",
    "flows.actions.send_committee_plan_summaries",
    "flows.agenda.remind_deadlines",
    "flows.agenda.publish_due_agendas",
    "flows.agenda.remind_follow_ups",
    "flows.agenda_alerts.send_bundles",
    "flows.dialogue.send_dialogue_guides",
    "flows.digest.send_due_digests",
    "flows.digest.send_committee_digests",
    "flows.governance.forget_expired_hide_requests",
    "flows.privacy.apply_retention",
    "flows.pulse.close_due_rounds",
    "flows.pulse.rewrite_closed_round_dms",
    "flows.pulse.open_due_rounds",
    "flows.pulse.scrub_closed_rounds",
    "flows.reminders.send_due_reminders",
    "flows.summary.post_pooled_comments",
]

PUBLIC = {
    "flows.pulse": (
        "CLOSED_PURPOSE JOBS MARK_CHUNK Opened PULSE_DMS PulseAnswer "
        "PulseCommentForm PulseCommentOpen PulseRules QuestionResult REWRITE_WINDOW SCALE "
        "aggregate answer_noted answered_members answers_key as_bank_question "
        "as_zoneinfo ask_message check_question_bank close_due_rounds close_now close_round "
        "closed_message closed_reply comment_form comments_where committees_over has_open_round "
        "is_paused language local_today mark_answered my_answers next_questions on_answer "
        "on_comment_open on_comment_submit on_rules open_due_rounds open_round "
        "open_scheduled_round question_text queue_closed_rewrites record_answer register "
        "respondent_key rewrite_closed_round_dms round_still_open rules_for_member "
        "rules_message rules_text run_now score scrub_closed_rounds sync_bank thresholds_for "
        "unit_bank unlink_answers"
    ),
    "flows.governance": (
        "CHAIR_ROLES CommentHide DeadlinesApprove HideApprove HideForm HideReject JOBS "
        "KIND_WORDS Kind MAX_DEADLINE_DAYS MIN_COMMENT_GROUP_FLOOR MIN_GROUP_FLOOR REASON_MAX "
        "SIDE_WORD ThresholdApprove ThresholdReject ancestor_floor approval_request chair_roles "
        "chaired check_deadlines check_floor comments_message committees_led_by "
        "current_thresholds deadlines_subject forget_expired_hide_requests hide_subject "
        "on_approve on_comments on_deadlines on_deadlines_approve on_hide on_hide_approve "
        "on_hide_reject on_hide_submit on_reject on_threshold pending_hides "
        "publishable_comments put_in_force register subject_of threshold_in_force"
    ),
}


def test_the_scheduler_jobs_keep_their_names() -> None:
    assert list(scheduled_jobs()) == JOB_NAMES


def test_pulse_and_governance_offer_the_names_they_offered_as_modules() -> None:
    for module_name, names in PUBLIC.items():
        module = importlib.import_module(module_name)
        missing = [n for n in names.split() if not hasattr(module, n)]
        assert missing == [], module_name


def test_pulse_dedupe_keys_are_spelt_as_before() -> None:
    assert pulse_keys.ask_prefix(7) + "42" == "pulse:7:ask:42"
    assert pulse_keys.remind_key(7, 2, 42) == "pulse:7:remind2:42"
    assert pulse_keys.summary_key(7) == "pulse:7:summary"
    assert pulse_keys.closed_key(7, 1234) == "pulse:7:closed:1234"


def test_governance_keys_and_subjects_are_spelt_as_before() -> None:
    g = governance_keys
    assert g.threshold_subject(7, "score", 4) == "threshold:7:score=4"
    assert g.deadlines_subject(3, 21, 10, "20261202T170000000000") == (
        "deadlines:3:21:10:20261202T170000000000"
    )
    assert g.hide_subject_of(9) == "hide:9"
    assert g.threshold_announce_key(7) == "governance:threshold:7:announce"
    assert g.threshold_ask_key(7, 42) == "governance:threshold:7:ask:42"
    assert g.threshold_outcome_key(7, "approved") == "governance:threshold:7:approved"
    assert g.deadlines_ask_key(3, "20261202T170000000000", 42) == (
        "governance:deadlines:3:20261202T170000000000:ask:42"
    )
    assert g.hide_ask_key(9, 42) == "governance:hide:9:ask:42"
    assert g.hide_outcome_key(9, "kept") == "governance:hide:9:kept"
