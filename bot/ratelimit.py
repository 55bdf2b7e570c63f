"""Async token buckets: how fast we may talk to a platform, overall and per conversation.

Platforms publish their limits per workspace or tenant and per conversation (Slack: about one
message a second in a channel, a few hundred a minute across DMs; Teams: 7 a second per
conversation, more per tenant). Waiting here in the process is cheaper than being told 429 by
the platform, and a 429 that comes anyway pauses the whole bucket for its Retry-After, so the
other sends in flight stop knocking too. These buckets are per process, for SQLite (one
worker); on PostgreSQL delivery uses bot.shared_ratelimit, one limit across all workers.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """`per_second` sustained, with up to `burst` sends at once after a quiet spell."""

    per_second: float
    burst: float = 1.0


@dataclass(frozen=True)
class PlatformLimits:
    overall: Rate | None = None
    per_conversation: Rate | None = None


class TokenBucket:
    """Waiters are served first come, first served: the lock is held while one waits."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = rate.burst
        self._updated = clock()
        self._paused_until = 0.0
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _refill(self, now: float) -> None:
        elapsed = max(now - self._updated, 0.0)
        self._tokens = min(self.rate.burst, self._tokens + elapsed * self.rate.per_second)
        self._updated = now

    def _fifo(self) -> asyncio.Lock:
        # A Delivery may outlive one event loop (tests, CLI runs); a lock belongs to its loop.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    async def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        async with self._fifo():
            while True:
                now = self._clock()
                if now < self._paused_until:
                    pause = self._paused_until - now
                else:
                    self._refill(now)
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        return waited
                    pause = (1.0 - self._tokens) / self.rate.per_second
                await asyncio.sleep(pause)
                waited += pause

    def pause(self, seconds: float) -> None:
        """The platform said 429: nobody sends through this bucket for `seconds`."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + seconds)
        self._tokens = 0.0
        self._updated = self._paused_until


class RateLimiter:
    """One bucket per platform, and one per conversation (kept for the most recent ones)."""

    def __init__(
        self,
        limits: Mapping[str, PlatformLimits],
        *,
        conversations_kept: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self._clock = clock
        self._overall = {
            name: TokenBucket(lim.overall, clock)
            for name, lim in self.limits.items()
            if lim.overall is not None
        }
        self._conversations: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        self._kept = conversations_kept

    def _conversation(self, platform: str, conversation: str) -> TokenBucket | None:
        rate = self.limits.get(platform, PlatformLimits()).per_conversation
        if rate is None:
            return None
        key = (platform, conversation)
        bucket = self._conversations.get(key)
        if bucket is None:
            bucket = self._conversations[key] = TokenBucket(rate, self._clock)
            while len(self._conversations) > self._kept:
                # A conversation quiet long enough to fall out has a full bucket anyway.
                self._conversations.popitem(last=False)
        else:
            self._conversations.move_to_end(key)
        return bucket

    async def acquire(self, platform: str, conversation: str) -> float:
        """Wait for the conversation's turn, then the platform's; returns seconds waited."""
        waited = 0.0
        bucket = self._conversation(platform, conversation)
        if bucket is not None:
            waited += await bucket.acquire()
        overall = self._overall.get(platform)
        if overall is not None:
            waited += await overall.acquire()
        return waited

    def pause(self, platform: str, seconds: float, conversation: str | None = None) -> None:
        overall = self._overall.get(platform)
        if overall is not None:
            overall.pause(seconds)
        if conversation is not None:
            bucket = self._conversation(platform, conversation)
            if bucket is not None:
                bucket.pause(seconds)
