"""Over the local chat: a closed round's guide reaches the unit's leader in their DM; one click
posts it to the unit's channel, once; no one else may post it; every post is audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from flows.dialogue import send_dialogue_guides
from storage.models import AuditEntry
from tests.fake_platform import FakeChat, fake_chat
from tests.test_digest_data import Org, weeks_ago

ANSWERS = {
    "trust_vertical.1": [5, 5, 5, 5, 4, 5],
    "bonding.1": [4] * 6,
    "justice_conflicts.1": [2] * 6,
    "rc_timely.1": [1] * 6,
}


async def _texts(chat: FakeChat, member: int, conversation: str) -> list[str]:
    return [m.text for m in await chat.messages(member, conversation)]


async def test_guide_to_leader_then_posted_to_channel_with_one_click(db_url: str) -> None:
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            org = Org(s)
            unit = org.unit("K", members=8)
            leader = org.leader("K", "Lene Leder")
            member = org.members["K"][0]
            r = org.round("K", weeks_ago(0), ANSWERS)
            unit_id, leader_id, member_id, round_id = unit.id, leader.id, member.id, r.id
        now = weeks_ago(0) + dt.timedelta(hours=1)
        for _ in range(2):  # the job runs every tick; the leader gets the guide once
            send_dialogue_guides(chat.bot.db, chat.bot.settings, now)
        await chat.deliver()
        [dm] = await chat.dm(leader_id)
        assert "Dialogguide til næste teammøde: K" in dm.text
        assert "Tillid mellem ledelse og medarbejdere" in dm.text
        assert await chat.dm(member_id) == []
        [post] = dm.actions

        # A member who is not the unit's leader cannot post it (the packed data is no key).
        refused = await chat.click(member_id, post)
        assert refused.notice is not None and "Tillid" not in refused.notice.text
        await chat.deliver()
        channel = f"unit:{unit_id}"
        assert await _texts(chat, leader_id, channel) == []

        for _ in range(2):
            reply = await chat.click(leader_id, post, message_id=dm.id)
            assert "Guiden er delt i kanalen for K" in reply.notice.text
        await chat.deliver()
        [shown] = await _texts(chat, member_id, channel)
        assert "Det kan vi arbejde med" in shown and "Kommunikation i rette tid" in shown
        with chat.bot.db.session() as s:
            audit = [
                (a.actor_id, a.allowed)
                for a in s.scalars(
                    select(AuditEntry).where(
                        AuditEntry.action == "dialogue.post",
                        AuditEntry.subject == f"round:{round_id}",
                    )
                )
            ]
        assert sorted(audit) == sorted([(member_id, False), (leader_id, True), (leader_id, True)])
