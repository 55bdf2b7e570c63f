"""One ledger of everything published: every figure any path shows is decided against all of them.

Channel summaries, leader and committee digests (and their charts), results views, the dialogue
guide and "Bring to MED" evidence all show sums over sets of *cells* (flows.derivable): a round's
turnout, or a round's answers to one question. Before a path shows a figure it asks
`Ledger.decide`, which

1. withholds it if it covers fewer than ``min_size`` people ("below_threshold"), counted from
   participation and answer counts as flows.derivable does (people, not answers);
2. withholds it if, together with every figure any path has shown before (for anyone, in the
   weeks around it), it would let someone compute a group of 1..min_size-1 people
   ("complementary": "kan regnes ud af andre tal");
3. records it, shown or withheld, in `publications`: the cells and the number of people, never
   a value. A figure already shown (the same cells) is shown again without a new decision.

Decisions depend on sets and counts of people only. The reasons are the rule's name; neither the
audit log nor the user is told which other figures a figure could be computed from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flows.derivable import Span, people_lower_bound
from flows.disclosure import BELOW_THRESHOLD, COMPLEMENTARY
from storage.audit import audit_entry
from storage.models import Participation, Publication, PulseRound, RoundResult, utcnow

__all__ = [
    "Ledger",
    "Verdict",
    "cell",
    "decided_before",
    "round_figures",
    "round_ledger",
    "round_week",
    "turnout_cell",
]


def cell(round_id: int, question_id: str) -> str:
    return f"{round_id}:{question_id}"


def turnout_cell(round_id: int) -> str:
    return f"{round_id}:"


def round_week(when: dt.datetime, tz: dt.tzinfo) -> str:
    year, week, _ = when.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


# flows.pooling: the path of pools over weeks and the most weeks one covers.
POOLED_PATH = "pooled"
POOLED_WEEKS = 8


def _week_after(week: str, n: int) -> str:
    year, number = week.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1) + dt.timedelta(weeks=n)
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def _key(sets: Iterable[Collection[str]]) -> str:
    """The row's identity: its sets of cells (each set sorted, in order)."""
    text = "\n\n".join("\n".join(sorted(cells)) for cells in sets)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    shown: bool
    people: int
    reason: str | None = None


# An audit entry lists at most this many of the rounds whose figures it withheld.
AUDITED_ROUNDS = 50


