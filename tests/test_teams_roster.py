"""Teams membership, end to end over the fake Bot Connector: where the app is added to a team,
the bot reads the team's roster (GET .../pagedmembers, a page at a time) so it can open a 1:1
with every member (POST /v3/conversations) as Teams allows; people Teams refuses are marked
unreachable (not asked round after round); `medpuls teams missing` tells the truth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.teams.platform import NOT_INSTALLED, missing_references
from bot.core.errors import DeliveryError
from bot.core.messages import Message, Text
from bot.core.outbox import queue, to_member
from bot.core.platform import Address
from bot.core.router import Router
from storage.models import ConversationReference, Member, Membership, OutboxMessage, Unit
from tests.cli import cli
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import APP_ID, TeamsBot, fixture, running, teams_settings

TEAM = "19:team-social@thread.tacv2"
BOT = f"28:{APP_ID}"
HELLO = Message(summary="Hej", parts=[Text(text="Hej")])


def entry(n: int, **extra: Any) -> dict[str, Any]:
    """A roster entry as Teams gives it (GET .../pagedmembers)."""
    return {
        "id": f"29:1RosterMember{n:04d}-aBcDeFgHiJkLmNoPqRsTuVwXyZ",
        "objectId": f"00000000-0000-4000-8000-{n:012d}",
        "givenName": f"Person{n}",
        "surname": "Hansen",
        "email": f"Person{n}.Hansen@eksempel.dk",
        "userPrincipalName": f"person{n}@eksempel.dk",
        "tenantId": "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a",
        "userRole": "user",
        **extra,
    }


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    connector = FakeBotConnector(roster_page_cap=50).start()
    roster = [entry(n) for n in range(118)]
    roster.append(entry(900, email="guest@ext.dk", userRole="guest"))
    roster.append({"id": "29:1Anon", "name": "Anon1 (Guest)", "userRole": "anonymous"})
    connector.rosters[TEAM] = roster
    connector.team_channels[TEAM] = [{"id": TEAM, "name": None}]
    yield connector
    connector.stop()


def add_members(teams: TeamsBot, *emails: str) -> list[int]:
    with teams.bot.db.session() as s:
        unit = Unit(path="Kommune", name="Kommune")
        s.add(unit)
        members = [Member(email=e, name=e.split("@")[0]) for e in emails]
        s.add_all(members)
        s.flush()
        s.add_all(Membership(unit_id=unit.id, member_id=m.id, roles="member") for m in members)
        return [m.id for m in members]


def keys(teams: TeamsBot) -> set[str]:
    with teams.bot.db.session() as s:
        return set(s.scalars(select(ConversationReference.key)))


def unreachable(teams: TeamsBot, member_id: int) -> str | None:
    with teams.bot.db.session() as s:
        member = s.get(Member, member_id)
        assert member is not None
        return member.unreachable


async def test_the_roster_is_read_page_by_page_when_the_app_is_added_to_a_team(
    db_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(db_url, fake), fake, Router()) as teams:
        ids = add_members(teams, "person7.hansen@eksempel.dk", "person117.hansen@eksempel.dk")
        with teams.bot.db.session() as s:
            assert len(missing_references(s)) == 2
        assert (await teams.post(fixture("conversation_update_team", fake))).status == 200

        assert len(fake.roster_requests()) == 3, "120 people at 50 a page"
        stored = keys(teams)
        assert {"user:" + entry(7)["id"], "user:" + entry(7)["objectId"]} <= stored
        assert "email:person117.hansen@eksempel.dk" in stored, "the last page was read"
        # Nobody else's ids or e-mail are kept: only MEDpuls members'.
        assert "user:" + entry(0)["id"] not in stored
        assert not any("person0." in k for k in stored)
        with teams.bot.db.session() as s:
            assert missing_references(s) == []

        # Teams lets the bot open a 1:1 with anyone of the team: POST /v3/conversations.
        fake.calls.clear()
        ref = await teams.platform.post(
            Address("user", "", email="person7.hansen@eksempel.dk", member_id=ids[0]),
            HELLO,
            dedupe_key="k",
        )
        create, send = fake.calls
        assert create.path == "/teams/v3/conversations" and create.method == "POST"
        assert create.body["members"] == [{"id": entry(7)["id"]}]
        assert create.body["bot"]["id"] == BOT
        # Teams reads the tenant from channelData (botbuilder also sends it as "tenantID").
        assert create.body["channelData"]["tenant"]["id"] == fake.tenant
        assert send.path == f"/teams/v3/conversations/{ref.conversation_id}/activities"


async def test_the_roster_request_names_its_page_size_and_continuation(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        await teams.post(fixture("conversation_update_team", fake))
    tokens = fake.roster_queries
    assert [q.get("continuationToken") for q in tokens] == [None, "page-50", "page-100"]
    assert {q.get("pageSize") for q in tokens} == {"500"}


async def test_someone_teams_refuses_is_unreachable_until_they_install_the_app(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    refused = entry(3)
    fake.unreachable.add(refused["id"])
    fake.members[refused["id"]] = refused
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        [member_id] = add_members(teams, "person3.hansen@eksempel.dk")
        await teams.post(fixture("conversation_update_team", fake))
        with teams.bot.db.session() as s:
            queue(s, [to_member(member_id, "pulse:1:ask", HELLO, purpose="pulse.ask")])
        await teams.deliver()
        with teams.bot.db.session() as s:
            row = s.scalars(select(OutboxMessage)).one()
            assert row.status == "dead"
        assert "403" in (unreachable(teams, member_id) or "")
        # `medpuls teams missing` names them and why.
        code, out = cli(sqlite_url, "teams", "missing")
        assert code == 0
        assert "person3.hansen@eksempel.dk: connector HTTP 403" in out
        assert "1 member(s) cannot be reached on Teams" in out
        # Reading the roster again does not undo Teams' refusal: not asked, refused, counted
        # again after every daily read.
        assert await teams.platform.read_every_team() == (1, 120)
        assert "403" in (unreachable(teams, member_id) or "")

        # They install the app themselves: reachable again, and no longer missing.
        install = fixture(
            "installation_update_personal",
            fake,
            **{"from": {"id": refused["id"], "aadObjectId": refused["objectId"]}},
        )
        assert (await teams.post(install)).status == 200
        assert unreachable(teams, member_id) is None
        code, out = cli(sqlite_url, "teams", "missing")
        assert code == 0 and "0 member(s) cannot be reached on Teams" in out


async def test_without_any_reference_a_member_is_marked_and_not_asked_again(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        [member_id] = add_members(teams, "nobody@eksempel.dk")
        with pytest.raises(DeliveryError) as err:
            await teams.platform.post(
                Address("user", "", email="nobody@eksempel.dk", member_id=member_id),
                HELLO,
                dedupe_key="k",
            )
        assert err.value.permanent
        assert unreachable(teams, member_id) == f"teams: {NOT_INSTALLED}"
        code, out = cli(sqlite_url, "teams", "missing")
        assert code == 0 and f"nobody@eksempel.dk: {NOT_INSTALLED}" in out
        # Delivery skips a member marked unreachable, as the pulse does not ask them.
        with teams.bot.db.session() as s:
            queue(s, [to_member(member_id, "pulse:2:ask", HELLO, purpose="pulse.ask")])
        await teams.deliver()
        assert fake.activities("send") == []
        # Then the app is added to a team they are in: reachable, asked again.
        fake.rosters[TEAM].append(entry(901, email="Nobody@eksempel.dk"))
        await teams.post(fixture("conversation_update_team", fake))
        assert unreachable(teams, member_id) is None


async def test_people_joining_and_leaving_the_team(sqlite_url: str, fake: FakeBotConnector) -> None:
    newcomer = entry(500)
    fake.members[newcomer["id"]] = newcomer
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        add_members(teams, "person500.hansen@eksempel.dk")
        await teams.post(fixture("conversation_update_team", fake))
        with teams.bot.db.session() as s:
            assert [m.email for m in missing_references(s)] == ["person500.hansen@eksempel.dk"]
        joined = fixture(
            "conversation_update_team",
            fake,
            id="f:joined",
            membersAdded=[{"id": newcomer["id"], "aadObjectId": newcomer["objectId"]}],
        )
        assert (await teams.post(joined)).status == 200
        assert "email:person500.hansen@eksempel.dk" in keys(teams)
        with teams.bot.db.session() as s:
            assert missing_references(s) == []
        left = fixture(
            "conversation_update_team",
            fake,
            id="f:left",
            membersAdded=None,
            membersRemoved=[{"id": newcomer["id"], "aadObjectId": newcomer["objectId"]}],
        )
        assert (await teams.post(left)).status == 200
        assert not {"user:" + newcomer["id"], "user:" + newcomer["objectId"]} & keys(teams)


async def test_removing_the_app_from_the_team_forgets_its_roster(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        add_members(teams, "person1.hansen@eksempel.dk")
        await teams.post(fixture("conversation_update_team", fake))
        # Someone who has the app installed personally keeps their own 1:1.
        own = entry(2)
        personal = fixture(
            "installation_update_personal",
            fake,
            **{"from": {"id": own["id"], "aadObjectId": own["objectId"]}},
        )
        await teams.post(personal)
        removed = fixture(
            "conversation_update_team",
            fake,
            id="f:removed",
            membersAdded=None,
            membersRemoved=[{"id": BOT}],
        )
        assert (await teams.post(removed)).status == 200
        stored = keys(teams)
        assert not any(k.startswith("email:person1.") for k in stored)
        assert f"channel:{TEAM}" not in stored
        assert "user:" + own["id"] in stored
        with teams.bot.db.session() as s:
            assert [m.email for m in missing_references(s)] == ["person1.hansen@eksempel.dk"]


async def test_teams_roster_command_reads_every_team_now(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    """For a team whose app was added before (or people who joined since): read it now."""
    env = {
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": "not-a-real-secret",
        "MICROSOFT_APP_TYPE": "SingleTenant",
        **fake.settings(),
    }
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        add_members(teams, "late.comer@eksempel.dk")
        await teams.post(fixture("conversation_update_team", fake))
        fake.rosters[TEAM].append(entry(777, email="Late.Comer@eksempel.dk"))
        code, out = await asyncio.to_thread(cli, sqlite_url, "teams", "roster", **env)
        assert code == 0, out
        assert "121 member(s) read from 1 team(s)" in out
        assert "email:late.comer@eksempel.dk" in keys(teams)
    code, out = await asyncio.to_thread(cli, sqlite_url, "teams", "roster")
    assert code == 2 and "MICROSOFT_APP_ID" in out


async def test_a_guest_is_matched_by_object_id_never_by_the_e_mail_they_show(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    guest = entry(900)
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        by_email, by_id = add_members(teams, "guest@ext.dk", "real.guest@eksempel.dk")
        with teams.bot.db.session() as s:
            member = s.get(Member, by_id)
            assert member is not None
            member.teams_aad_id = guest["objectId"]
        await teams.post(fixture("conversation_update_team", fake))
        stored = keys(teams)
        assert "email:guest@ext.dk" not in stored
        assert "user:" + guest["objectId"] in stored
        with teams.bot.db.session() as s:
            assert [m.id for m in missing_references(s)] == [by_email]


async def test_erasing_a_person_removes_what_their_team_roster_left(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    """`gdpr erase` removes every reference naming the person: under their e-mail, and under
    the Teams ids a roster gave them though the member row never held those ids."""
    person = entry(5)
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        add_members(teams, "person5.hansen@eksempel.dk", "person6.hansen@eksempel.dk")
        await teams.post(fixture("conversation_update_team", fake))
        theirs = {
            f"user:{person['id']}",
            f"user:{person['objectId']}",
            "email:person5.hansen@eksempel.dk",
        }
        assert theirs <= keys(teams)
        code, out = await asyncio.to_thread(
            cli, sqlite_url, "gdpr", "erase", "--email", "person5.hansen@eksempel.dk"
        )
        assert code == 0, out
        left = keys(teams)
        assert not theirs & left
        assert "email:person6.hansen@eksempel.dk" in left, "nobody else's"


async def test_the_activity_is_answered_before_the_roster_is_read(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    """Teams hears 200 while the roster is still being read (held by the fake)."""
    fake.roster_gate.clear()
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        add_members(teams, "person117.hansen@eksempel.dk")
        activity = fixture("conversation_update_team", fake)
        token = fake.sign(audience=APP_ID, service_url=activity["serviceUrl"])
        response = await asyncio.wait_for(
            teams.http.post(
                f"{teams.url}/api/messages",
                json=activity,
                headers={"Authorization": f"Bearer {token}"},
            ),
            timeout=30,
        )
        assert response.status == 200
        assert "email:person117.hansen@eksempel.dk" not in keys(teams)
        fake.roster_gate.set()
        await teams.platform.settled()
        assert "email:person117.hansen@eksempel.dk" in keys(teams)
