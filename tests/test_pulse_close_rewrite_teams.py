"""Teams keeps the cards it was given (retention, eDiscovery): a pulse card must never carry an
answer there. While the round is open the choice is confirmed by the invoke answer alone; at
close every pulse card (question and reminders) is replaced (PUT .../activities/{id}) by one
closed card; a late or retried click is answered with that closed card.

End to end on the fake Bot Connector (tests/fakes/bot_connector.py), through the real CLI,
web app and outbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from flows.reminders import remind_round, reminder_moments
from storage.models import OutboxMessage, PulseRound
from tests.cli import cli
from tests.fakes.bot_connector import Call, FakeBotConnector
from tests.teams_support import TeamsBot, fixture, running, teams_settings
from tests.test_teams_pulse_e2e import CONVERSATION, NORD, TEAMS_ID, _as_member, _nord_member

AAD = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
CLOSED = "er lukket, og svarene kan ikke længere ændres"
CARD = "application/vnd.microsoft.card.adaptive"


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    connector = FakeBotConnector().start()
    yield connector
    connector.stop()


def _answer_data(card: dict[str, Any]) -> dict[str, dict[int, str]]:
    """question id -> value -> the packed data of its button."""
    out: dict[str, dict[int, str]] = {}
    for e in card["body"]:
        for a in e.get("actions", []) if e["type"] == "ActionSet" else []:
            packed = a["data"].get("medpuls", "")
            if packed.startswith("pulse.answer|"):
                data = json.loads(packed.split("|", 1)[1])
                out.setdefault(data["q"], {})[data["v"]] = packed
    return out


def _pulse_cards(fake: FakeBotConnector) -> list[Call]:
    return [
        c
        for c in fake.activities("send")
        if CONVERSATION in c.path and "pulse.answer" in json.dumps(c.body)
    ]


def _card(call: Call) -> dict[str, Any]:
    return dict(call.body["attachments"][0]["content"])


async def _installed_round(teams: TeamsBot, db_url: str) -> None:
    member = _nord_member(teams)
    teams.fake.members[TEAMS_ID] = {"id": TEAMS_ID, "aadObjectId": AAD, "email": member.email}
    assert (await teams.post(_as_member(fixture("installation_update_personal", teams.fake)))).ok
    code, output = cli(db_url, "pulse", "run-now", "--unit", NORD)
    assert code == 0, output
    await teams.deliver()


async def _invoke(teams: TeamsBot, activity_id: str, card_id: str | None, packed: str) -> Any:
    invoke = _as_member(
        fixture("invoke_card_action", teams.fake, id=activity_id, replyToId=card_id)
    )
    invoke["value"]["action"]["data"] = {"medpuls": packed}
    response = await teams.post(invoke)
    assert response.status == 200
    return await response.json()


async def test_an_answer_is_confirmed_by_the_invoke_answer_and_the_card_stays_unmarked(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        await _installed_round(teams, sqlite_url)
        [sent] = _pulse_cards(fake)
        first, *_ = _answer_data(_card(sent)).items()
        fake.calls.clear()
        body = await _invoke(teams, "f:open-1", sent.result_id, first[1][2])
        # A message in the invoke answer (Teams shows it to the clicker), not a card with
        # "✓ 2" that Teams would keep in the conversation.
        assert body["type"] == "application/vnd.microsoft.activity.message"
        assert "Du svarede 2" in body["value"]
        assert "✓" not in json.dumps(body, ensure_ascii=False)
        assert fake.activities() == [], "no card updated, no message posted"


async def test_at_close_every_pulse_card_becomes_the_closed_card_and_late_clicks_get_it(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        await _installed_round(teams, sqlite_url)
        with teams.bot.db.session() as s:
            pulse_round = s.scalars(select(PulseRound)).one()
            moments = reminder_moments(s, pulse_round, teams.bot.settings.tz)
            assert remind_round(s, pulse_round, now=moments[0], settings=teams.bot.settings)
        await teams.deliver()
        cards = _pulse_cards(fake)
        assert len(cards) == 2, "the question and a reminder"
        _, value = next(iter(_answer_data(_card(cards[0])).items()))
        await _invoke(teams, "f:before-close", cards[0].result_id, value[4])
        with teams.bot.db.session() as s:
            refs = {
                r.message_ref
                for r in s.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.purpose.in_(("pulse.ask", "pulse.remind")),
                        OutboxMessage.status == "sent",
                    )
                )
            }
        assert refs == {f"teams|{CONVERSATION}|{c.result_id}" for c in cards}

        fake.calls.clear()
        code, output = cli(sqlite_url, "pulse", "close-now", "--unit", NORD)
        assert code == 0, output
        await teams.deliver()
        updates = fake.activities("update")
        assert sorted(u.path.rsplit("/", 1)[1] for u in updates) == sorted(
            str(c.result_id) for c in cards
        )
        closed_cards = [u.body["attachments"][0]["content"] for u in updates]
        for card in closed_cards:
            text = json.dumps(card, ensure_ascii=False)
            assert CLOSED in text
            assert "ActionSet" not in text and "Action.Execute" not in text
            assert "✓" not in text
        assert len({json.dumps(c["body"]) for c in closed_cards}) == 1, "one text for everyone"
        assert fake.activities("send") == []

        # A late click on the old card (a client that had not refreshed): the closed card.
        fake.calls.clear()
        late = await _invoke(teams, "f:after-close", cards[1].result_id, value[1])
        assert late["type"] == CARD
        assert CLOSED in json.dumps(late["value"], ensure_ascii=False)
        assert "Action.Execute" not in json.dumps(late["value"])
        # Teams retries the same invoke: the same card again, never an empty answer.
        again = await _invoke(teams, "f:after-close", cards[1].result_id, value[1])
        assert again == late
        assert fake.activities("send") == [], "no new message in the chat"


async def test_a_card_that_is_gone_is_not_an_error_to_resolve(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        await _installed_round(teams, sqlite_url)
        code, output = cli(sqlite_url, "pulse", "close-now", "--unit", NORD)
        assert code == 0, output
        fake.fail_next(404)  # the conversation (and the card) were deleted
        await teams.deliver()
        with teams.bot.db.session() as s:
            rows = s.scalars(
                select(OutboxMessage).where(OutboxMessage.purpose == "pulse.closed")
            ).all()
            # Sent (nothing to do), not dead: an admin is not asked to resolve it.
            assert [r.status for r in rows] == ["sent"]
        assert [u.path for u in fake.activities("update")]
