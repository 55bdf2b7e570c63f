"""Rate limits shared by every worker process, held in PostgreSQL (one row per platform scope).

Each bucket is a GCRA row (`rate_buckets`): a send reserves the next free slot with one
autocommitted `INSERT .. ON CONFLICT DO UPDATE .. RETURNING`, timed by the database's own clock,
and then sleeps until its slot. The row lock lasts only that statement, so this works behind a
transaction-pooling pgbouncer and never holds a session-level lock. N workers together get the
scope's rate, not N times it, and a 429 seen by one worker moves the scope's slot past the
Retry-After, so every worker on that scope waits it out. A worker killed after reserving only
wastes its slot (the limit is kept, never exceeded).

SQLite deployments run one worker and keep bot.ratelimit's in-process buckets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.ratelimit import PlatformLimits, Rate
from storage.db import Database

log = logging.getLogger("medpuls.ratelimit")

_RESERVE = text(
    """
    INSERT INTO rate_buckets (scope, tat)
    VALUES (:scope, extract(epoch FROM clock_timestamp()) + :interval)
    ON CONFLICT (scope) DO UPDATE
      SET tat = GREATEST(rate_buckets.tat, extract(epoch FROM clock_timestamp())) + :interval
    RETURNING tat, extract(epoch FROM clock_timestamp())
    """
)

_PAUSE = text(
    """
    INSERT INTO rate_buckets (scope, tat)
    VALUES (:scope, extract(epoch FROM clock_timestamp()) + :seconds)
    ON CONFLICT (scope) DO UPDATE
      SET tat = GREATEST(rate_buckets.tat, extract(epoch FROM clock_timestamp()) + :seconds)
    """
)

# A row whose slot lies in the past behaves exactly like no row (GCRA takes max(tat, now)).
_FORGET = text("DELETE FROM rate_buckets WHERE tat < extract(epoch FROM clock_timestamp()) - :idle")


def slot_start(tat: float, rate: Rate) -> float:
    """When the send that moved the bucket to `tat` may go (GCRA): up to `burst` slots may
    be used at once after a quiet spell."""
    return tat - rate.burst / rate.per_second


class SharedRateLimiter:
    """Same interface as bot.ratelimit.RateLimiter, but one limit across all processes."""

    def __init__(self, db: Database, limits: Mapping[str, PlatformLimits]) -> None:
        self.db = db
        self.limits = dict(limits)

    @staticmethod
    def scope(platform: str, conversation: str | None = None) -> str:
        return f"{platform}:all" if conversation is None else f"{platform}:c:{conversation}"

    def reserve_slot(self, scope: str, rate: Rate) -> tuple[float, float]:
        """Take the scope's next slot: (when it starts, now), both on the database's clock."""
        with self.db.engine.connect() as conn:
            tat, now = conn.execute(
                _RESERVE, {"scope": scope, "interval": 1.0 / rate.per_second}
            ).one()
            conn.commit()
        return slot_start(float(tat), rate), float(now)

    def reserve(self, scope: str, rate: Rate) -> float:
        """Take the scope's next slot now; returns the seconds to wait before sending."""
        start, now = self.reserve_slot(scope, rate)
        return max(start - now, 0.0)

    async def acquire(self, platform: str, conversation: str) -> float:
        """Wait for the conversation's turn, then the platform's; returns seconds waited."""
        waited = 0.0
        lim = self.limits.get(platform, PlatformLimits())
        for scope, rate in (
            (self.scope(platform, conversation), lim.per_conversation),
            (self.scope(platform), lim.overall),
        ):
            if rate is None:
                continue
            wait = await self._reserve_until_reachable(scope, rate)
            if wait > 0:
                await asyncio.sleep(wait)
                waited += wait
        return waited

    async def _reserve_until_reachable(self, scope: str, rate: Rate) -> float:
        """The database may be failing over: the row is claimed by this live worker, so it is
        not handed back; wait for the database (never send unpaced) and try again."""
        backoff = 0.5
        while True:
            try:
                return await asyncio.to_thread(self.reserve, scope, rate)
            except DBAPIError:
                log.warning(
                    "rate limit unreachable, retrying", extra={"platform": scope.split(":")[0]}
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def pause_scope(self, scope: str, seconds: float, rate: Rate) -> None:
        # The burst allowance is pushed past the pause too: the first send after it waits
        # exactly `seconds`, whichever worker makes it.
        ahead = seconds + (rate.burst - 1.0) / rate.per_second
        with self.db.engine.connect() as conn:
            conn.execute(_PAUSE, {"scope": scope, "seconds": ahead})
            conn.commit()

    def pause(self, platform: str, seconds: float, conversation: str | None = None) -> None:
        """The platform said 429: every worker waits `seconds` on this platform (and
        conversation) before its next send there."""
        lim = self.limits.get(platform, PlatformLimits())
        try:
            if lim.overall is not None:
                self.pause_scope(self.scope(platform), seconds, lim.overall)
            if conversation is not None and lim.per_conversation is not None:
                self.pause_scope(self.scope(platform, conversation), seconds, lim.per_conversation)
        except DBAPIError:
            # The row is rescheduled after Retry-After anyway; the next sends may meet a 429.
            log.warning("rate limit pause not shared", extra={"platform": platform})

    def forget_idle(self, idle_seconds: float = 60.0) -> int:
        """Drop the rows of scopes quiet for `idle_seconds` (one per conversation ever sent to
        would otherwise pile up); a dropped row and a full bucket are the same thing."""
        with self.db.engine.connect() as conn:
            gone = conn.execute(_FORGET, {"idle": idle_seconds}).rowcount
            conn.commit()
        return int(gone)
