"""`medpuls meeting add`: schedule a committee meeting; deadlines from the committee's defaults."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.commands._common import CommitteeName, committee_named, database, user_errors
from bot.core.errors import InvalidInput
from flows.agenda import OffDay, parse_when, schedule_meeting
from storage.models import utcnow

NAME = "meeting"
app = typer.Typer(help="Committee meetings.", no_args_is_help=True)


@app.command("add")
@user_errors
def meeting_add(
    committee: CommitteeName,
    date: Annotated[
        str, typer.Option("--date", help="Local start, YYYY-MM-DDTHH:MM (MEDPULS_TIMEZONE).")
    ],
    place: Annotated[str | None, typer.Option("--place", help="Room, address or link.")] = None,
    off_day: Annotated[
        bool,
        typer.Option(
            "--off-day", help="Hold it although it is a weekend or a Danish public holiday."
        ),
    ] = False,
) -> None:
    """Schedule a meeting and call for proposals in the units the committee serves."""
    s, db = database()
    starts_at = parse_when(date, s.tz)
    with db.session() as session:
        found = committee_named(session, committee)
        try:
            meeting = schedule_meeting(
                session,
                found,
                starts_at,
                now=utcnow(),
                settings=s,
                place=place,
                off_day_confirmed=off_day,
            )
        except OffDay as off:
            raise InvalidInput(f"{off}; add --off-day to hold it anyway") from None
        deadline = meeting.proposal_deadline.astimezone(s.tz)
        release = meeting.agenda_release.astimezone(s.tz)
        meeting_id = meeting.id
    typer.echo(
        f"meeting {meeting_id} of {committee}: {starts_at:%Y-%m-%d %H:%M}, "
        f"proposals due {deadline:%Y-%m-%d %H:%M}, agenda released {release:%Y-%m-%d %H:%M}"
    )
