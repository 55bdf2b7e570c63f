"""Rate limits shared by every worker process, held in PostgreSQL (one row per bucket).

Each bucket is a GCRA row (`rate_buckets`: its theoretical arrival time, on the database's
clock). A send locks the rows of all its buckets (the conversation's and the platform's, each
rate its own row) in one short transaction, computes the first moment they all admit it
(bot.ratelimit.earliest), charges every row with that moment, commits, and sleeps until then.
Row locks last that one transaction, so this works behind a transaction-pooling pgbouncer and
holds no session state. N workers together get each bucket's rate, not N times it, and a 429
seen by one worker moves the buckets past the Retry-After, so every worker on that scope waits
it out. A worker killed after reserving only wastes its slot (the limit is kept).

SQLite deployments run one worker and keep bot.ratelimit's in-process buckets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bot.core.ratelimit import (
    PlatformLimits,
    Rate,
    Slot,
    advanced,
    earliest,
    late_allowance,
    paused,
    wake_before,
)
from storage.db import Database

log = logging.getLogger("medpuls.ratelimit")

_NOW = "extract(epoch FROM clock_timestamp())"
_LOCK = text(
    f"SELECT scope, tat, {_NOW} FROM rate_buckets WHERE scope = ANY(:scopes) "
    "ORDER BY scope FOR UPDATE"
)
# Missing rows start full (a theoretical arrival of now, not one forget_idle would take away
# at once); sorted, so concurrent inserts of the same keys queue up in one order.
_ADD = text(
    f"INSERT INTO rate_buckets (scope, tat) SELECT s, {_NOW} "
    "FROM unnest(CAST(:scopes AS text[])) AS s ORDER BY s ON CONFLICT (scope) DO NOTHING"
)
_SET = text(
    "UPDATE rate_buckets AS b SET tat = v.tat "
    "FROM unnest(CAST(:scopes AS text[]), CAST(:tats AS float8[])) AS v(scope, tat) "
    "WHERE b.scope = v.scope"
)

# A row whose slot lies in the past behaves exactly like no row (GCRA takes max(tat, now)).
_FORGET = text("DELETE FROM rate_buckets WHERE tat < extract(epoch FROM clock_timestamp()) - :idle")


class SharedRateLimiter:
    """Same interface as bot.ratelimit.RateLimiter, but one limit across all processes."""

    def __init__(self, db: Database, limits: Mapping[str, PlatformLimits]) -> None:
        self.db = db
        self.limits = dict(limits)

    def buckets(self, platform: str, conversation: str | None) -> list[tuple[str, Rate]]:
        return self.limits.get(platform, PlatformLimits()).buckets(platform, conversation)

    def _locked(self, conn: Connection, keys: list[str]) -> tuple[dict[str, float], float]:
        rows = conn.execute(_LOCK, {"scopes": keys}).all()
        if len(rows) < len(keys):
            # Inserted holding no other lock, then locked in order: new rows made while holding
            # an existing one would lock out of order (two workers, one deadlock).
            conn.rollback()
            conn.execute(_ADD, {"scopes": keys})
            conn.commit()
            rows = conn.execute(_LOCK, {"scopes": keys}).all()
        now = float(rows[0][2])
        return {str(k): float(t) for k, t, _ in rows}, now

    def reserve_at(self, buckets: list[tuple[str, Rate]]) -> tuple[float, float]:
        """Take the next slot every bucket admits: (when it is, now), on the database's clock."""
        keys = sorted(k for k, _ in buckets)
        with self.db.engine.connect() as conn:
            tats, now = self._locked(conn, keys)
            rates = [r for _, r in buckets]
            # A row gone meanwhile (forget_idle) was a full bucket: the same as tat = now.
            at = earliest([tats.get(k, now) for k, _ in buckets], rates, now)
            new = {k: advanced(tats.get(k, now), r, at) for k, r in buckets}
            conn.execute(_SET, {"scopes": keys, "tats": [new[k] for k in keys]})
            conn.commit()
        return at, now

    def reserve_slot(self, scope: str, rate: Rate) -> tuple[float, float]:
        """One bucket's next slot: (when it is, now), both on the database's clock."""
        return self.reserve_at([(scope, rate)])

    def reserve(self, platform: str, conversation: str | None) -> Slot:
        buckets = self.buckets(platform, conversation)
        if not buckets:  # a platform without limits (the local chat)
            return Slot(time.monotonic(), 0.0, late_allowance([]))
        at, now = self.reserve_at(buckets)
        wait = max(at - now, 0.0)
        return Slot(time.monotonic() + wait, wait, late_allowance([r for _, r in buckets]))

    async def acquire(self, platform: str, conversation: str) -> Slot:
        """Wait for the turn of the conversation and the platform together."""
        slot = await self._reserve_until_reachable(platform, conversation)
        await wake_before(slot)
        return slot

    async def _reserve_until_reachable(self, platform: str, conversation: str) -> Slot:
        """The database may be failing over: the row is claimed by this live worker, so it is
        not handed back; wait for the database (never send unpaced) and try again."""
        backoff = 0.5
        while True:
            try:
                return await asyncio.to_thread(self.reserve, platform, conversation)
            except DBAPIError:
                log.warning("rate limit unreachable, retrying", extra={"platform": platform})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def pause(self, platform: str, seconds: float, conversation: str | None = None) -> None:
        """The platform said 429: every worker waits `seconds` on this platform (and
        conversation) before its next send there."""
        buckets = self.buckets(platform, conversation)
        if not buckets:
            return
        keys = sorted(k for k, _ in buckets)
        try:
            with self.db.engine.connect() as conn:
                tats, now = self._locked(conn, keys)
                new = {k: paused(tats.get(k, now), r, now + seconds) for k, r in buckets}
                conn.execute(_SET, {"scopes": keys, "tats": [new[k] for k in keys]})
                conn.commit()
        except DBAPIError:
            # The row is rescheduled after Retry-After anyway; the next sends may meet a 429.
            log.warning("rate limit pause not shared", extra={"platform": platform})

    def forget_idle(self, idle_seconds: float = 60.0) -> int:
        """Drop the rows of buckets quiet for `idle_seconds` (one per conversation ever sent to
        would otherwise pile up); a dropped row and a full bucket are the same thing."""
        with self.db.engine.connect() as conn:
            gone = conn.execute(_FORGET, {"idle": idle_seconds}).rowcount
            conn.commit()
        return int(gone)
