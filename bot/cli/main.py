"""The `medpuls` command line (typer). User errors: one line on stderr, exit code 2."""

from __future__ import annotations

import asyncio
import errno
import importlib
import logging
import pkgutil
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.commands._common import fail, settings, user_errors
from bot.core.errors import MedpulsError
from bot.core.secret_key import require_secret_key

if TYPE_CHECKING:
    from bot.app.wiring import Bot

app = typer.Typer(
    help="MEDpuls: pulse surveys and MED agenda proposals in chat.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
org_app = typer.Typer(
    help="Load the organisation (units, members, roles) from CSV.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")


def _add_command_modules() -> None:
    """Every module in bot/cli/commands adds its own sub-command (see its __init__.py)."""
    from bot.cli import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bot.cli.commands.{info.name}")
        app.add_typer(module.app, name=module.NAME)


_add_command_modules()


def _bot() -> Bot:
    from bot.app.wiring import build
    from bot.core.config import check_start

    s = settings()
    # Before anything is built: a half-set platform configuration is a one-line error (exit 2),
    # never a start with less than was configured (docs/security.md).
    check_start(s)
    return build(s)


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
@user_errors
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default $PORT or 3978).")] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on (default $MEDPULS_HOST; else 127.0.0.1 for the local "
            "chat and 0.0.0.0 for Slack and Teams)."
        ),
    ] = None,
) -> None:
    """Run the web process: chat platforms' routes, /healthz, /metrics, the local chat at /."""
    from aiohttp import web

    from bot.app.server import build_web_app
    from bot.app.telemetry import configure_logging

    configure_logging()
    bot = _bot()
    require_secret_key(bot.settings)  # one line and exit 2 when Slack/Teams run without it
    chosen = port or bot.settings.port
    bind = host or bot.settings.bind_host
    # Bound before anything is said or started: a port in use is one line and exit 2.
    sock = _listen(bind, chosen)
    if "local" in bot.platforms:
        typer.echo(f"MEDpuls local chat: http://localhost:{chosen}/", err=True)
        if bind not in _LOOPBACK:
            typer.echo(
                f"warning: the local chat has no login and listens on {bind}: anyone who "
                "reaches this port can act as any member and read their messages",
                err=True,
            )
    # No access log: a JSON line per request cost ~12 % of an ack (bench/ack.py); our own
    # structured logs and /metrics say what operators need.
    web.run_app(build_web_app(bot), sock=sock, print=None, access_log=None)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one line and exit 2 when it cannot be had."""
    try:
        family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as err:
        why = "already in use" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
        fail(f"cannot listen on {host}:{port}: {why}")
        raise AssertionError("unreachable") from None


@app.command()
@user_errors
def worker(
    jobs_only: Annotated[
        bool,
        typer.Option(
            "--jobs-only",
            hidden=True,
            help="The scheduler's jobs only, stopping when stdin closes: how serve runs them.",
        ),
    ] = False,
) -> None:
    """Run the scheduler and outbox delivery only (Procfile `worker`)."""
    from bot.app.telemetry import configure_logging
    from bot.app.worker import run_jobs, run_worker, stop_on_signals, stop_when_parent_goes

    configure_logging()
    bot = _bot()
    require_secret_key(bot.settings)

    async def run() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        if jobs_only:
            stop_when_parent_goes(stop)
            await run_jobs(bot, stop)
        else:
            await run_worker(bot, stop)

    asyncio.run(run())


@app.command("secret-key")
def secret_key() -> None:
    """Print a new MEDPULS_SECRET_KEY (kept in the environment, never in the database)."""
    from bot.core.secret_key import generate_secret_key

    typer.echo(generate_secret_key())


@db_app.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Apply Alembic migrations up to head."""
    from storage.migrate import upgrade

    upgrade(settings().database_url)
    typer.echo("database is up to date")


@app.command()
@user_errors
def demo(
    history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history",
            help="Also live through the last 16 weeks (rounds, summaries, meetings, digests).",
        ),
    ] = True,
) -> None:
    """Load a demo municipality (units, members, committees, schedules, meetings) and, unless
    --no-history, its last 16 weeks: closed rounds, proposals, a past meeting, digests."""
    from bot.cli.demo import load_demo_with_history

    loaded = load_demo_with_history(settings(), history=history)
    typer.echo(loaded)


def _import(kind: str, file: Path) -> None:
    from sqlalchemy.exc import DataError, IntegrityError

    from flows.csv_table import read_file
    from flows.organisation import import_members, import_units
    from storage.db import Database

    db = Database(settings().database_url)
    loader = import_units if kind == "units" else import_members
    try:
        text = read_file(file)
        with db.session() as session:
            result = loader(session, text)
    except MedpulsError as err:
        raise MedpulsError(f"{file}: {err}; nothing was written") from None
    except (IntegrityError, DataError) as err:
        # The checks above should leave the database nothing to refuse; if it still does, one
        # line, and the transaction rolled back as a whole.
        reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        raise MedpulsError(
            f"{file}: the database refused the import ({reason[:200]}); nothing was written"
        ) from None
    typer.echo(
        f"{kind}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )


@org_app.command("import-units")
@user_errors
def import_units_cmd(file: Path) -> None:
    """Create or update units from CSV.

    Columns: unit_path, slack_channel_id, teams_channel_id, committee.
    """
    _import("units", file)


@org_app.command("import-members")
@user_errors
def import_members_cmd(file: Path) -> None:
    """Create or update members and their roles from CSV.

    Columns: unit_path, email, name, role, slack_user_id, teams_user_id.
    """
    _import("members", file)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
