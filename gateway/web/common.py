"""What every portal page shares: rendering with its security headers, the visitor's account,
the page to go back to, CSRF, and an error of the table said in a sentence.

Pages are rendered on the server and their forms work without JavaScript; scripts only add
what needs them (the player, the download panel, the password rules checked as one types).
The CSP allows this origin's own scripts, styles and media, nothing inline, nothing else."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Response, g, render_template, request, session
from flask_wtf.csrf import CSRFProtect

from services.shared.errors import ServiceError

from ..errors import ERRORS, public_details
from ..i18n import current_language
from ..rpc import current_rpc
from ..sessions import session_cookie_token

log = logging.getLogger(__name__)

csrf = CSRFProtect()

PAGE_CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def page(template: str, status: int = 200, **context: Any) -> Response:
    """A portal page: the template with the visitor's account and language, its CSP."""
    context.setdefault("account", visitor())
    html = render_template(f"pages/{template}", language=current_language(),
                           here=request.full_path.rstrip("?"), **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Content-Language"] = current_language()
    return response


def visitor() -> dict | None:
    """The account of the session cookie, or None (no cookie, a session that ended, or auth
    out of reach: the page is still shown, logged out)."""
    if "visitor" in g:
        return g.visitor
    g.visitor = None
    token = session_cookie_token()
    if token:
        try:
            g.visitor = current_rpc().call("auth", "authenticate", token=token)
        except ServiceError as error:
            # only a session auth no longer knows is forgotten; other trouble may pass
            g.forget_session_cookie = error.code == "unauthorized"
        except Exception:  # auth out of reach or at fault: the page still shows
            log.warning("auth could not say who the visitor is: the page is shown logged out",
                        exc_info=True)
    return g.visitor


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path of this portal ("/news/x?y"), else `default`: never a way to
    another site (`//evil`, `https://…`, `/\\evil`, control characters)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def return_to() -> str:
    """Where the account screens send the visitor back: the page they came from."""
    return local_path(session.get("return_to"), "/")


def remember_return_to() -> None:
    """Keeps `?next=` (a portal path) for the end of the journey that starts here."""
    wanted = request.args.get("next")
    if wanted is not None:
        session["return_to"] = local_path(wanted)


def fresh_session() -> None:
    """A new visitor state (log in, log out, account verified): nothing of the journey
    before (an abandoned reset's grant, the CSRF secret) survives; only the page to go back
    to does."""
    back = session.get("return_to")
    session.clear()
    if back:
        session["return_to"] = back


def message_for(code: str, details: dict | None = None) -> str:
    """The error table's sentence for `code`, in the visitor's language."""
    kind = ERRORS.get(code) or ERRORS["internal_error"]
    return kind.message(public_details(kind, details or {}))


def form_value(name: str, limit: int = 1024) -> str:
    value = request.form.get(name, "")
    return value[:limit]

