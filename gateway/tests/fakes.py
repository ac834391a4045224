"""A stand-in for the services behind the gateway: it records every call and answers like the
auth service would, or with whatever a test scripts (a value, a real ServiceError, or a
ServiceUnavailable)."""

from typing import Any

from gateway.rpc import ServiceUnavailable
from services.shared.errors import ServiceError

GOOD_TOKEN = "good-session-token"
EXPIRES_AT = "2099-01-01T00:00:00Z"
ACCOUNT = {
    "id": "7f0c6a1e-0d5b-4a43-9a4e-1c2f7b9e8d10",
    "email": "claire.martin@example.org",
    "full_name": "Claire Martin",
    "organisation": "Le Quotidien",
    "language": "fr",
    "newsletter": False,
    "verified": True,
    "roles": [],
}
PUBLIC_ACCOUNT = {name: ACCOUNT[name] for name in
                  ("email", "full_name", "organisation", "language", "newsletter", "verified")}


def _authenticate(token: str) -> dict:
    if token != GOOD_TOKEN:
        raise ServiceError("unauthorized")
    return dict(ACCOUNT)


def _set_newsletter(token: str, subscribed: bool) -> dict:
    return {**_authenticate(token), "newsletter": subscribed}


def _session(**_: Any) -> dict:
    return {"token": GOOD_TOKEN, "expires_at": EXPIRES_AT, "account": dict(ACCOUNT)}


AUTH_ANSWERS = {
    "register": None,
    "resend_verification": None,
    "verify_account": _session,
    "login": _session,
    "logout": None,
    "authenticate": _authenticate,
    "set_newsletter": _set_newsletter,
    "request_password_reset": None,
    "verify_password_reset": {"reset_token": "reset-token", "expires_at": EXPIRES_AT},
    "complete_password_reset": None,
}


class FakeRpc:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.scripted: dict[str, Any] = {}
        self.ping_error: Exception | None = None
        self.pings: list[str] = []

    def answer(self, call: str, answer: Any) -> None:
        """`call` is "service.method"; `answer` a value, an exception to raise, or a callable
        given the call's keyword arguments."""
        self.scripted[call] = answer

    def call(self, service: str, method: str, **kwargs: Any) -> Any:
        name = f"{service}.{method}"
        self.calls.append((name, kwargs))
        if name in self.scripted:
            answer = self.scripted[name]
        elif service == "auth" and method in AUTH_ANSWERS:
            answer = AUTH_ANSWERS[method]
        else:
            raise ServiceUnavailable(service, "not running")
        if isinstance(answer, BaseException):
            raise answer
        return answer(**kwargs) if callable(answer) else answer

    def ping(self, service: str) -> None:
        self.pings.append(service)
        if self.ping_error is not None:
            raise self.ping_error

    @property
    def methods_called(self) -> list[str]:
        return [name for name, _ in self.calls]
