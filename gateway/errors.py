"""Every error the API answers with: ONE table from machine code to HTTP status and to a
sentence in the user's language, and the one JSON shape they all take:

    {"error": {"code": "weak_password", "message": "Le mot de passe doit comporter …",
               "rules": ["min_length"]}}

Services raise `ServiceError(code, details)`; the gateway raises `ApiError` for what it refuses
itself (validation, CSRF, no session); Werkzeug's HTTP errors under /api/ and anything
unexpected are answered in the same shape. Only the details listed for a code reach the client,
converted back from the strings nameko turns every value into."""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, has_request_context, jsonify, request
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestedRangeNotSatisfiable

from services.shared.errors import ServiceError

from .config import MAX_BODY_BYTES
from .i18n import current_language, join_words
from .observability import current_request_id, logged_path
from .rpc import BrokerUnavailable, ServiceUnavailable
from .terms import TERMS_VERSION

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


def invalid_verification_message() -> str:
    """A refused account verification: auth answers `invalid_code` alike for a wrong code and
    for a wrong password (which one it was would tell an attacker too much), so the sentence
    names both."""
    return _("This code is wrong, expired or already used, or the password is not the one "
             "chosen at registration. Check the password, or ask for a new code.")


def rate_limited_message(details: dict) -> str:
    seconds = details["retry_after"]
    if seconds < 60:
        return ngettext("Too many requests. Try again in %(num)d second.",
                        "Too many requests. Try again in %(num)d seconds.", seconds)
    return ngettext("Too many requests. Try again in %(num)d minute.",
                    "Too many requests. Try again in %(num)d minutes.", math.ceil(seconds / 60))


