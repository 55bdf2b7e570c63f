"""Issue 14.1: a half-set platform configuration stops the start, it never opens the local chat.

`serve` runs in-process here with its port already taken: a configuration that wrongly starts
(today's fail-open behaviour) then ends in a bind error (exit 1) instead of hanging the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.app.wiring import build
from bot.cli.main import app as cli_app
from bot.core.config import Settings
from bot.core.secret_key import generate_secret_key

MEDPULS = str(Path(sys.executable).parent / "medpuls")
KEY = generate_secret_key()
SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}
TEAMS = {
    "MICROSOFT_APP_ID": "00000000-0000-0000-0000-000000000001",
    "MICROSOFT_APP_PASSWORD": "pw",
    "MICROSOFT_APP_TENANT_ID": "tenant",
}


def cli(db_url: str, *args: str, **env: str) -> tuple[int, str]:
    """`medpuls` in-process, in an environment holding only what the case sets (no key
    either, whatever the test session's own environment has)."""
    full: dict[str, str | None] = {"MEDPULS_SECRET_KEY": None, "DATABASE_URL": db_url, **env}
    result = CliRunner().invoke(cli_app, list(args), env=full)
    return result.exit_code, result.output


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        yield int(s.getsockname()[1])


# (environment, the setting the one-line error must name) for every case of the finding.
HALF_SET = [
    ({"SLACK_SIGNING_SECRET": "s3cret"}, "SLACK_BOT_TOKEN is missing"),
    ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN is set but empty"),
    ({"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN is set but empty"),
    ({"SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s"}, "SLACK_CLIENT_ID is missing"),
    ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"}, "SLACK_CLIENT_SECRET is missing"),
    ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN is missing"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is missing"),
    ({"SLACK_SIGNING_SECRET": " "}, "SLACK_SIGNING_SECRET is set but empty"),
    (
        {"MICROSOFT_APP_PASSWORD": "pw", "MICROSOFT_APP_TENANT_ID": "t"},
        "MICROSOFT_APP_ID is missing",
    ),
    ({"MICROSOFT_APP_ID": ""}, "MICROSOFT_APP_ID is set but empty"),
    ({"MICROSOFT_APPID": "x", "MICROSOFT_APP_PASSWORD": "pw"}, "did you mean MICROSOFT_APP_ID"),
    ({"MICROSOFT_APPID": "x"}, "unknown setting MICROSOFT_APPID"),
    ({"SLACK_BOTTOKEN": "xoxb-1"}, "did you mean SLACK_BOT_TOKEN"),
    ({"MicrosoftAppId": "x"}, "unknown setting MicrosoftAppId"),
    ({"MICROSOFT_APP_ID": TEAMS["MICROSOFT_APP_ID"]}, "MICROSOFT_APP_PASSWORD"),
    ({**SLACK, "MEDPULS_LOCAL_CHAT": "1"}, "MEDPULS_LOCAL_CHAT=1 cannot run next to SLACK_"),
    ({"MEDPULS_LOCAL_CHAT": "1", "MICROSOFT_APP_TENANT_ID": "t"}, "MEDPULS_LOCAL_CHAT=1"),
    ({}, "MEDPULS_LOCAL_CHAT=1"),
    (SLACK, "MEDPULS_SECRET_KEY"),
    (TEAMS, "MEDPULS_SECRET_KEY"),
    ({**SLACK, "MEDPULS_SECRET_KEY": "short"}, "MEDPULS_SECRET_KEY must be 32 random bytes"),
    ({"MEDPULS_LOCAL_CHAT": "1", "MEDPULS_HOST": ""}, "MEDPULS_HOST is set but empty"),
]


@pytest.mark.parametrize(("env", "named"), HALF_SET, ids=[str(e) for e, _ in HALF_SET])
def test_a_half_set_configuration_is_a_one_line_error_naming_the_setting(
    sqlite_url: str, busy_port: int, env: dict[str, str], named: str
) -> None:
    code, out = cli(sqlite_url, "serve", PORT=str(busy_port), **env)
    assert code == 2, out
    [line] = out.strip().splitlines()
    assert line.startswith("error: ") and named in line, line
    assert "Traceback" not in out


@pytest.mark.parametrize(("env", "named"), HALF_SET[:3] + HALF_SET[8:11])
def test_the_worker_refuses_the_same(sqlite_url: str, env: dict[str, str], named: str) -> None:
    code, out = cli(sqlite_url, "worker", **env)
    assert code == 2 and named in out, out


def test_a_misspelt_name_in_dot_env_is_caught_too(sqlite_url: str, busy_port: int) -> None:
    # conftest runs each test in its own empty directory, where Settings reads .env.
    Path(".env").write_text("MICROSOFT_APP_PASWORD=pw\nMICROSOFT_APP_TENANT_ID=t\n")
    code, out = cli(sqlite_url, "serve", PORT=str(busy_port))
    assert code == 2 and "unknown setting MICROSOFT_APP_PASWORD" in out, out
    assert "did you mean MICROSOFT_APP_PASSWORD?" in out


@pytest.mark.parametrize(
    "platform",
    [{"SLACK_SIGNING_SECRET": "s"}, {"SLACK_BOT_TOKEN": ""}, {"MICROSOFT_APP_PASSWORD": "x"}],
)
def test_no_platform_setting_may_sit_next_to_the_local_chat_even_when_built_directly(
    sqlite_url: str, platform: dict[str, str]
) -> None:
    settings = Settings(DATABASE_URL=sqlite_url, MEDPULS_LOCAL_CHAT=True, **platform)
    assert not settings.local_enabled
    bot = build(settings)
    assert "local" not in bot.platforms
    bot.db.dispose()


def test_the_local_chat_is_off_unless_asked_for(sqlite_url: str) -> None:
    assert not Settings(DATABASE_URL=sqlite_url).local_enabled
    assert Settings(DATABASE_URL=sqlite_url, MEDPULS_LOCAL_CHAT=True).local_enabled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path}/run.db",
        "PORT": str(port),
        "MEDPULS_IN_PROCESS_WORKER": "false",
        **env,
    }
    subprocess.run([MEDPULS, "db", "upgrade"], env=full, check=True, capture_output=True)
    proc = subprocess.Popen(
        [MEDPULS, "serve"], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for _ in range(150):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port
        except httpx.TransportError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"serve did not come up: {proc.communicate()[1]}")


def _reachable_beside_loopback(port: int) -> bool:
    """127.0.0.2 is loopback too on Linux, but only a socket bound to all interfaces gets it."""
    try:
        httpx.get(f"http://127.0.0.2:{port}/healthz", timeout=2)
        return True
    except httpx.TransportError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="uses 127.0.0.2, loopback on Linux")
def test_the_local_chat_listens_on_loopback_only_by_default(tmp_path: Path) -> None:
    proc, port = _serve(tmp_path, MEDPULS_LOCAL_CHAT="1")
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["platforms"] == ["local"]
        assert not _reachable_beside_loopback(port)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "warning" not in err


@pytest.mark.skipif(sys.platform != "linux", reason="uses 127.0.0.2, loopback on Linux")
def test_medpuls_host_opens_it_wider_with_a_warning(tmp_path: Path) -> None:
    proc, port = _serve(tmp_path, MEDPULS_LOCAL_CHAT="1", MEDPULS_HOST="0.0.0.0")
    try:
        assert _reachable_beside_loopback(port)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "warning: the local chat has no login and listens on 0.0.0.0" in err
