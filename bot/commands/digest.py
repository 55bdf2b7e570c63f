"""`medpuls digest ...`: send this week's leader digests now."""

from __future__ import annotations

import typer

from bot.commands._common import database, say_when_held, user_errors
from flows.digest import queue_leader_digests
from storage.models import utcnow

NAME = "digest"
app = typer.Typer(help="Weekly digests for leaders.", no_args_is_help=True)


@app.command("send-now")
@user_errors
def digest_send_now() -> None:
    """Queue this week's digest for every leader now (paused leaders excepted)."""
    s, db = database()
    with db.session() as session:
        queued = queue_leader_digests(session, s, utcnow(), due_only=False)
    typer.echo(f"{queued} digest(s) queued")
    if queued:
        say_when_held(s)
