"""A digest never shows a figure the disclosure gate withheld, nor one derivable from others."""

from __future__ import annotations

import re

import time_machine
from sqlalchemy import select

from bot.core.config import Settings
from bot.core.messages import Message
from flows.digest import queue_leader_digests
from storage.db import Database
from storage.models import AuditEntry, OutboxMessage
from tests.fake_platform import plain
from tests.test_digest_data import MONDAY, Org, weeks_ago

Q = "trust_vertical.1"


def _digests(db: Database) -> dict[int, str]:
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "digest.leader"))
        return {int(o.address): plain(Message.model_validate(o.payload)) for o in rows}


def test_four_and_parent_minus_six_never_appear(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("Kommune")
        org.unit("Kommune/Social")
        org.unit("Kommune/Social/Lille", members=4)
        org.unit("Kommune/Social/Stor", members=6)
        social = org.leader("Kommune/Social", "Inger Holm")
        small = org.leader("Kommune/Social/Lille", "Lise Lille")
        big = org.leader("Kommune/Social/Stor", "Svend Stor")
        # The small unit all answer 1 (score 0), the big one all 5 (score 100): together 60.
        org.round("Kommune/Social/Lille", weeks_ago(1), {Q: [1, 1, 1, 1]})
        org.round("Kommune/Social/Stor", weeks_ago(1), {Q: [5] * 6})
        ids = social.id, small.id, big.id
    settings = Settings(DATABASE_URL=db_url)
    with time_machine.travel(MONDAY, tick=False), db.session() as s:
        queued = queue_leader_digests(s, settings, MONDAY, due_only=False, image_ids=lambda: "c1")
        assert queued == 3
    texts = _digests(db)
    social_text, small_text, big_text = (texts[i] for i in ids)
    everything = " ".join(texts.values())
    # Shown: the parent as a whole (10 people, score 60), with the note that both are folded.
    assert "10 af 10 svarede" in social_text
    assert re.search(r"Tillid mellem ledelse og medarbejdere\s+60", social_text)
    assert "Lille, Stor: for få svar til at vise alene" in social_text
    # Never shown: the small unit's 4, the big one's 6 (= parent minus the small unit), or
    # either unit's own score.
    for figure in ("4 af 4", "6 af 6", "4 af", "6 af"):
        assert figure not in everything
    assert not re.search(r"medarbejdere\s+(0|100)\b", everything)
    assert not re.search(r"(?<![\d,-])(0|100) ·", everything)
    assert "viser ingen tal for Lille alene" in small_text
    assert "viser ingen tal for Stor alene" in big_text
    with db.session() as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "view.digest")).all()
        assert sorted(a.subject for a in audited) == [
            "Kommune/Social",
            "Kommune/Social/Lille",
            "Kommune/Social/Stor",
        ]
        assert {a.actor_id for a in audited} == set(ids)
    db.dispose()


def test_this_week_minus_last_week_is_not_derivable(db_url: str) -> None:
    # Last week both children were shown; this week one has 3: showing the parent now with the
    # other child would give the 3 away by subtracting last week's figure.
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K")
        org.unit("K/A", members=10)
        org.unit("K/B", members=8)
        top = org.leader("K", "Karen Lund")
        org.round("K/A", weeks_ago(2), {Q: [4] * 10})
        org.round("K/B", weeks_ago(2), {Q: [2] * 8})
        org.round("K/A", weeks_ago(1), {Q: [4] * 10})
        org.round("K/B", weeks_ago(1), {Q: [1, 1, 1]})
        top_id = top.id
    settings = Settings(DATABASE_URL=db_url)
    with db.session() as s:
        queue_leader_digests(s, settings, MONDAY, due_only=False, image_ids=lambda: "c1")
    text = _digests(db)[top_id]
    assert "13 af 18" not in text and "3 af 8" not in text
    assert "viser ingen tal for K alene" in text
    db.dispose()
