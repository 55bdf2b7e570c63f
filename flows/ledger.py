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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.derivable import Span, people_lower_bound
from flows.disclosure import BELOW_THRESHOLD, COMPLEMENTARY
from storage.models import Participation, Publication, PulseRound, RoundResult

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


def _key(cells: Collection[str]) -> str:
    return hashlib.sha256("\n".join(sorted(cells)).encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    shown: bool
    people: int
    reason: str | None = None


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
        round_unit: dict[int, int] = {}
        closed = (PulseRound.closed_at.is_not(None), PulseRound.closed_at >= lo)
        in_range = (*closed, PulseRound.closed_at < hi)
        for rid, unit_id in session.execute(
            select(PulseRound.id, PulseRound.unit_id).where(*in_range)
        ):
            round_unit[int(rid)] = int(unit_id)
        for rid, qid, n in session.execute(
            select(RoundResult.round_id, RoundResult.question_id, RoundResult.respondents)
            .join(PulseRound, PulseRound.id == RoundResult.round_id)
            .where(*in_range)
        ):
            self.size[cell(int(rid), qid)] = int(n)
        for rid, n in session.execute(
            select(Participation.round_id, func.count())
            .join(PulseRound, PulseRound.id == Participation.round_id)
            .where(*in_range, Participation.answered.is_(True))
            .group_by(Participation.round_id)
        ):
            self.size[turnout_cell(int(rid))] = int(n)
        self.group = self._groups(round_unit)
        self.span = Span(self.size, self.group, min_size)
        self._decided: dict[str, Verdict] = {}
        prior = session.execute(
            select(
                Publication.key,
                Publication.cells,
                Publication.people,
                Publication.shown,
                Publication.reason,
            ).where(Publication.week.in_(sorted(set(weeks))))
        ).all()
        # Smallest first: a tree of figures then reduces to its difference regions cheaply.
        for key, cells, people, shown, reason in sorted(prior, key=lambda p: len(p[1])):
            self._decided[key] = Verdict(bool(shown), int(people), reason)
            if shown:
                self.span.learn(cells)
        self._new: list[Publication] = []

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
        for start in range(0, len(small), 500):
            for rid, member_id in self.session.execute(
                select(Participation.round_id, Participation.member_id).where(
                    Participation.round_id.in_(small[start : start + 500]),
                    Participation.answered.is_(True),
                )
            ):
                union(int(rid), first_of_member.setdefault(int(member_id), int(rid)))
        group: dict[str, str] = {}
        for c in self.size:
            rid = int(c.split(":", 1)[0])
            group[c] = f"g{find(rid)}"
        return group

    def people(self, cells: Iterable[str]) -> int:
        return people_lower_bound(cells, self.size, self.group)

    def decide(self, path: str, cells: Iterable[str], *, week: str) -> Verdict:
        """Whether the figure over ``cells`` may be shown; recorded either way."""
        cells = sorted(set(cells))
        key = _key(cells)
        if key in self._decided:
            return self._decided[key]
        people = self.people(cells)
        if people < self.min_size:
            verdict = Verdict(False, people, BELOW_THRESHOLD)
        elif self.span.admit(cells):
            verdict = Verdict(True, people)
        else:
            verdict = Verdict(False, people, COMPLEMENTARY)
        self._decided[key] = verdict
        self._new.append(
            Publication(
                key=key,
                week=week,
                path=path,
                cells=cells,
                people=people,
                shown=verdict.shown,
                reason=verdict.reason,
            )
        )
        return verdict

    def flush(self) -> None:
        """Write the new decisions (the caller's transaction commits them with what it shows)."""
        if not self._new:
            return
        keys = [p.key for p in self._new]
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            known.update(
                self.session.scalars(
                    select(Publication.key).where(Publication.key.in_(keys[start : start + 500]))
                )
            )
        self.session.add_all(p for p in self._new if p.key not in known)
        self.session.flush()
        self._new = []


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
    shown = session.scalar(select(Publication.shown).where(Publication.key == _key(cells)))
    return None if shown is None else bool(shown)


def cells_by_round(rounds: Iterable[int], question_ids: Collection[str]) -> list[str]:
    return [cell(r, q) for r in rounds for q in question_ids]


def rounds_of(cells: Iterable[str]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for c in cells:
        rid, qid = c.split(":", 1)
        out[int(rid)].append(qid)
    return out
