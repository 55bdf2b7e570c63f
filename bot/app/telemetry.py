"""Prometheus metrics served at /metrics, and structured logging set-up."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sent = Counter("medpuls_sent", "Messages delivered", ["platform"], registry=r)
        self.retried = Counter("medpuls_retried", "Sends rescheduled after a failure", registry=r)
        self.dead = Counter("medpuls_dead_lettered", "Messages given up on", registry=r)
        self.unknown = Counter("medpuls_unknown_outcome", "Sends parked as unknown", registry=r)
        self.skipped = Counter("medpuls_unroutable", "Messages with no address", registry=r)
        self.rate_limited = Counter(
            "medpuls_rate_limit_waits", "HTTP 429 answers waited out", ["platform"], registry=r
        )
        self.throttle_seconds = Counter(
            "medpuls_throttle_seconds",
            "Seconds sends waited for their turn under our own rate limits",
            ["platform"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "medpuls_queue_depth", "Outbox rows waiting or in flight", registry=r
        )
        self.round_seconds = Histogram(
            "medpuls_round_seconds", "Time to open or close a round", ["step"], registry=r
        )
        self.digest_seconds = Histogram(
            "medpuls_digest_seconds", "Time to build a digest batch", registry=r
        )


METRICS = _Metrics()

# Fields that the logging calls pass in `extra=`; anything else in a record is not emitted.
_FIELDS = (
    "platform",
    "team",
    "channel",
    "event",
    "delivery",
    "retry",
    "outbox_id",
    "purpose",
    "reason",
    "round_id",
    "unit",
    "count",
    "worker",
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
        for name in _FIELDS:
            if name in record.__dict__:
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
