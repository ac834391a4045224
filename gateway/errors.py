"""Every error the API answers with: ONE table from machine code to HTTP status and to a
sentence in the user's language, and the one JSON shape they all take:

    {"error": {"code": "invalid_code", "message": "Ce code n'est pas valide. …",
               "attempts_left": 2}}

Services raise `ServiceError(code, details)`; the gateway raises `ApiError` for what it refuses
itself (validation, CSRF, no session); Werkzeug's HTTP errors under /api/ and anything
unexpected are answered in the same shape. Only the details listed for a code reach the client,
converted back from the strings nameko turns every value into."""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from services.shared.errors import ServiceError

from .config import MAX_BODY_BYTES
from .i18n import current_language, join_words
from .observability import current_request_id
from .rpc import BrokerUnavailable, ServiceUnavailable

log = logging.getLogger(__name__)

# The auth service's password policy, as its contract states it (the service enforces it).
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
RATE_LIMITED_DEFAULT_RETRY_AFTER = 60
SERVICE_UNAVAILABLE_RETRY_AFTER = 5


def N_(message: str) -> str:  # the gettext convention: pybabel extracts N_(…) by default
    """Marks a message for extraction; it is translated where it is used."""
    return message


class ApiError(Exception):
    """An error the gateway answers by itself, before or instead of calling a service.
    `message` replaces the table's sentence when the gateway can say something more precise
    (which field is wrong, and why)."""

    def __init__(self, code: str, message: str | None = None, **details: Any):
        super().__init__(code, message, details)
        self.code = code
        self.message = message
        self.details = details


# -- messages that depend on the details -------------------------------------------------------

PASSWORD_RULE_PHRASES = {
    "min_length": N_("at least %(min)d characters"),
    "max_length": N_("at most %(max)d characters"),
    "no_spaces": N_("no spaces"),
    "uppercase": N_("uppercase letters"),
    "lowercase": N_("lowercase letters"),
    "digit": N_("digits"),
    "symbol": N_("symbols"),
}


def weak_password_message(details: dict) -> str:
    rules = details.get("rules", [])
    phrases = [_(PASSWORD_RULE_PHRASES[rule], min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH)
               for rule in rules if rule in PASSWORD_RULE_PHRASES]
    sentences = []
    if phrases:
        sentences.append(_("The password must have %(rules)s.", rules=join_words(phrases)))
    if "breached" in rules:
        sentences.append(_("This password appears in lists of leaked passwords: "
                           "choose another one."))
    if not sentences:  # rules we do not know yet: state the whole policy
        sentences.append(_("The password must have at least %(min)d characters, no spaces, and "
                           "include uppercase and lowercase letters, digits and symbols.",
                           min=PASSWORD_MIN_LENGTH))
    return " ".join(sentences)


def invalid_code_message(details: dict) -> str:
    if "attempts_left" not in details:
        return _("This code is not valid.")
    return ngettext("This code is not valid. %(num)d attempt left.",
                    "This code is not valid. %(num)d attempts left.",
                    details["attempts_left"])


def rate_limited_message(details: dict) -> str:
    seconds = details["retry_after"]
    if seconds < 60:
        return ngettext("Too many requests. Try again in %(num)d second.",
                        "Too many requests. Try again in %(num)d seconds.", seconds)
    return ngettext("Too many requests. Try again in %(num)d minute.",
                    "Too many requests. Try again in %(num)d minutes.", math.ceil(seconds / 60))


# -- the table ---------------------------------------------------------------------------------

def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise TypeError("a list was expected")
    return [str(item) for item in value]


def _non_negative_int(value: Any) -> int:
    return max(0, int(value))


@dataclass(frozen=True)
class ErrorKind:
    status: int
    message: Callable[[dict], str]
    # detail name -> converter; the only details a client sees for this code
    details: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # details a service may leave out, and what to assume then
    defaults: dict[str, Any] = field(default_factory=dict)


