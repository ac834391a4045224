"""Request ids, security headers, JSON logs and metrics."""

import io
import json
import logging

import pytest

from gateway.observability import RequestIdLogFilter
from services.shared.errors import ServiceError

from .fakes import GOOD_TOKEN

BEARER = {"Authorization": f"Bearer {GOOD_TOKEN}"}


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/me", "/api/v1/nope", "/api/docs",
                                  "/api/v1/openapi.json", "/metrics"])
def test_every_response_has_a_request_id_and_the_security_headers(client, path):
    response = client.get(path, headers=BEARER)

    assert len(response.headers["X-Request-Id"]) >= 8
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_sane_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-Id": "edge-3f2a9c1d-0001"})
    assert response.headers["X-Request-Id"] == "edge-3f2a9c1d-0001"


@pytest.mark.parametrize("offered", ["short", "x" * 129, "a b c d e f g h", "abc\u00e9defgh",
                                     "id-with-<script>"])
def test_an_odd_request_id_is_replaced(client, offered):
    response = client.get("/healthz", headers={"X-Request-Id": offered})
    assert response.headers["X-Request-Id"] != offered
    assert len(response.headers["X-Request-Id"]) == 32


def test_each_request_is_logged_with_its_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        client.get("/api/v1/me", headers={**BEARER, "X-Request-Id": "trace-0123456789"})
    record = next(r for r in caplog.records if r.name == "gateway.requests")
    assert record.request_id == "trace-0123456789"
    assert record.status == 200
    assert record.endpoint == "/api/v1/me"


def test_probes_are_logged_quietly(client, caplog):
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        client.get("/healthz")
    assert not [r for r in caplog.records if r.name == "gateway.requests"]


def test_log_lines_are_json_with_the_request_id(app):
    from pythonjsonlogger.json import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s"))
    logger = logging.getLogger("gateway.test-json")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/", headers={"X-Request-Id": "trace-0123456789"}):
            app.preprocess_request()
            logger.warning("something happened")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "something happened"
    assert line["request_id"] == "trace-0123456789"


def test_docs_page_has_a_strict_csp_and_loads_nothing_from_elsewhere(client):
    response = client.get("/api/docs")
    csp = response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert page.count(f'nonce="{nonce}"') == 2  # the one style and the one script
    assert "http://" not in page and "https://" not in page
    assert client.get("/api/docs").headers["Content-Security-Policy"] != csp  # fresh nonce


def test_metrics_count_requests_and_time_rpc_calls(client, rpc):
    rpc.answer("auth.login", ServiceError("invalid_credentials"))
    client.post("/api/v1/sessions", json={"email": "a@example.org", "password": "x"})
    client.get("/api/v1/me", headers=BEARER)

    metrics = client.get("/metrics").get_data(as_text=True)

    assert ('newsreel_gateway_requests_total{endpoint="/api/v1/sessions",method="POST",'
            'status="401"}') in metrics
    assert ('newsreel_gateway_request_latency_seconds_count{endpoint="/api/v1/me",'
            'method="GET",status="200"}') in metrics
    assert ('newsreel_gateway_rpc_latency_seconds_count{call="auth.login",'
            'outcome="invalid_credentials"}') in metrics
    assert ('newsreel_gateway_rpc_latency_seconds_count{call="auth.authenticate",'
            'outcome="ok"}') in metrics


def test_unknown_paths_share_one_metrics_label(client):
    client.get("/api/v1/random-1")
    client.get("/api/v1/random-2")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "random-1" not in metrics
    assert 'endpoint="unmatched"' in metrics
