"""After a round closes: leave none of its former keys in the database files.

Deleting a row does not delete its bytes. On SQLite the old page images stay in the `-wal`
file until a checkpoint, and deleted cells stay in free space unless `secure_delete` is on
(storage.db turns it on for every connection); so after close the WAL is checkpointed and
truncated. On PostgreSQL an UPDATE or DELETE leaves the old row version in the table's pages
(a dead tuple, readable with `pageinspect`) and plain VACUUM only marks its space free; VACUUM
FULL writes the table and its indexes anew, holding live rows only. It runs on the tables
whose old versions held a nonce or an open round's key: `pulse_rounds` (the nonce),
`answers` (the keys) and `processed_events` (the click de-duplication keys).

What this cannot reach is said in docs/privacy.md: PostgreSQL's WAL segments and archives,
backups taken while a round was open, and blocks the file system has not reused.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from storage.db import Database

log = logging.getLogger("medpuls.scrub")

# Tables whose dead row versions may hold an open round's nonce or keys.
SCRUBBED_TABLES = ("pulse_rounds", "answers", "processed_events")


def scrub_after_close(db: Database) -> None:
    """Rewrite what holds dead row versions; run after the closing transaction committed."""
    if db.is_postgres:
        # VACUUM cannot run inside a transaction block: its own autocommit connection.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in SCRUBBED_TABLES:
                conn.execute(text(f'VACUUM FULL "{table}"'))
        return
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            # A reader held an old snapshot; the next close (or this one's retry) truncates it.
            log.warning("the SQLite WAL could not be truncated after close; will retry")
