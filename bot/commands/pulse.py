"""`medpuls pulse ...`: open and close rounds by hand."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.commands._common import database, user_errors
from flows.pulse import close_now, run_now
from storage.models import utcnow

NAME = "pulse"
app = typer.Typer(help="Open and close pulse rounds by hand.", no_args_is_help=True)


@app.command("run-now")
@user_errors
def pulse_run_now(unit: Annotated[str, typer.Option("--unit", help="Unit path.")]) -> None:
    """Open a round now for the unit and the units below it."""
    s, db = database()
    with db.session() as session:
        opened = run_now(session, unit, now=utcnow(), settings=s)
    if not opened:
        typer.echo("no round opened (no members, or a round is already open)")
    for o in opened:
        typer.echo(f"round {o.round_id} opened for unit {o.unit_id}: {o.asked} asked")


@app.command("close-now")
@user_errors
def pulse_close_now(unit: Annotated[str, typer.Option("--unit", help="Unit path.")]) -> None:
    """Close the unit's open rounds now and publish the summaries."""
    s, db = database()
    with db.session() as session:
        closed = close_now(session, unit, now=utcnow(), settings=s)
    typer.echo(f"{closed} round(s) closed")
