"""Outbox dedupe keys of the flows that are one module (dialogue, home), each built here and
nowhere else; a flow that is a package keeps its own (flows/actions/keys.py,
flows/replies/keys.py).

A key is the message's identity: a retried event or a second scheduler queueing the same message
builds the same key, and the outbox keeps one row. A typo in a copy would silently send twice.
"""

from __future__ import annotations


def dialogue_guide_key(round_id: int, leader_id: int) -> str:
    """The round's dialogue guide to one of the unit's leaders."""
    return f"dialogue:{round_id}:guide:{leader_id}"


def dialogue_channel_key(round_id: int) -> str:
    """The round's dialogue guide posted to the unit's channel, once."""
    return f"dialogue:{round_id}:channel"


def home_welcome_key(member_id: int) -> str:
    """One's own page, sent once as a welcome when the app is installed for oneself."""
    return f"home:{member_id}:welcome"
