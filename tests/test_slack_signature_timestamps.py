"""Issue 14.5: a forged timestamp is refused as unsigned, never a 500 before authentication."""

import hashlib
import hmac

import pytest

from adapters.slack.web import signed

SECRET = "s3cret"


def _signature(timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "timestamp",
    ["٣٣٣٣٣٣٣٣٣٣", "²", "1" * 4000, "", " 1700000000", "1700000000\n", "-1", "+1700000000"],
)
def test_a_timestamp_that_is_not_plain_ascii_seconds_is_refused_without_raising(
    timestamp: str,
) -> None:
    assert signed(SECRET, "{}", timestamp, _signature(timestamp, "{}"), now=1_700_000_000) is False


def test_a_plain_timestamp_with_the_right_signature_still_passes() -> None:
    timestamp = "1700000000"
    assert signed(SECRET, "{}", timestamp, _signature(timestamp, "{}"), now=1_700_000_000.0)
