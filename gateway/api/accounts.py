"""Accounts: the terms of use, registration, verification, sessions, newsletter choice and
password resets.

Thin entrypoints: each view turns an already validated body into one call to the auth service
and its answer into HTTP (but the terms of use: the gateway holds them, terms.py). Rules
(password policy, codes, rate limits) live in the service."""

from contextlib import contextmanager

from flask import Blueprint, Response, jsonify, request

from services.shared.errors import ServiceError

from .. import schemas
from ..errors import ApiError, invalid_verification_message
from ..operations import Session, operation
from ..rpc import current_rpc
from ..sessions import clear_session_cookie, set_session_cookie
from ..terms import current_terms

accounts = Blueprint("accounts", __name__, url_prefix="/api/v1")

TAG = "accounts"
PUBLIC_ACCOUNT_FIELDS = tuple(schemas.ACCOUNT["properties"])
SESSION_FIELDS = tuple(schemas.SESSION_INFO["properties"])
# What a session is named by in one's list of sessions; auth keeps as much, and a header of
# any length need not cross the broker.
USER_AGENT_MAX_LENGTH = 200
# Sessions opened through the JSON API are a client's (a script may call once a day: no idle
# timeout, the absolute limit only); the portal opens "portal" ones (web/account.py).
API_SESSION = "api"


def auth(method: str, **kwargs):
    return current_rpc().call("auth", method, **kwargs)


def client_ip() -> str:
    # After ProxyFix (TRUSTED_PROXY_COUNT): the address of the client, not of our proxy.
    return request.remote_addr or ""


def user_agent() -> str | None:
    return (request.headers.get("User-Agent") or "")[:USER_AGENT_MAX_LENGTH] or None


def public_account(account: dict) -> dict:
    return {name: account.get(name) for name in PUBLIC_ACCOUNT_FIELDS}


def accepted() -> tuple[Response, int]:
    return jsonify(status="accepted"), 202


def no_content() -> Response:
    return Response(status=204)


def session_response(session: dict) -> Response:
    response = jsonify(token=session["token"], expires_at=session["expires_at"],
                       account=public_account(session["account"]))
    set_session_cookie(response, session["token"], session["expires_at"])
    return response


@operation(accounts, "GET", "/terms", tag=TAG, summary="The terms of use",
           response=schemas.TERMS)
def terms():
    """The current terms, in the request's language: show them before registering, and send
    their `version` as the registration's `terms_version`."""
    return jsonify(current_terms())


@operation(accounts, "POST", "/accounts", tag=TAG, status=202, summary="Create an account",
           body=schemas.REGISTER, response=schemas.ACCEPTED,
           errors=("terms_not_accepted", "weak_password", "rate_limited"))
def register(body: dict):
    """The same answer whether the address is new or already has an account; a 6-digit code
    is sent to the address to verify it. `terms_version` must be the current terms' version
    (GET /api/v1/terms): the account records it and when it was accepted."""
    auth("register", email=body["email"], password=body["password"],
         full_name=body["full_name"].strip(), organisation=body["organisation"].strip(),
         language=body["language"], terms_version=body["terms_version"],
         client_ip=client_ip())
    return accepted()


@operation(accounts, "POST", "/accounts/verify", tag=TAG, summary="Verify an account",
           body=schemas.VERIFY_ACCOUNT, response=schemas.SESSION, sets_session_cookie=True,
           errors=("invalid_code", "rate_limited"))
def verify_account(body: dict):
    """Checks the emailed code and the password chosen at registration; the account is then
    verified and logged in. Any refusal (a wrong, expired or used code, a wrong password, too
    many wrong codes for the address) is the one answer `invalid_code`, whatever the
    address."""
    with verification_refusal():
        grant = auth("verify_account", email=body["email"], code=body["code"],
                     password=body["password"], client_ip=client_ip(), kind=API_SESSION,
                     user_agent=user_agent())
    return session_response(grant)


@contextmanager
def verification_refusal():
    """auth's `invalid_code` for a verification, said with the sentence that names the
    password too (web/account.py uses it as well)."""
    try:
        yield
    except ServiceError as error:
        if error.code != "invalid_code":
            raise
        raise ApiError("invalid_code", invalid_verification_message()) from error


@operation(accounts, "POST", "/accounts/verify/resend", tag=TAG, status=202,
           summary="Send a new verification code", body=schemas.RESEND_VERIFICATION,
           response=schemas.ACCEPTED, errors=("rate_limited",))
def resend_verification(body: dict):
    """The same answer whether or not the address has an unverified account."""
    auth("resend_verification", email=body["email"], client_ip=client_ip())
    return accepted()


