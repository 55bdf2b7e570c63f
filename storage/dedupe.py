"""De-duplication of retried deliveries: rows that name neither the person nor the choice.

The key is a keyed hash (a subkey of MEDPULS_SECRET_KEY, passed in) of the platform's delivery
id; rows are deleted after DEDUPE_TTL (by every round's close, retention and erasure). Platforms
re-deliver within minutes (Slack: three retries within about five minutes), so an hour is ample.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import delete
from sqlalchemy.orm import Session

from storage.models import ProcessedEvent

DEDUPE_TTL = dt.timedelta(hours=1)


def dedupe_key(key: bytes, platform: str, delivery_id: str) -> str:
    """The stored form of a delivery id: HMAC under the "dedupe" subkey, nothing readable."""
    message = f"{platform}:{delivery_id}".encode()
    return "d:" + hmac.new(key, message, hashlib.sha256).hexdigest()


def forget_processed_events(session: Session, now: dt.datetime) -> int:
    """Delete de-duplication rows older than DEDUPE_TTL; returns how many went."""
    result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.at < now - DEDUPE_TTL))
    return max(int(result.rowcount), 0)  # type: ignore[attr-defined]
