"""Rotation on one calendar (issue 17, point 1): units answer the same dimensions in the same
week, so a small unit's answers can be added up with its siblings', and every dimension comes
round every ceil(16 / 2) = 8 weeks. Before, the rotation was shuffled per unit: Nord and Syd
shared a dimension in 6 of 16 weeks.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from bot.core.config import Settings
from flows.pulse import run_now
from flows.question_bank import default_bank, pick_questions
from flows.schedule import rotation_slot
from storage.db import Database
from storage.models import PulseRound, RoundQuestion, Unit
from tests.cli import cli

NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
SYD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd"
BANK = default_bank()


def dims(ids: list[str]) -> set[str]:
    return {BANK.by_id[q].dimension for q in ids if q in BANK.by_id}


def test_every_unit_gets_the_same_dimensions_whatever_its_history() -> None:
    for slot in range(1, 40):
        fresh = pick_questions(BANK, count=2, history=[], seed=1, slot=slot)
        # A unit that has run for a while (its last round: the slot before) and another seed.
        before = pick_questions(BANK, count=2, history=[], slot=slot - 1)
        other = pick_questions(BANK, count=2, history=[["bonding.2"], before], seed=99, slot=slot)
        assert dims(fresh) == dims(other)


def test_a_second_round_in_the_same_week_asks_other_dimensions() -> None:
    first = pick_questions(BANK, count=2, history=[], slot=7)
    second = pick_questions(BANK, count=2, history=[first], slot=7)
    assert not dims(first) & dims(second)


def test_each_dimension_comes_round_every_eight_weeks() -> None:
    for start in (0, 5, 13):
        asked = Counter(
            d
            for slot in range(start, start + 8)
            for d in dims(pick_questions(BANK, count=2, history=[], slot=slot))
        )
        assert set(asked) == set(BANK.dimensions) and set(asked.values()) == {1}


def test_the_questions_of_a_dimension_take_turns_lap_by_lap() -> None:
    laps = [pick_questions(BANK, count=2, history=[], slot=slot) for slot in (0, 8, 16)]
    assert len({tuple(lap) for lap in laps}) == 3


def test_slots_follow_the_calendar() -> None:
    monday, friday = dt.date(2026, 11, 30), dt.date(2026, 12, 4)
    assert rotation_slot("weekly", monday) == rotation_slot("weekly", friday)
    assert (
        rotation_slot("weekly", monday + dt.timedelta(days=7))
        == rotation_slot("weekly", monday) + 1
    )
    assert rotation_slot("monthly", dt.date(2026, 12, 31)) == rotation_slot(
        "monthly", dt.date(2026, 12, 1)
    )


def _asked(db: Database, path: str) -> list[set[str]]:
    with db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.path == path)).one()
        rounds = s.scalars(
            select(PulseRound.id).where(PulseRound.unit_id == unit.id).order_by(PulseRound.id)
        ).all()
        question = select(RoundQuestion.question_id)
        return [dims(list(s.scalars(question.where(RoundQuestion.round_id == r)))) for r in rounds]


def test_siblings_opened_on_different_days_of_a_week_ask_the_same_dimensions(
    db_url: str,
) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    settings = Settings(DATABASE_URL=db_url)
    db = Database(db_url)
    try:
        monday = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
        with db.session() as s:
            run_now(s, NORD, now=monday, settings=settings)
        with db.session() as s:
            run_now(s, SYD, now=monday + dt.timedelta(days=3), settings=settings)
        [nord] = _asked(db, NORD)
        [syd] = _asked(db, SYD)
        assert nord == syd and len(nord) == 2
    finally:
        db.dispose()
