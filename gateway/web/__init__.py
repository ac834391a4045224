"""The web portal: server-rendered pages in French and English on the gateway, beside the
JSON API they share their rules, schemas and error sentences with (see common.py)."""

from flask import Flask, g
from flask_wtf.csrf import CSRFError

from ..sessions import clear_session_cookie
from . import display
from .account import account
from .common import csrf, page
from .devmail import dev_mail
from .news import news_pages

PAGE_BLUEPRINTS = (news_pages, account, dev_mail)
# CSRF tokens on the portal's forms only: the API has its own rule (sessions.py: bearer
# tokens, or cookies from our own origin) and the newsletter link its signed token.
for _blueprint in PAGE_BLUEPRINTS:
    _blueprint.before_request(csrf.protect)


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # as long as the portal's session
    csrf.init_app(app)
    display.init_app(app)
    for blueprint in PAGE_BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.errorhandler(CSRFError)
    def form_expired(error):
        return page("form_expired.html", status=400)

    @app.after_request
    def forget_dead_session(response):
        # A cookie whose session ended (expired, reset elsewhere): stop sending it.
        if g.get("forget_session_cookie"):
            clear_session_cookie(response)
        return response
