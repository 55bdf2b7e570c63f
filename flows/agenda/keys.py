"""Every dedupe key and signing subject of the agenda and minutes flows, built in one place.

The outbox refuses a second row with the same dedupe key, so a key is what makes a message go
out once however often a job or a click runs; the approvals table finds a signature by its
subject. Rows in existing databases hold these exact strings: a key must never change its
spelling (tests/test_agenda_keys.py pins them). A key that two places build (the call, checked
again by the reminder job; the channel post, looked up again to update it) is built by one
function here, so a typo cannot silently make the second place miss the first.

A *step* key names one thing that happened (a meeting set, a triage step, an approval); the
people told of it each get their own key made from it (`to_chair`, `to_proposer`, `to_target`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.models import Meeting

# --- parts -----------------------------------------------------------------------------------


def stamp(now: dt.datetime) -> str:
    """The moment in a key for something that may happen more than once (a step, an update)."""
    return now.strftime("%Y%m%dT%H%M%S%f")


# --- what an approval signs ------------------------------------------------------------------


def agenda_subject(meeting: Meeting) -> str:
    """What an approval of the agenda signs: this meeting's agenda in its current version."""
    return f"agenda:{meeting.id}:v{meeting.agenda_version}"


# --- a meeting's messages --------------------------------------------------------------------


def call(meeting_id: int, unit_id: int) -> str:
    """The call for proposals in a served unit's channel (the reminder job looks it up)."""
    return f"agenda:meeting:{meeting_id}:call:u{unit_id}"


def reminder(meeting_id: int, unit_id: int) -> str:
    return f"agenda:meeting:{meeting_id}:reminder:u{unit_id}"


def published(meeting_id: int, unit_id: int) -> str:
    return f"agenda:meeting:{meeting_id}:publish:u{unit_id}"


def unapproved(meeting_id: int, chair_id: int) -> str:
    """The nudge on the release date to a chair of an agenda not approved by both sides."""
    return f"agenda:meeting:{meeting_id}:unapproved:m{chair_id}"


def found_meeting(proposal_id: int, meeting_id: int, member_id: int) -> str:
    """A waiting proposal's people hear that a meeting was set for it."""
    return f"agenda:p{proposal_id}:found_meeting:{meeting_id}:m{member_id}"


# --- a proposal's messages -------------------------------------------------------------------


def post(proposal_id: int) -> str:
    """The proposal's post in its unit channel (looked up again to update it)."""
    return f"agenda:p{proposal_id}:post"


def post_update(proposal_id: int, now: dt.datetime) -> str:
    return f"{post(proposal_id)}:update:{stamp(now)}"


def to_rep(proposal_id: int) -> str:
    return f"agenda:p{proposal_id}:to_rep"


def receipt_via_rep(proposal_id: int) -> str:
    return f"agenda:p{proposal_id}:receipt"


def receipt(proposal_id: int, member_id: int) -> str:
    return f"agenda:p{proposal_id}:receipt:m{member_id}"


def alert(proposal_id: int, chair_id: int) -> str:
    return f"agenda:p{proposal_id}:alert:m{chair_id}"


def bundle(day: dt.date, member_id: int) -> str:
    return f"agenda:bundle:{day.isoformat()}:m{member_id}"


def follow_up(proposal_id: int, day: dt.date | None, chair_id: int) -> str:
    return f"agenda:p{proposal_id}:follow_up:{day}:m{chair_id}"


# --- steps, and who is told of them ----------------------------------------------------------


def meeting_set(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:set"


def step(proposal_id: int, name: str, now: dt.datetime) -> str:
    """A triage step on a proposal (agenda, later, merge, answer, decline)."""
    return f"p{proposal_id}:{name}:{stamp(now)}"


def passed(proposal_id: int, committee_id: int, now: dt.datetime) -> str:
    """A proposal passed on to another committee (flows.med_network)."""
    return f"p{proposal_id}:pass:c{committee_id}:{stamp(now)}"


def agenda_approved(meeting_id: int, now: dt.datetime) -> str:
    return f"meeting:{meeting_id}:approve:{stamp(now)}"


def published_now(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:publish_now"


def minutes_approved(meeting_id: int, version: int, now: dt.datetime) -> str:
    return f"minutes:{meeting_id}:approve:v{version}:{stamp(now)}"


def to_chair(step_key: str, chair_id: int) -> str:
    return f"agenda:{step_key}:chair:m{chair_id}"


def to_proposer(step_key: str, member_id: int) -> str:
    return f"agenda:{step_key}:proposer:m{member_id}"


def to_target(step_key: str, chair_id: int) -> str:
    """A chair of the committee a proposal was passed to."""
    return f"agenda:{step_key}:target:m{chair_id}"


# --- the minutes -----------------------------------------------------------------------------


def minutes_told(meeting_id: int, proposal_id: int, role: str, member_id: int) -> str:
    """A proposer or supporter hears the decision on their proposal."""
    return f"minutes:{meeting_id}:p{proposal_id}:{role}:m{member_id}"


def minutes_published(meeting_id: int, unit_id: int) -> str:
    return f"minutes:{meeting_id}:u{unit_id}"


def minutes_from_export(
    meeting_id: int, proposal_id: int, recorded_at: dt.datetime, chair_id: int
) -> str:
    """A decision recorded from the exported agenda (`medpuls minutes record`)."""
    return f"minutes:{meeting_id}:p{proposal_id}:export:{stamp(recorded_at)}:m{chair_id}"
