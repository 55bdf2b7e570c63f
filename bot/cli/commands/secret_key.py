"""`medpuls secret-key`: a new MEDPULS_SECRET_KEY, and `rotate` to re-seal stored secrets."""

from __future__ import annotations

import typer

from bot.cli.commands._common import database, user_errors

NAME = "secret-key"
app = typer.Typer(
    help="Print a new MEDPULS_SECRET_KEY; `rotate` re-seals stored tokens under the current key.",
    invoke_without_command=True,
)


@app.callback()
def new_key(ctx: typer.Context) -> None:
    """Print a new key (32 random bytes, URL-safe base64) for MEDPULS_SECRET_KEY."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.core.secret_key import generate_secret_key

    # Printed once and never stored: keep it in the environment or a secret manager.
    typer.echo(generate_secret_key())


@app.command("rotate")
@user_errors
def rotate() -> None:
    """Re-seal every stored token under MEDPULS_SECRET_KEY.

    Set MEDPULS_SECRET_KEY to the new key and MEDPULS_SECRET_KEY_PREVIOUS to the old one, run
    this, then remove MEDPULS_SECRET_KEY_PREVIOUS.
    """
    from adapters.slack.installation_store import DbInstallationStore
    from adapters.slack.tenancy import Workspaces
    from bot.core.sealing import sealer

    s, db = database()
    box = sealer(s, "slack-tokens", needed_for="`medpuls secret-key rotate`")
    # Every stored row, whatever the allow-list says now: none may stay under the old key.
    count = DbInstallationStore(db, Workspaces(), box).reseal_all()
    typer.echo(
        f"{count} Slack installation(s) sealed under MEDPULS_SECRET_KEY; "
        "MEDPULS_SECRET_KEY_PREVIOUS can now be removed"
    )
