"""The fake Slack Web API (tests/fakes/slack_api.py) enforcing chat.postMessage's rate.

Like Slack, it answers 429 with Retry-After when a post would put more than `rate_per_second`
posts into any second across the workspace, or break a channel's windows
(bot.platform_limits.SLACK_CHANNEL: about one a second, short bursts). It also counts what was
posted to each conversation, which is how the benches count duplicates and losses.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench import _common  # noqa: F401  (puts the repository on sys.path)
from bot.core.platform_limits import SLACK_CHANNEL
from tests.fakes.slack_api import FakeSlack
from tests.fakes.windows import SlidingWindows


@dataclass
class RateLimitedSlack(FakeSlack):
    rate_per_second: float | None = None
    posted: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    first_post: float | None = None
    last_post: float | None = None

    def __post_init__(self) -> None:
        self.overall = SlidingWindows(((int(self.rate_per_second or 0), 1.0),))
        self._channels = SlidingWindows(SLACK_CHANNEL)

    def _admit(self, channel: str) -> float | None:
        """None when the post may go through, else the seconds to wait."""
        if self.rate_per_second is None:
            return None
        now = time.monotonic()
        return SlidingWindows.admit(now, (self._channels, channel), (self.overall, "all"))

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        # Read once per request: a body read here cannot be read again by FakeSlack._api.
        if "medpuls_args" not in request:
            request["medpuls_args"] = await super()._read_args(request)
        return dict(request["medpuls_args"])

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["method"] == "chat.postMessage":
            args = await self._read_args(request)
            wait = self._admit(str(args.get("channel")))
            if wait is not None:
                self.refused += 1
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": SlidingWindows.retry_after(wait)},
                )
        response = await super()._api(request)
        if request.match_info["method"] == "chat.postMessage":
            call = self.calls[-1]
            self.posted[str(call.args.get("channel"))] += 1
            now = time.monotonic()
            self.first_post = self.first_post if self.first_post is not None else now
            self.last_post = now
            self.calls.clear()  # 10,000s of calls: keep the counts, not the bodies
        return response
