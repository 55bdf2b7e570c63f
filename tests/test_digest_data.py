"""Fixed data for the digest and summary tests: an organisation and closed rounds, written
straight into the real database the way close_round leaves them (results, participation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.orm import Session

from bot.core.config import Settings
from flows.pulse import sync_bank
from storage.db import Database
from storage.models import (
    Answer,
    Member,
    Membership,
    Participation,
    PulseRound,
    RoundQuestion,
    RoundResult,
    Unit,
)

MONDAY = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)  # Monday 08:00 in Copenhagen


class Org:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.units: dict[str, Unit] = {}
        self.members: dict[str, list[Member]] = {}
        self._next = 0
        sync_bank(session)

    def unit(self, path: str, members: int = 0, leader: str | None = None, **columns: str) -> Unit:
        """The unit at `path` (under the unit at its parent path, if any), with `members`
        members, a `leader` if named, and other columns (e.g. its channels) as given."""
        parent = self.units.get(path.rsplit("/", 1)[0]) if "/" in path else None
        unit = Unit(path=path, name=path.rsplit("/", 1)[-1], parent=parent, **columns)
        self.session.add(unit)
        self.session.flush()
        self.units[path] = unit
        self.members[path] = [self.member(unit, f"Ansat {path[-6:]} {i}") for i in range(members)]
        if leader:
            self.member(unit, leader, roles="leader")
        return unit

    def member(
        self, unit: Unit, name: str, roles: str = "member", language: str | None = None
    ) -> Member:
        self._next += 1
        member = Member(name=name, email=f"m{self._next}@eksempel.dk", language=language)
        self.session.add(member)
        self.session.flush()
        self.session.add(Membership(member_id=member.id, unit_id=unit.id, roles=roles))
        return member

    def leader(self, path: str, name: str, language: str | None = None) -> Member:
        return self.member(self.units[path], name, roles="leader", language=language)

    def round(
        self,
        path: str,
        closed_at: dt.datetime,
        answers: dict[str, Sequence[int]],
        *,
        comments: Sequence[str] = (),
        hidden: Sequence[str] = (),
        min_group_size: int = 5,
        min_comment_group_size: int = 5,
        period: str | None = None,
    ) -> PulseRound:
        unit = self.units[path]
        r = PulseRound(
            unit_id=unit.id,
            period=period,
            opened_at=closed_at - dt.timedelta(days=3),
            closes_at=closed_at,
            closed_at=closed_at,
            nonce=None,
            min_group_size=min_group_size,
            min_comment_group_size=min_comment_group_size,
        )
        for pos, qid in enumerate(answers):
            r.questions.append(RoundQuestion(question_id=qid, position=pos))
        self.session.add(r)
        self.session.flush()
        n = max((len(v) for v in answers.values()), default=0)
        for i, m in enumerate(self.members[path]):
            self.session.add(Participation(round_id=r.id, member_id=m.id, answered=i < n))
        for qid, values in answers.items():
            self.session.add(
                RoundResult(
                    round_id=r.id,
                    question_id=qid,
                    dimension=qid.split(".")[0],
                    respondents=len(values),
                    value_sum=sum(values),
                    favourable=sum(v >= 4 for v in values),
                    neutral=sum(v == 3 for v in values),
                    unfavourable=sum(v <= 2 for v in values),
                )
            )
            for i, v in enumerate(values):
                text = None
                if qid == next(iter(answers)):
                    texts = [*comments, *hidden]
                    text = texts[i] if i < len(texts) else None
                self.session.add(
                    Answer(
                        round_id=r.id,
                        question_id=qid,
                        respondent_key=f"{r.id}-{qid}-{i}",
                        value=v,
                        comment=text,
                        hidden=text is not None and text in hidden,
                    )
                )
        self.session.flush()
        return r


@contextmanager
def org_at(db_url: str) -> Iterator[tuple[Org, Settings]]:
    """An Org in one session of the database at `db_url` (committed as the block ends), and
    the settings the flows read it with."""
    with Database(db_url).session() as s:
        yield Org(s), Settings(DATABASE_URL=db_url)


def all_fours(round_id: int, question_id: str, dimension: str, n: int) -> RoundResult:
    """The result of `n` answers of 4 (favourable) to one question, as close_round writes it."""
    return RoundResult(
        round_id=round_id,
        question_id=question_id,
        dimension=dimension,
        respondents=n,
        value_sum=4 * n,
        favourable=n,
        neutral=0,
        unfavourable=0,
    )


def weeks_ago(n: int, now: dt.datetime = MONDAY) -> dt.datetime:
    """Thursday 10:00 UTC of the week `n` weeks before `now`'s week."""
    return now - dt.timedelta(weeks=n) + dt.timedelta(days=3, hours=3)
