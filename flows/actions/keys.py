"""The action plan's outbox dedupe keys, each built here and nowhere else.

A key is the message's identity: a retried event or a second scheduler queueing the same message
builds the same key, and the outbox keeps one row. A typo in a copy would silently send twice.
"""

from __future__ import annotations

import datetime as dt


def plan_key(unit_id: int, action_id: int, version: int) -> str:
    """The unit's plan posted to its channel after a change of one action."""
    return f"actions:plan:{unit_id}:{action_id}:v{version}"


def _stem(action_id: int, due_on: dt.date) -> str:
    # The date is part of the key: a continued action (new date) is reminded afresh.
    return f"actions:{action_id}:{due_on.isoformat()}"


def reminder_key(action_id: int, due_on: dt.date, slot: int, member_id: int) -> str:
    """The `slot`-th reminder (1 or 2) before the date, to one owner."""
    return f"{_stem(action_id, due_on)}:r{slot}:m{member_id}"


def due_key(action_id: int, due_on: dt.date, member_id: int) -> str:
    """The question at the date (done, continued, dropped), to one owner."""
    return f"{_stem(action_id, due_on)}:due:m{member_id}"


def committee_key(meeting_id: int) -> str:
    """The area's plans to the committee's channel, once per meeting."""
    return f"actions:med:{meeting_id}"
