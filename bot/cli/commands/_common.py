"""What every command module uses: settings, the database, the user-error wrapper, and the options
and look-ups several commands share (a committee by name, a document written as md or docx)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import MedpulsError, NotFound
from flows import documents
from storage.db import Database
from storage.models import Committee
from storage.queries import committee_by_name

P = ParamSpec("P")
R = TypeVar("R")

CommitteeName = Annotated[str, typer.Option("--committee", help="The committee's name.")]
OutFile = Annotated[Path, typer.Option("--out", help="The file to write.")]


class Format(StrEnum):
    """How a document is written: Markdown or Word."""

    md = "md"
    docx = "docx"


FormatOption = Annotated[Format, typer.Option("--format", help="md or docx.")]


def committee_named(session: Session, name: str) -> Committee:
    found = committee_by_name(session, name)
    if found is None:
        raise NotFound(f"unknown committee {name!r}")
    return found


def write_document(out: Path, format: Format, document: documents.Document) -> None:
    if format is Format.docx:
        out.write_bytes(documents.to_docx(document))
    else:
        out.write_text(documents.to_markdown(document), encoding="utf-8")


def fail(reason: str) -> None:
    typer.echo(f"error: {reason}", err=True)
    raise typer.Exit(2)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn our error tree and bad settings into one line and exit code 2, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except MedpulsError as err:
            fail(str(err))
        except ValidationError as err:
            first = err.errors()[0]
            fail(f"setting {'.'.join(str(x) for x in first['loc'])}: {first['msg']}")
        except FileNotFoundError as err:
            fail(f"no such file: {err.filename}")
        except OperationalError as err:
            # Wrong DATABASE_URL, server down, or a database that was never migrated.
            reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
            fail(f"database: {reason} (check DATABASE_URL; run 'medpuls db upgrade')")
        raise AssertionError("unreachable")

    return wrapper


def settings() -> Settings:
    return Settings()


def database() -> tuple[Settings, Database]:
    s = settings()
    return s, Database(s.database_url)


def say_when_held(s: Settings) -> None:
    """Outside working hours, say when what was just queued will go out (quiet hours)."""
    from bot.app.wiring import working_hours
    from storage.models import utcnow

    next_open = working_hours(s)
    now = utcnow()
    if next_open is None or next_open(now) <= now:
        return
    at = next_open(now).astimezone(s.tz)
    typer.echo(
        f"outside working hours ({s.working_hours} on working days): held until "
        f"{at:%a %d %b %H:%M} {at.tzname()}; replies to people's own actions still go at once"
    )
