"""The platforms' published rate limits, and the rates delivery paces itself at to stay under
them even when a send leaves a little after its slot (bot.ratelimit.Slot.missed).

Teams (learn.microsoft.com, "Optimize your bot with rate limiting in Teams"): per bot and
conversation, at most 7 sends in any 1 s, 8 in any 2 s, 60 in any 30 s and 1,800 in any hour;
per app and tenant 50 requests a second. We stay at 25 a second per tenant, half of it: the
table says its values are estimates and subject to change.

Slack (docs.slack.dev, "Rate limits"): chat.postMessage is a special tier, about one message a
second per channel with short bursts allowed, inside a workspace-wide limit Slack does not
publish (`MEDPULS_SLACK_RATE`, a second's worth). We read "short bursts" as at most 2 in any
second and 60 in any minute.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.config import Settings
from bot.core.ratelimit import PlatformLimits, Rate, late_allowance

# (most sends, within seconds)
Window = tuple[int, float]

TEAMS_CONVERSATION: tuple[Window, ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
TEAMS_TENANT_PER_SECOND = 25
SLACK_CHANNEL: tuple[Window, ...] = ((2, 1.0), (60, 60.0))


def per_second(limit: float) -> Rate:
    """Pacing for "`limit` in any second" with room for a send up to 0.45 of an interval late:
    a second then holds at most ceil(r + 0.45) slots, which is `limit` at r = limit - 1/2."""
    return Rate(max(limit - 0.5, 0.5), burst=1.0)


def fits(rates: Sequence[Rate], windows: Sequence[Window], late: float) -> bool:
    """Whether sends paced by all of `rates` at once, each up to `late` seconds after its slot,
    stay within every window (each rate bounds the count on its own; the least bound holds)."""
    return all(min(r.most_in(seconds, late) for r in rates) <= most for most, seconds in windows)


def rate_limits(settings: Settings | None = None) -> dict[str, PlatformLimits]:
    workspace = settings.slack_rate_per_second if settings is not None else 50.0
    return {
        "slack": PlatformLimits(
            overall=per_second(workspace),
            per_conversation=Rate(0.95, burst=2.0),
        ),
        "teams": PlatformLimits(
            overall=per_second(TEAMS_TENANT_PER_SECOND),
            # Bursts of 6, then 1 a second; under 1,800 an hour over the long run.
            per_conversation=(Rate(1.0, burst=6.0), Rate(0.49, burst=35.0)),
        ),
    }


def check(limits: PlatformLimits, conversation: Sequence[Window], overall: float) -> bool:
    """Whether `limits` keep within the conversation's windows and `overall` a second."""
    every = [*limits.buckets("p", "c")]
    late = late_allowance([r for _, r in every])
    mine = [r for k, r in every if ":c:" in k]
    theirs = [r for k, r in every if ":all" in k]
    return fits(mine, conversation, late) and fits(theirs, ((int(overall), 1.0),), late)
