"""Opening a round for one large unit: all participations and DMs in one transaction.

    python bench/open_round.py 50000

Prints, on the last line, the members asked, the seconds the opening transaction took, the
statements it sent, and the peak Python memory while it ran (tracemalloc).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, select

from bench._common import UNIT, bench_database, seed_unit
from bot.core.config import Settings
from flows.pulse import run_now, sync_bank
from storage.db import Database
from storage.models import OutboxMessage, utcnow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", type=int, nargs="?", default=50_000)
    args = parser.parse_args()
    with bench_database() as url:
        db = Database(url)
        seed_unit(db, args.members)
        with db.session() as session:
            sync_bank(session)
        settings = Settings(DATABASE_URL=url)
        statements = 0

        def count(*_: object) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine, "before_cursor_execute", count)
        tracemalloc.start()
        started = time.perf_counter()
        with db.session() as session:
            [opened] = run_now(session, UNIT, now=utcnow(), settings=settings)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        event.remove(db.engine, "before_cursor_execute", count)
        with db.session() as session:
            queued = session.scalar(select(func.count()).select_from(OutboxMessage))
        db.dispose()
    print(
        f"open_round: members={opened.asked} queued={queued} seconds={seconds:.2f} "
        f"statements={statements} peak_mb={peak / 2**20:.0f}"
    )


if __name__ == "__main__":
    main()
