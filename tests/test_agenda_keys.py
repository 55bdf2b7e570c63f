"""The agenda package keeps what other code and existing databases rely on.

Dedupe keys and signing subjects are stored in outbox and approval rows: a key spelled
differently after a refactor would send a message twice or lose a signature, so their exact
strings are pinned here. The scheduler names a job after the module listing it, so the job
names are pinned too. And a proposal's statuses are exactly the states docs/flows/agenda.md
draws.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace
from typing import get_args

from flows import scheduled_jobs
from flows.agenda import keys
from flows.agenda.statuses import SUPPORTABLE, UNTRIAGED, ProposalStatus

NOW = dt.datetime(2026, 12, 2, 17, 5, 9, 123456, tzinfo=dt.UTC)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "flows"


def test_agenda_keys_are_spelled_as_before() -> None:
    assert keys.stamp(NOW) == "20261202T170509123456"
    assert keys.call(7, 3) == "agenda:meeting:7:call:u3"
    assert keys.reminder(7, 3) == "agenda:meeting:7:reminder:u3"
    assert keys.published(7, 3) == "agenda:meeting:7:publish:u3"
    assert keys.unapproved(7, 12) == "agenda:meeting:7:unapproved:m12"
    assert keys.found_meeting(41, 7, 12) == "agenda:p41:found_meeting:7:m12"
    assert keys.post(41) == "agenda:p41:post"
    assert keys.post_update(41, NOW) == "agenda:p41:post:update:20261202T170509123456"
    assert keys.to_rep(41) == "agenda:p41:to_rep"
    assert keys.receipt_via_rep(41) == "agenda:p41:receipt"
    assert keys.receipt(41, 12) == "agenda:p41:receipt:m12"
    assert keys.alert(41, 12) == "agenda:p41:alert:m12"
    assert keys.bundle(dt.date(2026, 12, 2), 12) == "agenda:bundle:2026-12-02:m12"
    assert keys.follow_up(41, dt.date(2027, 1, 4), 12) == "agenda:p41:follow_up:2027-01-04:m12"


def test_step_keys_and_whom_they_tell_are_spelled_as_before() -> None:
    step = keys.step(41, "merge", NOW)
    assert step == "p41:merge:20261202T170509123456"
    assert keys.to_chair(step, 12) == "agenda:p41:merge:20261202T170509123456:chair:m12"
    assert keys.to_proposer(step, 9) == "agenda:p41:merge:20261202T170509123456:proposer:m9"
    passed = keys.passed(41, 2, NOW)
    assert keys.to_target(passed, 12) == "agenda:p41:pass:c2:20261202T170509123456:target:m12"
    assert keys.meeting_set(7) == "meeting:7:set"
    assert keys.agenda_approved(7, NOW) == "meeting:7:approve:20261202T170509123456"
    assert keys.published_now(7) == "meeting:7:publish_now"


def test_minutes_keys_and_the_agenda_subject_are_spelled_as_before() -> None:
    assert keys.minutes_told(7, 41, "supporter", 12) == "minutes:7:p41:supporter:m12"
    assert keys.minutes_published(7, 3) == "minutes:7:u3"
    assert keys.minutes_from_export(7, 41, NOW, 12) == (
        "minutes:7:p41:export:20261202T170509123456:m12"
    )
    assert keys.minutes_approved(7, 2, NOW) == "minutes:7:approve:v2:20261202T170509123456"
    meeting = SimpleNamespace(id=7, agenda_version=3)
    assert keys.agenda_subject(meeting) == "agenda:7:v3"  # type: ignore[arg-type]


def test_the_agenda_jobs_keep_their_names() -> None:
    jobs = scheduled_jobs()
    named = {name: job.__module__ for name, job in jobs.items() if "agenda" in name}
    assert named == {
        "flows.agenda.remind_deadlines": "flows.agenda.jobs",
        "flows.agenda.publish_due_agendas": "flows.agenda.jobs",
        "flows.agenda.remind_follow_ups": "flows.agenda.jobs",
        "flows.agenda_alerts.send_bundles": "flows.agenda.alerts",
    }


def _states(diagram_doc: Path) -> set[str]:
    text = diagram_doc.read_text(encoding="utf-8")
    diagram = text.split("stateDiagram-v2", 1)[1].split("```", 1)[0]
    found: set[str] = set()
    for line in diagram.splitlines():
        match = re.match(r"\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)", line)
        if match:
            found.update(s for s in match.groups() if s != "[*]")
    return found


def test_proposal_statuses_are_the_states_the_docs_draw() -> None:
    assert _states(DOCS / "agenda.md") == set(get_args(ProposalStatus))
    assert set(UNTRIAGED) < set(SUPPORTABLE) <= set(get_args(ProposalStatus))


def test_the_package_offers_the_names_the_module_did() -> None:
    import flows.agenda

    before = {
        "Approve",
        "BringToMed",
        "ProposeForm",
        "ProposeOpen",
        "PublishNow",
        "SupportToggle",
        "Triage",
        "TriageForm",
        "chairs_of",
        "committee_of_unit",
        "meeting_for_new_proposal",
        "reference",
        "schedule_meeting",
        "units_served",
    }
    assert before <= set(flows.agenda.__all__)
    assert all(hasattr(flows.agenda, name) for name in flows.agenda.__all__)
