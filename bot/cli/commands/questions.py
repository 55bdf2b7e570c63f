"""`medpuls questions ...`: a committee's own pulse questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.commands._common import committee_named, database, user_errors
from bot.core.errors import InvalidInput, NotFound
from flows.custom_questions import add_custom_question, add_from_file
from flows.question_bank import question_bank
from storage.models import Committee, Question
from storage.queries import committee_by_name

NAME = "questions"
app = typer.Typer(help="The question bank and committees' own questions.", no_args_is_help=True)


@app.command("add")
@user_errors
def questions_add(
    committee: Annotated[str, typer.Option("--committee", help="Committee name.")],
    id: Annotated[str | None, typer.Option("--id", help="custom.<name>")] = None,
    da: Annotated[str | None, typer.Option("--da", help="The question in Danish.")] = None,
    en: Annotated[str | None, typer.Option("--en", help="The question in English.")] = None,
    low_da: Annotated[str, typer.Option("--low-da", help="Answer 1 in Danish.")] = "Slet ikke",
    high_da: Annotated[
        str, typer.Option("--high-da", help="Answer 5 in Danish.")
    ] = "I meget høj grad",
    low_en: Annotated[str, typer.Option("--low-en", help="Answer 1 in English.")] = "Not at all",
    high_en: Annotated[
        str, typer.Option("--high-en", help="Answer 5 in English.")
    ] = "To a very great extent",
    dimension: Annotated[
        str, typer.Option("--dimension", help="'custom' or a bank dimension to join.")
    ] = "custom",
    file: Annotated[
        Path | None, typer.Option("--file", help="A YAML list of questions instead of flags.")
    ] = None,
) -> None:
    """Add a committee's own question (from flags, or every question of a YAML file)."""
    _, db = database()
    with db.session() as session:
        found = committee_named(session, committee)
        if file is not None:
            rows = add_from_file(session, found, file)
        elif id and da and en:
            rows = [
                add_custom_question(
                    session,
                    found,
                    id=id,
                    da=da,
                    en=en,
                    low={"da": low_da, "en": low_en},
                    high={"da": high_da, "en": high_en},
                    dimension=dimension,
                )
            ]
        else:
            raise InvalidInput("give --id, --da and --en, or --file")
        ids = [r.id for r in rows]
    typer.echo(f"{len(ids)} question(s) added for {committee}: {', '.join(ids)}")


@app.command("list")
@user_errors
def questions_list(
    committee: Annotated[
        str | None, typer.Option("--committee", help="Only this committee's own questions.")
    ] = None,
) -> None:
    """List the question bank and the committees' own questions."""
    from sqlalchemy import select

    s, db = database()
    lang = s.language
    with db.session() as session:
        owners = {c.id: c.name for c in session.scalars(select(Committee))}
        own = list(session.scalars(select(Question).where(Question.committee_id.is_not(None))))
        if committee is None:
            for q in question_bank(s):
                typer.echo(f"{q.id}\t{q.dimension}\tbank\t{q.text(lang)}")
        elif committee_by_name(session, committee) is None:
            raise NotFound(f"unknown committee {committee!r}")
        for row in sorted(own, key=lambda r: r.id):
            owner = owners.get(row.committee_id or 0, "")
            if committee is not None and owner != committee:
                continue
            state = "" if row.active else " (inactive)"
            text = row.text_en if lang == "en" else row.text_da
            typer.echo(f"{row.id}\t{row.dimension}\t{owner}{state}\t{text}")
