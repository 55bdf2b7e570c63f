"""What governance writes under a name, each name spelt here and nowhere else: the outbox dedupe
keys of its messages, and the approval subjects the two sides sign (flows.approvals).

A dedupe key makes a queued message idempotent (a unique constraint in the outbox) and a subject
binds a signature to what the signer was shown: a typo in one of two copies would silently send
twice, or let a signature count for something else.
"""

from __future__ import annotations


def threshold_subject(change_id: int, kind: str, value: int) -> str:
    """What an approval of a threshold change signs: the request, its kind and its value."""
    return f"threshold:{change_id}:{kind}={value}"


def deadlines_subject(c: int, p: int, r: int, n: str) -> str:
    """Deadlines `p`/`r` for committee `c`, as asked in request `n` (its time stamp)."""
    return f"deadlines:{c}:{p}:{r}:{n}"


def hide_subject_of(request_id: int) -> str:
    """What an approval of hiding a comment signs: the request."""
    return f"hide:{request_id}"


def threshold_announce_key(change_id: int) -> str:
    """The announcement in the committee's channel of a threshold put in force."""
    return f"governance:threshold:{change_id}:announce"


def threshold_ask_key(change_id: int, approver_id: int) -> str:
    return f"governance:threshold:{change_id}:ask:{approver_id}"


def threshold_outcome_key(change_id: int, outcome: str) -> str:
    """The requester told that the other side approved or rejected."""
    return f"governance:threshold:{change_id}:{outcome}"


def deadlines_ask_key(committee_id: int, stamp: str, approver_id: int) -> str:
    return f"governance:deadlines:{committee_id}:{stamp}:ask:{approver_id}"


def hide_ask_key(request_id: int, approver_id: int) -> str:
    return f"governance:hide:{request_id}:ask:{approver_id}"


def hide_outcome_key(request_id: int, outcome: str) -> str:
    """The chair told that the comment was hidden ("done") or kept."""
    return f"governance:hide:{request_id}:{outcome}"
