"""Throttling as the platforms describe it: at most so many requests in any window of so many
seconds (Teams' table of windows per conversation, a tenant's or workspace's rate a second).

A request is refused when admitting it would put more than the window's count into any window
ending now; refused requests do not count. The answer to a refused one is the Retry-After: how
long until the oldest request in the full window leaves it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from bot.core.platform_limits import Window


class SlidingWindows:
    def __init__(self, windows: Sequence[Window]) -> None:
        self.windows = tuple(windows)
        self._longest = max((seconds for _, seconds in self.windows), default=0.0)
        self._seen: dict[str, list[float]] = {}
        # What the benches read: the most requests seen in any window of each length, and
        # when each request was admitted (all keys together).
        self.busiest: dict[float, int] = dict.fromkeys((seconds for _, seconds in windows), 0)
        self.history: list[float] = []

    def wait(self, key: str, now: float) -> float:
        """0 when a request now keeps every window, else the seconds until it would."""
        seen = self._seen.setdefault(key, [])
        old = bisect.bisect_right(seen, now - self._longest)
        if old > 1000:
            del seen[:old]
        wait = 0.0
        for most, seconds in self.windows:
            first = bisect.bisect_right(seen, now - seconds)
            if len(seen) - first >= most:
                wait = max(wait, seen[len(seen) - most] + seconds - now)
        return wait

    def record(self, key: str, now: float) -> None:
        seen = self._seen.setdefault(key, [])
        seen.append(now)
        self.history.append(now)
        for _, seconds in self.windows:
            inside = len(seen) - bisect.bisect_right(seen, now - seconds)
            self.busiest[seconds] = max(self.busiest[seconds], inside)

    @staticmethod
    def admit(now: float, *checks: tuple[SlidingWindows, str]) -> float | None:
        """A request counted against every (windows, key) if all allow it: None; else the
        seconds to wait, and nothing is counted."""
        wait = max((windows.wait(key, now) for windows, key in checks), default=0.0)
        if wait > 0:
            return wait
        for windows, key in checks:
            windows.record(key, now)
        return None

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