class Ledger:
    """The figures shown so far around some rounds, and the decision on new ones.

    ``since``/``until`` bound the closing times of the rounds whose figures will be decided;
    everything published for rounds closed in those weeks and the weeks either side is loaded,
    because figures of one week never span more (summaries, digests and results are per week).
    """

    def __init__(
        self,
        session: Session,
        min_size: int,
        *,
        since: dt.datetime,
        until: dt.datetime,
        tz: dt.tzinfo,
        margin: dt.timedelta = dt.timedelta(days=8),
    ) -> None:
        self.session = session
        self.min_size = min_size
        self.tz = tz
        lo, hi = since - dt.timedelta(days=8), until + dt.timedelta(days=8)
        weeks: list[str] = []
        day = lo
        while day <= hi:
            weeks.append(round_week(day, tz))
            day += dt.timedelta(days=7)
        weeks.append(round_week(hi, tz))
        self.size: dict[str, int] = {}
        self._round_unit: dict[int, int] = {}
        closed = (PulseRound.closed_at.is_not(None), PulseRound.closed_at >= since - margin)
        self._load((*closed, PulseRound.closed_at <= until + margin))
        self.group: dict[str, str] = {}
        self._grouped = False
        self._keys: set[str] = set()
        self.members: dict[int, frozenset[int]] = {}
        self.span = Span(self.size, self.group, min_size, members=self.members)
        self.focus(weeks)
        self._new: list[tuple[str | None, str, str, list[str], int, Verdict]] = []

    def focus(self, weeks: Iterable[str]) -> None:
        """Start over from what was published for rounds of these weeks (a digest decides one
        week at a time, so only one week's figures are held at once)."""
        weeks = sorted(set(weeks))
        # A pool over weeks (flows.pooling) is recorded under its last week but covers rounds
        # of the POOLED_WEEKS weeks before it: those recorded after these weeks count too.
        later = sorted({_week_after(w, n) for w in weeks for n in range(1, POOLED_WEEKS + 1)})
        prior = self.session.execute(
            select(Publication.key, Publication.cells, Publication.shown).where(
                or_(
                    Publication.week.in_(weeks),
                    and_(Publication.path == POOLED_PATH, Publication.week.in_(later)),
                )
            )
        ).all()
        figures: list[list[str]] = []
        for key, sets, shown in prior:
            self._keys.add(key)
            if shown:
                figures.extend(sets)
        # Every round an earlier figure covers must be known, even outside the range loaded
        # (a results view's batch may reach into the next week).
        missing = sorted(
            {int(c.split(":", 1)[0]) for cells in figures for c in cells} - set(self._round_unit)
        )
        for start in range(0, len(missing), 500):
            self._load((PulseRound.id.in_(missing[start : start + 500]),))
        if missing or not self._grouped:
            self._grouped = True
            self.group.clear()
            self.group.update(self._groups(self._round_unit))
        self.span = Span(self.size, self.group, self.min_size, members=self.members)
        # Smallest first: a tree of figures then reduces to its difference regions cheaply.
        for cells in sorted(figures, key=len):
            self.span.learn(cells)

    def _load(self, where: tuple[ColumnElement[bool], ...]) -> None:
        """Cell sizes of the rounds matching ``where``: answers per question, and turnout."""
        session = self.session
        round_unit = self._round_unit
        for rid, unit_id in session.execute(
            select(PulseRound.id, PulseRound.unit_id).where(*where)
        ):
            round_unit[int(rid)] = int(unit_id)
        for rid, qid, n in session.execute(
            select(RoundResult.round_id, RoundResult.question_id, RoundResult.respondents)
            .join(PulseRound, PulseRound.id == RoundResult.round_id)
            .where(*where)
        ):
            self.size[cell(int(rid), qid)] = int(n)
        for rid, n in session.execute(
            select(Participation.round_id, func.count())
            .join(PulseRound, PulseRound.id == Participation.round_id)
            .where(*where, Participation.answered.is_(True))
            .group_by(Participation.round_id)
        ):
            self.size[turnout_cell(int(rid))] = int(n)

    def _groups(self, round_unit: dict[int, int]) -> dict[str, str]:
        """Rounds that may share respondents: the same unit, or a respondent in common."""
        parent: dict[int, int] = {}

        def find(r: int) -> int:
            while parent.get(r, r) != r:
                parent[r] = parent.get(parent[r], parent[r])
                r = parent[r]
            return r

        def union(a: int, b: int) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

        first_of_unit: dict[int, int] = {}
        for rid, unit_id in round_unit.items():
            union(rid, first_of_unit.setdefault(unit_id, rid))
        # Only rounds with a small cell can be part of an exposure; loading their respondents
        # (fewer than min_size per small cell's round, mostly) keeps this cheap.
        small = sorted(
            {int(c.split(":", 1)[0]) for c, n in self.size.items() if 0 < n < self.min_size}
        )
        first_of_member: dict[int, int] = {}
        who: dict[int, set[int]] = defaultdict(set)
        for start in range(0, len(small), 500):
            for rid, member_id in self.session.execute(
                select(Participation.round_id, Participation.member_id).where(
                    Participation.round_id.in_(small[start : start + 500]),
                    Participation.answered.is_(True),
                )
            ):
                union(int(rid), first_of_member.setdefault(int(member_id), int(rid)))
                who[int(rid)].add(int(member_id))
        # Who answered each small round: a figure pooled over weeks counts distinct people.
        self.members.clear()
        self.members.update((r, frozenset(who.get(r, ()))) for r in small)
        # Only small cells ever meet in an exposure; a big cell's group does not matter (any set
        # holding it is big), so the map stays as small as the small rounds.
        group: dict[str, str] = {}
        small_rounds = {str(r) for r in small}
        for c in self.size:
            prefix = c.split(":", 1)[0]
            if prefix in small_rounds:
                group[c] = f"g{find(int(prefix))}"
        return group

    def people(self, cells: Iterable[str]) -> int:
        return people_lower_bound(cells, self.size, self.group, self.members)

    def known(self, cells: Iterable[str]) -> bool:
        """Whether the figure over ``cells`` is of enough people and computable from figures
        already shown: showing it again adds nothing to what anyone can learn."""
        cells = set(cells)
        return self.people(cells) >= self.min_size and self.span.derivable(cells)

    def decide(
        self,
        path: str,
        cells: Iterable[str],
        *,
        week: str,
        record_known: bool = True,
        batch: str | None = None,
    ) -> Verdict:
        """Whether the figure over ``cells`` may be shown; recorded either way, except a figure
        already computable from recorded ones when ``record_known`` is False (it adds nothing
        to what the ledger knows: the digest's parents are sums of their children). Figures
        given the same ``batch`` label are written as one row (a digest's week and dimension).
        """
        cells = set(cells)
        people = self.people(cells)
        if people < self.min_size:
            verdict = Verdict(False, people, BELOW_THRESHOLD)
        else:
            outcome = self.span.offer(cells)
            if outcome == "refused":
                verdict = Verdict(False, people, COMPLEMENTARY)
            else:
                verdict = Verdict(True, people)
                if outcome == "known" and not record_known:
                    return verdict
        ordered = sorted(cells)
        key = _key([ordered])
        if key not in self._keys:
            self._keys.add(key)
            self._new.append((batch, week, path, ordered, people, verdict))
        return verdict

    def flush(self) -> None:
        """Write the new decisions (the caller's transaction commits them with what it shows),
        skipping a row another process wrote meanwhile."""
        if not self._new:
            return
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        for batch, week, path, cells, people, verdict in self._new:
            label = (batch or _key([cells]), week, path, str(verdict.shown), verdict.reason or "")
            row = rows.setdefault(
                label,
                {
                    "week": week,
                    "path": path,
                    "cells": [],
                    "people": people,
                    "shown": verdict.shown,
                    "reason": verdict.reason,
                    "created_at": utcnow(),
                },
            )
            row["cells"].append(cells)
            row["people"] = min(row["people"], people)
        for row in rows.values():
            row["key"] = _key(row["cells"])
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        for row in rows.values():
            self.session.execute(
                insert(Publication).values(row).on_conflict_do_nothing(index_elements=["key"])
            )
        self._audit_withheld(rows.values())
        self._new = []

    def _audit_withheld(self, rows: Iterable[dict[str, Any]]) -> None:
        """One audit entry per unit and rule for what was withheld: it names the rule, the
        week and the unit, never the figures it was weighed against."""
        weeks: dict[tuple[str, str], set[str]] = defaultdict(set)
        rounds: dict[tuple[str, str], set[int]] = defaultdict(set)
        for row in rows:
            if not row["shown"] and row["reason"]:
                label = (str(row["path"]), str(row["reason"]))
                weeks[label].add(str(row["week"]))
                for cells in row["cells"]:
                    rounds[label].update(rounds_of(cells))
        for (path, rule), seen in sorted(weeks.items()):
            # A decision of the system's, not a person's request refused: the audit list's
            # REFUSED stays for refused access.
            self.session.add(
                audit_entry(
                    None,
                    "disclosure.withheld",
                    path,
                    allowed=True,
                    rule=rule,
                    weeks=sorted(seen),
                    rounds=sorted(rounds[(path, rule)])[:AUDITED_ROUNDS],
                )
            )


