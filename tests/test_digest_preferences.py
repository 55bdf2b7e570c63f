"""A leader pauses, resumes and moves their digest by writing to the bot in the local chat."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import DigestPreference
from tests.fake_platform import fake_chat
from tests.test_digest_data import Org


async def test_pause_resume_and_move_the_digest(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=1)
        leader = org.leader("K", "Karen Lund").id
        member = org.members["K"][0].id
    async with fake_chat(db_url) as chat:
        reply = await chat.say(leader, "digest pause")
        assert "sat på pause" in reply.notice.text
        reply = await chat.say(leader, "digest tid fre 14:30")
        assert "fredag kl. 14:30" in reply.notice.text
        reply = await chat.say(member, "digest pause")
        assert "ikke registreret som leder" in reply.notice.text
    with db.session() as s:
        [pref] = s.scalars(select(DigestPreference)).all()
        assert (pref.member_id, pref.weekday, pref.local_time, pref.paused) == (
            leader,
            4,
            "14:30",
            False,
        )
    db.dispose()
