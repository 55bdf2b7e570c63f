"""Prometheus metrics: counted by delivery and the flows, served at /metrics by bot.app.server."""

from __future__ import annotations

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
