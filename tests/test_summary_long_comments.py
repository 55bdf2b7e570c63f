"""A round summary never posts more comments than fit a channel post; the rest is shown to
whoever asks, and only the comments its publication recorded at close (issue 16, point 12).

Anonymity: a comment added or changed after close, or one of a group too small to show, never
appears on demand, whatever the button's data says.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack.blocks import ACTION_PREFIX, button_element
from adapters.teams.cards import render_message as teams_card
from bot.core.i18n import translator
from bot.core.messages import Button
from bot.core.outbox import queue, to_unit_channel
from flows.summary import round_summary
from flows.summary_comments import ShowComments
from storage.models import Answer, Member, Membership, Participation, PulseRound, Unit, utcnow
from tests.fakes.slack_api import FakeSlack, SlackWorkspace
from tests.test_agenda_slack import NORD, NORD_CHANNEL, buttons, by_name, click, posts_to, setup

Q = "trust_vertical.1"
# 30 comments of ~500 characters: 15,000 in all, five Slack sections' worth.
ACTION_ID = f"{ACTION_PREFIX}1"
LONG = [f"KOMMENTAR-{i:02d} " + "vi har brug for mere tid til borgerne " * 13 for i in range(30)]


@pytest.fixture
async def slack() -> Any:
    async with FakeSlack() as api:
        yield api


def _closed_round(ws: SlackWorkspace, comments: list[str], people: int) -> int:
    """A closed round of the Nord unit: `people` answered, the first len(comments) commented."""
    with ws.bot.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.path == NORD)).one()
        members = s.scalars(
            select(Member.id).join(Membership).where(Membership.unit_id == unit.id)
        ).all()
        now = utcnow()
        r = PulseRound(
            unit_id=unit.id,
            opened_at=now.replace(microsecond=0) - dt.timedelta(days=3),
            closes_at=now,
            closed_at=now,
            min_group_size=5,
            min_comment_group_size=5,
        )
        s.add(r)
        s.flush()
        for i, member_id in enumerate(members):
            s.add(Participation(round_id=r.id, member_id=member_id, answered=i < people))
        for i in range(people):
            s.add(
                Answer(
                    round_id=r.id,
                    question_id=Q,
                    respondent_key=f"k{r.id}-{i}",
                    value=4,
                    comment=comments[i] if i < len(comments) else None,
                )
            )
        s.commit()
        return r.id


async def _post_summary(ws: SlackWorkspace, round_id: int) -> None:
    with ws.bot.db.session() as s:
        r = s.get(PulseRound, round_id)
        assert r is not None
        message = round_summary(s, r, translator("da"), shuffle=random.Random(1))
        queue(s, [to_unit_channel(r.unit_id, f"test-summary:{r.id}", message)])
        s.commit()
    await ws.deliver()


def _sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


async def test_slack_posts_what_fits_and_shows_only_the_recorded_comments_on_demand(
    db_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with SlackWorkspace(db_url, slack) as ws:
        setup(ws, tmp_path)
        round_id = _closed_round(ws, LONG, people=len(LONG))
        await _post_summary(ws, round_id)
        [post] = posts_to(slack, NORD_CHANNEL, "KOMMENTAR-")
        shown = [t for t in _sections(post.blocks()) if "KOMMENTAR-" in t]
        assert sum(len(t) for t in shown) <= 3000
        assert all(len(t) <= 3000 for t in _sections(post.blocks()))
        assert len(post.blocks()) < 50
        [more] = [b for b in buttons(post.blocks()) if "kommentarer" in b["text"]["text"].lower()]

        # After close: one comment changed, one added. Neither may ever appear.
        with ws.bot.db.session() as s:
            changed = s.scalars(
                select(Answer).where(Answer.round_id == round_id, Answer.comment == LONG[0])
            ).one()
            changed.comment = "ÆNDRET-EFTER-LUKNING"
            s.add(
                Answer(
                    round_id=round_id,
                    question_id="bonding.1",
                    respondent_key="late",
                    value=1,
                    comment="TILFØJET-EFTER-LUKNING",
                )
            )
            s.commit()

        lars = by_name(ws, "Lars Pedersen")
        slack.clear()
        assert (await ws.interact(click(lars, post, more, "hjemmeplejen-nord"))).status == 200
        await ws.drain()
        [private] = slack.calls_to("chat.postEphemeral")
        seen = json.dumps(private.args, ensure_ascii=False)
        assert all(f"KOMMENTAR-{i:02d}" in seen for i in range(1, 30))
        assert "KOMMENTAR-00" not in seen  # changed since: no longer the recorded comment
        assert "ÆNDRET-EFTER-LUKNING" not in seen and "TILFØJET-EFTER-LUKNING" not in seen
        assert all(len(t) <= 3000 for t in _sections(private.blocks()))
        assert not [
            c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == NORD_CHANNEL
        ]


async def test_a_small_groups_comments_never_appear_on_demand(
    db_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with SlackWorkspace(db_url, slack) as ws:
        setup(ws, tmp_path)
        small = _closed_round(ws, ["LILLE-GRUPPE " + "x " * 200] * 3, people=3)
        await _post_summary(ws, small)
        seen = json.dumps([c.args for c in slack.calls_to("chat.postMessage")], ensure_ascii=False)
        assert "LILLE-GRUPPE" not in seen
        # A crafted click naming the round's comments: nothing of them is shown.
        with ws.bot.db.session() as s:
            from flows.summary_comments import comments_key

            r = s.get(PulseRound, small)
            assert r is not None
            key = comments_key([r])
        [post] = slack.calls_to("chat.postMessage")[-1:]
        crafted = button_element(Button(label="x", data=ShowComments(k=key).pack()), ACTION_ID)
        slack.clear()
        lars = by_name(ws, "Lars Pedersen")
        assert (await ws.interact(click(lars, post, crafted, "hjemmeplejen-nord"))).status == 200
        await ws.drain()
        seen = json.dumps([c.args for c in slack.calls], ensure_ascii=False)
        assert "LILLE-GRUPPE" not in seen


def test_the_teams_card_shows_what_fits_and_a_button_for_the_rest(db_url: str) -> None:
    from storage.db import Database
    from tests.test_digest_data import Org, weeks_ago

    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K")
        org.unit("K/Nord", members=40)
        r = org.round("K/Nord", weeks_ago(1), {Q: [4] * 30}, comments=LONG)
        t = translator("da")
        card = teams_card(round_summary(s, r, t, shuffle=random.Random(2)), t)
    body = json.dumps(card, ensure_ascii=False)
    assert sum(f"KOMMENTAR-{i:02d}" in body for i in range(30)) < 30
    assert len(body.encode()) < 20_000  # well inside Teams' ~28 KB card limit
    assert ShowComments.kind in body
    db.dispose()


async def test_someone_outside_the_unit_and_above_it_sees_none_of_them(
    db_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    """The button can be copied (a forwarded message, a crafted click): the view is for the
    units whose channels may have shown the post, and tells an outsider nothing, not even
    whether the comments are still there."""
    async with SlackWorkspace(db_url, slack) as ws:
        setup(ws, tmp_path)
        round_id = _closed_round(ws, LONG, people=len(LONG))
        await _post_summary(ws, round_id)
        [post] = posts_to(slack, NORD_CHANNEL, "KOMMENTAR-")
        [more] = [b for b in buttons(post.blocks()) if "kommentarer" in b["text"]["text"].lower()]
        with ws.bot.db.session() as s:
            nord = s.scalars(select(Unit).where(Unit.path == NORD)).one()
            above: set[int] = set()
            at: Unit | None = nord
            while at is not None:
                above.add(at.id)
                at = at.parent
            inside = select(Membership.member_id).where(Membership.unit_id.in_(above))
            outsider = s.scalars(select(Member).where(Member.id.not_in(inside))).first()
            assert outsider is not None
            outsider.slack_user_id = outsider.slack_user_id or "U0UDENFOR"
            s.commit()
            s.expunge(outsider)
        slack.clear()
        assert (await ws.interact(click(outsider, post, more, "hjemmeplejen-nord"))).status == 200
        await ws.drain()
        seen = json.dumps([c.args for c in slack.calls], ensure_ascii=False)
        assert "KOMMENTAR-" not in seen and "ikke adgang" in seen
        # Once every comment has gone, an outsider still hears "not allowed", not "gone".
        with ws.bot.db.session() as s:
            for a in s.scalars(select(Answer).where(Answer.round_id == round_id)):
                a.comment = None
            s.commit()
        slack.clear()
        await ws.interact(click(outsider, post, more, "hjemmeplejen-nord"))
        await ws.drain()
        gone = json.dumps([c.args for c in slack.calls], ensure_ascii=False)
        assert "ikke adgang" in gone and "kan ikke vises" not in gone
