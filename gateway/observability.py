"""Request ids, JSON logs and Prometheus metrics for the gateway.

Every response carries `X-Request-Id` (the caller's when it is a sane value, so a trace spans
the proxies in front of us; else a new one), and every log line written during a request
carries the same id."""

import logging
import os
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter

from services.shared.errors import ServiceError

from .rpc import RpcClient, ServiceUnavailable

REQUEST_ID_HEADER = "X-Request-Id"
# Long enough for a UUID or a trace id, short and plain enough to be safe in a log line.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "newsreel_gateway_requests_total", "HTTP requests answered, by route and status.",
    ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram(
    "newsreel_gateway_request_latency_seconds", "Time to answer an HTTP request.",
    ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS)
RPC_LATENCY = Histogram(
    "newsreel_gateway_rpc_latency_seconds",
    "RPC calls from the gateway, by service.method and outcome (ok, an error code, "
    "unavailable, or error for anything unexpected).",
    ["call", "outcome"], buckets=LATENCY_BUCKETS)

# Probes and scrapes come every few seconds: their lines would drown the rest.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

log = logging.getLogger("gateway.requests")


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class RequestIdLogFilter(logging.Filter):
    """Adds the current request id to every record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def setup_json_logging(level: str = "INFO") -> None:
    """The process's logging: one JSON object per line on stderr. Called by wsgi.py, not by
    create_app, so that tests keep pytest's log capture."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"service": "gateway"}))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kombu logs every reconnection attempt at length; its warnings are enough
    logging.getLogger("kombu").setLevel(logging.WARNING)


class MeteredRpc:
    """Wraps any RpcClient to time each call by service.method and outcome."""

    def __init__(self, inner: RpcClient):
        self.inner = inner

    def call(self, service: str, method: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = self.inner.call(service, method, **kwargs)
            outcome = "ok"
            return result
        except ServiceError as exc:
            outcome = exc.code
            raise
        except ServiceUnavailable:
            outcome = "unavailable"
            raise
        finally:
            RPC_LATENCY.labels(f"{service}.{method}", outcome).observe(
                time.perf_counter() - started)

    def ping(self, service: str) -> None:
        self.inner.ping(service)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def init_app(app: Flask) -> None:
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.add_url_rule("/metrics", "metrics", metrics_endpoint, methods=["GET"])


def _start_request() -> None:
    g.started = time.perf_counter()
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def logged_path(path: str) -> str:
    """The path as a log line may hold it: never a download link's token (the front door's
    log writes it the same way)."""
    # however the client wrote it (`//files/`, `/./files/`): the token is all that follows
    return "/files/…" if "/files/" in path else path


def _finish_request(response: Response) -> Response:
    # A request that failed before before_request ran (e.g. a routing error raised early)
    # still gets an id.
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    # The route's pattern, not the raw path: unknown paths must not create new time series.
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    status = str(response.status_code)
    HTTP_REQUESTS.labels(endpoint, request.method, status).inc()
    HTTP_LATENCY.labels(endpoint, request.method, status).observe(elapsed)
    quiet = request.path in QUIET_PATHS and response.status_code < 400
    log.log(logging.DEBUG if quiet else logging.INFO, "request", extra={
        "request_id": request_id, "method": request.method, "path": logged_path(request.path),
        "endpoint": endpoint, "status": response.status_code,
        "duration_ms": round(elapsed * 1000, 2), "client_ip": request.remote_addr})
    return response


def metrics_endpoint() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: each writes its samples to that directory, and any worker
        # answering the scrape adds them all up.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