def round_ledger(session: Session, pulse_round: PulseRound, tz: dt.tzinfo) -> Ledger:
    """The ledger around a closed round, at the round's own threshold."""
    when = pulse_round.closed_at or pulse_round.closes_at
    return Ledger(session, pulse_round.min_group_size, since=when, until=when, tz=tz)


def round_figures(
    session: Session,
    pulse_round: PulseRound,
    figures: Iterable[Collection[str]],
    *,
    path: str,
    tz: dt.tzinfo,
) -> list[bool]:
    """Decide figures of one closed round (each a set of its cells); recorded at once."""
    ledger = round_ledger(session, pulse_round, tz)
    week = round_week(pulse_round.closed_at or pulse_round.closes_at, tz)
    verdicts = [ledger.decide(path, cells, week=week).shown for cells in figures]
    ledger.flush()
    return verdicts


def decided_before(session: Session, cells: Collection[str]) -> bool | None:
    """Whether the figure over ``cells`` was shown (None: never decided)."""
    shown = session.scalar(select(Publication.shown).where(Publication.key == _key([cells])))
    return None if shown is None else bool(shown)


def cells_by_round(rounds: Iterable[int], question_ids: Collection[str]) -> list[str]:
    return [cell(r, q) for r in rounds for q in question_ids]


def rounds_of(cells: Iterable[str]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for c in cells:
        rid, qid = c.split(":", 1)
        out[int(rid)].append(qid)
    return out