@operation(accounts, "POST", "/sessions", tag=TAG, summary="Log in", body=schemas.LOGIN,
           response=schemas.SESSION, sets_session_cookie=True,
           errors=("invalid_credentials", "not_verified", "rate_limited"))
def login(body: dict):
    """Answers a bearer token and sets the session cookie."""
    return session_response(auth("login", email=body["email"], password=body["password"],
                                 client_ip=client_ip(), kind=API_SESSION,
                                 user_agent=user_agent()))


@operation(accounts, "DELETE", "/sessions/current", tag=TAG, status=204, summary="Log out",
           authenticated=True)
def logout(session: Session):
    """Ends the session that authenticates this request and clears the cookie."""
    auth("logout", token=session.token)
    response = no_content()
    clear_session_cookie(response)
    return response


@operation(accounts, "GET", "/sessions", tag=TAG, summary="One's open sessions",
           response=schemas.SESSIONS, authenticated=True)
def list_sessions(session: Session):
    """Every open session of the account, this one first (`current`): where and with what it
    was opened, when it was last used. Never a token."""
    found = auth("list_sessions", token=session.token)
    return jsonify(sessions=[{name: one.get(name) for name in SESSION_FIELDS} for one in found])


@operation(accounts, "DELETE", "/sessions/others", tag=TAG,
           summary="Log out everywhere else", response=schemas.SESSIONS_ENDED,
           authenticated=True)
def end_other_sessions(session: Session):
    """Ends every session of the account but this one; answers how many ended."""
    return jsonify(ended=int(auth("end_other_sessions", token=session.token)))


@operation(accounts, "POST", "/me/password", tag=TAG, status=204,
           summary="Change one's password", body=schemas.CHANGE_PASSWORD, authenticated=True,
           errors=("wrong_password", "weak_password", "rate_limited"))
def change_password(body: dict, session: Session):
    """Needs the current password (a session left open is not enough). Every other session
    of the account ends; this one stays."""
    change_password_of(session.token, body["current_password"], body["new_password"])
    return no_content()


def change_password_of(token: str, current_password: str, new_password: str) -> None:
    """auth's change_password, its refusals naming the field at fault (the portal's form
    uses it too)."""
    try:
        auth("change_password", token=token, current_password=current_password,
             new_password=new_password, client_ip=client_ip())
    except ServiceError as error:
        if error.code == "invalid_credentials":
            raise ApiError("wrong_password", field="current_password") from error
        if error.code == "weak_password":
            raise ApiError("weak_password", field="new_password",
                           rules=(error.details or {}).get("rules", [])) from error
        raise


@operation(accounts, "GET", "/me", tag=TAG, summary="The logged-in account",
           response=schemas.ACCOUNT, authenticated=True)
def me(session: Session):
    return jsonify(public_account(session.account))


@operation(accounts, "PUT", "/me/newsletter", tag=TAG, summary="Subscribe or unsubscribe",
           body=schemas.NEWSLETTER, response=schemas.ACCOUNT, authenticated=True)
def set_newsletter(body: dict, session: Session):
    """Answers the account with its new choice."""
    account = auth("set_newsletter", token=session.token, subscribed=body["subscribed"])
    return jsonify(public_account(account))


@operation(accounts, "POST", "/password-resets", tag=TAG, status=202,
           summary="Ask for a password reset code", body=schemas.PASSWORD_RESET,
           response=schemas.ACCEPTED, errors=("rate_limited",))
def request_password_reset(body: dict):
    """The same answer whether or not the address has an account."""
    auth("request_password_reset", email=body["email"], client_ip=client_ip())
    return accepted()


@operation(accounts, "POST", "/password-resets/verify", tag=TAG,
           summary="Exchange the emailed code for a reset token",
           body=schemas.VERIFY_PASSWORD_RESET, response=schemas.RESET_GRANT,
           errors=("invalid_code", "rate_limited"))
def verify_password_reset(body: dict):
    """Any refusal of the code is the one answer `invalid_code`, whatever the address."""
    grant = auth("verify_password_reset", email=body["email"], code=body["code"],
                 client_ip=client_ip())
    return jsonify(reset_token=grant["reset_token"], expires_at=grant["expires_at"])


@operation(accounts, "POST", "/password-resets/complete", tag=TAG, status=204,
           summary="Choose a new password", body=schemas.COMPLETE_PASSWORD_RESET,
           errors=("invalid_reset_token", "weak_password", "rate_limited"))
def complete_password_reset(body: dict):
    """Every session of the account ends, this browser's cookie included."""
    auth("complete_password_reset", reset_token=body["reset_token"],
         password=body["password"], client_ip=client_ip())
    response = no_content()
    clear_session_cookie(response)
    return response
