"""MEDPULS_SECRET_KEY: Slack and Teams refuse to start without it; the local chat keeps a
generated one in a file beside the SQLite database (never in it)."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app as cli_app
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.secret_key import local_key_path, parse_secret_key, require_secret_key
from tests.test_pulse_support import answer, make_bot, open_first_round, organisation, schedule


def test_slack_or_teams_without_the_key_stop_at_start_with_one_line_naming_it(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDPULS_SECRET_KEY")
    env = {
        "DATABASE_URL": sqlite_url,
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "MEDPULS_IN_PROCESS_WORKER": "false",
    }
    for command in (["serve"], ["worker"]):
        result = CliRunner().invoke(cli_app, command, env=env)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert any("MEDPULS_SECRET_KEY" in line for line in lines), result.output
        assert "Traceback" not in result.output
    with pytest.raises(ConfigError, match="MEDPULS_SECRET_KEY"):
        require_secret_key(Settings(DATABASE_URL=sqlite_url, MICROSOFT_APP_ID="app"))  # type: ignore[call-arg]


def test_the_local_chat_without_the_key_keeps_a_generated_one_in_a_file_beside_the_database(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDPULS_SECRET_KEY")
    settings = Settings(DATABASE_URL=sqlite_url)  # type: ignore[call-arg]
    path = local_key_path(settings)
    assert path.parent == Path(sqlite_url.removeprefix("sqlite:///")).parent
    key = require_secret_key(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert parse_secret_key(path.read_text()) == key
    assert require_secret_key(Settings(DATABASE_URL=sqlite_url)) == key  # type: ignore[call-arg]
    # And the local chat answers with it: the database holds neither the key nor the file.
    bot = make_bot(sqlite_url)
    unit_id, members = organisation(bot, members=5)
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1))
    round_id, [q, *_] = open_first_round(bot)
    answer(bot, members[0], round_id, q, 2)
    bot.db.dispose()
    raw = Path(sqlite_url.removeprefix("sqlite:///")).read_bytes()
    assert key not in raw and path.read_text().strip().encode() not in raw
