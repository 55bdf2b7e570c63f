"""Issue 12, link 1: the de-duplication of clicks must not keep "member U3 pressed 4 on
question 1", and must still hold: a payload re-delivered four times and a double click store
one answer, on Slack and on Teams. Real signed payloads through the real servers.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import time_machine
from sqlalchemy import select, text

from storage.models import Answer, ProcessedEvent
from tests.cli import cli as local_cli
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, interaction_body, signed_headers
from tests.slack_demo import answer_button as _answer_button
from tests.slack_demo import click, slack_id
from tests.slack_demo import question_post as _question_post
from tests.slack_demo import round_on_slack as _round_on_slack
from tests.teams_support import fixture, running, teams_settings
from tests.test_teams_pulse_e2e import AAD, CONVERSATION, NORD, TEAMS_ID, _as_member, _nord_member


def _rows(db: Any) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(ProcessedEvent.key)))


def _answers(db: Any) -> list[tuple[str, int]]:
    with db.session() as s:
        return sorted((a.question_id, a.value) for a in s.scalars(select(Answer)))


async def test_slack_clicks_leave_no_row_naming_the_person_or_the_button_and_dedupe_holds(
    db_url: str,
) -> None:
    async with FakeSlack() as fake, SlackWorkspace(db_url, fake) as ws:
        people = await _round_on_slack(ws)
        bent = people[3]
        post = _question_post(fake, bent)
        four = _answer_button(post.blocks(), 0, 4)
        first = click(bent, post, four)
        body, ctype = interaction_body(first)
        headers = signed_headers(ws.secret, body, ctype)
        for retry in range(4):  # Slack delivers the same payload up to four times
            sent = await ws.post(
                body, ctype, headers={**headers, **({"X-Slack-Retry-Num": str(retry)})}
            )
            assert sent.status == 200
        second = click(bent, post, four)  # the second click of a double click
        await ws.interact(second)
        await ws.drain()
        assert [v for _, v in _answers(ws.bot.db)] == [4]

        keys = _rows(ws.bot.db)
        assert len(keys) == 2, "one row per click, whatever the re-deliveries"
        clicks = [first, second]
        for key in keys:
            assert slack_id(bent.id) not in key
            assert four["action_id"] not in key and "pulse" not in key
            for c in clicks:
                assert c["actions"][0]["action_ts"] not in key
        # Nothing a reader could test a guess against without the server's key either.
        assert all(k.startswith("d:") and len(k) == 66 for k in keys)

        # The rows expire: the close after the hour has passed takes them along.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        with time_machine.travel(later, tick=True):
            assert local_cli(ws.db_url, "pulse", "close-now", "--unit", people_unit(ws))[0] == 0
        assert _rows(ws.bot.db) == []


def people_unit(ws: SlackWorkspace) -> str:
    with ws.bot.db.session() as s:
        return str(s.scalars(text("SELECT path FROM units ORDER BY length(path) DESC")).first())


async def test_teams_retried_invokes_leave_no_activity_id_and_dedupe_holds(
    sqlite_url: str,
) -> None:
    fake = FakeBotConnector().start()
    try:
        assert local_cli(sqlite_url, "demo", "--no-history")[0] == 0
        async with running(teams_settings(sqlite_url, fake), fake) as teams:
            member = _nord_member(teams)
            fake.members[TEAMS_ID] = {"id": TEAMS_ID, "aadObjectId": AAD, "email": member.email}
            install = _as_member(fixture("installation_update_personal", fake))
            assert (await teams.post(install)).status == 200
            assert local_cli(sqlite_url, "pulse", "run-now", "--unit", NORD)[0] == 0
            fake.calls.clear()
            await teams.deliver()
            [card] = [
                c
                for c in fake.activities("send")
                if CONVERSATION in c.path and "pulse.answer|" in json.dumps(c.body)
            ]
            packed = [
                a["data"]["medpuls"]
                for att in card.body["attachments"]
                for e in att["content"]["body"]
                if e["type"] == "ActionSet"
                for a in e["actions"]
                if a["data"].get("medpuls", "").startswith("pulse.answer|")
            ]
            two = next(p for p in packed if json.loads(p.split("|", 1)[1])["v"] == 2)
            activity_ids = ["f:forensic-1", "f:forensic-2"]
            for n, activity_id in enumerate(activity_ids):
                invoke = _as_member(
                    fixture("invoke_card_action", fake, id=activity_id, replyToId=card.result_id)
                )
                invoke["value"]["action"]["data"] = {"medpuls": two}
                for _ in range(4 if n == 0 else 1):  # retried by Teams, then a double click
                    assert (await teams.post(invoke)).status == 200
            assert [v for _, v in _answers(teams.bot.db)] == [2]
            keys = _rows(teams.bot.db)
            assert len(keys) >= 2
            for key in keys:
                assert TEAMS_ID not in key and AAD not in key
                assert not any(a in key for a in activity_ids)
    finally:
        fake.stop()
