"""The account screens of the seed page, in its order: create an account, the code (and the
password chosen), account created (and the newsletter), log in, reset password, its code, a
new password, password updated (and back to the page the visitor was on); and, once logged in,
one's sessions (log out everywhere else) and a password change.

Each form posts to its own page, which makes the same auth call as the JSON API and, when
the service says no, shows the form again with the sentence beside the field it concerns. The
address being verified or reset, the reset grant and the page to go back to travel in the
signed session cookie of the portal, never in a URL."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, redirect, request, session, url_for
from flask_babel import format_date, format_time, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from services.shared.errors import ServiceError

from .. import schemas
from ..api.accounts import (
    auth,
    change_password_of,
    client_ip,
    user_agent,
    verification_refusal,
)
from ..errors import ERRORS, ApiError
from ..i18n import current_language
from ..rpc import ServiceUnavailable
from ..sessions import clear_session_cookie, session_cookie_token, set_session_cookie
from ..terms import TERMS_VERSION, current_terms
from ..validation import check
from .common import (
    form_value,
    fresh_session,
    local_path,
    message_for,
    page,
    remember_return_to,
    return_to,
    visitor,
)

account = Blueprint("account", __name__, url_prefix="/account")
log = logging.getLogger(__name__)

# Sessions opened by the portal's forms end after an idle time (auth's
# AUTH_PORTAL_IDLE_MINUTES); the API's do not (api/accounts.py).
PORTAL_SESSION = "portal"

# Which field a refusal concerns; the others are about the whole form.
FIELD_OF_CODE = {
    "weak_password": "password",
    "invalid_email": "email",
    "invalid_code": "code",
    "terms_not_accepted": "terms",
}


class FormErrors(dict):
    """field → sentence (`None`: the form's own, and any field the form does not show);
    `codes`: the machine codes seen."""

    def __init__(self, *fields: str):
        super().__init__()
        self.fields = set(fields)
        self.codes: set[str] = set()

    def add(self, error: ApiError | ServiceError) -> FormErrors:
        code = error.code
        details = error.details or {}
        field = details.get("field") if isinstance(error, ApiError) else None
        message = (error.message if isinstance(error, ApiError) and error.message
                   else message_for(code, details))
        field = field or FIELD_OF_CODE.get(code)
        self[field if field in self.fields else None] = message
        self.codes.add(code)
        return self

    @property
    def status(self) -> int:
        """The HTTP status of the form shown again: 200 without errors, else the table's
        (429 for a rate limit), 400 at least; not 401, which asks for an HTTP login."""
        if not self:
            return 200
        statuses = [ERRORS[code].status for code in self.codes if code in ERRORS]
        return max([status for status in statuses if status != 401] + [400])


def attempt(call: Callable[[], object], errors: FormErrors) -> bool:
    """Runs `call` (validation, then the service); its refusal goes into `errors`."""
    try:
        call()
    except (ApiError, ServiceError) as error:
        errors.add(error)
        return False
    return True


def see_other(location: str) -> Response:
    return redirect(location, code=303)


def start_session(grant: dict, location: str) -> Response:
    response = see_other(location)
    set_session_cookie(response, grant["token"], grant["expires_at"])
    return response


# -- the code screens --------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeJourney:
    """A journey's code screen: the session key of the address the code went to, where the
    journey starts, its own paths, the schema and auth call that take a code, the call that
    sends a new one, and what a good code leads to."""
    purpose: str
    email_key: str
    start: str
    path: str
    schema: dict
    check_call: str
    resend_call: str
    done: Callable[[dict], Response]
    # the verification also asks the password chosen at registration (the code alone proves
    # the mailbox, not the person who registered)
    asks_password: bool = False


def verified(grant: dict) -> Response:
    fresh_session()
    return start_session(grant, "/account/created")


def reset_granted(grant: dict) -> Response:
    session["reset_token"] = grant["reset_token"]
    return see_other("/account/reset/password")


VERIFY = CodeJourney("verify", "pending_email", "/account/register", "/account/verify",
                     schemas.VERIFY_ACCOUNT, "verify_account", "resend_verification", verified,
                     asks_password=True)
RESET = CodeJourney("reset", "reset_email", "/account/reset", "/account/reset/code",
                    schemas.VERIFY_PASSWORD_RESET, "verify_password_reset",
                    "request_password_reset", reset_granted)


def code_page(journey: CodeJourney, email: str, errors: FormErrors, status: int,
              resent: bool = False) -> Response:
    resend_url = "/account/verify/resend" if journey is VERIFY else "/account/reset/resend"
    return page("account/verify.html", errors=errors, email=email, resend_url=resend_url,
                resent=resent, purpose=journey.purpose, asks_password=journey.asks_password,
                status=status)


def code_screen(journey: CodeJourney) -> Response:
    email = session.get(journey.email_key)
    if not email:
        return see_other(journey.start)
    errors, grant = FormErrors("code", "password"), {}
    if request.method == "POST":
        code = form_value("code", 20).strip()
        password = form_value("password")

        def confirm():
            if journey.asks_password:
                check(journey.schema, {"email": email, "code": code, "password": password})
                with verification_refusal():
                    grant.update(auth(journey.check_call, email=email, code=code,
                                      password=password, client_ip=client_ip(),
                                      kind=PORTAL_SESSION, user_agent=user_agent()))
            else:
                check(journey.schema, {"email": email, "code": code})
                grant.update(auth(journey.check_call, email=email, code=code,
                                  client_ip=client_ip()))

        if attempt(confirm, errors):
            return journey.done(grant)
    return code_page(journey, email, errors, errors.status,
                     resent=request.args.get("resent") == "1")


def resend_code(journey: CodeJourney) -> Response:
    """A new code (the old one dies); the same screen says it is on its way."""
    email = session.get(journey.email_key)
    if not email:
        return see_other(journey.start)
    errors = FormErrors()
    if attempt(lambda: auth(journey.resend_call, email=email, client_ip=client_ip()), errors):
        return see_other(journey.path + "?resent=1")
    return code_page(journey, email, errors, errors.status)


# -- create an account -------------------------------------------------------------------------

@account.route("/register", methods=["GET", "POST"])
def register():
    remember_return_to()
    errors = FormErrors("email", "password", "full_name", "organisation", "terms")
    values = {"language": current_language()}
    if request.method == "POST":
        values = {name: form_value(name, 300) for name in (
            "email", "full_name", "organisation", "language")}
        password = form_value("password")
        accepted = form_value("terms", 40)

        def create():
            body = {**values, "password": password, "terms_version": accepted or ""}
            body = {name: value.strip() if name != "password" else value
                    for name, value in body.items()}
            if not accepted:
                raise ApiError("terms_not_accepted", current_version=TERMS_VERSION)
            check(schemas.REGISTER, body)
            auth("register", email=body["email"], password=password,
                 full_name=body["full_name"], organisation=body["organisation"],
                 language=body["language"], terms_version=body["terms_version"],
                 client_ip=client_ip())

        if attempt(create, errors):
            session["pending_email"] = values["email"].strip()
            return see_other("/account/verify")
    return page("account/register.html", errors=errors, values=values,
                terms=current_terms(), status=errors.status)


@account.route("/verify", methods=["GET", "POST"])
def verify():
    return code_screen(VERIFY)


@account.post("/verify/resend")
def resend_verification():
    return resend_code(VERIFY)


@account.get("/created")
def created():
    return page("account/created.html", next_url=return_to(),
                subscribed=bool((visitor() or {}).get("newsletter")))


@account.post("/newsletter")
def newsletter():
    token = session_cookie_token()
    if not visitor() or not token:
        return see_other("/account/login?next=/account/created")
    auth("set_newsletter", token=token, subscribed=form_value("subscribed", 5) != "false")
    return see_other(local_back("/account/created"))


def local_back(default: str) -> str:
    """A form's own `back` field (a portal path), else `default`."""
    return local_path(form_value("back", 500) or None, default)


# -- log in and out ----------------------------------------------------------------------------

@account.route("/login", methods=["GET", "POST"])
def login():
    remember_return_to()
    errors, grant = FormErrors("email", "password"), {}
    email = ""
    if request.method == "POST":
        email = form_value("email", 300).strip()
        password = form_value("password")

        def enter():
            check(schemas.LOGIN, {"email": email, "password": password})
            grant.update(auth("login", email=email, password=password, client_ip=client_ip(),
                              kind=PORTAL_SESSION, user_agent=user_agent()))

        if attempt(enter, errors):
            back = return_to()
            fresh_session()
            return start_session(grant, back)
        if "not_verified" in errors.codes:  # the code screen is one link away
            session["pending_email"] = email
    return page("account/login.html", errors=errors, email=email,
                unverified="not_verified" in errors.codes, status=errors.status)


@account.post("/logout")
def logout():
    token = session_cookie_token()
    if token:
        try:
            auth("logout", token=token)
        except ServiceError:
            pass  # a session that had ended already
        except ServiceUnavailable:
            # The browser forgets the session now; auth ends it when it expires.
            log.warning("auth unavailable at log out: the session cookie is cleared anyway")
    response = see_other(local_back("/"))
    clear_session_cookie(response)
    fresh_session()
    return response


# -- reset the password ------------------------------------------------------------------------

@account.route("/reset", methods=["GET", "POST"])
def reset():
    remember_return_to()
    errors = FormErrors("email")
    email = ""
    if request.method == "POST":
        email = form_value("email", 300).strip()

        def ask():
            check(schemas.PASSWORD_RESET, {"email": email})
            auth("request_password_reset", email=email, client_ip=client_ip())

        if attempt(ask, errors):
            session["reset_email"] = email
            session.pop("reset_token", None)
            return see_other("/account/reset/code")
    return page("account/reset.html", errors=errors, email=email,
                status=errors.status)


@account.route("/reset/code", methods=["GET", "POST"])
def reset_code():
    return code_screen(RESET)


@account.post("/reset/resend")
def resend_reset():
    return resend_code(RESET)


@account.route("/reset/password", methods=["GET", "POST"])
def new_password():
    grant = session.get("reset_token")
    if not grant:
        return see_other("/account/reset")
    errors = FormErrors("password")
    if request.method == "POST":
        password = form_value("password")

        def change():
            check(schemas.COMPLETE_PASSWORD_RESET, {"reset_token": grant, "password": password})
            auth("complete_password_reset", reset_token=grant, password=password,
                 client_ip=client_ip())

        if attempt(change, errors):
            for name in ("reset_token", "reset_email"):
                session.pop(name, None)
            response = see_other("/account/reset/done")
            clear_session_cookie(response)  # every session of the account ended
            return response
        if "invalid_reset_token" in errors.codes:  # spent or expired: start again
            session.pop("reset_token", None)
    return page("account/new_password.html", errors=errors, status=errors.status,
                restart="invalid_reset_token" in errors.codes)


@account.get("/reset/done")
def reset_done():
    back = return_to()
    return page("account/reset_done.html", login_url=url_for("account.login", next=back),
                account=None)


# -- my sessions, my password ------------------------------------------------------------------

def logged_in_token() -> str | None:
    """The session cookie's token when it still opens a session, else None."""
    token = session_cookie_token()
    return token if token and visitor() else None


def to_login(path: str) -> Response:
    return see_other(url_for("account.login", next=path))


# A User-Agent said the way a person names a device: the first browser and system found.
BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
            ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"),
            ("curl/", "curl"), ("python-requests/", "Python requests"))
SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
           ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
           ("Linux", "Linux"))


def device(agent: str | None) -> str:
    agent = agent or ""
    found = [next((name for mark, name in table if mark in agent), None)
             for table in (BROWSERS, SYSTEMS)]
    named = [name for name in found if name]
    if named:
        return ", ".join(named)
    # something else (a script): its own first word, if it has one
    first = re.match(r"[\w.-]+(/[\w.-]+)?", agent)
    return first.group(0) if first else _("Unknown device")


def when(moment: str | None) -> str:
    """"4 décembre 2026, 09:12 UTC" / "December 4, 2026, 9:12 AM UTC" (the minute is enough)."""
    try:
        instant = datetime.fromisoformat((moment or "").replace("Z", "+00:00"))
    except ValueError:
        return ""
    return f"{format_date(instant, 'long')}, {format_time(instant, 'short')} UTC"


@account.get("/sessions")
def sessions():
    token = logged_in_token()
    if token is None:
        return to_login("/account/sessions")
    try:
        found = auth("list_sessions", token=token)
    except ServiceError as error:
        if error.code != "unauthorized":
            raise
        return to_login("/account/sessions")   # ended between the two calls
    shown = [{"device": device(one.get("user_agent")), "user_agent": one.get("user_agent"),
              "client_ip": one.get("client_ip") or "", "last_seen": when(one.get("last_seen_at")),
              "created": when(one.get("created_at")), "current": bool(one.get("current"))}
             for one in found]
    notice = session.pop("sessions_notice", None) or {}
    said = None
    if notice.get("password_changed"):
        said = _("Your password has been changed. Your other sessions have ended.")
    elif "ended" in notice:
        said = ngettext("%(num)d other session was ended.", "%(num)d other sessions were ended.",
                        int(notice["ended"]))
    return page("account/sessions.html", sessions=shown, notice=said,
                others=sum(not one["current"] for one in shown))


@account.post("/sessions/others")
def end_other_sessions():
    token = logged_in_token()
    if token is None:
        return to_login("/account/sessions")
    ended = auth("end_other_sessions", token=token)
    session["sessions_notice"] = {"ended": int(ended)}
    return see_other("/account/sessions")


@account.route("/password", methods=["GET", "POST"])
def change_password():
    token = logged_in_token()
    if token is None:
        return to_login("/account/password")
    errors = FormErrors("current_password", "new_password")
    if request.method == "POST":
        current, new = form_value("current_password"), form_value("new_password")

        def change():
            check(schemas.CHANGE_PASSWORD, {"current_password": current, "new_password": new})
            change_password_of(token, current, new)

        if attempt(change, errors):
            session["sessions_notice"] = {"password_changed": True}
            return see_other("/account/sessions")
    return page("account/password.html", errors=errors, status=errors.status)
