"""End to end over the real pipeline: from everything the channel summaries (flows.summary) and
every leader's results view (flows.access) let out for a round, no group under the threshold
can be derived by any sum or difference of shown counts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.core.i18n import translator
from bot.core.messages import Facts, Message, Text
from flows.access import results_message, results_view
from flows.disclosure import Cell
from flows.pulse import sync_bank
from flows.summary import round_summary
from storage.db import Database
from storage.models import (
    Base,
    Member,
    Membership,
    Participation,
    PulseRound,
    RoundQuestion,
    Unit,
)
from tests.test_digest_data import all_fours
from tests.test_disclosure import disclosures

MIN = 5
OPENED = dt.datetime(2026, 5, 4, 7, 0, tzinfo=dt.UTC)
QUESTION = "sc_trust_vertical_1"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


@st.composite
def orgs(draw: st.DrawFn) -> tuple[list[int | None], list[int]]:
    """Parents (index of an earlier unit) and each unit's own respondents."""
    size = draw(st.integers(1, 5))
    parents: list[int | None] = [None] + [draw(st.integers(0, i - 1)) for i in range(1, size)]
    own = [draw(st.one_of(st.integers(0, 6), st.integers(0, 14))) for _ in parents]
    return parents, own


def _reset(session: Session) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        if table.name != "questions":
            session.execute(delete(table))


def _build(session: Session, parents: list[int | None], own: list[int]) -> list[Unit]:
    question = sorted(q.id for q in _bank(session))[0]
    units: list[Unit] = []
    for i, parent in enumerate(parents):
        path = f"U{i}" if parent is None else f"{units[parent].path}/U{i}"
        unit = Unit(path=path, name=f"U{i}", parent=units[parent] if parent is not None else None)
        session.add(unit)
        units.append(unit)
    session.flush()
    for unit, answered in zip(units, own, strict=True):
        r = PulseRound(
            unit_id=unit.id,
            opened_at=OPENED,
            closes_at=OPENED + dt.timedelta(days=3),
            closed_at=OPENED + dt.timedelta(days=3),
            min_group_size=MIN,
            min_comment_group_size=10,
        )
        r.questions.append(RoundQuestion(question_id=question, position=0))
        session.add(r)
        session.flush()
        for n in range(answered + 1):  # one more asked than answered
            m = Member(name=f"{unit.name} person {n}", email=f"{unit.name}.{n}@x.dk".lower())
            session.add(m)
            session.flush()
            session.add(Membership(member_id=m.id, unit_id=unit.id))
            session.add(Participation(round_id=r.id, member_id=m.id, answered=n < answered))
        if answered:
            session.add(all_fours(r.id, question, "d", answered))
    session.flush()
    return units


def _bank(session: Session) -> list[object]:
    from storage.models import Question

    sync_bank(session)
    return list(session.query(Question).all())


def _counts(message: Message) -> list[tuple[str | None, int]]:
    """Every respondent count in a message, with the fact label it stands next to."""
    found: list[tuple[str | None, int]] = []
    for part in message.parts:
        if isinstance(part, Text):
            found += [(None, int(n)) for n in re.findall(r"(\d+) (?:af \d+ )?svarede", part.text)]
        if isinstance(part, Facts):
            for fact in part.facts:
                found += [(fact.label, int(n)) for n in re.findall(r"· (\d+) svar", fact.value)]
    return found


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(org=orgs())
@example(org=([None, 0, 0], [1, 6, 6]))  # the 13 = 6 + 6 + 1 of tests/test_access_results.py
@example(org=([None, 0, 0, 0], [0, 10, 7, 5]))  # 22 beside 10 and 7 leaves 5: shown
@example(org=([None, 0, 1], [0, 3, 6]))  # a parent that equals its one child's subtree
def test_nothing_the_pipeline_shows_gives_a_small_group_away(
    db: Database, org: tuple[list[int | None], list[int]]
) -> None:
    parents, own = org
    t = translator("da")
    with db.session() as session:
        _reset(session)
        units = _build(session, parents, own)
        total = list(own)
        for i in range(len(units) - 1, 0, -1):
            parent = parents[i]
            assert parent is not None
            total[parent] += total[i]
        true = {f"unit:{u.id}": total[i] for i, u in enumerate(units)}
        true |= {f"own:{u.id}": own[i] for i, u in enumerate(units)}
        by_name = {u.name: u for u in units}
        shown: set[str] = set()
        for unit in units:
            r = session.query(PulseRound).filter(PulseRound.unit_id == unit.id).one()
            for _, n in _counts(round_summary(session, r, t)):
                assert n == true[f"own:{unit.id}"]
                shown.add(f"own:{unit.id}")
            view = results_view(session, unit)
            assert view is not None
            for label, n in _counts(results_message(view, session, t)):
                key = f"unit:{(by_name[label] if label else unit).id}"
                assert n == true[key], (key, n)
                shown.add(key)
        cells = [
            Cell(
                f"unit:{u.id}",
                total[i],
                None if parents[i] is None else f"unit:{units[parents[i]].id}",
            )  # type: ignore[index]
            for i, u in enumerate(units)
        ] + [Cell(f"own:{u.id}", own[i], f"unit:{u.id}") for i, u in enumerate(units)]
        assert disclosures(cells, shown, (), MIN) == []
        if own == [0, 10, 7, 5]:
            assert shown == {f"unit:{u.id}" for u in units} | {f"own:{u.id}" for u in units[1:]}
        session.rollback()
