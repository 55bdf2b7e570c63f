"""`medpuls digest ...`: send this week's leader digests now."""

from __future__ import annotations

import typer

from bot.cli.commands._common import database, say_when_held, user_errors
from bot.core.i18n import translator
from flows.digest_now import send_now, send_now_lines
from storage.models import utcnow

NAME = "digest"
app = typer.Typer(help="Weekly digests for leaders.", no_args_is_help=True)


@app.command("send-now")
@user_errors
def digest_send_now(
    again: bool = typer.Option(
        False, "--again", help="Send an updated digest to leaders who already had this week's."
    ),
) -> None:
    """Queue this week's digest for every leader now (paused leaders excepted), and say how
    many already had it and when."""
    s, db = database()
    with db.session() as session:
        report = send_now(session, s, utcnow(), again=again)
    for line in send_now_lines(report, translator(s.language), s.tz):
        typer.echo(line)
    if report.queued:
        say_when_held(s)