def payload_too_large_message(details: dict) -> str:
    # An operation may allow more than the default (news bodies, upload chunks): say the limit
    # that applied.
    limit = details.get("limit_bytes") or (
        request.max_content_length if has_request_context() else None) or MAX_BODY_BYTES
    if limit >= 1024 * 1024:
        return _("The request body is too large: %(limit)d MiB at most.",
                 limit=limit // (1024 * 1024))
    return _("The request body is too large: %(limit)d KiB at most.", limit=limit // 1024)


def not_found_message(details: dict) -> str:
    match details.get("resource"):
        case "news":
            return _("This news item does not exist or is not public yet.")
        case "video":
            return _("This video does not exist or is not public yet.")
        case "upload":
            return _("This upload does not exist, or it expired.")
    return _("There is nothing at this address.")


# A service's `invalid_request` says why in a machine word; the ones a person can meet after
# the gateway's own checks get a sentence.
INVALID_REQUEST_REASONS = {
    "in_the_future": N_("The publication date cannot be in the future."),
    "already_released": N_("This news item is already public: its embargo can no longer be "
                           "set."),
    "needs_timezone": N_("This date must include its time zone."),
    "not_a_time": N_("This field must be a date and time with its time zone, such as "
                     "2026-01-15T09:00:00Z."),
    "missing": N_("This field is required."),
    "too_long": N_("This field is too long."),
    "not_found": N_("There is no such file in the ingest folder."),
    "not_a_file": N_("This path is not a file."),
}


def invalid_request_message(details: dict) -> str:
    reason = INVALID_REQUEST_REASONS.get(details.get("reason", ""))
    return _(reason) if reason else _("The request is not valid.")


# not_publishable: the first thing a version lacks.
MISSING_FOR_PUBLICATION = {
    ("fr", "title"): N_("This news item cannot be published yet: its French version has no "
                        "title."),
    ("fr", "summary"): N_("This news item cannot be published yet: its French version has no "
                          "summary."),
    ("fr", "body"): N_("This news item cannot be published yet: its French version has no "
                       "text."),
    ("en", "title"): N_("This news item cannot be published yet: its English version has no "
                        "title."),
    ("en", "summary"): N_("This news item cannot be published yet: its English version has no "
                          "summary."),
    ("en", "body"): N_("This news item cannot be published yet: its English version has no "
                       "text."),
}


def not_publishable_message(details: dict) -> str:
    message = MISSING_FOR_PUBLICATION.get((details.get("language"), details.get("field")))
    if message:
        return _(message)
    return _("This news item cannot be published yet: each of its language versions needs a "
             "title, a summary and a text.")


SHOTLIST_REASONS = {
    "before_start": N_("The shotlist is not valid: row %(row)d starts before the video."),
    "after_end": N_("The shotlist is not valid: row %(row)d ends after the video, which ends "
                    "at %(end)s."),
    "not_after_in": N_("The shotlist is not valid: row %(row)d does not end after it starts."),
    "overlaps_previous": N_("The shotlist is not valid: row %(row)d overlaps the previous "
                            "one."),
    "bad_timecode": N_("The shotlist is not valid: a timecode of row %(row)d cannot be read "
                       "at this video's frame rate."),
    "drop_frame_not_at_this_rate": N_("The shotlist is not valid: row %(row)d uses a "
                                      "drop-frame timecode, which this video's frame rate "
                                      "does not have."),
    "only_for_soundbites": N_("The shotlist is not valid: row %(row)d is a shot, and only a "
                              "soundbite has a speaker."),
    "missing": N_("The shotlist is not valid: row %(row)d lacks a value that is required."),
}


def invalid_shotlist_message(details: dict) -> str:
    problems = details.get("problems") or []
    first = problems[0] if problems else {}
    message = SHOTLIST_REASONS.get(first.get("reason", ""))
    if message and first.get("index") is not None:
        return _(message, row=first["index"] + 1, end=details.get("end_timecode", "?"))
    return _("The shotlist is not valid.")


def forbidden_message(details: dict) -> str:
    if details.get("role") == "editor":
        return _("This is reserved for the organisation's editors.")
    return _("Your account is not allowed to do this.")


# Cuts (transcoder service): what is wrong with `in`/`out`, said with the video's own bounds.
FIELD_NAMES = {"in": N_("The in point"), "out": N_("The out point")}


def _point(details: dict) -> str:
    name = FIELD_NAMES.get(details.get("field", ""))
    return _(name) if name else _("This point")


def invalid_timecode_message(details: dict) -> str:
    if "value" in details:
        return _("%(point)s (%(value)s) cannot be read: give a timecode HH:MM:SS:FF on the "
                 "video's clock, or seconds from its start.",
                 point=_point(details), value=details["value"])
    return _("%(point)s is missing or cannot be read: a cut needs an in and an out point, "
             "each a timecode HH:MM:SS:FF or seconds.", point=_point(details))


def out_of_range_message(details: dict) -> str:
    if "start_tc" in details and "end_tc" in details:
        return _("%(point)s is outside the video, which runs from %(start)s to %(end)s.",
                 point=_point(details), start=details["start_tc"], end=details["end_tc"])
    return _("%(point)s is outside the video.", point=_point(details))


def reversed_range_message(details: dict) -> str:
    if "in_tc" in details and "out_tc" in details:
        return _("The out point (%(out)s) must come after the in point (%(in)s).",
                 out=details["out_tc"], **{"in": details["in_tc"]})
    return _("The out point must come after the in point.")


def cut_too_short_message(details: dict) -> str:
    if "minimum_s" in details:
        return _("This cut is too short: %(minimum)s seconds at least.",
                 minimum=f"{details['minimum_s']:g}")
    return _("This cut is too short.")


def too_many_jobs_message(details: dict) -> str:
    if "limit" not in details:
        return _("You already have downloads being made: wait for one to be ready, then ask "
                 "again.")
    return ngettext("You already have %(num)d download being made: wait for it to be ready, "
                    "then ask again.",
                    "You already have %(num)d downloads being made: wait for one to be "
                    "ready, then ask again.", details["limit"])


def cut_too_long_message(details: dict) -> str:
    if "maximum_s" in details:
        return _("This cut is too long: %(maximum)s seconds at most. Download the whole "
                 "rendition instead.", maximum=f"{details['maximum_s']:g}")
    return _("This cut is too long. Download the whole rendition instead.")


def upload_too_large_message(details: dict) -> str:
    if "max_bytes" in details:
        return _("This file is too large: %(size)s at most.",
                 size=format_size(details["max_bytes"]))
    return _("This file is too large.")


def format_size(size: int) -> str:
    """`500 GB`, `64 MB`, `900 bytes`: decimal units, as a person reads a file's size."""
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


# -- the table ---------------------------------------------------------------------------------

def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise TypeError("a list was expected")
    return [str(item) for item in value]


def _non_negative_int(value: Any) -> int:
    return max(0, int(value))


def _language(value: Any) -> str:
    if value not in ("fr", "en"):
        raise ValueError("not a language")
    return value


def _optional_index(value: Any) -> int | None:
    # nameko turned the problem's index into text, and None into "None"
    return None if value in (None, "None", "") else _non_negative_int(value)


def _shotlist_problems(value: Any) -> list[dict]:
    if not isinstance(value, list | tuple):
        raise TypeError("a list was expected")
    return [{"index": _optional_index(problem.get("index")),
             "field": str(problem.get("field") or ""), "reason": str(problem.get("reason"))}
            for problem in value if isinstance(problem, dict)]


def _short_text(value: Any) -> str:
    return str(value)[:500]


def _seconds(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _short_value(value: Any) -> str:
    return str(value)[:40]


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
    "invalid_request": ErrorKind(400, invalid_request_message, {"field": str, "reason": str}),
    "invalid_email": ErrorKind(400, lambda d: _("This email address is not valid."),
                               {"field": str}),
    "csrf_failed": ErrorKind(403, lambda d: _(
        "This request does not come from the Newsreel site. Reload the page and try again.")),
    "not_found": ErrorKind(404, not_found_message, {"resource": str}),
    "method_not_allowed": ErrorKind(405, lambda d: _("This method is not allowed here.")),
    "payload_too_large": ErrorKind(413, payload_too_large_message,
                                   {"limit_bytes": _non_negative_int}),
    "unsupported_media_type": ErrorKind(415, lambda d: _(
        "The request body must be JSON (Content-Type: application/json).")),
    "range_not_satisfiable": ErrorKind(416, lambda d: _(
        "The requested range is outside the file.")),
    # accounts (auth service)
    "weak_password": ErrorKind(400, weak_password_message,
                               {"rules": _string_list, "field": str}, defaults={"rules": []}),
    "terms_not_accepted": ErrorKind(400, lambda d: _(
        "Please read and accept the terms of use."), {"current_version": str},
        defaults={"current_version": TERMS_VERSION}),
    # Every refusal of a code is this one answer with no detail, for a known or an unknown
    # address alike (a count of tries left, or "expired", would tell real accounts apart).
    "invalid_code": ErrorKind(400, lambda d: _(
        "This code is wrong, expired or already used. Ask for a new one.")),
    "invalid_reset_token": ErrorKind(400, lambda d: _(
        "This password reset has expired or was already used. Please start again.")),
    "invalid_credentials": ErrorKind(401, lambda d: _("Incorrect email address or password.")),
    # A logged-in password change whose current password is wrong: not a 401, which would
    # tell the client its session is over (and a browser to drop its cookie).
    "wrong_password": ErrorKind(400, lambda d: _("This is not your current password."),
                                {"field": str}),
    "unauthorized": ErrorKind(401, lambda d: _(
        "You are not logged in, or your session has expired. Please log in.")),
    "not_verified": ErrorKind(403, lambda d: _(
        "This account is not verified yet. Enter the code sent to your email address.")),
    "rate_limited": ErrorKind(429, rate_limited_message, {"retry_after": _non_negative_int},
                              defaults={"retry_after": RATE_LIMITED_DEFAULT_RETRY_AFTER}),
    # roles (the gateway checks them; a service may say it too)
    "forbidden": ErrorKind(403, forbidden_message, {"role": str}),
    # news and videos (catalog service)
    "not_publishable": ErrorKind(409, not_publishable_message,
                                 {"field": str, "language": _language, "reason": str}),
    "invalid_shotlist": ErrorKind(400, invalid_shotlist_message, {
        "field": str, "reason": str, "end_timecode": str, "problems": _shotlist_problems}),
    "invalid_media": ErrorKind(422, lambda d: _(
        "This file cannot be read as a video: check that it is a complete video file."),
        {"reason": _short_text}),
    "path_not_allowed": ErrorKind(400, lambda d: _(
        "Masters are only taken from the ingest folder: give a path inside it."),
        {"reason": str}),
    # downloads (transcoder service, and the gateway's signed links)
    "invalid_timecode": ErrorKind(400, invalid_timecode_message,
                                  {"field": str, "value": _short_value, "reason": str}),
    "out_of_range": ErrorKind(400, out_of_range_message, {
        "field": str, "value": _short_value, "reason": str, "start_tc": str, "end_tc": str,
        "duration_s": _seconds}),
    "reversed_range": ErrorKind(400, reversed_range_message,
                                {"in_tc": str, "out_tc": str}),
    "cut_too_short": ErrorKind(400, cut_too_short_message,
                               {"duration_s": _seconds, "minimum_s": _seconds}),
    "cut_too_long": ErrorKind(400, cut_too_long_message,
                              {"duration_s": _seconds, "maximum_s": _seconds}),
    # the account's bound of jobs queued or running (the transcoder's JOBS_PER_ACCOUNT)
    "too_many_jobs": ErrorKind(429, too_many_jobs_message,
                               {"limit": _non_negative_int, "retry_after": _non_negative_int},
                               defaults={"retry_after": RATE_LIMITED_DEFAULT_RETRY_AFTER}),
    "invalid_rendition": ErrorKind(400, lambda d: _(
        "This rendition cannot be downloaded: choose xdcam-hd422, h264-1080p, proxy or "
        "original."), {"allowed": _string_list}),
    "invalid_accuracy": ErrorKind(400, lambda d: _(
        "The accuracy of a cut is fast or frame."), {"allowed": _string_list}),
    # uploads (tus 1.0, the gateway's own)
    "tus_version_unsupported": ErrorKind(412, lambda d: _(
        "This server speaks the tus protocol version 1.0.0 (Tus-Resumable: 1.0.0).")),
    "invalid_upload_content_type": ErrorKind(415, lambda d: _(
        "A chunk of an upload is sent as application/offset+octet-stream.")),
    "upload_offset_mismatch": ErrorKind(409, lambda d: _(
        "This upload is not at that offset: ask where it is (HEAD) and go on from there."),
        {"offset": _non_negative_int}),
    "checksum_mismatch": ErrorKind(460, lambda d: _(
        "This chunk does not match its checksum: it was not kept. Send it again.")),
    "unsupported_checksum": ErrorKind(400, lambda d: _(
        "This checksum algorithm is not supported: use sha256 (or sha1)."),
        {"algorithm": _short_value}),
    "upload_too_large": ErrorKind(413, upload_too_large_message,
                                  {"max_bytes": _non_negative_int}),
    "too_many_uploads": ErrorKind(429, lambda d: _(
        "You have too many uploads in progress: finish or cancel one first."),
        {"maximum": _non_negative_int}),
    "upload_locked": ErrorKind(423, lambda d: _(
        "This upload is busy with another request. Try again in a moment.")),
    "upload_not_complete": ErrorKind(409, lambda d: _(
        "This upload is not finished yet: send the rest of the file first.")),
    "insufficient_storage": ErrorKind(507, lambda d: _(
        "There is not enough room on the server for this file now. Try again later, or "
        "tell the video team.")),
    "link_expired": ErrorKind(410, lambda d: _(
        "This download link has expired. Ask for the download again to get a new link.")),
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
    416: "range_not_satisfiable",
}
# Where Werkzeug's errors are answered in the JSON shape: the API, and the files it links.
JSON_ERROR_PATHS = ("/api/", "/media/", "/files/")


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
    if not request.path.startswith(JSON_ERROR_PATHS):
        return exc
    code = HTTP_STATUS_CODES.get(exc.code or 500)
    if code is None:
        code = "invalid_request" if 400 <= (exc.code or 500) < 500 else "internal_error"
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if isinstance(exc, RequestedRangeNotSatisfiable) and exc.length is not None:
        headers["Content-Range"] = f"bytes */{exc.length}"
    return error_response(code, headers=headers)


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unexpected error answering %s %s", request.method, logged_path(request.path),
                  extra={"request_id": current_request_id()})
    return error_response("internal_error")


# The refusals nginx makes by itself (gateway/frontdoor), said by this table: it asks for them
# at /_frontdoor/errors/<name>, a path that is internal at the front door.
FRONT_DOOR_ERRORS = ("not_found", "payload_too_large", "unauthorized", "forbidden",
                     "method_not_allowed", "invalid_request")


def front_door_error(name: str) -> Response:
    code = name if name in FRONT_DOOR_ERRORS else "not_found"
    details = {}
    if code == "payload_too_large":
        details["limit_bytes"] = request.args.get("limit", type=int)
    if code == "forbidden":  # the one role nginx checks for (the upload endpoint's)
        details["role"] = "editor"
    return error_response(code, {name: value for name, value in details.items() if value})


def init_app(app: Flask) -> None:
    app.add_url_rule("/_frontdoor/errors/<name>", "front_door_error", front_door_error,
                     methods=["GET"])
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(ServiceUnavailable, handle_service_unavailable)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
