"""A small organisation driven through the real flows, for the ledger's attack and auditor tests.

Rounds are opened with `open_round`, answered with `record_answer` (comments ride on the first
answer, as the comment form does), closed with `close_round` (which posts the channel summary);
the other publishing paths are called as the scheduler and the chat commands call them: digests
(`load_picture`), results views (`results_view`), pooled comments, the dialogue guide and the
Bring to MED evidence. Nothing of our own is mocked; the database is the test's (SQLite or
PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.outbox import Outgoing
from flows.access import ResultsView, results_view
from flows.custom_questions import add_custom_question
from flows.digest import Picture, load_picture
from flows.pulse import (
    answers_key,
    close_round,
    open_round,
    record_answer,
    respondent_key,
    sync_bank,
)
from flows.summary import pooled_comment_messages
from storage.db import Database
from storage.models import (
    Answer,
    Committee,
    Member,
    Membership,
    Participation,
    Publication,
    PulseRound,
    Unit,
)
from storage.queries import unit_by_path

TZ = dt.timezone(dt.timedelta(hours=1))  # Copenhagen in winter; the tests' weeks are winter
# Monday 2 March 2026 08:00 local.
MONDAY = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def day(weeks_back: int, weekday: int, hour: int = 9) -> dt.datetime:
    """A day `weeks_back` weeks before MONDAY's week (0 = Monday), at `hour` UTC."""
    monday = MONDAY.replace(hour=hour) - dt.timedelta(weeks=weeks_back)
    return monday + dt.timedelta(days=weekday)


@contextmanager
def world_at(db_url: str) -> Iterator[World]:
    """A World in one session of the database at `db_url`, committed as the block ends."""
    with Database(db_url).session() as s:
        yield World(s, Settings(DATABASE_URL=db_url))


class World:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.key = answers_key(settings)
        self.members: dict[str, list[Member]] = {}
        self._next = 0
        sync_bank(session)

    # -- organisation ----------------------------------------------------------------------

    def unit(self, path: str, members: int = 0) -> Unit:
        parent = unit_by_path(self.session, path.rsplit("/", 1)[0]) if "/" in path else None
        unit = Unit(path=path, name=path.rsplit("/", 1)[-1], parent=parent)
        self.session.add(unit)
        self.session.flush()
        self.members[path] = [self.member(path) for _ in range(members)]
        return unit

    def member(self, path: str, name: str | None = None, roles: str = "member") -> Member:
        self._next += 1
        member = Member(name=name or f"Ansat Nummer{self._next}", email=f"p{self._next}@x.dk")
        self.session.add(member)
        self.session.flush()
        unit = unit_by_path(self.session, path)
        assert unit is not None
        self.session.add(Membership(member_id=member.id, unit_id=unit.id, roles=roles))
        self.session.flush()
        return member

    def move(self, member: Member, to: str) -> None:
        """A membership change: the member leaves every unit and joins `to`."""
        for m in self.session.scalars(select(Membership).where(Membership.member_id == member.id)):
            self.session.delete(m)
        self.session.flush()
        unit = unit_by_path(self.session, to)
        assert unit is not None
        self.session.add(Membership(member_id=member.id, unit_id=unit.id))
        for people in self.members.values():
            if member in people:
                people.remove(member)
        self.members.setdefault(to, []).append(member)
        self.session.flush()

    def committee(self, path: str, name: str) -> Committee:
        unit = unit_by_path(self.session, path)
        assert unit is not None
        committee = Committee(name=name, unit_id=unit.id)
        self.session.add(committee)
        self.session.flush()
        return committee

    def committee_question(self, committee: Committee, qid: str, dimension: str) -> str:
        text = {"da": "lav", "en": "low"}
        add_custom_question(
            self.session,
            committee,
            id=qid,
            da=f"Spørgsmål {qid}?",
            en=f"Question {qid}?",
            low=text,
            high={"da": "høj", "en": "high"},
            dimension=dimension,
        )
        return qid

    # -- rounds ----------------------------------------------------------------------------

    def round(
        self,
        path: str,
        opened: dt.datetime,
        answers: Mapping[str, Sequence[int | None]],
        *,
        comments: Mapping[int, str] | None = None,
        hours: int = 48,
        min_group_size: int = 5,
        min_comment_group_size: int = 5,
        close: bool = True,
    ) -> PulseRound:
        """Open a round asking the unit's members; member i answers answers[q][i] (None or
        missing: not that question); comments[i] rides on member i's first answer."""
        unit = unit_by_path(self.session, path)
        assert unit is not None
        opened_ = open_round(
            self.session,
            unit,
            list(answers),
            now=opened,
            closes_at=opened + dt.timedelta(hours=hours),
            min_group_size=min_group_size,
            min_comment_group_size=min_comment_group_size,
            default_language="da",
            tz=TZ,
        )
        pulse_round = self.session.get(PulseRound, opened_.round_id)
        assert pulse_round is not None
        people = self.members.get(path, [])
        for i, member in enumerate(people):
            participation = self.session.get(Participation, (pulse_round.id, member.id))
            if participation is None:
                continue
            first: str | None = None
            for qid, values in answers.items():
                value = values[i] if i < len(values) else None
                if value is None:
                    continue
                record_answer(self.session, pulse_round, participation, qid, value, key=self.key)
                first = first or qid
            if comments and i in comments and first is not None:
                self.session.flush()
                assert pulse_round.nonce is not None
                rkey = respondent_key(self.key, pulse_round.nonce, member.id)
                answer = self.session.get(Answer, (pulse_round.id, first, rkey))
                assert answer is not None
                answer.comment = comments[i]
        self.session.flush()
        if close:
            self.close(pulse_round, opened + dt.timedelta(hours=hours))
        return pulse_round

    def close(self, pulse_round: PulseRound, when: dt.datetime) -> None:
        close_round(self.session, pulse_round, now=when, default_language="da", key=self.key)
        self.session.flush()

    # -- the other publishing paths ----------------------------------------------------------

    def digest(self, now: dt.datetime = MONDAY) -> Picture:
        picture = load_picture(self.session, self.settings, now)
        self.session.flush()
        return picture

    def results(self, path: str) -> ResultsView | None:
        unit = unit_by_path(self.session, path)
        assert unit is not None
        view = results_view(self.session, unit)
        self.session.flush()
        return view

    def pooled(self, now: dt.datetime) -> list[Outgoing]:
        out = pooled_comment_messages(self.session, self.settings, now)
        self.session.flush()
        return out

    # -- what was published ------------------------------------------------------------------

    def publications(self) -> list[Publication]:
        return list(self.session.scalars(select(Publication).order_by(Publication.id)))
