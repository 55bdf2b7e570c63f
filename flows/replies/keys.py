"""The replies' outbox dedupe keys, each built here and nowhere else.

A key is the message's identity: a retried event queueing the same message builds the same key,
and the outbox keeps one row. A typo in a copy would silently send twice.
"""

from __future__ import annotations


def notice_key_prefix(thread_id: str, seq: int) -> str:
    """The notice to every member asked in the round; the outbox appends each member's id."""
    return f"replies:{thread_id}:{seq}:m"


def replier_key(thread_id: str, seq: int) -> str:
    """The conversation, as it stands after message `seq`, to the replier."""
    return f"replies:{thread_id}:{seq}:replier"
