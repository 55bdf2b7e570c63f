"""Shared worlds for the flow tests: the demo municipality, its agenda meeting and its pulse
round in Hjemmeplejen Nord, built through the real CLI so every test starts the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app.wiring import Bot, build
from bot.core.config import Settings
from flows.schedule import next_working_day
from storage.db import Database
from storage.models import Committee, Member, Membership, Unit
from tests.cli import cli

TZ = ZoneInfo("Europe/Copenhagen")
SOCIAL = "MED Social og Sundhed"
NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"


class Org:
    """Ids of the demo municipality's people and units, looked up by name."""

    def __init__(self, db_url: str) -> None:
        db = Database(db_url)
        with db.session() as s:
            self.people = {m.name: m.id for m in s.scalars(select(Member))}
            self.emails = {m.id: m.email or "" for m in s.scalars(select(Member))}
            self.units = {u.path: u.id for u in s.scalars(select(Unit))}
            self.committees = {c.name: c.id for c in s.scalars(select(Committee))}
        db.dispose()

    def __getitem__(self, name: str) -> int:
        return self.people[name]

    def unit(self, path: str) -> int:
        return self.units[path]


def set_meeting(db_url: str, starts: dt.datetime, place: str = "Mødelokale 1") -> None:
    code, out = cli(
        db_url,
        "meeting",
        "add",
        "--committee",
        SOCIAL,
        "--date",
        starts.strftime("%Y-%m-%dT%H:%M"),
        "--place",
        place,
    )
    assert code == 0, out


def meeting_day(days: int = 30) -> dt.datetime:
    """A working day about `days` ahead, 13:00 (meetings on holidays need a confirmation)."""
    day = next_working_day((dt.datetime.now(TZ) + dt.timedelta(days=days)).date())
    return dt.datetime.combine(day, dt.time(13, 0), tzinfo=TZ)


def agenda_demo(db_url: str) -> Iterator[Org]:
    """The demo municipality with a meeting of MED Social og Sundhed about a month ahead.
    A module makes it its fixture: `demo = pytest.fixture(agenda_demo, name="demo")`."""
    assert cli(db_url, "demo", "--no-history")[0] == 0
    set_meeting(db_url, meeting_day())
    yield Org(db_url)


def nord_members(db_url: str) -> tuple[int, list[int]]:
    """Hjemmeplejen Nord's unit id and its members' ids, in id order."""
    db = Database(db_url)
    with db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.path == NORD)).one()
        ids = list(
            s.scalars(
                select(Membership.member_id)
                .where(Membership.unit_id == unit.id)
                .order_by(Membership.member_id)
            )
        )
        unit_id = unit.id
    db.dispose()
    return unit_id, ids


def nord_round(db_url: str) -> list[int]:
    """The demo with a pulse round just opened in Hjemmeplejen Nord; the members asked."""
    cli(db_url, "demo", "--no-history")
    cli(db_url, "pulse", "run-now", "--unit", NORD)
    return nord_members(db_url)[1]


def demo_bot(db_url: str) -> Iterator[Bot]:
    """The demo municipality and the bot as `medpuls serve` builds it, for tests that hand
    events to its core directly: `bot = pytest.fixture(demo_bot, name="bot")`."""
    assert cli(db_url, "demo", "--no-history")[0] == 0
    b = build(Settings(DATABASE_URL=db_url))
    yield b
    b.db.dispose()
