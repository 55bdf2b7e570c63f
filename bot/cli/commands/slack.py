"""`medpuls slack ...`: the Slack app manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.commands._common import settings, user_errors
from bot.core.errors import InvalidInput

NAME = "slack"
app = typer.Typer(help="Slack app set-up.", no_args_is_help=True)


@app.command("manifest")
@user_errors
def slack_manifest(
    out: Annotated[Path, typer.Option("--out", help="Where to write the YAML.")] = Path(
        "slack-manifest.yaml"
    ),
    url: Annotated[
        str | None, typer.Option("--url", help="Public URL (default $MEDPULS_PUBLIC_URL).")
    ] = None,
) -> None:
    """Write the Slack app manifest (scopes, /med, shortcuts, events, URLs) as YAML."""
    from adapters.slack.manifest import write_manifest

    public_url = url or settings().public_url
    if not public_url or not public_url.startswith(("https://", "http://")):
        raise InvalidInput(
            "set MEDPULS_PUBLIC_URL (or --url) to the https:// address Slack can reach"
        )
    path = write_manifest(out, public_url, lang=settings().language)
    typer.echo(f"wrote {path}")
