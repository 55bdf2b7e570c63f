"""How fast we may talk to a platform, overall and per conversation (GCRA buckets).

Platforms publish their limits as counts per window: Teams at most 7 sends in any second,
8 in any two, 60 in any thirty and 1,800 in any hour to one conversation, and 50 a second per
app and tenant; Slack's chat.postMessage about one a second per channel (short bursts allowed)
within a workspace-wide rate. A scope (a platform, or one conversation on it) may therefore
have several rates, and a send goes at the first moment all of them admit it; that moment is
charged to every one of them, so each rate's bound holds for the actual send times.

A send must leave close to its slot: one that wakes late (a busy event loop, a slow database)
would bunch up with the sends after it. `Slot.missed` says when it is later than 0.45 of the
scope's shortest interval; the caller then takes a new slot (the old one stays unused, which
never breaks a limit). Delivery is woken LEAD_SECONDS before the slot, and the adapter waits
for the slot itself right before the request leaves (`until_slot`), after its own preparation,
so that preparation does not make the send late. The rates in bot.platform_limits leave room for
that allowance below the platforms' windows (tests/test_shared_ratelimit.py checks it).

These buckets are per process, for SQLite (one worker); on PostgreSQL delivery uses
bot.shared_ratelimit, the same arithmetic in one row per bucket shared by every worker.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from bot.core.errors import DeliveryError


@dataclass(frozen=True)
class Rate:
    """`per_second` sustained, with up to `burst` sends at once after a quiet spell."""

    per_second: float
    burst: float = 1.0

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    def most_in(self, window: float, late: float = 0.0) -> int:
        """The most sends this rate lets into any `window` seconds when each may leave up to
        `late` seconds after its slot: a full burst, then one each interval."""
        return int(self.burst) + math.ceil((window + late) * self.per_second - 1e-9) - 1


Limit = Rate | tuple[Rate, ...]


def rates_of(limit: Limit | None) -> tuple[Rate, ...]:
    if limit is None:
        return ()
    return limit if isinstance(limit, tuple) else (limit,)


@dataclass(frozen=True)
class PlatformLimits:
    overall: Limit | None = None
    per_conversation: Limit | None = None

    def buckets(self, platform: str, conversation: str | None) -> list[tuple[str, Rate]]:
        """(bucket key, rate) for a send in `conversation` (None: the platform's only)."""
        out: list[tuple[str, Rate]] = []
        if conversation is not None:
            base = f"{platform}:c:{conversation}"
            out += [(_numbered(base, i), r) for i, r in enumerate(rates_of(self.per_conversation))]
        base = f"{platform}:all"
        out += [(_numbered(base, i), r) for i, r in enumerate(rates_of(self.overall))]
        return out


def _numbered(base: str, i: int) -> str:
    # The first rate keeps the plain name (rows written before scopes had several rates).
    return base if i == 0 else f"{base}#{i}"


def earliest(tats: Sequence[float], rates: Sequence[Rate], now: float) -> float:
    """GCRA over several buckets at once: the first moment at or after `now` every one of them
    admits a send (a bucket admits it `burst - 1` intervals before its theoretical arrival)."""
    return max(
        [now, *(tat - (r.burst - 1.0) * r.interval for tat, r in zip(tats, rates, strict=True))]
    )


def advanced(tat: float, rate: Rate, at: float) -> float:
    """The bucket's theoretical arrival time after a send at `at`."""
    return max(tat, at) + rate.interval


def paused(tat: float, rate: Rate, until: float) -> float:
    """The bucket after a 429 asking to wait until `until`: the next send goes then, not
    before, and not a burst of them (the whole allowance starts from `until`)."""
    return max(tat, until + (rate.burst - 1.0) * rate.interval)


# A little under half an interval: exactly half would put a late send on the very edge of a
# window, where clock rounding decides.
LATE_SHARE = 0.45


def late_allowance(rates: Sequence[Rate]) -> float:
    return min((r.interval for r in rates), default=math.inf) * LATE_SHARE


@dataclass(frozen=True)
class Slot:
    """A send's turn: `at` on this process's monotonic clock."""

    at: float
    waited: float
    allowance: float

    def missed(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) - self.at > self.allowance


# The slot of the send in progress (set by bot.delivery around a platform call).
CURRENT_SLOT: ContextVar[Slot | None] = ContextVar("medpuls_slot", default=None)


class MissedSlot(DeliveryError):
    """Raised by an adapter just before a request would leave too late for its slot; nothing
    was sent, so delivery takes a new turn and tries again."""

    def __init__(self) -> None:
        super().__init__("missed its rate-limit slot")


# How long before its slot a send is woken. Between delivery's wake-up and the request leaving
# lie a database write (the row marked as sending) and the adapter's look-ups and rendering:
# on a busy machine tens of milliseconds, far more than the allowance. Done inside the lead,
# they no longer make the send miss its slot; the adapter waits out the rest (until_slot).
LEAD_SECONDS = 0.15


async def wake_before(slot: Slot) -> None:
    """Sleep until LEAD_SECONDS before the slot (at once if that has passed)."""
    ahead = slot.at - LEAD_SECONDS - time.monotonic()
    if ahead > 0:
        await asyncio.sleep(ahead)


async def until_slot() -> None:
    """For adapters, right before the request leaves (after their own preparation: loading a
    conversation, rendering a card): wait for delivery's slot, which may still be up to
    LEAD_SECONDS away; one already missed raises MissedSlot, since leaving late would bunch
    it up with the sends after it. Outside delivery (no slot) it returns at once."""
    slot = CURRENT_SLOT.get()
    if slot is None:
        return
    early = slot.at - time.monotonic()
    if early > 0:
        await asyncio.sleep(early)
    elif slot.missed():
        raise MissedSlot


class RateLimiter:
    """Buckets per platform and per conversation (the most recent ones kept), one process."""

    def __init__(
        self,
        limits: Mapping[str, PlatformLimits],
        *,
        conversations_kept: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self._clock = clock
        self._tat: OrderedDict[str, float] = OrderedDict()
        self._kept = conversations_kept

    def _buckets(self, platform: str, conversation: str | None) -> list[tuple[str, Rate]]:
        return self.limits.get(platform, PlatformLimits()).buckets(platform, conversation)

    def _remember(self, key: str, tat: float) -> None:
        self._tat[key] = tat
        self._tat.move_to_end(key)
        while len(self._tat) > self._kept:
            # The quietest bucket: by the time it falls out it is full anyway.
            self._tat.popitem(last=False)

    def reserve(self, platform: str, conversation: str | None) -> Slot:
        """Take the next slot now (no await: nothing else runs between reading and writing)."""
        buckets = self._buckets(platform, conversation)
        now = self._clock()
        rates = [r for _, r in buckets]
        at = earliest([self._tat.get(k, now) for k, _ in buckets], rates, now)
        for key, rate in buckets:
            self._remember(key, advanced(self._tat.get(key, now), rate, at))
        return Slot(at, max(at - now, 0.0), late_allowance(rates))

    async def acquire(self, platform: str, conversation: str) -> Slot:
        """Wait for the turn of the conversation and the platform together."""
        slot = self.reserve(platform, conversation)
        await wake_before(slot)
        return slot

    def pause(self, platform: str, seconds: float, conversation: str | None = None) -> None:
        """The platform said 429: nobody sends through these buckets for `seconds`."""
        now = self._clock()
        for key, rate in self._buckets(platform, conversation):
            self._remember(key, paused(self._tat.get(key, now), rate, now + seconds))