ERRORS: dict[str, ErrorKind] = {
    # refused by the gateway
    "invalid_request": ErrorKind(400, lambda d: _("The request is not valid."), {"field": str}),
    "invalid_email": ErrorKind(400, lambda d: _("This email address is not valid."),
                               {"field": str}),
    "csrf_failed": ErrorKind(403, lambda d: _(
        "This request does not come from the Newsreel site. Reload the page and try again.")),
    "not_found": ErrorKind(404, lambda d: _("There is nothing at this address.")),
    "method_not_allowed": ErrorKind(405, lambda d: _("This method is not allowed here.")),
    "payload_too_large": ErrorKind(413, lambda d: _(
        "The request body is too large: %(limit)d KiB at most.", limit=MAX_BODY_BYTES // 1024)),
    "unsupported_media_type": ErrorKind(415, lambda d: _(
        "The request body must be JSON (Content-Type: application/json).")),
    # accounts (auth service)
    "weak_password": ErrorKind(400, weak_password_message, {"rules": _string_list},
                               defaults={"rules": []}),
    "invalid_code": ErrorKind(400, invalid_code_message, {"attempts_left": _non_negative_int}),
    "code_expired": ErrorKind(400, lambda d: _("This code has expired. Ask for a new one.")),
    "too_many_attempts": ErrorKind(400, lambda d: _(
        "Too many wrong attempts: this code no longer works. Ask for a new one.")),
    "invalid_reset_token": ErrorKind(400, lambda d: _(
        "This password reset has expired or was already used. Please start again.")),
    "invalid_credentials": ErrorKind(401, lambda d: _("Incorrect email address or password.")),
    "unauthorized": ErrorKind(401, lambda d: _(
        "You are not logged in, or your session has expired. Please log in.")),
    "not_verified": ErrorKind(403, lambda d: _(
        "This account is not verified yet. Enter the code sent to your email address.")),
    "rate_limited": ErrorKind(429, rate_limited_message, {"retry_after": _non_negative_int},
                              defaults={"retry_after": RATE_LIMITED_DEFAULT_RETRY_AFTER}),
    # the gateway's own trouble
    "internal_error": ErrorKind(500, lambda d: _(
        "An unexpected error occurred. Please try again later.")),
    "service_unavailable": ErrorKind(503, lambda d: _(
        "The service is temporarily unavailable. Please try again in a few moments."),
        {"retry_after": _non_negative_int},
        defaults={"retry_after": SERVICE_UNAVAILABLE_RETRY_AFTER}),
}

# Werkzeug's HTTP errors, answered under /api/ with our codes.
HTTP_STATUS_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def public_details(kind: ErrorKind, details: dict) -> dict:
    public = dict(kind.defaults)
    for name, convert in kind.details.items():
        if name in details:
            try:
                public[name] = convert(details[name])
            except (TypeError, ValueError):
                log.warning("dropping malformed error detail %s=%r", name, details[name])
    return public


def error_response(code: str, details: dict | None = None, message: str | None = None,
                   headers: dict | None = None) -> Response:
    kind = ERRORS[code]
    shown = public_details(kind, details or {})
    # `shown` only ever holds the names listed in the table: it cannot overwrite code or message.
    body = {"code": code, "message": message or kind.message(shown), **shown}
    response = jsonify(error=body)
    response.status_code = kind.status
    response.headers["Content-Language"] = current_language()
    if "retry_after" in shown:
        response.headers["Retry-After"] = str(shown["retry_after"])
    if kind.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="newsreel"'
    response.headers.update(headers or {})
    return response


# -- handlers ----------------------------------------------------------------------------------

def handle_api_error(exc: ApiError) -> Response:
    return error_response(exc.code, exc.details, exc.message)


def handle_service_error(exc: ServiceError) -> Response:
    if exc.code not in ERRORS:
        # A code the gateway does not know is a contract mismatch: a bug, not the user's fault.
        log.error("unmapped service error %s", exc,
                  extra={"request_id": current_request_id()})
        return error_response("internal_error")
    return error_response(exc.code, exc.details)


def handle_service_unavailable(exc: ServiceUnavailable) -> Response:
    log.warning("service unavailable: %s", exc, extra={
        "request_id": current_request_id(), "broker": isinstance(exc, BrokerUnavailable)})
    return error_response("service_unavailable")


def handle_http_exception(exc: HTTPException) -> Response | HTTPException:
    if not request.path.startswith("/api/"):
        return exc
    code = HTTP_STATUS_CODES.get(exc.code or 500)
    if code is None:
        code = "invalid_request" if 400 <= (exc.code or 500) < 500 else "internal_error"
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return error_response(code, headers=headers)


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unexpected error answering %s %s", request.method, request.path,
                  extra={"request_id": current_request_id()})
    return error_response("internal_error")


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(ServiceUnavailable, handle_service_unavailable)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
