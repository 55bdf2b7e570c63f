"""What the bench scripts share: a throw-away PostgreSQL database and a quickly made org."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.core.secret_key import generate_secret_key  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Member, Membership, Unit  # noqa: E402

ADMIN_URL = os.environ.get(
    "MEDPULS_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
UNIT = "Bench Kommune"
# MEDPULS_SECRET_KEY for the processes a bench starts (Slack needs one; the local chat would
# otherwise write a key file into the working directory).
SECRET_KEY = os.environ.get("MEDPULS_SECRET_KEY") or generate_secret_key()


@contextmanager
def bench_database(keep: bool = False) -> Iterator[str]:
    """A fresh migrated database on the local server, dropped afterwards (unless `keep`)."""
    if "127.0.0.1" not in ADMIN_URL and "localhost" not in ADMIN_URL:
        raise SystemExit("benches talk to 127.0.0.1 only")
    name = f"medpuls_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def seed_unit(db: Database, members: int, *, path: str = UNIT, slack: bool = True) -> list[int]:
    """One unit with `members` members (Slack ids U00000001...), inserted in bulk."""
    with db.session() as session:
        unit = Unit(path=path, name=path.rsplit("/", 1)[-1])
        session.add(unit)
        session.flush()
        # Only the members made here: another bench's organisation may share the database
        # (bench/ack.py --with-digest seeds bench/aggregate.py's beside this one).
        ids = sorted(
            session.scalars(
                insert(Member).returning(Member.id),
                [
                    {
                        "name": f"Medarbejder {i}",
                        "email": f"m{i}@bench.invalid",
                        "slack_user_id": f"U{i:08d}" if slack else None,
                    }
                    for i in range(1, members + 1)
                ],
            )
        )
        session.execute(insert(Membership), [{"member_id": m, "unit_id": unit.id} for m in ids])
    return ids
