"""What every command module uses: settings, the database, and the user-error wrapper."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from bot.core.config import Settings
from bot.core.errors import MedpulsError
from storage.db import Database

P = ParamSpec("P")
R = TypeVar("R")


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
