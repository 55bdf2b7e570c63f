"""Issue 12, link 5: `gdpr erase` leaves no row carrying the person's ids (the click
de-duplication rows included), and `gdpr export` lists what is linked to them, their answers
in a round still open included, and says truthfully that closed rounds' answers are not.
Real signed Slack clicks, then the real CLI."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import inspect, select, text

from storage.models import Answer, Member
from tests.cli import cli
from tests.fakes.slack_api import FakeSlack, SlackWorkspace
from tests.slack_demo import NORD, click, slack_id
from tests.slack_demo import answer_button as _answer_button
from tests.slack_demo import question_post as _question_post
from tests.slack_demo import round_on_slack as _round_on_slack


def every_row(ws: SlackWorkspace) -> list[tuple[str, str]]:
    with ws.bot.db.session() as s:
        names = inspect(s.get_bind()).get_table_names()
        return [
            (n, repr(dict(r)))
            for n in names
            for r in s.execute(text(f'SELECT * FROM "{n}"')).mappings()
        ]


async def answer_on_slack(ws: SlackWorkspace, fake: FakeSlack, member: Member, values: Any) -> None:
    post = _question_post(fake, member)
    for question, value in values:
        await ws.interact(click(member, post, _answer_button(post.blocks(), question, value)))
    await ws.drain()


async def test_erase_leaves_no_row_with_the_persons_ids_and_deletes_their_open_answers(
    db_url: str,
) -> None:
    async with FakeSlack() as fake, SlackWorkspace(db_url, fake) as ws:
        people = await _round_on_slack(ws)
        bent, other = people[3], people[4]
        await answer_on_slack(ws, fake, bent, [(0, 4), (1, 2), (0, 5)])
        await answer_on_slack(ws, fake, other, [(0, 1)])
        with ws.bot.db.session() as s:
            assert len(s.scalars(select(Answer)).all()) == 3
        assert bent.email is not None
        code, out = cli(db_url, "gdpr", "erase", "--email", bent.email)
        assert code == 0, out
        for table, row in every_row(ws):
            assert slack_id(bent.id) not in row, f"{table}: {row[:200]}"
            assert bent.email not in row, f"{table}: {row[:200]}"
        with ws.bot.db.session() as s:
            # Bent's two answers went; the other member's stayed.
            assert [a.value for a in s.scalars(select(Answer))] == [1]


async def test_export_lists_answers_of_an_open_round_and_none_after_close(db_url: str) -> None:
    async with FakeSlack() as fake, SlackWorkspace(db_url, fake) as ws:
        people = await _round_on_slack(ws)
        bent = people[3]
        await answer_on_slack(ws, fake, bent, [(0, 4), (1, 2)])
        assert bent.email is not None
        code, out = cli(db_url, "gdpr", "export", "--email", bent.email)
        assert code == 0, out
        data = json.loads(out)
        assert sorted(a["value"] for a in data["answers_in_open_rounds"]) == [2, 4]
        assert "not in the database" in data["answers"]
        assert cli(db_url, "pulse", "close-now", "--unit", NORD)[0] == 0
        code, out = cli(db_url, "gdpr", "export", "--email", bent.email)
        data = json.loads(out)
        assert data["answers_in_open_rounds"] == []
        assert "linked to nobody" in data["answers"]
        assert [p["answered"] for p in data["participation"]] == [True]
