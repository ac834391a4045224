"""Liveness never touches the broker. Readiness says whether this gateway can serve: it asks no
service, so an outage of auth (or of the broker) does not take every gateway out of its
Service; the parts that need the missing service answer 503 with the error table's code on
their own routes, and the rest (public pages, downloads of links already issued) go on."""

from gateway.rpc import BrokerUnavailable, ServiceUnavailable


def test_healthz_answers_without_the_broker(client, rpc):
    rpc.ping_error = BrokerUnavailable("auth", "down")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert rpc.pings == [] and rpc.calls == []


def test_readyz_is_200_and_asks_no_service(client, rpc):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}
    assert rpc.pings == [] and rpc.calls == []


def test_readyz_stays_200_while_the_broker_or_auth_is_out_of_reach(client, rpc):
    for error in (BrokerUnavailable("auth", "cannot connect to the broker"),
                  ServiceUnavailable("auth", "timed out")):
        rpc.ping_error = error
        assert client.get("/readyz").status_code == 200


def test_a_route_of_a_missing_service_answers_503_with_its_code(client, rpc):
    rpc.answer("auth.login", ServiceUnavailable("auth", "timed out"))
    response = client.post("/api/v1/sessions", json={
        "email": "jane@example.org", "password": "Tr4in-Station-Bl00m"})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    assert client.get("/readyz").status_code == 200
