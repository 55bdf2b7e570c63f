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
import time

from sqlalchemy import Connection, text

from storage.db import Database

log = logging.getLogger("medpuls.scrub")

# Tables whose dead row versions may hold an open round's nonce or keys.
SCRUBBED_TABLES = ("pulse_rounds", "answers", "processed_events")
# How long a scrub waits for older transactions (which keep dead row versions alive) to end;
# the scheduler tries again each tick, so this stays short.
WAIT_SECONDS = 5.0


def _older_snapshots_gone(conn: Connection, wait: float) -> bool:
    """Wait until no other session of this database still sees rows deleted before now.

    VACUUM (FULL or not) keeps a dead row version that any running transaction's snapshot may
    still see ("recently dead"), and PostgreSQL counts every transaction that started before
    the delete (its snapshot's xmin, or its own xid), so a backup or report running during the
    close would keep the nonce alive in the new table files too.
    """
    marker = int(conn.execute(text("SELECT txid_current()")).scalar_one()) % 2**32
    older = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND ("
        "age(backend_xmin) > age(CAST(CAST(:marker AS text) AS xid)) OR "
        "age(backend_xid) > age(CAST(CAST(:marker AS text) AS xid)))"
    )
    deadline = time.monotonic() + wait
    while conn.execute(older, {"marker": marker}).scalar_one():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def scrub_after_close(db: Database, *, wait: float = WAIT_SECONDS) -> bool:
    """Rewrite what holds dead row versions; run after the closing transaction committed.

    True when done; False when another session's old snapshot (PostgreSQL) or reader (SQLite)
    was in the way: then the scheduler's next tick tries again (flows.pulse.scrub_closed_rounds).
    """
    if db.is_postgres:
        # VACUUM cannot run inside a transaction block: its own autocommit connection.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if not _older_snapshots_gone(conn, wait):
                # Rewriting now would copy the old versions along: pointless and costly.
                log.warning("an older transaction keeps closed rounds' old rows; scrubbing later")
                return False
            for table in SCRUBBED_TABLES:
                conn.execute(text(f'VACUUM FULL "{table}"'))
        return True
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            log.warning("a reader kept the SQLite WAL after a close; truncating it again later")
        return not busy
    return True
