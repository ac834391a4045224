"""Who is calling: bearer tokens, the session cookie, and the origin check that keeps other
sites from using a visitor's cookie."""

import pytest

from gateway.app import create_app

from .conftest import PUBLIC_BASE_URL
from .fakes import GOOD_TOKEN, FakeRpc

EMAIL = "claire.martin@example.org"
OUR_ORIGIN = {"Origin": PUBLIC_BASE_URL}


def cookie_client(client, token=GOOD_TOKEN):
    client.set_cookie("__Host-newsreel_session", token, domain="localhost")
    return client


def parsed_cookie(header: str) -> dict:
    name_value, *attributes = [part.strip() for part in header.split(";")]
    parsed = {"": name_value}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value
    return parsed


def test_session_cookie_attributes(client):
    response = client.post("/api/v1/sessions", json={"email": EMAIL, "password": "pw"})

    cookie = parsed_cookie(response.headers["Set-Cookie"])
    assert cookie[""] == f"__Host-newsreel_session={GOOD_TOKEN}"
    assert "httponly" in cookie
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert "secure" in cookie  # PUBLIC_BASE_URL is https in these tests
    # expires_at is 2099: Max-Age counts the seconds until then
    assert int(cookie["max-age"]) > 70 * 365 * 24 * 3600


def test_cookie_is_not_secure_when_the_site_is_plain_http():
    app = create_app(rpc=FakeRpc(), config={"TESTING": True, "TRUSTED_PROXY_COUNT": 0,
                                            "PUBLIC_BASE_URL": "http://127.0.0.1:8000"})
    response = app.test_client().post("/api/v1/sessions", json={"email": EMAIL,
                                                                "password": "pw"})
    assert "secure" not in parsed_cookie(response.headers["Set-Cookie"])


def test_bearer_token_authenticates(client, rpc):
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
    assert response.status_code == 200
    assert rpc.calls == [("auth.authenticate", {"token": GOOD_TOKEN})]


def test_bearer_requests_need_no_origin(client, rpc):
    response = client.put("/api/v1/me/newsletter", json={"subscribed": False},
                          headers={"Authorization": f"Bearer {GOOD_TOKEN}",
                                   "Origin": "https://elsewhere.example"})
    assert response.status_code == 200


def test_cookie_authenticates_a_safe_request_without_origin(client, rpc):
    response = cookie_client(client).get("/api/v1/me")
    assert response.status_code == 200
    assert rpc.calls == [("auth.authenticate", {"token": GOOD_TOKEN})]


@pytest.mark.parametrize("headers", [
    {"Origin": PUBLIC_BASE_URL},
    {"Origin": "HTTPS://News.Example.org:443"},
    {"Referer": f"{PUBLIC_BASE_URL}/account/newsletter?x=1"},
])
def test_cookie_unsafe_request_from_our_pages_passes(client, rpc, headers):
    response = cookie_client(client).put("/api/v1/me/newsletter", json={"subscribed": True},
                                         headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [
    {},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://news.example.org"},
    {"Origin": "https://news.example.org:8443"},
    {"Origin": "https://news.example.org.evil.example"},
    {"Referer": "https://evil.example/news.example.org"},
    {"Origin": "https://evil.example", "Referer": f"{PUBLIC_BASE_URL}/"},
])
@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/api/v1/me/newsletter", {"subscribed": True}),
    ("DELETE", "/api/v1/sessions/current", None),
])
def test_cookie_unsafe_request_from_elsewhere_is_403_before_any_rpc(
        client, rpc, headers, method, path, body):
    response = cookie_client(client).open(path, method=method, json=body,
                                          headers={**headers, "Accept-Language": "en"})
    assert response.status_code == 403
    assert response.json["error"] == {
        "code": "csrf_failed",
        "message": "This request does not come from the Newsreel site. "
                   "Reload the page and try again."}
    assert rpc.calls == []


def test_without_any_credentials_it_is_401_before_any_rpc(client, rpc):
    response = client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert rpc.calls == []


def test_a_dead_cookie_session_is_401_and_the_cookie_is_cleared(client, rpc):
    response = cookie_client(client, "expired-token").get("/api/v1/me")
    assert response.status_code == 401
    assert "__Host-newsreel_session=;" in response.headers["Set-Cookie"]
    assert rpc.calls == [("auth.authenticate", {"token": "expired-token"})]


def test_a_dead_bearer_token_is_401_without_touching_cookies(client, rpc):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer expired-token"})
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


def test_logout_by_cookie_from_our_pages(client, rpc):
    response = cookie_client(client).delete("/api/v1/sessions/current", headers=OUR_ORIGIN)
    assert response.status_code == 204
    assert rpc.methods_called == ["auth.authenticate", "auth.logout"]
