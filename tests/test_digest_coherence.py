"""A digest never contradicts the channel summary of the same week (issue 17, point 5); the top
unit's digest never points at a unit above it; `medpuls digest send-now` says what it did, and
`--again` sends exactly one updated digest per call."""

from __future__ import annotations

import re

import time_machine
from sqlalchemy import func, select

from bot.core.config import Settings
from bot.core.messages import Message
from flows.digest import queue_leader_digests
from storage.db import Database
from storage.models import OutboxMessage
from tests.cli import cli
from tests.fake_platform import plain
from tests.pulse_world import MONDAY, World, day
from tests.test_digest_data import Org, weeks_ago

Q = "trust_vertical.1"
NORD = "Kommune/Social og Sundhed/Nord"
SYD = "Kommune/Social og Sundhed/Syd"


def _text(row: OutboxMessage) -> str:
    return plain(Message.model_validate(row.payload))


def test_digest_shows_what_the_channel_summary_showed(db_url: str) -> None:
    db = Database(db_url)
    settings = Settings(DATABASE_URL=db_url)
    with db.session() as s:
        world = World(s, settings)
        world.unit("Kommune")
        world.unit("Kommune/Social og Sundhed")
        world.unit(NORD, members=10)
        world.unit(SYD, members=4)
        seven = [4] * 7 + [None] * 3
        nord = world.round(NORD, day(1, 1), {Q: seven}, hours=20)
        world.round(SYD, day(1, 1), {Q: [2, 2, 2, 2]}, hours=20)
        # The leaders join after the round: they are not among the people asked.
        leaders = {
            path: world.member(path, name=f"Leder {i}", roles="leader").id
            for i, path in enumerate(("Kommune", NORD, SYD))
        }
        summary = s.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"pulse:{nord.id}:summary")
        )
        assert summary is not None and "7 af 10 svarede" in _text(summary)
        with time_machine.travel(MONDAY, tick=False):
            queue_leader_digests(s, settings, MONDAY, due_only=False, image_ids=lambda: "c1")
        digests = {
            int(r.address): _text(r)
            for r in s.scalars(
                select(OutboxMessage).where(OutboxMessage.purpose == "digest.leader")
            )
        }
    nord_text = digests[leaders[NORD]]
    # The summary's figure, not "too few" (the issue: both in one digest for one unit).
    assert "7 af 10 svarede" in nord_text
    assert "viser ingen tal for Nord" not in nord_text
    # Syd's 4 never appear alone; its digest says where they count, naming the parent.
    syd_text = digests[leaders[SYD]]
    assert "4 af 4" not in " ".join(digests.values())
    assert "Svarene tæller med i tallene for Social og Sundhed" in syd_text
    # Nobody is told about a unit above the top.
    for text in digests.values():
        assert "ovenover" not in text
    db.dispose()


def test_top_unit_never_says_the_unit_above(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("Lille Kommune", members=3, leader="Karen Lund")
        org.round("Lille Kommune", weeks_ago(1), {Q: [4, 4, 4]})
    settings = Settings(DATABASE_URL=db_url)
    with time_machine.travel(MONDAY, tick=False), db.session() as s:
        queue_leader_digests(s, settings, MONDAY, due_only=False, image_ids=lambda: "c1")
        [row] = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "digest.leader"))
        text = _text(row)
    assert "ovenover" not in text and "tallene for" not in text
    assert "Svarene tæller med i tal over flere uger" in text
    db.dispose()


def test_send_now_says_who_already_had_it_and_again_sends_one_more(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=5, leader="Karen Lund")
        org.unit("K/A", members=5, leader="Anne A")
    code, out = cli(db_url, "digest", "send-now")
    assert code == 0, out
    assert "Ugens overblik er sat i kø til 2 ledere." in out
    code, out = cli(db_url, "digest", "send-now")
    assert code == 0, out
    assert "Ugens overblik er sat i kø" not in out
    assert re.search(
        r"2 ledere har allerede ugens overblik i kø \(siden \w+dag kl\. \d\d:\d\d\)", out
    )
    assert "`--again` sender et opdateret" in out
    with db.session() as s:
        s.execute(OutboxMessage.__table__.update().values(status="sent", sent_at=func.now()))
    code, out = cli(db_url, "digest", "send-now")
    assert re.search(r"2 ledere har allerede fået ugens overblik \w+dag kl\. \d\d:\d\d;", out)
    for n in (1, 2):
        code, out = cli(db_url, "digest", "send-now", "--again")
        assert code == 0, out
        assert "Et opdateret overblik er sat i kø til 2 ledere." in out
        with db.session() as s:
            keys = s.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.purpose == "digest.leader")
            ).all()
        assert len(keys) == 2 + 2 * n
        assert sum(k.endswith(f":again{n}") for k in keys) == 2
    code, out = cli(db_url, "digest", "send-now", "--bogus")
    assert code != 0 and "Traceback" not in out
    db.dispose()
