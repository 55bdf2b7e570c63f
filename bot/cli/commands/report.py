"""`medpuls report annual`: the pack for a committee's annual work-environment discussion."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.commands._common import (
    CommitteeName,
    Format,
    OutFile,
    committee_named,
    database,
    user_errors,
    write_document,
)
from bot.core.errors import InvalidInput
from bot.core.i18n import translator
from flows.annual_report import FIRST_YEAR, build_report, years
from storage.models import utcnow

NAME = "report"
app = typer.Typer(help="Reports for MED committees.", no_args_is_help=True)


@app.command("annual")
@user_errors
def report_annual(
    committee: CommitteeName,
    year: Annotated[int, typer.Option("--year", help="The calendar year, e.g. 2026.")],
    out: OutFile,
    format: Annotated[Format, typer.Option("--format", help="docx or md.")] = Format.docx,
) -> None:
    """Write the year's thresholded results, trends, participation, comment themes, proposals,
    action plans and questions for the committee's annual work-environment discussion."""
    s, db = database()
    allowed = years(utcnow(), s.tz)
    if year not in allowed:
        raise InvalidInput(f"--year must be between {FIRST_YEAR} and {allowed[-1]}, not {year}")
    with db.session() as session:
        found = committee_named(session, committee)
        report = build_report(session, found, year, s, translator(s.language))
        document = report.document
        shown = len(report.figures.turnout) + sum(
            v is not None for values in report.figures.scores.values() for v in values
        )
        withheld = report.figures.withheld
    write_document(out, format, document)
    typer.echo(
        f"annual report {year} for {committee} written to {out} "
        f"({shown} figures shown, {withheld} withheld)"
    )
