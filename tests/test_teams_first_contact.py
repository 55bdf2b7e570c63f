"""Teams first contact: installationUpdate and conversationUpdate for one person arrive together.

Both capture the person's conversation reference under the same keys; the unique
(platform, key) of conversation_refs must be an upsert, never an HTTP 500.
Runs over real HTTP against the Teams route, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from adapters.teams.platform import NOT_INSTALLED
from bot.core.errors import DeliveryError
from bot.core.events import MemberJoined
from bot.core.messages import Message, Reply, Text
from bot.core.platform import Address
from bot.core.router import FlowContext, Router
from storage.models import ConversationReference
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import AAD, USER, fixture, mettes_connector, running, teams_settings

fake = pytest.fixture(mettes_connector, name="fake")


async def test_concurrent_install_activities_never_500(db_url: str, fake: FakeBotConnector) -> None:
    async with running(teams_settings(db_url, fake), fake, Router()) as teams:
        activities = []
        for i in range(14):
            install = fixture("installation_update_personal", fake, id=f"f:install-{i}")
            update = fixture(
                "installation_update_personal",
                fake,
                id=f"f:update-{i}",
                type="conversationUpdate",
                membersAdded=[{"id": USER, "aadObjectId": AAD}],
            )
            update.pop("action")
            activities += [install, update]
        responses = await asyncio.gather(*(teams.post(a) for a in activities))
        assert [r.status for r in responses if r.status >= 300] == []
        with teams.bot.db.session() as s:
            keys = list(s.scalars(select(ConversationReference.key)))
            assert len(keys) == len(set(keys))
            assert f"user:{USER}" in keys and f"user:{AAD}" in keys
            assert s.scalar(select(func.count()).select_from(ConversationReference)) == len(keys)


async def test_concurrent_sends_to_a_new_channel_all_succeed(
    db_url: str, fake: FakeBotConnector
) -> None:
    """After a successful send the conversation is remembered (conv:<id>); two sends racing on
    that insert must both report success, or the outbox would park a delivered row."""
    async with running(teams_settings(db_url, fake), fake, Router()) as teams:
        response = await teams.post(fixture("conversation_update_team", fake))
        assert response.status < 300
        channel = "19:another-channel@thread.tacv2"
        message = Message(summary="Pulse", parts=[Text(text="Hello")])
        refs = await asyncio.gather(
            *(
                teams.platform.post(Address("channel", channel), message, dedupe_key=f"k{i}")
                for i in range(12)
            )
        )
        assert {r.conversation_id for r in refs} == {channel}
        with teams.bot.db.session() as s:
            keys = list(s.scalars(select(ConversationReference.key)))
        assert keys.count(f"conv:{channel}") == 1


def _joins_router(seen: list[MemberJoined]) -> Router:
    router = Router()

    @router.joined
    def joined(ctx: FlowContext, event: MemberJoined) -> Reply:
        seen.append(event)
        return Reply()

    return router


async def test_someone_else_joining_a_team_is_not_the_adder_joining(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    seen: list[MemberJoined] = []
    async with running(teams_settings(sqlite_url, fake), fake, _joins_router(seen)) as teams:
        newcomer = "29:1NewcomerInTheTeam0123456789"
        response = await teams.post(
            fixture(
                "conversation_update_team", fake, id="f:newcomer", membersAdded=[{"id": newcomer}]
            )
        )
        assert response.status < 300
        assert seen == [], "the person who added a colleague did not join"
        # The bot itself added to the team: the adder installed the app, that is a join.
        response = await teams.post(fixture("conversation_update_team", fake))
        assert response.status < 300
        assert len(seen) == 1


async def test_uninstall_makes_the_person_unreachable(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    async with running(teams_settings(sqlite_url, fake), fake, Router()) as teams:
        await teams.post(fixture("installation_update_personal", fake))
        message = Message(summary="Pulse", parts=[Text(text="Hello")])
        await teams.platform.post(Address("user", USER), message, dedupe_key="k1")
        removed = fixture("installation_update_personal", fake, id="f:remove", action="remove")
        assert (await teams.post(removed)).status < 300
        for to in (Address("user", USER), Address("user", "", email="mette.hansen@eksempel.dk")):
            with pytest.raises(DeliveryError) as err:
                await teams.platform.post(to, message, dedupe_key="k2")
            assert err.value.reason == NOT_INSTALLED and err.value.permanent


async def test_racing_sends_through_the_outbox_are_all_sent_never_unknown(
    db_url: str, fake: FakeBotConnector
) -> None:
    """The outbox's view of the same race: every row that reached Teams is 'sent'."""
    from bot.core.outbox import queue, to_unit_channel
    from storage.models import OutboxMessage, Unit

    async with running(teams_settings(db_url, fake), fake, Router()) as teams:
        await teams.post(fixture("conversation_update_team", fake))
        channel = "19:racing-channel@thread.tacv2"
        message = Message(summary="Pulse", parts=[Text(text="Hello")])
        with teams.bot.db.session() as s:
            units = [Unit(path=f"K/{i}", name=str(i), teams_channel_id=channel) for i in range(10)]
            s.add_all(units)
            s.flush()
            queue(s, [to_unit_channel(u.id, f"sum:{u.id}", message) for u in units])
        await teams.deliver()
        with teams.bot.db.session() as s:
            statuses = list(s.scalars(select(OutboxMessage.status)))
        assert statuses == ["sent"] * 10
        assert fake.posted[channel] == 10
