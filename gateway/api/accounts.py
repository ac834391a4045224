"""Accounts: the terms of use, registration, verification, sessions, newsletter choice and
password resets.

Thin entrypoints: each view turns an already validated body into one call to the auth service
and its answer into HTTP (but the terms of use: the gateway holds them, terms.py). Rules
(password policy, codes, rate limits) live in the service."""

from flask import Blueprint, Response, jsonify, request

from .. import schemas
from ..operations import Session, operation
from ..rpc import current_rpc
from ..sessions import clear_session_cookie, set_session_cookie
from ..terms import current_terms

accounts = Blueprint("accounts", __name__, url_prefix="/api/v1")

TAG = "accounts"
PUBLIC_ACCOUNT_FIELDS = tuple(schemas.ACCOUNT["properties"])


def auth(method: str, **kwargs):
    return current_rpc().call("auth", method, **kwargs)


def client_ip() -> str:
    # After ProxyFix (TRUSTED_PROXY_COUNT): the address of the client, not of our proxy.
    return request.remote_addr or ""


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
           errors=("invalid_code", "code_expired", "too_many_attempts", "rate_limited"))
def verify_account(body: dict):
    """Checks the emailed code; the account is then verified and logged in."""
    return session_response(auth("verify_account", email=body["email"], code=body["code"],
                                 client_ip=client_ip()))


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
                                 client_ip=client_ip()))


@operation(accounts, "DELETE", "/sessions/current", tag=TAG, status=204, summary="Log out",
           authenticated=True)
def logout(session: Session):
    """Ends the session that authenticates this request and clears the cookie."""
    auth("logout", token=session.token)
    response = no_content()
    clear_session_cookie(response)
    return response


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
           errors=("invalid_code", "code_expired", "too_many_attempts", "rate_limited"))
def verify_password_reset(body: dict):
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
