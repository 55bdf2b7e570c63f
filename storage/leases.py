"""Leases: a named row held by one process until it expires, judged by the database's clock.

The scheduler holds the "scheduler" lease so that exactly one replica runs jobs; delivery holds
per-row claims the same way. Renewed in short transactions, so it works behind a
transaction-pooling pgbouncer (a session advisory lock would be held by whichever client last
used the pooled connection).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Lease, utcnow

LEASE_SECONDS = 45


def database_now(session: Session) -> dt.datetime:
    """The database's clock (PostgreSQL); SQLite has one process and uses ours."""
    if session.get_bind().dialect.name == "postgresql":
        now = session.scalar(select(func.now()))
        assert isinstance(now, dt.datetime)
        return now.astimezone(dt.UTC)
    return utcnow()


def acquire_lease(db: Database, name: str, holder: str, *, seconds: float = LEASE_SECONDS) -> bool:
    """Take or renew the lease; True when `holder` has it for the next `seconds`."""
    try:
        with db.session() as session:
            now = database_now(session)
            until = now + dt.timedelta(seconds=seconds)
            result = session.execute(
                update(Lease)
                .where(Lease.name == name)
                .where((Lease.holder == holder) | (Lease.expires_at < now))
                .values(holder=holder, expires_at=until)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
            if session.get(Lease, name) is None:
                session.add(Lease(name=name, holder=holder, expires_at=until))
                session.flush()
                return True
            return False
    except IntegrityError:
        return False  # another replica inserted the row at the same moment


def release_lease(db: Database, name: str, holder: str) -> None:
    with db.session() as session:
        now = database_now(session)
        session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=now - dt.timedelta(seconds=1))
        )


def lease_holder(db: Database, name: str) -> str | None:
    """Who holds the lease now, if anyone (for operators and tests)."""
    with db.session() as session:
        now = database_now(session)
        lease = session.get(Lease, name)
        return lease.holder if lease is not None and lease.expires_at >= now else None
