"""The digest's dedupe keys and ledger batch labels, each built here and only here: a key
spelt two ways would silently send a digest twice (or never)."""

from __future__ import annotations

AGAIN = ":again"


def leader_key(member_id: int, week: str, unit_id: int, again: int = 0) -> str:
    """A leader's digest of a unit for a week; `again` numbers the updated ones sent later."""
    return f"digest:leader:{member_id}:{week}:{unit_id}{again_suffix(again)}"


def leader_keys(week: str) -> str:
    """A LIKE pattern for every leader digest key of the week."""
    return f"digest:leader:%:{week}:%"


def again_suffix(again: int) -> str:
    return f"{AGAIN}{again}" if again else ""


def again_of(key: str) -> int:
    """Which updated digest a leader key is (0: the week's first)."""
    return int(key.rsplit(AGAIN, 1)[1]) if AGAIN in key else 0


def committee_key(meeting_id: int) -> str:
    """A committee's digest before a meeting."""
    return f"digest:committee:{meeting_id}"


def committee_keys() -> str:
    """A LIKE pattern for every committee digest key."""
    return "digest:committee:%"


def ledger_batch(week: str, figure: str) -> str:
    """The ledger's batch label of a week's figure ("turnout" or a dimension): one row each."""
    return f"digest:{week}:{figure}"
