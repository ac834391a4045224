"""Steps of the account journey through the gateway, shared by the integration tests and the
benchmarks."""

from __future__ import annotations

import requests

from tests.support.smtp import find_code, sent_to

PASSWORD = "Tr4in-Station-Bl00m"
NEW_PASSWORD = "Gl4cier-Harbour-Mint"


def register(system, email: str, language: str = "fr", password: str = PASSWORD,
             full_name: str = "Jane Doe") -> requests.Response:
    response = system.api("POST", "/api/v1/accounts", json={
        "email": email, "password": password, "full_name": full_name,
        "organisation": "Example News", "language": language})
    assert response.status_code == 202, response.text
    return response


def code_mails(system, email: str, count: int = 1, timeout: float = 30.0):
    return system.smtp.wait_for(sent_to(email), count=count, timeout=timeout)


def latest_code(system, email: str, count: int = 1) -> str:
    return find_code(code_mails(system, email, count)[-1])


def verify_with_newest_code(system, email: str) -> requests.Response:
    """When several codes went out together (a client that retried its registration), their
    mails may arrive in any order: the newest code is the one that works, so try them from the
    last arrived back (a wrong try only costs one of the five allowed)."""
    codes = [find_code(m) for m in code_mails(system, email)]
    for code in reversed(dict.fromkeys(codes)):
        response = verify(system, email, code)
        if response.status_code == 200:
            return response
    return response


def verify(system, email: str, code: str) -> requests.Response:
    return system.api("POST", "/api/v1/accounts/verify", json={"email": email, "code": code})


def login(system, email: str, password: str = PASSWORD) -> requests.Response:
    return system.api("POST", "/api/v1/sessions", json={"email": email, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def signed_in(system, email: str, language: str = "fr") -> str:
    """A registered, verified account's session token."""
    register(system, email, language=language)
    response = verify(system, email, latest_code(system, email))
    assert response.status_code == 200, response.text
    return response.json()["token"]


def editor(system, email: str = "edith@example.org") -> str:
    """A verified account granted the editor role with the auth command line."""
    token = signed_in(system, email)
    granted = system.run_python("-m", "services.auth.cli", "grant", "editor", email)
    assert granted.returncode == 0, granted.stderr
    return token


def subscribe(system, token: str) -> None:
    response = system.api("PUT", "/api/v1/me/newsletter", json={"subscribed": True},
                          headers=bearer(token))
    assert response.status_code == 200, response.text
