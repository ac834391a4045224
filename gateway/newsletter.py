"""The unsubscribe link of every newsletter.

GET shows the choice with one button: mail scanners that open links must not unsubscribe
anyone. POST does it: from that button, or from the mail client's own one-click button
(RFC 8058 `List-Unsubscribe-Post`). The signed token names the account and is the only
authority needed: no session, no CSRF token (nobody can forge one)."""

import secrets

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _

from services.shared import unsubscribe

from .i18n import current_language
from .rpc import current_rpc

newsletter = Blueprint("newsletter", __name__)


def _page(state: str, token: str, status: int) -> Response:
    nonce = secrets.token_urlsafe(16)
    texts = {
        "confirm": (_("Unsubscribe from the newsletter"),
                    _("You will no longer receive our news by e-mail. You can subscribe again "
                      "at any time from your account.")),
        "done": (_("You are unsubscribed"),
                 _("You will no longer receive the newsletter. You can subscribe again at any "
                   "time from your account.")),
        "invalid": (_("This link is not valid"),
                    _("The unsubscribe link is incomplete or altered. Use the link in the "
                      "latest newsletter you received, or change your choice in your "
                      "account.")),
    }
    title, message = texts[state]
    html = render_template("newsletter_unsubscribe.html", state=state, token=token, title=title,
                           message=message, button=_("Unsubscribe"), nonce=nonce,
                           language=current_language())
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'")
    return response


@newsletter.get("/newsletter/unsubscribe")
def confirm():
    token = request.args.get("token", "")
    if unsubscribe.read(current_app.config["UNSUBSCRIBE_KEYS"], token) is None:
        return _page("invalid", "", 400)
    return _page("confirm", token, 200)


@newsletter.post("/newsletter/unsubscribe")
def unsubscribe_now():
    token = request.args.get("token") or request.form.get("token", "")
    account_id = unsubscribe.read(current_app.config["UNSUBSCRIBE_KEYS"], token)
    if account_id is None:
        return _page("invalid", "", 400)
    current_rpc().call("auth", "unsubscribe_newsletter", account_id=account_id)
    if request.form.get("List-Unsubscribe") == "One-Click":
        return Response(status=204)   # a mail client, not a person: nothing to show
    return _page("done", "", 200)
