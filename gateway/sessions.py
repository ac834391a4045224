"""Who is calling: the session token, from `Authorization: Bearer …` or the session cookie.

A browser sends the cookie by itself, even on a request another site makes it send; so an
unsafe request (POST/PUT/DELETE) that is authenticated by the cookie must show, in `Origin`
(or `Referer`), that it comes from our own pages (PUBLIC_BASE_URL). A bearer token is only ever
sent by code that holds it, so it needs no such check.

Where the site is served over HTTPS (PUBLIC_BASE_URL says so), both session cookies, this one
and the portal's own (Flask's signed session: journey state, CSRF secret), are named with the
`__Host-` prefix: a browser keeps such a cookie only if it came over HTTPS from this very host,
Secure, with Path=/ and no Domain, so a sibling subdomain or someone on a plain-HTTP hop cannot
plant or overwrite one (OWASP session management; RFC 6265bis 4.1.3.2). Only the prefixed name
is read there. The name follows the configured scheme, not a request's header, so that every
request reads the cookie by the name the login set it with. A plain-HTTP development machine
keeps plain names (a browser refuses a Secure cookie over HTTP)."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

from .errors import ApiError

log = logging.getLogger(__name__)

SESSION_COOKIE = "newsreel_session"   # the auth session's token
PORTAL_COOKIE = "newsreel_portal"     # Flask's signed session (the portal's journey, CSRF)
HOST_PREFIX = "__Host-"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Credentials:
    token: str
    from_cookie: bool


def origin_of(url: str) -> str | None:
    """`scheme://host:port`, lower-cased, with the port always written; None if not a URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or port is None:
        return None
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"


def comes_from_our_pages() -> bool:
    ours = origin_of(current_app.config["PUBLIC_BASE_URL"])
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    return claimed is not None and ours is not None and origin_of(claimed) == ours


def serves_https(app: Flask) -> bool:
    return app.config["PUBLIC_BASE_URL"].startswith("https://")


def cookie_name(app: Flask, name: str) -> str:
    """`name`, with the `__Host-` prefix where the site is served over HTTPS."""
    return HOST_PREFIX + name if serves_https(app) else name


def session_cookie_token() -> str | None:
    """The session token of the request's cookie (by this site's name for it), or None."""
    return request.cookies.get(cookie_name(current_app, SESSION_COOKIE)) or None


def request_credentials() -> Credentials:
    """The caller's token; raises 401 without one, 403 for a cross-site cookie request."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return Credentials(token.strip(), from_cookie=False)
    token = session_cookie_token()
    if not token:
        raise ApiError("unauthorized")
    g.authenticated_by_cookie = True
    if request.method not in SAFE_METHODS and not comes_from_our_pages():
        raise ApiError("csrf_failed")
    return Credentials(token, from_cookie=True)


def seconds_until(expires_at: str) -> int | None:
    try:
        moment = datetime.fromisoformat(expires_at)
    except (TypeError, ValueError):
        log.warning("session expiry %r is not ISO 8601: the cookie lasts the browser session",
                    expires_at)
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int((moment - datetime.now(UTC)).total_seconds()))


def set_session_cookie(response: Response, token: str, expires_at: str) -> None:
    # no domain: a host-only cookie (and a __Host- one must have none)
    response.set_cookie(
        cookie_name(current_app, SESSION_COOKIE), token, max_age=seconds_until(expires_at),
        path="/", httponly=True, samesite="Lax", secure=serves_https(current_app))


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        cookie_name(current_app, SESSION_COOKIE), path="/", httponly=True, samesite="Lax",
        secure=serves_https(current_app))


def _forget_dead_cookie(response: Response) -> Response:
    # The service no longer knows this session: stop the browser from sending it.
    if response.status_code == 401 and g.get("authenticated_by_cookie"):
        clear_session_cookie(response)
    return response


def init_app(app: Flask) -> None:
    # The portal's own session (Flask's): never sent cross-site, named and flagged like the
    # token's cookie. (Flask has defaults for these: they are set, not defaulted.)
    app.config.update(SESSION_COOKIE_NAME=cookie_name(app, PORTAL_COOKIE),
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_PATH="/", SESSION_COOKIE_DOMAIN=None,
                      SESSION_COOKIE_SECURE=serves_https(app))
    app.after_request(_forget_dead_cookie)
