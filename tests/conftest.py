"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

PostgreSQL is the real server at 127.0.0.1:5432 (database `test`); each test gets its own
schema. Without the server those tests skip with the reason shown, unless
MEDPULS_REQUIRE_POSTGRES=1 (CI), where they fail. We never mock our own database.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "MEDPULS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A fixed MEDPULS_SECRET_KEY for every test (32 bytes, URL-safe base64); never a real one.
TEST_SECRET_KEY = "bWVkcHVscy10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA="
PLATFORM_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_ALLOWED_TEAM_IDS",
    "SLACK_ALLOWED_ENTERPRISE_IDS",
    "MEDPULS_TEAMS_ALLOWED_TENANT_IDS",
    "MEDPULS_SECRET_KEY_PREVIOUS",
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "DATABASE_URL",
    "MEDPULS_MIN_GROUP_SIZE",
    "MEDPULS_LANGUAGE",
)


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as err:
        return f"PostgreSQL at 127.0.0.1:5432 is not reachable ({type(err).__name__})"


_PG_REASON = _postgres_reason()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in PLATFORM_ENV:
        monkeypatch.delenv(name, raising=False)
    # The key kept outside the database (bot/core/secret_key.py); tests may compute with it.
    monkeypatch.setenv("MEDPULS_SECRET_KEY", TEST_SECRET_KEY)
    # Tests run at any hour; the quiet-hours tests set their own working hours and clock.
    monkeypatch.setenv("MEDPULS_WORKING_HOURS", "always")
    monkeypatch.chdir(tmp_path)
    # `medpuls serve`/`worker` run in-process by a test set up process-wide logging; put it
    # back so that one test's log lines never end up in another test's CLI output.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _local(host: object) -> bool:
    if host in (None, "", "localhost", b"localhost"):
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return name.endswith(".localhost")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fake listens on 127.0.0.1: a test that reaches further is a bug (a real Slack or
    Microsoft host, a DNS lookup). Refused as the network would refuse it, so the code under test
    takes its ordinary failure path and the test fails on what it expected instead."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(sock: socket.socket, address: Any) -> bool:
        return sock.family not in (socket.AF_INET, socket.AF_INET6) or _local(address[0])

    def connect(sock: socket.socket, address: Any) -> None:
        if not allowed(sock, address):
            raise ConnectionRefusedError(f"tests refuse network access to {address[0]}")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if not allowed(sock, address):
            raise ConnectionRefusedError(f"tests refuse network access to {address[0]}")
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests refuse to look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _sqlite_url(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "medpuls.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    return _sqlite_url(_sqlite_template, tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if _PG_REASON:
        if os.environ.get("MEDPULS_REQUIRE_POSTGRES") == "1":
            pytest.fail(_PG_REASON)
        pytest.skip(_PG_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database; tests using it run once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "postgres"
        ):
            item.add_marker(pytest.mark.postgres)


_COUNTS = {"postgres_passed": 0, "postgres_skipped": 0, "passed": 0, "failed": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    is_pg = "postgres" in report.keywords
    if report.when == "call" and report.passed:
        _COUNTS["passed"] += 1
        if is_pg:
            _COUNTS["postgres_passed"] += 1
    if report.failed:
        _COUNTS["failed"] += 1
    if report.skipped and is_pg:
        _COUNTS["postgres_skipped"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = ", ".join(f"{k}={v}" for k, v in _COUNTS.items())
    terminalreporter.write_line(f"medpuls test report: {line}")
    if _PG_REASON:
        terminalreporter.write_line(f"PostgreSQL tests skipped: {_PG_REASON}")
    report = os.environ.get("MEDPULS_TEST_REPORT")
    if report:
        Path(report).write_text("\n".join(f"{k}={v}" for k, v in _COUNTS.items()) + "\n")
