"""The real `medpuls` command line, run in-process against a test database."""

from __future__ import annotations

from typer.testing import CliRunner

from bot.cli.main import app as cli_app


def cli(db_url: str, *args: str, **env: str) -> tuple[int, str]:
    """Run the real `medpuls` command line against the test database."""
    result = CliRunner().invoke(cli_app, list(args), env={"DATABASE_URL": db_url, **env})
    return result.exit_code, result.output
