"""Each person's language (issue 16, point 4): the client's language when nothing is chosen,
`sprog en` / `language da` to choose, and every message for that person in it, the ones they did
not ask for (a pulse) included. Before, an English Teams client got a Danish card that turned
English only on the first click.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.i18n import Translator
from storage.models import Member, Membership, Unit
from tests.cli import cli
from tests.fake_platform import fake_chat
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.slack_demo import everyone_on_slack as _everyone_on_slack
from tests.slack_demo import question_post as _question_post
from tests.slack_demo import slack_id
from tests.teams_support import fixture as teams_fixture
from tests.teams_support import running, teams_settings

EN, DA = Translator("en"), Translator("da")
NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
TEAMS_ID = "29:1EnglishClientTeamsId000000000000000000"
AAD = "8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d"
CONVERSATION = "a:1EnglishClientPersonalConversation"


def _nord_member(session_factory: Any) -> Member:
    with session_factory() as s:
        unit = s.scalars(select(Unit).where(Unit.path == NORD)).one()
        member = s.scalars(
            select(Member)
            .join(Membership, Membership.member_id == Member.id)
            .where(Membership.unit_id == unit.id)
            .order_by(Member.id)
        ).first()
        assert member is not None
        s.expunge(member)
        return member


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector().start()
    yield fake
    fake.stop()


async def test_an_english_teams_client_gets_its_first_pulse_in_english(
    sqlite_url: str, connector: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, connector), connector) as teams:
        member = _nord_member(teams.bot.db.session)
        connector.members[TEAMS_ID] = {"id": TEAMS_ID, "aadObjectId": AAD, "email": member.email}
        install = teams_fixture("installation_update_personal", connector)
        install["from"] = {"id": TEAMS_ID, "aadObjectId": AAD, "name": member.name}
        install["conversation"] = {**install["conversation"], "id": CONVERSATION}
        install["locale"] = "en-US"
        install["entities"] = [{"locale": "en-US", "platform": "Web", "type": "clientInfo"}]
        assert (await teams.post(install)).status == 200
        with teams.bot.db.session() as s:
            stored = s.get(Member, member.id)
            assert stored is not None and stored.language == "en" and not stored.language_chosen
        assert cli(sqlite_url, "pulse", "run-now", "--unit", NORD)[0] == 0
        connector.calls.clear()
        await teams.deliver()
        cards = " ".join(
            str(c.body) for c in connector.activities("send") if CONVERSATION in c.path
        )
        assert EN("pulse.ask_title") in cards
        assert DA("pulse.ask_title") not in cards


async def test_a_slack_client_in_english_is_remembered_for_the_next_pulse(
    db_url: str,
) -> None:
    async with FakeSlack() as fake, SlackWorkspace(db_url, fake) as ws:
        cli(db_url, "demo", "--no-history")
        _everyone_on_slack(ws)
        member = _nord_member(ws.bot.db.session)
        fake.users[slack_id(member.id)].locale = "en-GB"
        envelope = fixture("message_im")
        envelope["event"].update(user=slack_id(member.id), text="hjem")
        assert (await ws.event(envelope)).status == 200
        await ws.drain()
        assert cli(db_url, "pulse", "run-now", "--unit", NORD)[0] == 0
        await ws.deliver()
        post = _question_post(fake, member)
        assert EN("pulse.ask_title") in str(post.blocks())


async def test_a_chosen_language_wins_over_the_client_and_auto_gives_it_back(
    db_url: str,
) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    async with fake_chat(db_url) as chat:
        member = _nord_member(chat.bot.db.session)
        said = (await chat.say(member.id, "sprog en")).notice.text
        assert "From now on I write to you in English" in said
        assert EN("home.proposals_title") in (await chat.say(member.id, "hjem")).notice.text
        with chat.bot.db.session() as s:
            stored = s.get(Member, member.id)
            assert stored is not None and stored.language == "en" and stored.language_chosen
        said = (await chat.say(member.id, "language auto")).notice.text
        assert "From now on I follow your chat app" in said
        with chat.bot.db.session() as s:
            stored = s.get(Member, member.id)
            assert stored is not None and not stored.language_chosen
        said = (await chat.say(member.id, "sprog")).notice.text
        assert "Jeg skriver til dig på" in said or "I write to you in" in said
