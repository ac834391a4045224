"""The port every service opens on METRICS_PORT: metrics for Prometheus, probes for the kubelet."""

import json
import urllib.error
import urllib.request
from wsgiref.util import setup_testing_defaults

import pytest
from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

from services.shared.metrics import serve_metrics


@pytest.fixture
def registry():
    registry = CollectorRegistry()
    Counter("probe_test_calls_total", "A counter of the test's own.", ["kind"],
            registry=registry).labels("rpc").inc(3)
    return registry


@pytest.fixture
def probes(registry):
    server = serve_metrics(0, addr="127.0.0.1", registry=registry)
    yield server
    server.close()


def get(server, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def served_by_prometheus_client(registry):
    """What prometheus_client's own server (the one this replaced) answers to a bare GET."""
    environ, answer = {"PATH_INFO": "/metrics"}, {}
    setup_testing_defaults(environ)
    body = b"".join(make_wsgi_app(registry)(
        environ, lambda status, headers: answer.update(status=status, headers=dict(headers))))
    return answer["headers"]["Content-Type"], body


def test_metrics_are_what_prometheus_client_serves(probes, registry):
    status, content_type, body = get(probes, "/metrics")
    assert status == 200
    assert (content_type, body) == served_by_prometheus_client(registry)
    assert b'probe_test_calls_total{kind="rpc"} 3.0' in body


def test_liveness_answers_from_the_start_and_while_stopping(probes):
    assert get(probes, "/healthz")[0] == 200
    probes.mark_ready()
    probes.mark_not_ready()
    status, content_type, body = get(probes, "/healthz")
    assert (status, content_type, json.loads(body)) == (200, "application/json", {"status": "ok"})


def test_readiness_follows_the_runner(probes):
    status, _, body = get(probes, "/readyz")
    assert status == 503 and json.loads(body)["status"] == "starting or stopping"
    probes.mark_ready()
    status, _, body = get(probes, "/readyz")
    assert (status, json.loads(body)) == (200, {"status": "ready"})
    probes.mark_not_ready()   # what the runner does on SIGTERM, before stopping the consumers
    assert get(probes, "/readyz")[0] == 503
