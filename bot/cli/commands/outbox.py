"""`medpuls outbox ...`: what the outbox could not settle by itself, for an operator to settle.

Listings show ids, purposes, platforms, times and errors: never a message's contents nor whom
it was for, so they can be pasted into a ticket.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import func, select, update

from bot.cli.commands._common import database, user_errors
from bot.core.errors import MedpulsError
from storage.models import OutboxMessage, utcnow

NAME = "outbox"
app = typer.Typer(
    help="Messages whose delivery failed or whose outcome is unknown.", no_args_is_help=True
)


def _listing(status: str, limit: int) -> None:
    _, db = database()
    with db.session() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == status)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    if not rows:
        typer.echo(f"no {status} messages")
    for row in rows:
        created = row.created_at.strftime("%Y-%m-%d %H:%M")
        typer.echo(
            f"{row.id}\t{created}\t{row.purpose or '-'}\t{row.platform or '-'}\t"
            f"attempts={row.attempts}\t{row.last_error or ''}"
        )


@app.command("unknown")
@user_errors
def unknown(
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 200,
) -> None:
    """Messages that may or may not have arrived: check, then resend or forget them."""
    _listing("unknown", limit)


@app.command("dead")
@user_errors
def dead(
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 200,
) -> None:
    """Messages given up on after repeated or permanent failures."""
    _listing("dead", limit)


@app.command("stats")
@user_errors
def stats() -> None:
    """How many messages are in each state."""
    _, db = database()
    with db.session() as session:
        counts = session.execute(
            select(OutboxMessage.status, func.count())
            .group_by(OutboxMessage.status)
            .order_by(OutboxMessage.status)
        ).all()
    for status, count in counts:
        typer.echo(f"{status}\t{count}")


def _settle(row_id: int, *, to: str) -> None:
    _, db = database()
    with db.session() as session:
        values: dict[str, object] = {"status": to}
        if to == "pending":
            values.update(next_attempt_at=utcnow(), claimed_by=None, attempts=0)
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status.in_(("unknown", "dead")))
            .values(**values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise MedpulsError(f"no unknown or dead message with id {row_id}")


@app.command("resend")
@user_errors
def resend(row_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Queue the message again (only when you know it did not arrive)."""
    _settle(row_id, to="pending")
    typer.echo(f"message {row_id} queued again")


@app.command("forget")
@user_errors
def forget(row_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Mark the message handled without sending it again."""
    _settle(row_id, to="forgotten")
    typer.echo(f"message {row_id} marked as handled")
