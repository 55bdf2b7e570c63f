"""`medpuls committee set`: a committee's own deadlines, as its forretningsorden sets them."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.commands._common import CommitteeName, committee_named, database, user_errors
from flows.governance import check_deadlines

NAME = "committee"
app = typer.Typer(help="MED committees' own rules.", no_args_is_help=True)


@app.command("set")
@user_errors
def committee_set(
    committee: CommitteeName,
    proposal_days: Annotated[
        int | None,
        typer.Option("--proposal-days", help="Proposals are due this many days before a meeting."),
    ] = None,
    release_days: Annotated[
        int | None,
        typer.Option("--release-days", help="The agenda goes out this many days before."),
    ] = None,
) -> None:
    """Set the committee's deadlines; meetings set from now on use them."""
    _, db = database()
    with db.session() as session:
        found = committee_named(session, committee)
        proposal = found.proposal_deadline_days if proposal_days is None else proposal_days
        release = found.agenda_release_days if release_days is None else release_days
        check_deadlines(proposal, release)
        found.proposal_deadline_days, found.agenda_release_days = proposal, release
    typer.echo(
        f"{committee}: proposals due {proposal} days before a meeting, "
        f"agenda released {release} days before"
    )
