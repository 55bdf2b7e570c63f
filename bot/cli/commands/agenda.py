"""`medpuls agenda export`: the next meeting's agenda as Markdown or Word."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.commands._common import database, user_errors
from bot.core.errors import NotFound
from bot.core.i18n import translator
from flows.agenda import next_meeting
from flows.agenda.export import build_agenda, to_docx, to_markdown
from storage.models import utcnow
from storage.queries import committee_by_name

NAME = "agenda"
app = typer.Typer(help="MED agendas.", no_args_is_help=True)


class Format(StrEnum):
    md = "md"
    docx = "docx"


@app.command("export")
@user_errors
def agenda_export(
    committee: Annotated[str, typer.Option("--committee", help="The committee's name.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    format: Annotated[Format, typer.Option("--format", help="md or docx.")] = Format.md,
) -> None:
    """Write the next meeting's agenda (standing items, proposals on it, any other business)."""
    s, db = database()
    with db.session() as session:
        found = committee_by_name(session, committee)
        if found is None:
            raise NotFound(f"unknown committee {committee!r}")
        meeting = next_meeting(session, found.id, utcnow())
        if meeting is None:
            raise NotFound(f"{committee} has no meeting ahead")
        doc = build_agenda(session, meeting, translator(s.language), s.tz)
    if format is Format.docx:
        out.write_bytes(to_docx(doc))
    else:
        out.write_text(to_markdown(doc), encoding="utf-8")
    typer.echo(f"agenda for {committee} written to {out} ({len(doc.items)} items)")
