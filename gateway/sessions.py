"""Who is calling: the session token, from `Authorization: Bearer …` or the session cookie.

A browser sends the cookie by itself, even on a request another site makes it send; so an
unsafe request (POST/PUT/DELETE) that is authenticated by the cookie must show, in `Origin`
(or `Referer`), that it comes from our own pages (PUBLIC_BASE_URL). A bearer token is only ever
sent by code that holds it, so it needs no such check."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

from .errors import ApiError

log = logging.getLogger(__name__)

SESSION_COOKIE = "newsreel_session"
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


def request_credentials() -> Credentials:
    """The caller's token; raises 401 without one, 403 for a cross-site cookie request."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return Credentials(token.strip(), from_cookie=False)
    token = request.cookies.get(SESSION_COOKIE, "")
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
    response.set_cookie(
        SESSION_COOKIE, token, max_age=seconds_until(expires_at), path="/", httponly=True,
        samesite="Lax", secure=current_app.config["PUBLIC_BASE_URL"].startswith("https://"))


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="Lax",
        secure=current_app.config["PUBLIC_BASE_URL"].startswith("https://"))


def _forget_dead_cookie(response: Response) -> Response:
    # The service no longer knows this session: stop the browser from sending it.
    if response.status_code == 401 and g.get("authenticated_by_cookie"):
        clear_session_cookie(response)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_forget_dead_cookie)
