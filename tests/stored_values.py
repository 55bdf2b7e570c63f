"""What a copy of the database offers an attacker as would-be secrets (the forensic tests)."""

from __future__ import annotations

from typing import Any

Tables = dict[str, list[dict[str, Any]]]


def stored_values(tables: Tables) -> tuple[set[bytes], set[str]]:
    """Every binary value stored; and every other value, as text, outside the answers table
    (whose keys are what the attacker tries to reproduce)."""
    binary: set[bytes] = set()
    other: set[str] = set()
    for name, rows in tables.items():
        for row in rows:
            for value in row.values():
                if isinstance(value, bytes | memoryview):
                    binary.add(bytes(value))
                elif value is not None and name != "answers":
                    other.add(str(value))
    return binary, other
