"""The outbox's statuses are the states docs/delivery.md draws, no more and no fewer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from bot.app.delivery import FINAL, IN_FLIGHT, TO_GO
from storage.models import OutboxStatus

DOC = Path(__file__).resolve().parent.parent / "docs" / "delivery.md"


def drawn() -> tuple[set[str], set[tuple[str, str]]]:
    """The states and transitions of the first Mermaid state diagram in docs/delivery.md."""
    diagram = DOC.read_text().split("stateDiagram-v2", 1)[1].split("```", 1)[0]
    edges = set(re.findall(r"^\s*(\S+) --> (\w+)", diagram, re.MULTILINE))
    states = {s for edge in edges for s in edge} - {"[*]"}
    return states, edges


def test_the_status_type_names_every_drawn_state() -> None:
    states, _ = drawn()
    assert states == set(get_args(OutboxStatus))


def test_final_rows_have_no_way_out_and_the_others_do() -> None:
    states, edges = drawn()
    leaving = {a for a, _ in edges}
    assert set(FINAL) == states - leaving
    assert set(TO_GO) | set(IN_FLIGHT) <= leaving
