"""The web portal: server-rendered pages in French and English on the gateway, beside the
JSON API they share their rules, schemas and error sentences with (see common.py)."""

import logging

from flask import Flask, g, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..errors import ERRORS, JSON_ERROR_PATHS, handle_http_exception
from ..observability import current_request_id
from ..rpc import ServiceUnavailable
from ..sessions import clear_session_cookie
from . import display
from .account import account
from .common import csrf, page
from .devmail import dev_mail
from .editor import editor_pages
from .news import news_pages

PAGE_BLUEPRINTS = (news_pages, account, dev_mail, editor_pages)
log = logging.getLogger(__name__)

# CSRF tokens on the portal's forms only: the API has its own rule (sessions.py: bearer
# tokens, or cookies from our own origin) and the newsletter link its signed token.
for _blueprint in PAGE_BLUEPRINTS:
    _blueprint.before_request(csrf.protect)


def trouble_page(code: str, status: int, title: str):
    """A service out of reach, or a fault of ours: said on a page, never as JSON."""
    return page("unavailable.html", status=status, account=None, title=title,
                message=ERRORS[code].message({}))


def service_unavailable(error: ServiceUnavailable):
    log.warning("page %s: service unavailable: %s", request.path, error,
                extra={"request_id": current_request_id()})
    return trouble_page("service_unavailable", 503, _("Temporarily unavailable"))


def unexpected(error: Exception):
    if isinstance(error, HTTPException):   # abort(404) in a page's view
        return missing_page(error)
    log.exception("page %s failed", request.path, extra={"request_id": current_request_id()})
    return trouble_page("internal_error", 500, _("Something went wrong"))


def missing_page(error: HTTPException):
    """Not found (or a method a page does not take), said on a portal page; the API and the
    files it links keep their JSON answers."""
    if request.path.startswith(JSON_ERROR_PATHS):
        return handle_http_exception(error)
    return page("not_found.html", status=error.code or 404)


for _blueprint in PAGE_BLUEPRINTS:
    _blueprint.register_error_handler(ServiceUnavailable, service_unavailable)
    _blueprint.register_error_handler(Exception, unexpected)   # a fault, a remote error


def init_app(app: Flask) -> None:
    # The portal's own session (journey state, CSRF secret) is named and flagged with the
    # token's cookie (sessions.init_app).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # as long as the portal's session
    csrf.init_app(app)
    display.init_app(app)
    for blueprint in PAGE_BLUEPRINTS:
        app.register_blueprint(blueprint)

    app.register_error_handler(404, missing_page)
    app.register_error_handler(405, missing_page)

    @app.errorhandler(CSRFError)
    def form_expired(error):
        return page("form_expired.html", status=400)

    @app.after_request
    def forget_dead_session(response):
        # A cookie whose session ended (expired, reset elsewhere): stop sending it.
        if g.get("forget_session_cookie"):
            clear_session_cookie(response)
        return response
