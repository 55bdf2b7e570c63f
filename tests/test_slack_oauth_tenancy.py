"""OAuth mode fails closed: only allowed workspaces install, and none takes over another.

Through the fake Slack Web API over HTTP, as an attacker would go: install MEDpuls from a
workspace of their own through the public /slack/install, then wait for its token to be used
for posting and look-ups, or act as a member whose e-mail they put on their own profile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.wiring import build
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.messages import Message, Text
from bot.core.outbox import queue, to_member, to_unit_channel
from storage.models import Member, SlackInstallation, Unit
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.test_slack_oauth import OAUTH, finish_install, install_callback

OURS = "T0MEDPULS"
OURS_TOKEN = "xoxb-ours-0001"
EVIL = "T0EVIL"
EVIL_TOKEN = "xoxb-evil-0001"
SECOND = "T0SECOND"
SECOND_TOKEN = "xoxb-second-0001"
PEOPLE = ["anne", "bo", "carl", "dorte", "emil"]


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack(team_id=OURS, bot_token=OURS_TOKEN) as api:
        for name in PEOPLE:
            api.add_user(f"U0{name.upper()}", f"{name}@eksempel.dk", team_id=OURS)
        yield api


def _as_workspace(fake: FakeSlack, team_id: str, token: str) -> None:
    """The next install through the fake comes from this workspace."""
    fake.team_id = team_id
    fake.bot_token = token


async def _install(ws: SlackWorkspace) -> tuple[int, str]:
    return await finish_install(ws, *await install_callback(ws))


@asynccontextmanager
async def ours_and_second(db_url: str, fake: FakeSlack) -> AsyncIterator[SlackWorkspace]:
    """Both allowed workspaces installed, ours first; C0OURS is in ours, C0THEIRS in the
    second."""
    settings = {**OAUTH, "SLACK_ALLOWED_TEAM_IDS": f"{OURS},{SECOND}"}
    fake.channels.update({"C0OURS": OURS, "C0THEIRS": SECOND})
    async with SlackWorkspace(db_url, fake, **settings) as ws:
        assert (await _install(ws))[0] == 200
        _as_workspace(fake, SECOND, SECOND_TOKEN)
        assert (await _install(ws))[0] == 200
        yield ws


def _rows(ws: SlackWorkspace) -> list[str | None]:
    with ws.bot.db.session() as s:
        return [r.team_id for r in s.scalars(select(SlackInstallation))]


def _members(ws: SlackWorkspace) -> list[int]:
    with ws.bot.db.session() as s:
        s.add_all(Member(email=f"{n}@eksempel.dk", name=n.title()) for n in PEOPLE)
        s.flush()
        return [m.id for m in s.scalars(select(Member).order_by(Member.id))]


async def _dm_everyone(ws: SlackWorkspace, ids: list[int]) -> None:
    hello = Message(summary="Hej", parts=[Text(text="Hej")])
    with ws.bot.db.session() as s:
        queue(s, [to_member(i, f"hello:{i}", hello) for i in ids])
    await ws.deliver()


def test_oauth_mode_without_an_allow_list_does_not_start(sqlite_url: str) -> None:
    values = {**OAUTH, "DATABASE_URL": sqlite_url, "SLACK_SIGNING_SECRET": "s"}
    values.pop("SLACK_ALLOWED_TEAM_IDS")
    with pytest.raises(ConfigError, match="SLACK_ALLOWED_TEAM_IDS"):
        build(Settings(**values))


def test_oauth_mode_without_a_secret_key_does_not_start(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDPULS_SECRET_KEY")  # conftest gives every test one
    values = {**OAUTH, "DATABASE_URL": sqlite_url, "SLACK_SIGNING_SECRET": "s"}
    values.pop("MEDPULS_SECRET_KEY")
    with pytest.raises(ConfigError, match="MEDPULS_SECRET_KEY"):
        build(Settings(**values))


async def test_a_foreign_workspace_cannot_install(sqlite_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(sqlite_url, fake, **OAUTH) as ws:
        _as_workspace(fake, EVIL, EVIL_TOKEN)
        status, page = await _install(ws)
        assert status == 403
        assert "MEDpuls blev ikke installeret" in page
        assert _rows(ws) == [], "the foreign installation is not kept"
        assert fake.revoked == [EVIL_TOKEN], "its token is given back to Slack"


async def test_an_allowed_enterprise_may_install(sqlite_url: str, fake: FakeSlack) -> None:
    settings = {**OAUTH, "SLACK_ALLOWED_TEAM_IDS": "", "SLACK_ALLOWED_ENTERPRISE_IDS": "E0KOMMUNE"}
    async with SlackWorkspace(sqlite_url, fake, **settings) as ws:
        fake.enterprise_id = "E0KOMMUNE"
        status, _ = await _install(ws)
        assert status == 200
        assert _rows(ws) == [OURS]


async def test_a_refused_install_takes_over_nothing(db_url: str, fake: FakeSlack) -> None:
    """The finding's run: after a foreign install, 5 of 5 members were marked unreachable."""
    async with SlackWorkspace(db_url, fake, **OAUTH) as ws:
        assert (await _install(ws))[0] == 200
        _as_workspace(fake, EVIL, EVIL_TOKEN)
        assert (await _install(ws))[0] == 403
        ids = _members(ws)
        await _dm_everyone(ws, ids)
        with ws.bot.db.session() as s:
            members = list(s.scalars(select(Member).order_by(Member.id)))
            assert [m.unreachable for m in members] == [None] * 5
            assert [m.slack_user_id for m in members] == [f"U0{n.upper()}" for n in PEOPLE]
        assert {c.token for c in fake.calls_to("users.lookupByEmail")} == {OURS_TOKEN}
        assert {c.token for c in fake.calls_to("chat.postMessage")} == {OURS_TOKEN}


