"""`medpuls audit list`: the audit log (who viewed or changed what; never an answer)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from bot.cli.commands._common import database, user_errors
from bot.core.errors import InvalidInput
from flows.access import audit_lines

NAME = "audit"
app = typer.Typer(help="Read the audit log.", no_args_is_help=True)


def _since(value: str | None, tz: dt.tzinfo) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--since {value!r} is not a date (YYYY-MM-DD[THH:MM])") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


@app.command("list")
@user_errors
def audit_list(
    since: Annotated[
        str | None, typer.Option(help="Only entries from this date or time (local time).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 100,
) -> None:
    """Print audit entries, newest first: time, actor, action, subject, allowed, detail."""
    s, db = database()
    with db.session() as session:
        lines = audit_lines(session, since=_since(since, s.tz), limit=limit)
    for line in lines:
        outcome = "allowed" if line.allowed else "REFUSED"
        detail = json.dumps(line.detail, ensure_ascii=False, sort_keys=True) if line.detail else ""
        at = line.at.astimezone(s.tz).isoformat(timespec="seconds")
        typer.echo(f"{at}\t{line.actor}\t{line.action}\t{line.subject}\t{outcome}\t{detail}")
    if not lines:
        typer.echo("no audit entries", err=True)
