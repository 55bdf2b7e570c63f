"""`medpuls minutes`: a meeting's decisions from the exported agenda, and the minutes as a file.

`record` is for whoever writes the minutes up after the meeting with the exported agenda in
hand: the item number is the number printed there (3 is the first proposal). During the meeting
the chair uses the "Registrér beslutning" button on each item instead. Approval stays in chat,
where each side signs in person.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.commands._common import (
    CommitteeName,
    Format,
    FormatOption,
    OutFile,
    committee_named,
    database,
    say_when_held,
    user_errors,
    write_document,
)
from bot.core.errors import InvalidInput, NotFound
from bot.core.outbox import queue
from flows.decisions import KIND_WORDS, items_of, minutes_of, record_decision
from flows.minutes import recorded_outside_chat
from flows.minutes_doc import latest_minutes, minutes_file
from storage.models import Committee, Meeting, utcnow

NAME = "minutes"
app = typer.Typer(help="MED decisions and minutes (beslutningsprotokol).", no_args_is_help=True)
FIRST_ITEM = 3  # 1 and 2 are the standing items (the agenda, the last minutes)


def _open_meeting(session: Session, committee: Committee, now: dt.datetime) -> Meeting:
    """The latest meeting begun whose minutes are not out yet."""
    for meeting in session.scalars(
        select(Meeting)
        .where(Meeting.committee_id == committee.id, Meeting.starts_at <= now)
        .order_by(Meeting.starts_at.desc())
    ):
        minutes = minutes_of(session, meeting)
        if minutes is None or minutes.published_at is None:
            return meeting
        break
    raise NotFound(f"{committee.name} has no meeting held whose minutes are still open")


@app.command("record")
@user_errors
def minutes_record(
    committee: Annotated[str, typer.Option("--committee", help="The committee's name.")],
    item: Annotated[int, typer.Option("--item", help="The item's number on the agenda.")],
    decision: Annotated[
        str,
        typer.Option(
            "--decision",
            help="vedtaget, afvist, udsat, sendt-videre or efterretning "
            "(adopted, rejected, postponed, referred, noted).",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why; told to proposer and backers.")],
    to: Annotated[
        str | None, typer.Option("--to", help="For sendt-videre: the committee's name.")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Who follows up.")] = None,
    follow_up: Annotated[
        str | None, typer.Option("--follow-up", help="Follow-up date, YYYY-MM-DD.")
    ] = None,
) -> None:
    """Record the decision on one item of the last meeting held (its minutes still open)."""
    kind = KIND_WORDS.get(decision.strip().lower())
    if kind is None:
        raise InvalidInput(f"unknown decision {decision!r} (vedtaget, afvist, udsat, ...)")
    try:
        due = dt.date.fromisoformat(follow_up) if follow_up else None
    except ValueError:
        raise InvalidInput(f"{follow_up!r} is not a date (YYYY-MM-DD)") from None
    s, db = database()
    with db.session() as session:
        found = committee_named(session, committee)
        meeting = _open_meeting(session, found, utcnow())
        items = items_of(session, meeting)
        if not FIRST_ITEM <= item < FIRST_ITEM + len(items):
            raise InvalidInput(
                f"item {item} is not a proposal on that agenda "
                f"(items {FIRST_ITEM}-{FIRST_ITEM + len(items) - 1})"
            )
        proposal = items[item - FIRST_ITEM]
        target = committee_named(session, to) if to else None
        voided = record_decision(
            session,
            meeting,
            proposal,
            kind,
            reason,
            utcnow(),
            referred_to=target,
            owner=owner,
            follow_up=due,
        )
        queue(session, recorded_outside_chat(session, meeting, proposal, voided, s))
        title = proposal.title
    typer.echo(f"item {item} »{title}«: {kind}")
    if voided:
        typer.echo("the minutes changed after an approval: both sides must approve them again")
    typer.echo("the chair and vice-chair are told in chat")
    say_when_held(s)


@app.command("export")
@user_errors
def minutes_export(
    committee: CommitteeName,
    out: OutFile,
    format: FormatOption = Format.md,
) -> None:
    """Write the last meeting's approved minutes (each decision with its reason)."""
    s, db = database()
    with db.session() as session:
        found = committee_named(session, committee)
        meeting = latest_minutes(session, found)
        if meeting is None:
            raise NotFound(f"{committee} has no approved minutes yet")
        doc = minutes_file(session, meeting, s.language, s.tz)
    write_document(out, format, doc)
    typer.echo(f"minutes of {committee} written to {out} ({len(doc.sections)} items)")