async def test_a_second_allowed_workspace_does_not_become_the_default(
    db_url: str, fake: FakeSlack
) -> None:
    settings = {**OAUTH, "SLACK_ALLOWED_TEAM_IDS": f"{OURS},{SECOND}"}
    async with SlackWorkspace(db_url, fake, **settings) as ws:
        assert (await _install(ws))[0] == 200
        _as_workspace(fake, SECOND, SECOND_TOKEN)
        fake.add_user("U0FRIDA", "frida@eksempel.dk", team_id=SECOND)
        assert (await _install(ws))[0] == 200
        ids = _members(ws)
        with ws.bot.db.session() as s:
            frida = Member(email="frida@eksempel.dk", name="Frida")
            s.add(frida)
            s.flush()
            ids.append(frida.id)
        await _dm_everyone(ws, ids)
        with ws.bot.db.session() as s:
            members = list(s.scalars(select(Member).order_by(Member.id)))
            assert [m.unreachable for m in members] == [None] * 6
            assert [m.slack_team_id for m in members] == [OURS] * 5 + [SECOND]
        posted = {c.args["channel"]: c.token for c in fake.calls_to("chat.postMessage")}
        assert posted["U0FRIDA"] == SECOND_TOKEN
        assert {posted[f"U0{n.upper()}"] for n in PEOPLE} == {OURS_TOKEN}


def _home_opened(team_id: str, user_id: str) -> dict[str, Any]:
    envelope = fixture("app_home_opened")
    envelope["team_id"] = team_id
    envelope["authorizations"][0]["team_id"] = team_id
    envelope["event"]["user"] = user_id
    envelope["event_id"] = f"Ev0{team_id}{user_id}"
    return envelope


async def test_a_foreign_user_with_a_members_email_is_not_bound(
    db_url: str, fake: FakeSlack
) -> None:
    async with SlackWorkspace(db_url, fake, **OAUTH) as ws:
        assert (await _install(ws))[0] == 200
        _members(ws)
        _as_workspace(fake, EVIL, EVIL_TOKEN)
        await _install(ws)
        # Mallory's own workspace, her profile e-mail set to Anne's.
        fake.add_user("U0MALLORY", "anne@eksempel.dk", team_id=EVIL)
        await ws.event(_home_opened(EVIL, "U0MALLORY"))
        # And as a Slack Connect guest in one of our channels: the event is our workspace's,
        # the user is not.
        await ws.event(_home_opened(OURS, "U0MALLORY"))
        await ws.drain()
        with ws.bot.db.session() as s:
            anne = s.scalars(select(Member).where(Member.email == "anne@eksempel.dk")).one()
            assert anne.slack_user_id is None


