"""Typed commands mean the same on Slack, Teams and the local chat (issue 16, point 1), and
everyone has a page of their own: Slack's App Home, `hjem` on Teams and in the local chat.

Before, only the local chat asked the router which words are commands; Teams knew five words
and Slack DMs none, so "digest pause", printed in every leader's digest footer, got silence.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.i18n import Translator
from storage.models import Member, Membership, Proposal
from tests.cli import cli
from tests.fake_platform import fake_chat
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.slack_demo import everyone_on_slack as _everyone_on_slack
from tests.slack_demo import slack_id
from tests.teams_support import TeamsBot, running, teams_settings
from tests.teams_support import fixture as teams_fixture

DA = Translator("da")
_events = itertools.count(1)


def _leader(db_session_factory: Any) -> Member:
    with db_session_factory() as s:
        member = s.scalars(
            select(Member)
            .join(Membership, Membership.member_id == Member.id)
            .where(Membership.has_role("leader"))
            .order_by(Member.id)
        ).first()
        assert member is not None
        s.expunge(member)
        return member


def _dm(member: Member, text: str) -> dict[str, Any]:
    envelope = fixture("message_im")
    n = next(_events)
    envelope["event"].update(user=slack_id(member.id), text=text, ts=f"1700000100.{n:06d}")
    envelope["event"]["client_msg_id"] = f"msg-{n}"
    envelope["event_id"] = f"Ev0TYPED{n:05d}"
    return envelope


@pytest.fixture
async def slack() -> Any:
    async with FakeSlack() as api:
        yield api


async def _said(ws: SlackWorkspace, fake: FakeSlack, member: Member, text: str) -> str:
    fake.clear()
    assert (await ws.event(_dm(member, text))).status == 200
    await ws.drain()
    replies = [
        c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == slack_id(member.id)
    ]
    assert replies, f"no reply to {text!r}"
    return " ".join(str(c.args.get("text", "")) + str(c.args.get("blocks", "")) for c in replies)


async def test_typed_commands_in_a_slack_dm_are_answered(db_url: str, slack: FakeSlack) -> None:
    async with SlackWorkspace(db_url, slack) as ws:
        cli(db_url, "demo", "--no-history")
        _everyone_on_slack(ws)
        leader = _leader(ws.bot.db.session)
        said = await _said(ws, slack, leader, "digest pause")
        assert "pause" in said
        said = await _said(ws, slack, leader, "privatliv")
        assert DA("privacy.title") in said
        said = await _said(ws, slack, leader, "/med resultater")
        assert said
        said = await _said(ws, slack, leader, "noget helt andet")
        assert DA("help.unknown") in said


async def test_the_home_tab_shows_ones_own_proposals_and_pulse(
    db_url: str, slack: FakeSlack
) -> None:
    async with SlackWorkspace(db_url, slack) as ws:
        cli(db_url, "demo", "--no-history")
        _everyone_on_slack(ws)
        leader = _leader(ws.bot.db.session)
        with ws.bot.db.session() as s:
            committee_id = s.scalars(select(Proposal.committee_id)).first()
            if committee_id is None:
                from storage.models import Committee

                committee_id = s.scalars(select(Committee.id)).first()
            assert committee_id is not None
            s.add(
                Proposal(
                    committee_id=committee_id,
                    proposer_id=leader.id,
                    title="Fast overlevering kl. 14.45",
                    issue="Vi taber information ved vagtskifte.",
                )
            )
            s.commit()
        envelope = fixture("app_home_opened")
        envelope["event"]["user"] = slack_id(leader.id)
        envelope["event_id"] = "Ev0HOME0001"
        assert (await ws.event(envelope)).status == 200
        await ws.drain()
        [published] = slack.calls_to("views.publish")
        view = published.view()
        text = str(view["blocks"])
        assert view["type"] == "home"
        assert DA("home.proposals_title") in text
        assert "Fast overlevering kl. 14.45" in text
        assert DA("home.status_new") in text
        assert DA("pulse.status_title") in text
        assert DA("home.results_title") in text  # a leader is told where results are


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector().start()
    yield fake
    fake.stop()


TEAMS_ID = "29:1TypedCommandsTeamsId00000000000000000000"
AAD = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
CONVERSATION = "a:1TypedCommandsPersonalConversation"


async def _teams_says(teams: TeamsBot, fake: FakeBotConnector, text: str) -> str:
    fake.calls.clear()
    activity = teams_fixture("message_personal", fake, text=text)
    activity["from"] = {"id": TEAMS_ID, "aadObjectId": AAD, "name": "Leder"}
    activity["conversation"] = {**activity["conversation"], "id": CONVERSATION}
    activity["id"] = f"1700000{next(_events):06d}"  # each message its own activity id
    assert (await teams.post(activity)).status == 200
    await teams.deliver()
    sent = fake.activities("send")
    assert sent, f"no reply to {text!r}"
    return " ".join(str(c.body) for c in sent)


async def test_typed_commands_on_teams_are_answered(
    sqlite_url: str, connector: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, connector), connector) as teams:
        leader = _leader(teams.bot.db.session)
        connector.members[TEAMS_ID] = {"id": TEAMS_ID, "aadObjectId": AAD, "email": leader.email}
        install = teams_fixture("installation_update_personal", connector)
        install["from"] = {"id": TEAMS_ID, "aadObjectId": AAD, "name": "Leder"}
        install["conversation"] = {**install["conversation"], "id": CONVERSATION}
        assert (await teams.post(install)).status == 200
        await teams.deliver()
        welcome = " ".join(str(c.body) for c in connector.activities("send"))
        assert DA("privacy.title") in welcome and DA("home.proposals_title") in welcome
        assert "pause" in await _teams_says(teams, connector, "digest pause")
        assert DA("privacy.title") in await _teams_says(teams, connector, "privatliv")
        home = await _teams_says(teams, connector, "hjem")
        assert DA("home.proposals_title") in home and DA("home.results_title") in home
        assert DA("help.unknown") in await _teams_says(teams, connector, "hvad nu")


async def test_the_local_chat_has_the_same_page(db_url: str) -> None:

    assert cli(db_url, "demo", "--no-history")[0] == 0
    async with fake_chat(db_url) as chat:
        leader = _leader(chat.bot.db.session)
        page = (await chat.say(leader.id, "hjem")).notice.text
        assert DA("home.proposals_title") in page and DA("home.results_title") in page
        assert "Det forstod jeg ikke" in (await chat.say(leader.id, "hvad nu")).notice.text


@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_teams_manifest_lists_commands_the_router_knows(lang: str) -> None:
    from adapters.teams.manifest import manifest
    from bot.core.config import Settings
    from bot.core.router import Router
    from flows import register_all

    router = Router()
    register_all(router)
    settings = Settings(
        MICROSOFT_APP_ID="00000000-0000-0000-0000-000000000001",
        MEDPULS_PUBLIC_URL="https://medpuls.example.dk",
        MEDPULS_LANGUAGE=lang,
    )
    [bot] = manifest(settings)["bots"]
    titles = [c["title"] for lists in bot["commandLists"] for c in lists["commands"]]
    assert titles and all(title in router.commands for title in titles)
    assert {"hjem", "resultater", "privatliv"} <= set(titles) or lang == "en"
    assert {"home", "results", "privacy"} <= set(titles) or lang == "da"


def test_a_typed_med_prefix_is_not_part_of_the_command() -> None:
    from bot.core.router import command_text, command_word

    for typed in ("/med grænse svar 4", "med grænse svar 4", "grænse svar 4", "/grænse svar 4"):
        assert command_text(typed) == "grænse svar 4"
        assert command_word(typed) == "grænse"
    assert command_word("med") == "med"
