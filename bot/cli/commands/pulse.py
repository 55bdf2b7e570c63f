"""`medpuls pulse ...`: open and close rounds by hand, and set a unit's schedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy import select

from bot.cli.commands._common import database, say_when_held, user_errors
from bot.core.config import Settings
from bot.core.errors import InvalidInput, NotFound
from flows.pulse import close_now, run_now, scrub_closed_rounds
from flows.schedule import ScheduleSpec
from storage.db import Database
from storage.models import Schedule, utcnow
from storage.queries import unit_by_path

UnitPath = Annotated[str, typer.Option("--unit", help="Unit path.")]
R = TypeVar("R")

NAME = "pulse"
app = typer.Typer(help="Pulse rounds: by hand and by schedule.", no_args_is_help=True)


def _by_hand(act: Callable[..., R], unit: str) -> tuple[Settings, Database, R]:
    """Open or close by hand: both act on the unit's rounds now, with the settings in force."""
    s, db = database()
    with db.session() as session:
        return s, db, act(session, unit, now=utcnow(), settings=s)


@app.command("run-now")
@user_errors
def pulse_run_now(unit: UnitPath) -> None:
    """Open a round now for the unit and the units below it."""
    s, _, opened = _by_hand(run_now, unit)
    if not opened:
        typer.echo("no round opened (no members, or a round is already open)")
    for o in opened:
        typer.echo(f"round {o.round_id} opened for unit {o.unit_id}: {o.asked} asked")
    if opened:
        say_when_held(s)


@app.command("close-now")
@user_errors
def pulse_close_now(unit: UnitPath) -> None:
    """Close the unit's open rounds now and publish the summaries."""
    s, db, closed = _by_hand(close_now, unit)
    if closed:
        scrub_closed_rounds(db, s, utcnow())
    typer.echo(f"{closed} round(s) closed")


WEEKDAYS = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("man", "tir", "ons", "tor", "fre", "lør", "søn"))},
    **{str(i): i for i in range(7)},
}


@app.command("schedule")
@user_errors
def pulse_schedule(
    unit: UnitPath,
    cadence: Annotated[str, typer.Option(help="weekly, biweekly or monthly.")] = "weekly",
    weekday: Annotated[str, typer.Option(help="mon..sun (or man..søn, 0-6).")] = "mon",
    time: Annotated[str, typer.Option("--time", help="Local opening time, HH:MM.")] = "09:00",
    questions: Annotated[int, typer.Option(help="Questions per round, 1-3.")] = 2,
    open_hours: Annotated[int, typer.Option(help="Hours a round stays open.")] = 72,
    reminder: Annotated[str, typer.Option(help="Local reminder time, HH:MM.")] = "10:00",
    remind_everyone: Annotated[
        bool, typer.Option("--remind-everyone", help="Remind all, not only non-responders.")
    ] = False,
    starts_on: Annotated[
        str | None, typer.Option(help="First day a round may open (YYYY-MM-DD; default today).")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop the unit's scheduled rounds.")] = False,
) -> None:
    """Set the unit's pulse schedule (created or replaced)."""
    s, db = database()
    if weekday.lower() not in WEEKDAYS:
        raise InvalidInput(f"weekday must be mon..sun, not {weekday!r}")
    if not 1 <= questions <= 3:
        raise InvalidInput(f"questions must be 1-3, not {questions}")
    try:
        first = dt.date.fromisoformat(starts_on) if starts_on else utcnow().astimezone(s.tz).date()
        spec = ScheduleSpec(
            cadence=cadence,  # type: ignore[arg-type]
            weekday=WEEKDAYS[weekday.lower()],
            local_time=time,
            open_hours=open_hours,
            reminder_time=reminder,
            starts_on=first,
        )
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    with db.session() as session:
        found = unit_by_path(session, unit)
        if found is None:
            raise NotFound(f"unknown unit path {unit!r}")
        row = session.scalars(select(Schedule).where(Schedule.unit_id == found.id)).first()
        if row is None:
            row = Schedule(unit_id=found.id)
            session.add(row)
        row.cadence, row.weekday, row.local_time = spec.cadence, spec.weekday, spec.local_time
        row.questions_per_round, row.open_hours = questions, spec.open_hours
        row.reminder_time, row.remind_everyone = spec.reminder_time, remind_everyone
        row.starts_on, row.active = spec.starts_on, not off
    state = "off" if off else f"{cadence} {weekday} {time}, {questions} question(s), {open_hours} h"
    typer.echo(f"schedule for {unit}: {state}")
