"""Prometheus metrics shared by every service, and the hook that times every entrypoint."""

import time
from weakref import WeakKeyDictionary

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram, start_http_server

ENTRYPOINT_CALLS = Counter(
    "newsreel_entrypoint_calls_total", "Entrypoint calls (RPC, event handlers, timers).",
    ["service", "entrypoint", "kind"])
ENTRYPOINT_ERRORS = Counter(
    "newsreel_entrypoint_errors_total", "Entrypoint calls that raised, by error.",
    ["service", "entrypoint", "kind", "error"])
ENTRYPOINT_LATENCY = Histogram(
    "newsreel_entrypoint_latency_seconds", "Time spent in an entrypoint.",
    ["service", "entrypoint", "kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
EVENTS_PUBLISHED = Counter(
    "newsreel_events_published_total", "Events published to the broker (confirmed).",
    ["service", "event_type"])
EVENTS_CONSUMED = Counter(
    "newsreel_events_consumed_total", "Events received by a handler, by outcome.",
    ["service", "event_type", "outcome"])
OUTBOX_BACKLOG = Gauge(
    "newsreel_outbox_backlog", "Events committed but not yet confirmed by the broker.",
    ["service"])
OUTBOX_PUBLISH_FAILURES = Counter(
    "newsreel_outbox_publish_failures_total", "Relay attempts that the broker did not confirm.",
    ["service"])
MESSAGES_RETRIED = Counter(
    "newsreel_messages_retried_total", "Messages sent back for a delayed retry.",
    ["service", "queue"])
MESSAGES_DEFERRED = Counter(
    "newsreel_messages_deferred_total", "Messages handed back for later because another "
    "worker holds their work (not failures).", ["service", "queue"])
MESSAGES_DEAD_LETTERED = Counter(
    "newsreel_messages_dead_lettered_total", "Messages parked in a dead-letter queue.",
    ["service", "queue"])


def serve_metrics(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside
    start_http_server(port, addr=addr)


class EntrypointMetrics(DependencyProvider):
    """Counts and times every entrypoint of the service it is declared on."""

    def __init__(self):
        self._started = WeakKeyDictionary()

    def get_dependency(self, worker_ctx):
        return None

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        labels = {
            "service": self.container.service_name,
            "entrypoint": worker_ctx.entrypoint.method_name,
            "kind": type(worker_ctx.entrypoint).__name__,
        }
        ENTRYPOINT_CALLS.labels(**labels).inc()
        started = self._started.pop(worker_ctx, None)
        if started is not None:
            ENTRYPOINT_LATENCY.labels(**labels).observe(time.perf_counter() - started)
        if exc_info is not None:
            error = getattr(exc_info[1], "code", None) or exc_info[0].__name__
            ENTRYPOINT_ERRORS.labels(error=error, **labels).inc()
