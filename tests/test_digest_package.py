"""The digest as a package: its dedupe keys spelt as before the split, and its scheduler jobs
under the names they had (flows/__init__.py names a job after the module that lists it)."""

from __future__ import annotations

from flows import scheduled_jobs
from flows.digest import send_committee_digests, send_due_digests
from flows.digest.keys import (
    again_of,
    committee_key,
    committee_keys,
    leader_key,
    leader_keys,
    ledger_batch,
)


def test_leader_keys_are_spelt_as_before() -> None:
    assert leader_key(17, "2026-W10", 4) == "digest:leader:17:2026-W10:4"
    assert leader_key(17, "2026-W10", 4, again=2) == "digest:leader:17:2026-W10:4:again2"
    assert leader_keys("2026-W10") == "digest:leader:%:2026-W10:%"


def test_again_numbers_read_back() -> None:
    assert again_of(leader_key(1, "2026-W01", 2)) == 0
    assert again_of(leader_key(1, "2026-W01", 2, again=11)) == 11


def test_committee_keys_and_ledger_batches_are_spelt_as_before() -> None:
    assert committee_key(9) == "digest:committee:9"
    assert committee_keys() == "digest:committee:%"
    assert ledger_batch("2026-W09", "turnout") == "digest:2026-W09:turnout"
    assert ledger_batch("2026-W09", "bonding") == "digest:2026-W09:bonding"


def test_jobs_keep_their_names() -> None:
    jobs = scheduled_jobs()
    assert jobs["flows.digest.send_due_digests"] is send_due_digests
    assert jobs["flows.digest.send_committee_digests"] is send_committee_digests
    assert not [name for name in jobs if name.startswith("flows.digest.") and name.count(".") > 2]
