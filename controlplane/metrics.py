"""Prometheus metrics of one control-plane instance (its own registry, so several instances,
as in tests, never collide). Served at GET /metrics."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "mmbot_cp_http_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "mmbot_cp_http_request_seconds", "HTTP request duration", ["route"], registry=r
        )
        self.events_archived = Counter(
            "mmbot_cp_events_archived", "Agent events archived (new ones only)", registry=r
        )
        self.events_duplicate = Counter(
            "mmbot_cp_events_duplicate",
            "Agent events received again and ignored (already archived)",
            registry=r,
        )
        self.event_delay = Histogram(
            "mmbot_cp_event_delay_seconds",
            "From the agent emitting an event to it being archived and published",
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self.archive_tx_events = Histogram(
            "mmbot_cp_archive_tx_events",
            "Events per archive transaction",
            buckets=(1, 10, 50, 100, 500, 1000, 5000),
            registry=r,
        )
        self.archive_errors = Counter(
            "mmbot_cp_archive_errors",
            "Archive transactions that failed and were retried",
            registry=r,
        )
        self.link_connects = Counter(
            "mmbot_cp_link_connects", "Agent link sessions started", registry=r
        )
        self.link_failures = Counter(
            "mmbot_cp_link_failures",
            "Agent link sessions that ended with an error",
            ["code"],
            registry=r,
        )
        self.audit = Counter(
            "mmbot_cp_audit", "Audited actions by outcome", ["action", "outcome"], registry=r
        )

    def gauge(self, name: str, doc: str, fn: Callable[[], float]) -> None:
        """A gauge read at scrape time (queue depth, agents online)."""
        g = Gauge(name, doc, registry=self.registry)
        g.set_function(fn)

    def render(self) -> bytes:
        return generate_latest(self.registry)
