"""The audit log's one way in: every entry is built here, whether added alone or in bulk.

`detail` holds ids, counts and rule names, never an answer or a comment (docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from storage.models import AuditEntry, Member, utcnow


def audit_row(
    actor: Member | int | None,
    action: str,
    subject: str,
    *,
    allowed: bool,
    now: dt.datetime | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """The entry's columns, for a bulk insert (the weekly digest writes thousands at once)."""
    return {
        "at": now or utcnow(),
        "actor_id": actor.id if isinstance(actor, Member) else actor,
        "action": action,
        "subject": subject[:200],
        "allowed": allowed,
        "detail": detail or None,
    }


def audit_entry(
    actor: Member | int | None,
    action: str,
    subject: str,
    *,
    allowed: bool,
    now: dt.datetime | None = None,
    **detail: Any,
) -> AuditEntry:
    """One audit entry, to add to a session."""
    return AuditEntry(**audit_row(actor, action, subject, allowed=allowed, now=now, **detail))
