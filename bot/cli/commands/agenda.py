"""`medpuls agenda export`: the next meeting's agenda as Markdown or Word."""

from __future__ import annotations

import typer

from bot.cli.commands._common import (
    CommitteeName,
    Format,
    FormatOption,
    OutFile,
    committee_named,
    database,
    user_errors,
    write_document,
)
from bot.core.errors import NotFound
from bot.core.i18n import translator
from flows.agenda import next_meeting
from flows.agenda.export import build_agenda, to_document
from storage.models import utcnow

NAME = "agenda"
app = typer.Typer(help="MED agendas.", no_args_is_help=True)


@app.command("export")
@user_errors
def agenda_export(
    committee: CommitteeName,
    out: OutFile,
    format: FormatOption = Format.md,
) -> None:
    """Write the next meeting's agenda (standing items, proposals on it, any other business)."""
    s, db = database()
    with db.session() as session:
        found = committee_named(session, committee)
        meeting = next_meeting(session, found.id, utcnow())
        if meeting is None:
            raise NotFound(f"{committee} has no meeting ahead")
        doc = build_agenda(session, meeting, translator(s.language), s.tz)
    write_document(out, format, to_document(doc))
    typer.echo(f"agenda for {committee} written to {out} ({len(doc.items)} items)")
