"""Structured logging: one JSON object a line, with the reviewed fields only."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

# Every key a logging call may pass in `extra=`, all emitted (other libraries' extras are not).
# A key here names an id, a count or a reason, never an answer, a comment or a message text:
# tests/test_logs_fields.py reads every `extra=` in the code and fails on a key that is not
# listed, so a new one is reviewed here instead of being dropped (or leaking) silently.
LOG_FIELDS = frozenset(
    {
        "action",
        "answers_deleted",
        "change",
        "channel",
        "committee",
        "count",
        "delivery",
        "error",
        "event",
        "failed",
        "images_deleted",
        "kind",
        "meeting",
        "member",
        "member_id",
        "months",
        "outbox_id",
        "path",
        "platform",
        "proposal",
        "purpose",
        "reason",
        "reminder",
        "retry",
        "round_id",
        "schedule_id",
        "step",
        "subject",
        "team",
        "unit",
        "value",
        "way",
        "week",
        "worker",
    }
)
# Every field of a line is cut to this many characters: ids from a request are logged before
# it is authenticated, and a 900 KB conversation.id must not become a 900 KB log line.
FIELD_CHARS = 200


def capped(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if len(text) <= FIELD_CHARS:
        return text
    return f"{text[:FIELD_CHARS]}…(+{len(text) - FIELD_CHARS})"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": capped(record.getMessage()),
        }
        for name in LOG_FIELDS & record.__dict__.keys():
            out[name] = capped(record.__dict__[name])
        if record.exc_info:
            out["exc"] = capped(self.formatException(record.exc_info).splitlines()[-1])
        return json.dumps(out, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now, not what it was when logging was set up."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    handler = _Stderr()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every tick at INFO; our own scheduler logs what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
