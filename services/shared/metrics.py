"""Prometheus metrics shared by every service, the hook that times every entrypoint, and the
small HTTP server that answers Prometheus and the kubelet's probes on METRICS_PORT."""

import json
import socket
import threading
import time
from socketserver import ThreadingMixIn
from weakref import WeakKeyDictionary
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_wsgi_app

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
OUTBOX_UNROUTABLE = Counter(
    "newsreel_outbox_unroutable_total", "Events the broker returned because no queue is bound "
    "to them: kept in the outbox for a later try (kept=true: a consumer's queue is missing), or "
    "announcements no one subscribed to (kept=false).", ["service", "event_type", "kept"])
OUTBOX_PUBLISH_FAILURES = Counter(
    "newsreel_outbox_publish_failures_total", "Relay attempts that the broker did not confirm.",
    ["service"])
MESSAGES_RETRIED = Counter(
    "newsreel_messages_retried_total", "Messages sent back for a delayed retry, by failure: "
    "transient (a dependency unreachable: waited out, never dead-lettered) or error (a step "
    "of the retry ladder that ends in the dead-letter queue).",
    ["service", "queue", "failure"])
MESSAGES_DEFERRED = Counter(
    "newsreel_messages_deferred_total", "Messages handed back for later because another "
    "worker holds their work (not failures).", ["service", "queue"])
MESSAGES_DEAD_LETTERED = Counter(
    "newsreel_messages_dead_lettered_total", "Messages parked in a dead-letter queue.",
    ["service", "queue"])
MESSAGES_MALFORMED = Counter(
    "newsreel_messages_malformed_total", "Messages parked at once because their body is not "
    "JSON or not a CloudEvent (also counted as dead-lettered).", ["service", "queue"])


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """Probes and scrapes come every few seconds: a line each would drown the service's logs."""

    def log_message(self, format, *args):
        pass


class ProbeServer:
    """Serves `/healthz` (the process answers: never tied to the broker, so a broker outage does
    not get healthy pods restarted), `/readyz` (the service's consumers are running: set by the
    runner once nameko has started, cleared as soon as it is asked to stop) and, on every other
    path as prometheus_client's own server did, the metrics."""

    def __init__(self, port: int, addr: str = "0.0.0.0", registry=REGISTRY):  # noqa: S104
        self._ready = threading.Event()
        self._metrics = make_wsgi_app(registry)
        server_cls = _Server
        if ":" in addr:
            server_cls = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        self._httpd = make_server(addr, port, self._app, server_cls, handler_class=_QuietHandler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="probes",
                                        daemon=True)
        self._thread.start()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def mark_ready(self) -> None:
        self._ready.set()

    def mark_not_ready(self) -> None:
        self._ready.clear()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            if self.ready:
                return _json(start_response, "200 OK", {"status": "ready"})
            return _json(start_response, "503 Service Unavailable",
                         {"status": "starting or stopping"})
        return self._metrics(environ, start_response)


def _json(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def serve_metrics(port: int, addr: str = "0.0.0.0", registry=REGISTRY) -> ProbeServer:  # noqa: S104 - scraped from outside
    return ProbeServer(port, addr, registry)


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
