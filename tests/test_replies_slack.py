"""On Slack (the fake Web API at the network boundary): `/med svar`, the reply modal, the same
DM to everyone asked, the author alone opening it, the author's answer reaching the leader; and
the rows the conversation adds set the author apart from nobody."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.secret_key import generate_secret_key
from flows.replies import seal_author
from storage.models import Answer, Member
from tests.fakes.slack_api import Call, FakeSlack, SlackWorkspace, slash_command, view_submission
from tests.slack_demo import buttons, click, everyone_on_slack, fake_slack, slack_id
from tests.test_digest_data import Org, weeks_ago
from tests.test_replies_chat import ANSWER, COMMENT, REPLY, assert_unlinked, dump, new_rows

ANSWERS = {"bonding.1": [4] * 11, "rc_timely.1": [2] * 11}


fake = pytest.fixture(fake_slack, name="fake")


def posts_to(fake: FakeSlack, member: int) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == slack_id(member)]


def text(call: Call) -> str:
    return json.dumps(call.blocks(), ensure_ascii=False)


def button(call: Call, prefix: str) -> dict[str, Any]:
    [found] = [b for b in buttons(call.blocks()) if b["value"].startswith(prefix)]
    return found


async def test_a_reply_and_an_answer_over_slack(db_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(db_url, fake, MEDPULS_SECRET_KEY=generate_secret_key()) as ws:
        with ws.bot.db.session() as s:
            org = Org(s)
            org.unit("K", members=11)
            leader = org.leader("K", "Lene Leder")
            people = list(org.members["K"])
            org.round("K", weeks_ago(0), ANSWERS, comments=[COMMENT])
            [row] = s.scalars(select(Answer).where(Answer.comment == COMMENT)).all()
            author = people[3]
            # As the comment form leaves it (tests/test_replies_chat.py drives the form itself).
            row.reply_capsule = seal_author(ws.bot.settings, author.id)
            s.flush()
            s.expunge_all()  # plain objects for the test; the capsule is flushed above
        others = [p for p in people if p.id != author.id]
        everyone_on_slack(ws)
        before = dump(ws)

        await ws.command(slash_command(slack_id(leader.id), "svar", "D0LEADER"))
        await ws.drain()
        listing = posts_to(fake, leader.id)[-1]
        assert COMMENT in text(listing)
        await ws.interact(click(leader, listing, button(listing, "replies.start|")))
        await ws.drain()
        [opened] = fake.calls_to("views.open")
        assert "Anonymt svar" in json.dumps(opened.view(), ensure_ascii=False)
        await ws.interact(view_submission(slack_id(leader.id), opened, {"text": REPLY}))
        await ws.drain()
        await ws.deliver()

        notices = {p.id: posts_to(fake, p.id)[-1] for p in people}
        assert len({json.dumps(n.blocks()) for n in notices.values()}) == 1
        assert REPLY not in text(notices[author.id])
        # Someone else clicks: not theirs. The author clicks: the reply, privately.
        await ws.interact(
            click(others[0], notices[others[0].id], button(notices[others[0].id], "replies.read|"))
        )
        await ws.drain()
        assert "ikke er din" in text(posts_to(fake, others[0].id)[-1])
        await ws.interact(
            click(author, notices[author.id], button(notices[author.id], "replies.read|"))
        )
        await ws.drain()
        view = posts_to(fake, author.id)[-1]
        assert REPLY in text(view) and COMMENT in text(view)

        await ws.interact(click(author, view, button(view, "replies.answer_open|")))
        await ws.drain()
        opened = fake.calls_to("views.open")[-1]
        await ws.interact(view_submission(slack_id(author.id), opened, {"text": ANSWER}))
        await ws.drain()
        await ws.deliver()
        to_leader = posts_to(fake, leader.id)[-1]
        assert ANSWER in text(to_leader) and "Forfatteren til kommentaren har svaret" in text(
            to_leader
        )
        assert author.name not in text(to_leader)

        after = dump(ws)
        with ws.bot.db.session() as s:
            capsule = s.scalars(select(Answer.reply_capsule).where(Answer.comment == COMMENT)).one()
            assert s.get(Member, author.id) is not None
        assert capsule is not None
        secrets = [COMMENT, REPLY, ANSWER, capsule.hex()]
        # others[0] clicked too (and was told it was not theirs): the author is one of the rest.
        added = new_rows(before, after)
        assert_unlinked(added, author.id, [p.id for p in others[1:]], secrets)
        # Rate limits (PostgreSQL) keep a slot per conversation: the broadcast touched every
        # asked member's alike, and nothing touched the author's alone.
        scopes = {r["scope"] for r in added.get("rate_buckets", [])}
        touched = {p.id for p in people if any(str(p.email) in sc for sc in scopes)}
        assert touched in (set(), {p.id for p in people})
