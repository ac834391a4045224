"""Liveness never touches the broker; readiness pings the broker and the auth service."""

from gateway.rpc import BrokerUnavailable, ServiceUnavailable


def test_healthz_answers_without_the_broker(client, rpc):
    rpc.ping_error = BrokerUnavailable("auth", "down")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert rpc.pings == [] and rpc.calls == []


def test_readyz_is_200_when_auth_answers(client, rpc):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"broker": "ok", "auth": "ok"}}
    assert rpc.pings == ["auth"]


def test_readyz_is_503_when_the_broker_is_out_of_reach(client, rpc):
    rpc.ping_error = BrokerUnavailable("auth", "cannot connect to the broker")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable",
                             "checks": {"broker": "unavailable", "auth": "unknown"}}


def test_readyz_is_503_when_auth_does_not_answer(client, rpc):
    rpc.ping_error = ServiceUnavailable("auth", "timed out")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable",
                             "checks": {"broker": "ok", "auth": "unavailable"}}
