"""Secrets at rest: whoever holds only the database holds no Slack token; charts expire.

Tokens are sealed with Fernet under MEDPULS_SECRET_KEY (bot/core/sealing.py); the key rotates with
MEDPULS_SECRET_KEY_PREVIOUS and `medpuls secret-key rotate`. Chart images follow
MEDPULS_RETENTION_MONTHS, both in the retention job and when served.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from adapters.slack.installation_store import DbInstallationStore
from adapters.slack.tenancy import Workspaces
from bot.cli.main import app as cli_app
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.sealing import sealer
from bot.core.secret_key import generate_secret_key, parse_secret_key
from flows.privacy import apply_retention
from storage.models import StoredImage, utcnow
from tests.fakes.slack_api import FakeSlack, SlackWorkspace
from tests.test_slack_oauth import OAUTH, _install

TOKEN = "xoxb-sealed-at-rest-0001"


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack(bot_token=TOKEN) as api:
        yield api


def _raw_rows(db_url: str) -> list[str]:
    """Every column of every slack_installations row, as the database hands it out."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM slack_installations")).all()
    finally:
        engine.dispose()
    return [" ".join(str(value) for value in row) for row in rows]


def _store(db_url: str, **keys: str) -> DbInstallationStore:
    from storage.db import Database

    settings = Settings(_env_file=None, DATABASE_URL=db_url, **keys)  # type: ignore[call-arg]
    return DbInstallationStore(
        Database(db_url), Workspaces(), sealer(settings, "slack-tokens", needed_for="test")
    )


async def test_the_stored_installation_holds_no_token(db_url: str, fake: FakeSlack) -> None:
    async with SlackWorkspace(db_url, fake, **OAUTH) as ws:
        await _install(ws)
    [row] = _raw_rows(db_url)
    assert "T0MEDPULS" in row
    assert TOKEN not in row
    assert "xoxb" not in row
    found = await _store(
        db_url, MEDPULS_SECRET_KEY=str(OAUTH["MEDPULS_SECRET_KEY"])
    ).async_find_bot(enterprise_id=None, team_id="T0MEDPULS")
    assert found is not None and found.bot_token == TOKEN


async def test_the_key_rotates(sqlite_url: str, fake: FakeSlack) -> None:
    old = str(OAUTH["MEDPULS_SECRET_KEY"])
    async with SlackWorkspace(sqlite_url, fake, **OAUTH) as ws:
        await _install(ws)
    before = _raw_rows(sqlite_url)
    new = generate_secret_key()
    env = {
        "DATABASE_URL": sqlite_url,
        "MEDPULS_SECRET_KEY": new,
        "MEDPULS_SECRET_KEY_PREVIOUS": old,
    }
    result = CliRunner().invoke(cli_app, ["secret-key", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 Slack installation(s)" in result.output
    assert _raw_rows(sqlite_url) != before
    assert TOKEN not in _raw_rows(sqlite_url)[0]
    # The new key alone opens it; the old key alone no longer does.
    bot = await _store(sqlite_url, MEDPULS_SECRET_KEY=new).async_find_bot(
        enterprise_id=None, team_id="T0MEDPULS"
    )
    assert bot is not None and bot.bot_token == TOKEN
    with pytest.raises(ConfigError, match="cannot be opened"):
        await _store(sqlite_url, MEDPULS_SECRET_KEY=old).async_find_bot(
            enterprise_id=None, team_id="T0MEDPULS"
        )


def test_rotate_without_a_key_is_one_line(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDPULS_SECRET_KEY")  # conftest gives every test one
    result = CliRunner().invoke(cli_app, ["secret-key", "rotate"], env={"DATABASE_URL": sqlite_url})
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "MEDPULS_SECRET_KEY" in result.output


def test_secret_key_prints_a_new_key_each_time() -> None:
    first = CliRunner().invoke(cli_app, ["secret-key"])
    second = CliRunner().invoke(cli_app, ["secret-key"])
    assert first.exit_code == second.exit_code == 0
    assert len(parse_secret_key(first.output.strip())) == 32
    assert first.output != second.output


async def test_charts_expire_with_retention(db_url: str) -> None:
    now = utcnow()
    async with FakeSlack() as api, SlackWorkspace(db_url, api, MEDPULS_RETENTION_MONTHS=12) as ws:
        with ws.bot.db.session() as s:
            s.add(StoredImage(id="fresh", png=b"\x89PNG fresh", created_at=now))
            s.add(
                StoredImage(
                    id="stale", png=b"\x89PNG stale", created_at=now - dt.timedelta(days=370)
                )
            )

        async def status(image_id: str) -> int:
            async with ws.http.get(str(ws.server.make_url(f"/images/{image_id}.png"))) as r:
                return r.status

        assert await status("fresh") == 200
        # Past retention it is not served, whether or not the job has run yet ...
        assert await status("stale") == 404
        assert await status("fresh" + "x" * 60) == 404
        # ... and the job deletes it.
        apply_retention(ws.bot.db, ws.bot.settings, now)
        with ws.bot.db.session() as s:
            assert list(s.scalars(select(StoredImage.id))) == ["fresh"]
            assert s.scalar(select(func.count()).select_from(StoredImage)) == 1


async def test_serve_refuses_to_start_with_a_key_that_cannot_open_the_tokens(
    sqlite_url: str, fake: FakeSlack
) -> None:
    async with SlackWorkspace(sqlite_url, fake, **OAUTH) as ws:
        await _install(ws)
    other = {**OAUTH, "MEDPULS_SECRET_KEY": generate_secret_key()}
    with pytest.raises(ConfigError, match="cannot be opened with MEDPULS_SECRET_KEY"):
        async with SlackWorkspace(sqlite_url, fake, **other):
            pass
