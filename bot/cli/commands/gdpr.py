"""`medpuls gdpr ...`: what is stored about a person, and erasing their identity."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from bot.cli.commands._common import database, user_errors
from flows.privacy import erase_person, export_person
from flows.pulse import answers_key
from storage.models import utcnow

R = TypeVar("R")

NAME = "gdpr"
app = typer.Typer(
    help="Data protection: export or erase what is stored about a person.", no_args_is_help=True
)

Email = Annotated[str, typer.Option("--email", help="The person's e-mail address.")]


def _on_person(act: Callable[..., R], email: str) -> R:
    """Export or erase: both need the time and the key that opens the person's open answers."""
    s, db = database()
    with db.session() as session:
        return act(session, email, now=utcnow(), key=answers_key(s))


@app.command("export")
@user_errors
def gdpr_export(email: Email) -> None:
    """Print everything stored about the person as JSON (with their answers in open rounds)."""
    data = _on_person(export_person, email)
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.command("erase")
@user_errors
def gdpr_erase(email: Email) -> None:
    """Remove the person's identity and open-round answers; anonymous data is kept."""
    member_id = _on_person(erase_person, email)
    typer.echo(f"member {member_id} erased: identity, memberships and references removed")
