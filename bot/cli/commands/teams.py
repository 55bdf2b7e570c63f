"""`medpuls teams ...`: the Teams app package, and who Teams cannot reach yet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.commands._common import database, fail, settings, user_errors

NAME = "teams"
app = typer.Typer(help="Microsoft Teams: app package and reachability.", no_args_is_help=True)


@app.command("manifest")
@user_errors
def teams_manifest(
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path(
        "medpuls-teams.zip"
    ),
) -> None:
    """Write the Teams app package (manifest.json, color.png, outline.png) as a zip."""
    from adapters.teams.manifest import build_package

    path = build_package(out, settings())
    typer.echo(f"Teams app package written to {path}")


@app.command("roster")
@user_errors
def teams_roster() -> None:
    """Read the member list and channels of every team the app is in, now.

    Done by itself when the app is added to a team and daily after; this is for a team whose
    app was added before, or right after people joined.
    """
    import asyncio

    from adapters.teams.platform import make_teams_platform

    s, db = database()
    if not s.microsoft_app_id:
        fail("MICROSOFT_APP_ID is not set: Teams is not configured")
    teams, people = asyncio.run(make_teams_platform(s, db).read_every_team())
    typer.echo(f"{people} member(s) read from {teams} team(s)")


@app.command("missing")
@user_errors
def teams_missing() -> None:
    """List members Teams will not let MEDpuls write to, each with the reason."""
    from adapters.teams.platform import missing_references, why_missing

    _, db = database()
    with db.session() as session:
        missing = missing_references(session)
        for member in missing:
            typer.echo(f"{member.email or member.name}: {why_missing(member)}")
    typer.echo(f"{len(missing)} member(s) cannot be reached on Teams")
