"""A pulse round on Teams, end to end: demo data, run-now, delivery through the fake Bot
Connector, answers by Action.Execute (invoke) and by the Action.Submit fallback (message)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import Answer, Member, Membership, OutboxMessage, Unit
from tests.cli import cli
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import TeamsBot, fixture, running, teams_settings

NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
TEAMS_ID = "29:1NordMemberTeamsId0000000000000000000000"
AAD = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
CONVERSATION = "a:1NordMemberPersonalConversation"


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    connector = FakeBotConnector().start()
    yield connector
    connector.stop()


def _nord_member(teams: TeamsBot) -> Member:
    with teams.bot.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.path == NORD)).one()
        member_id = s.scalars(
            select(Membership.member_id)
            .where(Membership.unit_id == unit.id)
            .order_by(Membership.member_id)
        ).first()
        member = s.get(Member, member_id)
        assert member is not None
        return member


def _as_member(activity: dict[str, Any]) -> dict[str, Any]:
    activity["from"] = {"id": TEAMS_ID, "aadObjectId": AAD, "name": "Nord"}
    activity["conversation"] = {**activity["conversation"], "id": CONVERSATION}
    return activity


def _answers(teams: TeamsBot) -> dict[str, int]:
    with teams.bot.db.session() as s:
        rows = s.execute(select(Answer.question_id, Answer.value))
        return dict(rows.tuples().all())


async def test_pulse_answered_by_invoke_and_by_submit_records_one_answer_each(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        member = _nord_member(teams)
        fake.members[TEAMS_ID] = {"id": TEAMS_ID, "aadObjectId": AAD, "email": member.email}
        # The member installs the app: matched by e-mail, reference captured.
        install = _as_member(fixture("installation_update_personal", fake))
        assert (await teams.post(install)).status == 200
        with teams.bot.db.session() as s:
            assert s.get(Member, member.id).teams_user_id == TEAMS_ID  # type: ignore[union-attr]

        code, output = cli(sqlite_url, "pulse", "run-now", "--unit", NORD)
        assert code == 0, output
        fake.calls.clear()
        await teams.deliver()

        def answer_buttons(call: Any) -> list[str]:
            return [
                a["data"]["medpuls"]
                for att in call.body.get("attachments") or []
                for e in att["content"]["body"]
                if e["type"] == "ActionSet"
                for a in e["actions"]
                if a["data"].get("medpuls", "").startswith("pulse.answer|")
            ]

        sent = [c for c in fake.activities("send") if CONVERSATION in c.path and answer_buttons(c)]
        assert len(sent) == 1, "one question card to the member who has the app"
        card_id = sent[0].result_id
        with teams.bot.db.session() as s:
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.address_kind == "member"))
            ours = [r for r in rows if r.address == str(member.id)]
            others = s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.address_kind == "member",
                    OutboxMessage.address != str(member.id),
                )
            ).all()
            assert ours and all(r.status == "sent" for r in ours)
            assert f"|{card_id}" in " ".join(r.message_ref or "" for r in ours)
            assert others and all(r.status == "dead" for r in others)
            assert {r.last_error for r in others} == {"app not installed for this person"}

        card = sent[0].body["attachments"][0]["content"]
        assert card["version"] == "1.5"
        packed = answer_buttons(sent[0])
        by_question: dict[str, dict[int, str]] = {}
        for p in packed:
            data = json.loads(p.split("|", 1)[1])
            by_question.setdefault(data["q"], {})[data["v"]] = p
        first, second = list(by_question)[:2]

        # 1. Action.Execute: an invoke, answered with a message only the clicker sees; the
        # card itself stays as it was (no "✓ 4" for Teams to keep).
        invoke = _as_member(fixture("invoke_card_action", fake, id="f:answer-1", replyToId=card_id))
        invoke["value"]["action"]["data"] = {"medpuls": by_question[first][4]}
        response = await teams.post(invoke)
        assert response.status == 200
        body = await response.json()
        assert body["type"] == "application/vnd.microsoft.activity.message"
        assert "Du svarede 4" in body["value"]
        assert _answers(teams) == {first: 4}

        # 2. Action.Submit fallback: a message with `value`; recorded, the card left alone.
        submit = _as_member(fixture("submit_message", fake, id="answer-2", replyToId=card_id))
        submit["value"] = {"medpuls": by_question[second][2]}
        assert (await teams.post(submit)).status == 200
        assert _answers(teams) == {first: 4, second: 2}
        assert fake.activities("update") == []

        # 3. The same invoke again (Teams retried it): nothing changes.
        replay = await teams.post(invoke)
        assert replay.status == 200
        assert _answers(teams) == {first: 4, second: 2}
        with teams.bot.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Answer)) == 2

        # 4. Changing one's mind keeps one answer per question.
        change = _as_member(fixture("submit_message", fake, id="answer-3", replyToId=card_id))
        change["value"] = {"medpuls": by_question[first][5]}
        await teams.post(change)
        assert _answers(teams) == {first: 5, second: 2}
