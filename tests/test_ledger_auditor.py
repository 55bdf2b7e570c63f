"""The auditor: random organisations run through every publishing path for several weeks; then
an adversary that knows every figure shown to anyone tries to compute any group of fewer than
the threshold people.

The adversary is linear algebra and independent of flows.derivable: it knows, from the test's
own bookkeeping, exactly which members' answers make up every cell (a round's answers to one
question, or a round's turnout), takes the published sets from the ledger as rows of a matrix
over cells, and tests every set of cells holding 1..k-1 distinct people for membership in the
row space (x is in it exactly when it is orthogonal to the matrix's null space). Sets are
enumerated exhaustively: the organisations are small enough for that. Cells nobody is in add
nothing to any sum and are left out. The ledger's record includes the digests' pools over weeks
(flows.pooling), whose rounds span up to four weeks here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from bot.core.config import Settings
from bot.core.messages import Facts, Message
from flows.access import ResultsView
from flows.digest import Picture
from storage.db import Database
from storage.models import Base, OutboxMessage, Publication, Question
from tests.pulse_world import World, day

K = 5
DIM = "trust_vertical"
QUESTIONS = ["trust_vertical.1", "trust_vertical.2", "bonding.1"]


@dataclass(frozen=True)
class Plan:
    parents: list[int | None]
    sizes: list[int]
    # per round: (unit, weeks back, weekday, questions, answered mask per member, skips)
    rounds: list[tuple[int, int, int, tuple[str, ...], int, int]]
    moves: list[tuple[int, int]]  # (member index in unit 0, to unit) before the last week
    views: list[int]
    committee_question: bool


@st.composite
def plans(draw: st.DrawFn, max_units: int) -> Plan:
    n = draw(st.integers(1, max_units))
    parents: list[int | None] = [None]
    for i in range(1, n):
        parents.append(draw(st.one_of(st.none(), st.integers(0, i - 1))))
    sizes = [draw(st.one_of(st.integers(0, 9), st.sampled_from([12, 30]))) for _ in range(n)]
    rounds = []
    for _ in range(draw(st.integers(1, 2 * n + 1))):
        unit = draw(st.integers(0, n - 1))
        # Up to four weeks back: pools over weeks (flows.pooling) span several weeks' rounds.
        weeks_back = draw(st.integers(1, 4))
        weekday = draw(st.integers(0, 4))
        questions = tuple(
            draw(st.lists(st.sampled_from(QUESTIONS), min_size=1, max_size=2, unique=True))
        )
        mask = draw(st.integers(0, 2**30 - 1))
        skips = draw(st.integers(0, 2**30 - 1))
        rounds.append((unit, weeks_back, weekday, questions, mask, skips))
    moves = draw(st.lists(st.tuples(st.integers(0, 8), st.integers(0, n - 1)), max_size=2))
    views = draw(st.lists(st.integers(0, n - 1), max_size=2))
    return Plan(parents, sizes, rounds, moves, views, draw(st.booleans()))


def _reset(session: object) -> None:
    s = session  # a Session; typed loosely so the loop below stays short
    s.execute(delete(Question).where(Question.committee_id.is_not(None)))  # type: ignore[attr-defined]
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in ("questions",):
            s.execute(table.delete())  # type: ignore[attr-defined]
    s.flush()  # type: ignore[attr-defined]


@dataclass
class Seen:
    """What the flows showed, read from their outputs (not from the ledger)."""

    people: dict[str, frozenset[int]]
    published: list[frozenset[str]]


def run(world: World, plan: Plan) -> Seen:
    """Drive the plan through the flows; collect each cell's exact respondents and every
    figure shown, as sets of cells, from the summaries, digests and results views."""
    paths = []
    for i, parent in enumerate(plan.parents):
        path = f"U{i}" if parent is None else f"{paths[parent]}/U{i}"
        paths.append(path)
        world.unit(path, members=plan.sizes[i])
    custom = None
    if plan.committee_question:
        committee = world.committee(paths[0], "MED0")
        custom = world.committee_question(committee, "custom.extra", "trust_vertical")
    people: dict[str, frozenset[int]] = {}
    published: list[frozenset[str]] = []
    rounds: list[tuple[int, str, dt.datetime, list[str]]] = []  # id, path, closed, questions
    pictures: list[Picture] = []
    ordered = sorted(plan.rounds, key=lambda r: (-r[1], r[2]))
    moved = False
    for unit, weeks_back, weekday, questions, mask, skips in ordered:
        if weeks_back == 1 and not moved:
            moved = True
            for index, to in plan.moves:
                members = world.members.get(paths[0], [])
                if index < len(members):
                    world.move(members[index], paths[to])
            pictures.append(world.digest(day(1, 0)))  # the first week's digest, on Monday
        path = paths[unit]
        qs = list(questions) + ([custom] if custom and weekday % 2 == 0 else [])
        members = list(world.members.get(path, []))
        answers: dict[str, list[int | None]] = {}
        for qi, q in enumerate(qs):
            answers[q] = [
                (1 + (i + qi) % 5) if mask >> i & 1 and not (qi and skips >> i & 1) else None
                for i in range(len(members))
            ]
        r = world.round(path, day(weeks_back, weekday), answers, hours=20)
        for q, values in answers.items():
            people[f"{r.id}:{q}"] = frozenset(
                m.id for m, v in zip(members, values, strict=False) if v is not None
            )
        people[f"{r.id}:"] = frozenset().union(*(people[f"{r.id}:{q}"] for q in answers))
        assert r.closed_at is not None
        rounds.append((r.id, path, r.closed_at, list(answers)))
        published.extend(_from_summary(world, r.id, list(answers)))
    pictures.append(world.digest())
    for picture in pictures:
        published.extend(_from_digest(picture, rounds))
    for v in plan.views:
        view = world.results(paths[v])
        if view is not None:
            published.extend(_from_view(view, rounds))
    return Seen(people, published)


def _from_summary(world: World, round_id: int, questions: list[str]) -> list[frozenset[str]]:
    row = world.session.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"pulse:{round_id}:summary")
    )
    assert row is not None and row.payload is not None
    message = Message.model_validate(row.payload)
    facts = [p for p in message.parts if isinstance(p, Facts)]
    if not facts:
        return []
    out = [frozenset({f"{round_id}:"})]
    for q, fact in zip(questions, facts[0].facts, strict=True):
        if "svar" in fact.value and "For få" not in fact.value:
            out.append(frozenset({f"{round_id}:{q}"}))
    return out


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def _from_digest(
    picture: Picture, rounds: list[tuple[int, str, dt.datetime, list[str]]]
) -> list[frozenset[str]]:
    out = []
    for w, week in enumerate(picture.weeks):
        here = [r for r in rounds if week.start <= r[2] < week.end]
        for uid in picture.shown_turnout[w]:
            top = picture.units[uid].path
            out.append(frozenset(f"{rid}:" for rid, path, _, _ in here if _inside(path, top)))
        for (w2, dim), shown in picture.shown_tally.items():
            if w2 != w:
                continue
            for uid in shown:
                top = picture.units[uid].path
                out.append(
                    frozenset(
                        f"{rid}:{q}"
                        for rid, path, _, qs in here
                        if _inside(path, top)
                        for q in qs
                        if q.split(".")[0] == dim or (q.startswith("custom.") and dim == DIM)
                    )
                )
    return out


def _from_view(
    view: ResultsView, rounds: list[tuple[int, str, dt.datetime, list[str]]]
) -> list[frozenset[str]]:
    batch = {r.id for r in view.batch}
    here = [r for r in rounds if r[0] in batch]
    units = {u.id: u.path for u in [view.unit, *view.children]}
    out = []
    if view.respondents is not None:
        out.append(
            frozenset(f"{rid}:" for rid, path, _, _ in here if _inside(path, view.unit.path))
        )
    for qv in view.questions:
        for uid in qv.shown:
            out.append(
                frozenset(
                    f"{rid}:{qv.question_id}"
                    for rid, path, _, qs in here
                    if _inside(path, units[uid]) and qv.question_id in qs
                )
            )
    return out


def _null_space(rows: list[list[Fraction]], width: int) -> list[list[Fraction]]:
    m = [r[:] for r in rows]
    pivots: list[int] = []
    r = 0
    for c in range(width):
        p = next((i for i in range(r, len(m)) if m[i][c] != 0), None)
        if p is None:
            continue
        m[r], m[p] = m[p], m[r]
        m[r] = [v / m[r][c] for v in m[r]]
        for i in range(len(m)):
            if i != r and m[i][c] != 0:
                f = m[i][c]
                m[i] = [a - f * b for a, b in zip(m[i], m[r], strict=True)]
        pivots.append(c)
        r += 1
    free = [c for c in range(width) if c not in pivots]
    basis = []
    for f in free:
        v = [Fraction(0)] * width
        v[f] = Fraction(1)
        for i, c in enumerate(pivots):
            v[c] = -m[i][f]
        basis.append(v)
    return basis


def exposures(
    published: list[frozenset[str]], people: dict[str, frozenset[int]]
) -> Iterator[frozenset[str]]:
    cells = sorted(c for c, p in people.items() if p)
    index = {c: i for i, c in enumerate(cells)}
    rows = [[Fraction(int(c in s)) for c in cells] for s in published]
    null = (
        _null_space(rows, len(cells))
        if rows
        else [[Fraction(int(i == j)) for i in range(len(cells))] for j in range(len(cells))]
    )
    small = [c for c in cells if len(people[c]) < K]

    def walk(start: int, chosen: list[str], who: frozenset[int]) -> Iterator[frozenset[str]]:
        if chosen and all(sum(v[index[c]] for c in chosen) == 0 for v in null):
            yield frozenset(chosen)
        for i in range(start, len(small)):
            grown = who | people[small[i]]
            if len(grown) < K:  # a union only grows: supersets of a big set are big
                yield from walk(i + 1, [*chosen, small[i]], grown)

    yield from walk(0, [], frozenset())


def test_no_small_group_is_derivable_from_everything_published(db_url: str) -> None:
    db = Database(db_url)
    config = Settings(DATABASE_URL=db_url)
    on_postgres = db_url.startswith("postgresql")

    @settings(
        max_examples=20 if on_postgres else 100,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=True,
    )
    @given(plan=plans(max_units=3 if on_postgres else 4))
    def check(plan: Plan) -> None:
        with db.session() as s:
            _reset(s)
            seen = run(World(s, config), plan)
            # The ledger's own record too: a figure it let out counts even if no output
            # above was read for it.
            recorded = [
                frozenset(cells)
                for p in s.scalars(select(Publication).where(Publication.shown.is_(True)))
                if p.path != "comments"
                for cells in p.cells
            ]
            s.rollback()
        published = [p for p in seen.published + recorded if p]
        found = next(exposures(published, seen.people), None)
        if found is not None:
            who = frozenset[int]().union(*(seen.people[c] for c in found))
            pytest.fail(f"derivable: cells {sorted(found)} of {len(who)} people")

    check()
    db.dispose()
