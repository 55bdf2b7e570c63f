"""500 leaders queued in one go; one leader's broken data does not stop the others; a doubled
tick queues nothing twice; `medpuls digest send-now` queues and says how many."""

from __future__ import annotations

import time_machine
from sqlalchemy import func, insert, select

from bot.core.config import Settings
from flows.digest import send_due_digests
from storage.db import Database
from storage.models import (
    AuditEntry,
    DigestPreference,
    Member,
    Membership,
    OutboxMessage,
    StoredImage,
    Unit,
)
from tests.cli import cli
from tests.test_digest_data import MONDAY, Org, weeks_ago

Q = "justice_voice.1"


def _five_hundred_leaders(db: Database) -> int:
    """Returns the member id of the leader whose preference is broken."""
    with db.session() as s:
        org = Org(s)
        org.unit("Kommune")
        for i in range(3):
            org.unit(f"Kommune/Med data {i}", members=6)
            org.round(f"Kommune/Med data {i}", weeks_ago(1), {Q: [4, 4, 3, 5, 2, 4]})
        top = s.scalars(select(Unit).where(Unit.path == "Kommune")).one()
        s.execute(
            insert(Unit),
            [
                {"path": f"Kommune/Enhed {i}", "name": f"Enhed {i}", "parent_id": top.id}
                for i in range(497)
            ],
        )
        s.execute(
            insert(Member),
            [
                {"name": f"Leder {i}", "email": f"leder{i}@eksempel.dk", "language": "da"}
                for i in range(500)
            ],
        )
        units = s.scalars(select(Unit.id).where(Unit.path != "Kommune").order_by(Unit.id)).all()
        leaders = s.scalars(
            select(Member.id).where(Member.name.like("Leder %")).order_by(Member.id)
        ).all()
        s.add_all(
            Membership(member_id=m, unit_id=u, roles="leader")
            for m, u in zip(leaders, units, strict=True)
        )
        broken = leaders[42]
        s.add(DigestPreference(member_id=broken, weekday=0, local_time="25:99", paused=False))
        return broken


def test_500_leaders_one_broken_the_others_queued_once(db_url: str) -> None:
    db = Database(db_url)
    broken = _five_hundred_leaders(db)
    settings = Settings(DATABASE_URL=db_url)
    with time_machine.travel(MONDAY, tick=False):
        send_due_digests(db, settings, MONDAY)
        send_due_digests(db, settings, MONDAY)  # a doubled tick
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "digest.leader"))
        addressed = [int(o.address) for o in rows]
        assert len(addressed) == len(set(addressed)) == 499
        assert broken not in addressed
        assert s.scalar(select(func.count()).select_from(StoredImage)) == 3
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "view.digest")
            )
            == 499
        )
    db.dispose()


def test_not_due_before_the_leaders_time_and_paused_leaders_get_nothing(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=5)
        org.leader("K", "Tidlig")
        late = org.leader("K", "Sen")
        paused = org.leader("K", "Pause")
        s.add(DigestPreference(member_id=late.id, weekday=4, local_time="14:00"))
        s.add(DigestPreference(member_id=paused.id, paused=True))
        late_id = late.id
    settings = Settings(DATABASE_URL=db_url)
    send_due_digests(db, settings, MONDAY)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    friday = MONDAY.replace(day=6, hour=13)
    send_due_digests(db, settings, friday)
    with db.session() as s:
        addressed = s.scalars(select(OutboxMessage.address)).all()
        assert sorted(addressed)[-1] == str(late_id) and len(addressed) == 2
    db.dispose()


def test_send_now_queues_this_weeks_digests_and_says_how_many(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=5, leader="Karen Lund")
        org.unit("K/A", members=5, leader="Anne A")
    code, out = cli(db_url, "digest", "send-now")
    assert code == 0, out
    assert out.strip() == "Ugens overblik er sat i kø til 2 ledere."
    code, out = cli(db_url, "digest", "send-now")
    # Nothing queued twice; what happened is said (tests/test_digest_coherence.py has more).
    assert "sat i kø til" not in out and "2 ledere har allerede" in out
    db.dispose()