async def test_our_own_user_is_still_bound_by_email(db_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(db_url, fake, **OAUTH) as ws:
        assert (await _install(ws))[0] == 200
        _members(ws)
        await ws.event(_home_opened(OURS, "U0ANNE"))
        await ws.drain()
        with ws.bot.db.session() as s:
            anne = s.scalars(select(Member).where(Member.email == "anne@eksempel.dk")).one()
            assert (anne.slack_user_id, anne.slack_team_id) == ("U0ANNE", OURS)


async def test_the_oauth_state_is_single_use(sqlite_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(sqlite_url, fake, **OAUTH) as ws:
        url, jar = await install_callback(ws)
        assert (await finish_install(ws, url, jar))[0] == 200
        status, _ = await finish_install(ws, url, jar)
        assert status >= 400
        assert len(fake.calls_to("oauth.v2.access")) == 1


async def test_channel_posts_go_through_the_channels_own_workspace(
    sqlite_url: str, fake: FakeSlack
) -> None:
    """A unit channel does not say its workspace: the installations are tried, earliest
    first, until one knows the channel; a later install never takes over the others'."""
    async with ours_and_second(sqlite_url, fake) as ws:
        with ws.bot.db.session() as s:
            ours = Unit(path="Kommune", name="Kommune", slack_channel_id="C0OURS")
            theirs = Unit(path="Region", name="Region", slack_channel_id="C0THEIRS")
            s.add_all([ours, theirs])
            s.flush()
            summary = Message(summary="Resultat", parts=[Text(text="Resultat")])
            queue(s, [to_unit_channel(u.id, f"sum:{u.id}", summary) for u in (ours, theirs)])
        assert await ws.deliver() == 2
        delivered = [
            (c.args["channel"], c.token)
            for c in fake.calls_to("chat.postMessage")
            if c.result.get("ok")
        ]
        assert sorted(delivered) == [("C0OURS", OURS_TOKEN), ("C0THEIRS", SECOND_TOKEN)]
        assert ("C0OURS", SECOND_TOKEN) not in [
            (c.args["channel"], c.token) for c in fake.calls_to("chat.postMessage")
        ]


async def test_single_workspace_mode_binds_only_its_own_users_by_email(
    db_url: str, fake: FakeSlack
) -> None:
    """SLACK_BOT_TOKEN without an allow-list: the token's own workspace (auth.test) is ours,
    a Slack Connect guest from elsewhere is not, whatever e-mail their profile shows."""
    async with SlackWorkspace(db_url, fake) as ws:
        _members(ws)
        fake.add_user("U0MALLORY", "bo@eksempel.dk", team_id=EVIL)
        await ws.event(_home_opened(OURS, "U0MALLORY"))
        await ws.event(_home_opened(OURS, "U0ANNE"))
        await ws.drain()
        with ws.bot.db.session() as s:
            bound = dict(s.execute(select(Member.email, Member.slack_user_id)).tuples().all())
        assert bound["anne@eksempel.dk"] == "U0ANNE"
        assert bound["bo@eksempel.dk"] is None


async def test_an_org_wide_install_serves_its_workspaces_but_authorises_no_stranger(
    sqlite_url: str, fake: FakeSlack
) -> None:
    from slack_sdk.oauth.installation_store.models.installation import Installation

    from adapters.slack.platform import SlackPlatform

    settings = {**OAUTH, "SLACK_ALLOWED_TEAM_IDS": "", "SLACK_ALLOWED_ENTERPRISE_IDS": "E0KOMMUNE"}
    async with SlackWorkspace(sqlite_url, fake, **settings) as ws:
        platform = ws.bot.platforms["slack"]
        assert isinstance(platform, SlackPlatform) and platform.store is not None
        await platform.store.async_save(
            Installation(
                user_id="U0ADMIN",
                enterprise_id="E0KOMMUNE",
                team_id=None,
                bot_token="xoxb-org-0001",
                is_enterprise_install=True,
            )
        )
        # A member's remembered workspace of the org: the org install's token.
        assert await platform.token_for("T0SKOLE") == "xoxb-org-0001"
        # A request from a workspace outside the org is not authorised by guessing.
        found = await platform.store.async_find_installation(enterprise_id=None, team_id=EVIL)
        assert found is None
