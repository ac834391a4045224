"""Issue 10, point 5: where the site is served over HTTPS, the session cookies carry the
`__Host-` prefix, so a browser only keeps them if they were set over HTTPS, by this very host
(no Domain), for the whole site (Path=/): a neighbouring subdomain or a man in the middle of a
plain-HTTP request cannot plant or overwrite one. On a plain-HTTP development machine the
browser would refuse such a cookie, so the names stay plain there."""

import pytest

from gateway.app import create_app

from .fakes import GOOD_TOKEN, FakeRpc

EMAIL = "claire.martin@example.org"
HTTPS_SITE = "https://news.example.org"
HTTP_SITE = "http://127.0.0.1:8000"


def make_client(public_base_url: str):
    app = create_app(rpc=FakeRpc(), config={"TESTING": True, "TRUSTED_PROXY_COUNT": 0,
                                            "PUBLIC_BASE_URL": public_base_url})
    return app.test_client()


def cookies_set(response) -> dict[str, dict]:
    """Every Set-Cookie of the answer: name → its attributes (lower-cased names)."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = name_value.partition("=")
        parsed = {"": value}
        for attribute in attributes:
            key, _, setting = attribute.partition("=")
            parsed[key.lower()] = setting
        found[name] = parsed
    return found


def assert_host_only(cookie: dict) -> None:
    # what a browser demands of a __Host- cookie (RFC 6265bis, 4.1.3.2)
    assert "secure" in cookie
    assert cookie["path"] == "/"
    assert "domain" not in cookie


def test_over_https_the_login_cookie_is_a_host_cookie():
    client = make_client(HTTPS_SITE)
    response = client.post("/api/v1/sessions", json={"email": EMAIL, "password": "pw"})
    cookies = cookies_set(response)
    assert set(cookies) == {"__Host-newsreel_session"}
    assert cookies["__Host-newsreel_session"][""] == GOOD_TOKEN
    assert_host_only(cookies["__Host-newsreel_session"])


def test_over_https_only_the_host_cookie_authenticates():
    client = make_client(HTTPS_SITE)
    # a cookie without the prefix may have been planted by a subdomain or over plain HTTP
    client.set_cookie("newsreel_session", GOOD_TOKEN, domain="localhost")
    assert client.get("/api/v1/me").status_code == 401
    client.delete_cookie("newsreel_session", domain="localhost")
    client.set_cookie("__Host-newsreel_session", GOOD_TOKEN, domain="localhost")
    assert client.get("/api/v1/me").status_code == 200
    # logging out clears the cookie by the name it was set with
    out = client.delete("/api/v1/sessions/current", headers={"Origin": HTTPS_SITE})
    cleared = cookies_set(out)["__Host-newsreel_session"]
    assert cleared[""] == "" and cleared["max-age"] == "0"
    assert_host_only(cleared)


def test_over_https_the_portals_own_session_is_a_host_cookie():
    client = make_client(HTTPS_SITE)
    page = client.get("/account/login?next=/news")   # remembers where to go back: a portal session
    cookies = cookies_set(page)
    assert set(cookies) >= {"__Host-newsreel_portal"}
    assert "newsreel_portal" not in cookies
    assert_host_only(cookies["__Host-newsreel_portal"])
    assert "httponly" in cookies["__Host-newsreel_portal"]


@pytest.mark.parametrize("path", ["/account/login?next=/news"])
def test_over_plain_http_the_names_stay_plain(path):
    client = make_client(HTTP_SITE)
    login = cookies_set(client.post("/api/v1/sessions", json={"email": EMAIL,
                                                               "password": "pw"}))
    assert set(login) == {"newsreel_session"} and "secure" not in login["newsreel_session"]
    portal = cookies_set(client.get(path))
    assert "newsreel_portal" in portal and "secure" not in portal["newsreel_portal"]
    client.set_cookie("newsreel_session", GOOD_TOKEN, domain="localhost")
    assert client.get("/api/v1/me").status_code == 200
