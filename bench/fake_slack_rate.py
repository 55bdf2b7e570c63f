"""The fake Slack Web API (tests/fakes/slack_api.py) enforcing chat.postMessage's rate.

Like Slack, it answers 429 with Retry-After when the workspace's DM rate is exceeded: a token
bucket of `rate_per_second` with a second's worth of burst. It also counts what was posted to
each conversation, which is how the benches count duplicates and losses.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from bench import _common  # noqa: F401  (puts the repository on sys.path)
from tests.fakes.slack_api import FakeSlack


@dataclass
class RateLimitedSlack(FakeSlack):
    rate_per_second: float | None = None
    posted: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    first_post: float | None = None
    last_post: float | None = None
    _tokens: float | None = None
    _updated: float = 0.0

    def _admit(self) -> float | None:
        """None when the post may go through, else the seconds to wait."""
        if self.rate_per_second is None:
            return None
        now = time.monotonic()
        burst = self.rate_per_second
        if self._tokens is None:  # a quiet workspace starts with its burst available
            self._tokens, self._updated = burst, now
        self._tokens = min(burst, self._tokens + (now - self._updated) * self.rate_per_second)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self.rate_per_second

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["method"] == "chat.postMessage":
            wait = self._admit()
            if wait is not None:
                self.refused += 1
                await request.read()
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
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
