"""Teams fails closed on the tenant: a valid Bot Framework token is not a tenant check.

Activities are posted over real HTTP with tokens signed by the fake Bot Framework's key, in
the shapes of adapters/teams/fixtures/. A token from the Bot Connector says only that the
activity is for our app id; the tenant must be ours too (single-tenant: MICROSOFT_APP_TENANT_ID;
multi-tenant: MEDPULS_TEAMS_ALLOWED_TENANT_IDS), in every place the activity states it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app.wiring import build
from bot.core.errors import MedpulsError
from bot.core.events import InboundEvent
from bot.core.messages import NO_REPLY, Reply
from bot.core.router import FlowContext, Router
from storage.models import ConversationReference, Member, ProcessedEvent
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import (
    AAD,
    USER,
    bot_connector,
    fixture,
    roster_entry,
    running,
    teams_settings,
)

FOREIGN = "0badf00d-0000-4000-8000-0000000f0e19"
MALLORY = "29:1MalloryFromAnotherTenant-personal"
MALLORY_AAD = "1a2b3c4d-0000-4000-8000-00000000ba5e"
EMAIL = "mette.hansen@eksempel.dk"

Activity = dict[str, Any]


def _foreign_both(a: Activity) -> None:
    a["channelData"]["tenant"]["id"] = FOREIGN
    a["conversation"]["tenantId"] = FOREIGN


def _no_tenant(a: Activity) -> None:
    del a["channelData"]["tenant"]
    del a["conversation"]["tenantId"]


def _conversation_foreign(a: Activity) -> None:
    a["conversation"]["tenantId"] = FOREIGN


def _channel_data_foreign(a: Activity) -> None:
    a["channelData"]["tenant"]["id"] = FOREIGN


def _only_channel_data_foreign(a: Activity) -> None:
    a["channelData"]["tenant"]["id"] = FOREIGN
    del a["conversation"]["tenantId"]


def _only_conversation_foreign(a: Activity) -> None:
    del a["channelData"]["tenant"]
    a["conversation"]["tenantId"] = FOREIGN


CASES: dict[str, Callable[[Activity], None]] = {
    "foreign tenant in both places": _foreign_both,
    "no tenant at all": _no_tenant,
    "ours in channelData, foreign in conversation": _conversation_foreign,
    "foreign in channelData, ours in conversation": _channel_data_foreign,
    "only channelData, foreign": _only_channel_data_foreign,
    "only conversation.tenantId, foreign": _only_conversation_foreign,
}


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    yield from bot_connector(
        roster_entry(email=EMAIL), roster_entry(MALLORY, MALLORY_AAD, email=EMAIL)
    )


def _seeing_router(seen: list[int | None]) -> Router:
    """Records, for each "hjælp" typed, the member the core resolved (None: a stranger)."""
    router = Router()

    @router.command("help")
    def record(ctx: FlowContext, event: InboundEvent) -> Reply:
        seen.append(ctx.member.id if ctx.member else None)
        return NO_REPLY

    return router


def _processed(teams: Any) -> int:
    with teams.bot.db.session() as s:
        refs = s.scalar(select(func.count()).select_from(ConversationReference))
        events = s.scalar(select(func.count()).select_from(ProcessedEvent))
    return int(refs or 0) + int(events or 0)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "shape", ["message_personal", "invoke_card_action", "installation_update_personal"]
)
async def test_single_tenant_refuses_foreign_or_missing_tenant(
    sqlite_url: str, fake: FakeBotConnector, case: str, shape: str
) -> None:
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        activity = fixture(shape, fake, id=f"f:{shape}")
        CASES[case](activity)
        response = await teams.post(activity)
        assert response.status == 403
        assert _processed(teams) == 0, "nothing stored for a foreign tenant"
        assert fake.calls == [], "no call to the Bot Connector for a foreign tenant"


async def test_own_tenant_still_served(sqlite_url: str, fake: FakeBotConnector) -> None:
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        response = await teams.post(fixture("message_personal", fake))
        assert response.status == 200
        assert _processed(teams) > 0


async def test_multi_tenant_needs_an_allow_list(sqlite_url: str, fake: FakeBotConnector) -> None:
    settings = teams_settings(sqlite_url, fake, MICROSOFT_APP_TYPE="MultiTenant")
    with pytest.raises(MedpulsError, match="MEDPULS_TEAMS_ALLOWED_TENANT_IDS"):
        build(settings)


async def test_single_tenant_allow_list_cannot_widen(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    settings = teams_settings(sqlite_url, fake, MEDPULS_TEAMS_ALLOWED_TENANT_IDS=FOREIGN)
    with pytest.raises(MedpulsError, match="MICROSOFT_APP_TENANT_ID only"):
        build(settings)


async def test_multi_tenant_serves_listed_tenants_only(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    other = "7c6b5a49-0000-4000-8000-00000000a11e"
    settings = teams_settings(
        sqlite_url,
        fake,
        MICROSOFT_APP_TYPE="MultiTenant",
        MEDPULS_TEAMS_ALLOWED_TENANT_IDS=f"{fake.tenant.upper()}, {other}",
    )
    async with running(settings, fake) as teams:
        assert (await teams.post(fixture("message_personal", fake, id="ours"))).status == 200
        listed = fixture("message_personal", fake, id="listed")
        listed["channelData"]["tenant"]["id"] = other
        listed["conversation"]["tenantId"] = other
        assert (await teams.post(listed)).status == 200
        foreign = fixture("message_personal", fake, id="foreign")
        _foreign_both(foreign)
        assert (await teams.post(foreign)).status == 403


@asynccontextmanager
async def _mette_known(
    db_url: str, fake: FakeBotConnector, *, bound: bool
) -> AsyncIterator[tuple[Any, list[int | None]]]:
    """The bot with Mette Hansen a member, `bound` to her Teams account or known only by her
    e-mail; and whom each "hjælp" came from, as the core resolved it (None: a stranger)."""
    seen: list[int | None] = []
    async with running(teams_settings(db_url, fake), fake, _seeing_router(seen)) as teams:
        ids = {"teams_user_id": USER, "teams_aad_id": AAD} if bound else {}
        with teams.bot.db.session() as s:
            s.add(Member(email=EMAIL, name="Mette Hansen", **ids))
        yield teams, seen


def _member(teams: Any) -> Member:
    with teams.bot.db.session() as s:
        [member] = s.scalars(select(Member))
        s.expunge(member)
        return member


def _bound_to(teams: Any) -> tuple[str | None, str | None]:
    """The Teams user id and AAD object id the member is bound to."""
    member = _member(teams)
    return member.teams_user_id, member.teams_aad_id


def _mallory(activity_id: str, fake: FakeBotConnector) -> Activity:
    activity = fixture("message_personal", fake, id=activity_id)
    activity["from"] = {"id": MALLORY, "name": "Mette Hansen", "aadObjectId": MALLORY_AAD}
    return activity


async def test_foreign_user_with_the_members_email_does_not_rebind(
    db_url: str, fake: FakeBotConnector
) -> None:
    async with _mette_known(db_url, fake, bound=True) as (teams, seen):
        activity = _mallory("foreign-1", fake)
        _foreign_both(activity)
        assert (await teams.post(activity)).status == 403
        assert _bound_to(teams) == (USER, AAD)
        assert seen == []


async def test_second_account_with_the_members_email_is_a_stranger(
    db_url: str, fake: FakeBotConnector
) -> None:
    """Within our tenant too: a guest's e-mail is whatever their home tenant says."""
    async with _mette_known(db_url, fake, bound=True) as (teams, seen):
        activity = _mallory("guest-1", fake)
        assert (await teams.post(activity)).status == 200
        assert _bound_to(teams) == (USER, AAD)
        assert seen == [None]


async def test_first_contact_binds_by_email_and_remembers_the_directory_id(
    db_url: str, fake: FakeBotConnector
) -> None:
    async with _mette_known(db_url, fake, bound=False) as (teams, seen):
        assert (await teams.post(fixture("message_personal", fake))).status == 200
        member = _member(teams)
        assert seen == [member.id]
        assert (member.teams_user_id, member.teams_aad_id) == (USER, AAD)


async def test_a_guest_in_our_tenant_is_not_bound_by_email(
    db_url: str, fake: FakeBotConnector
) -> None:
    """A guest's e-mail comes from their home organisation: it introduces no member."""
    fake.members[MALLORY].update(
        userRole="guest", userPrincipalName="mallory_evil.example#EXT#@eksempel.onmicrosoft.com"
    )
    async with _mette_known(db_url, fake, bound=False) as (teams, seen):
        activity = _mallory("guest-2", fake)
        assert (await teams.post(activity)).status == 200
        assert _bound_to(teams) == (None, None)
        assert seen == [None]
