"""Each Accounts operation of API.md: what it asks of the auth service, and what it answers."""

import pytest

from gateway.app import create_app
from gateway.terms import TERMS_VERSION
from services.shared.errors import ServiceError

from .conftest import PUBLIC_BASE_URL
from .fakes import EXPIRES_AT, GOOD_TOKEN, PUBLIC_ACCOUNT, FakeRpc

EMAIL = "claire.martin@example.org"
BEARER = {"Authorization": f"Bearer {GOOD_TOKEN}"}


REGISTRATION = {"email": EMAIL, "password": "Correct-Horse-42", "full_name": "Claire Martin",
                "organisation": "Le Quotidien", "language": "fr",
                "terms_version": TERMS_VERSION}


def test_register_is_202_and_passes_the_stripped_details_and_client_address(client, rpc):
    response = client.post("/api/v1/accounts", json={
        "email": EMAIL, "password": "Correct-Horse-42", "full_name": "  Claire Martin ",
        "organisation": "Le Quotidien\u00a0", "language": "en", "terms_version": TERMS_VERSION})

    assert response.status_code == 202
    assert response.json == {"status": "accepted"}
    assert rpc.calls == [("auth.register", {
        "email": EMAIL, "password": "Correct-Horse-42", "full_name": "Claire Martin",
        "organisation": "Le Quotidien", "language": "en", "terms_version": TERMS_VERSION,
        "client_ip": "127.0.0.1"})]


TERMS_REFUSED = {
    "fr": "Veuillez lire et accepter les conditions d'utilisation.",
    "en": "Please read and accept the terms of use.",
}


@pytest.mark.parametrize("terms_version", [
    None, "2025-01-01", "", TERMS_VERSION + " ", TERMS_VERSION.upper() + "x", 20261121, True])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_register_without_the_current_terms_is_refused_before_any_rpc(
        client, rpc, terms_version, language):
    body = {**REGISTRATION, "terms_version": terms_version}
    if terms_version is None:
        del body["terms_version"]
    response = client.post("/api/v1/accounts", json=body,
                           headers={"Accept-Language": f"{language};q=1, de;q=0.5"})

    assert response.status_code == 400
    assert response.json == {"error": {"code": "terms_not_accepted",
                                       "message": TERMS_REFUSED[language],
                                       "current_version": TERMS_VERSION}}
    assert response.headers["Content-Language"] == language
    assert rpc.calls == []


def test_a_refusal_of_the_terms_by_auth_is_answered_alike(client, rpc):
    rpc.answer("auth.register", ServiceError("terms_not_accepted"))
    response = client.post("/api/v1/accounts?lang=en", json=REGISTRATION)
    assert response.status_code == 400
    assert response.json["error"] == {"code": "terms_not_accepted",
                                      "message": TERMS_REFUSED["en"],
                                      "current_version": TERMS_VERSION}


@pytest.mark.parametrize(("query", "headers", "language"), [
    ("", {}, "fr"),
    ("?lang=en", {}, "en"),
    ("", {"Accept-Language": "en-GB,en;q=0.9"}, "en"),
    ("?lang=fr", {"Accept-Language": "en"}, "fr"),
    ("?lang=de", {"Accept-Language": "de"}, "fr"),
])
def test_terms_are_answered_in_the_requests_language_without_any_rpc(
        client, rpc, query, headers, language):
    response = client.get(f"/api/v1/terms{query}", headers=headers)

    assert response.status_code == 200
    assert response.json["version"] == TERMS_VERSION
    assert response.json["language"] == language
    assert rpc.calls == []


def test_terms_say_the_same_in_french_and_in_english(client):
    french = client.get("/api/v1/terms?lang=fr").json
    english = client.get("/api/v1/terms?lang=en").json

    assert french["title"] == "Conditions d'utilisation des vidéos de l'OTAN"
    assert english["title"] == "Terms of use of NATO's videos"
    assert len(french["points"]) == len(english["points"]) == 5
    for terms, credit in ((french, "© OTAN"), (english, "© NATO")):
        assert all(point.strip() == point and point.endswith(".") for point in terms["points"])
        assert sum(credit in point for point in terms["points"]) == 1
    assert "gratuites pour la presse, les médias et l'enseignement" in french["points"][0]
    assert "free of charge for the press, the media and education" in english["points"][0]
    assert "revendues" in french["points"][3] and "resold" in english["points"][3]


def test_verify_account_answers_a_session_and_sets_the_cookie(client, rpc):
    response = client.post("/api/v1/accounts/verify", json={"email": EMAIL, "code": "042917"})

    assert response.status_code == 200
    assert response.json == {"token": GOOD_TOKEN, "expires_at": EXPIRES_AT,
                             "account": PUBLIC_ACCOUNT}
    assert response.headers["Set-Cookie"].startswith(f"__Host-newsreel_session={GOOD_TOKEN};")
    assert rpc.calls == [("auth.verify_account",
                          {"email": EMAIL, "code": "042917", "client_ip": "127.0.0.1"})]


def test_resend_verification_is_202(client, rpc):
    response = client.post("/api/v1/accounts/verify/resend", json={"email": EMAIL})
    assert response.status_code == 202
    assert rpc.calls == [("auth.resend_verification",
                          {"email": EMAIL, "client_ip": "127.0.0.1"})]


def test_login_answers_the_token_and_sets_the_cookie(client, rpc):
    response = client.post("/api/v1/sessions", json={"email": EMAIL, "password": "pw"})

    assert response.status_code == 200
    assert response.json["token"] == GOOD_TOKEN
    assert response.json["expires_at"] == EXPIRES_AT
    assert "roles" not in response.json["account"] and "id" not in response.json["account"]
    assert rpc.calls == [("auth.login",
                          {"email": EMAIL, "password": "pw", "client_ip": "127.0.0.1"})]


def test_login_failure_is_one_401_for_every_cause(client, rpc):
    rpc.answer("auth.login", ServiceError("invalid_credentials"))
    response = client.post("/api/v1/sessions", json={"email": EMAIL, "password": "pw"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_credentials"
    assert "Set-Cookie" not in response.headers


def test_me_answers_the_public_account(client, rpc):
    response = client.get("/api/v1/me", headers=BEARER)

    assert response.status_code == 200
    assert response.json == PUBLIC_ACCOUNT
    assert response.json["terms_version"] == TERMS_VERSION
    assert response.json["terms_accepted_at"] == "2026-11-21T09:15:00Z"
    assert rpc.calls == [("auth.authenticate", {"token": GOOD_TOKEN})]


def test_newsletter_choice_answers_the_account(client, rpc):
    response = client.put("/api/v1/me/newsletter", json={"subscribed": True}, headers=BEARER)

    assert response.status_code == 200
    assert response.json == {**PUBLIC_ACCOUNT, "newsletter": True}
    assert rpc.methods_called == ["auth.authenticate", "auth.set_newsletter"]
    assert rpc.calls[1][1] == {"token": GOOD_TOKEN, "subscribed": True}


def test_logout_ends_the_session_and_clears_the_cookie(client, rpc):
    response = client.delete("/api/v1/sessions/current", headers=BEARER)

    assert response.status_code == 204
    assert response.data == b""
    assert rpc.methods_called == ["auth.authenticate", "auth.logout"]
    assert rpc.calls[1][1] == {"token": GOOD_TOKEN}
    assert "__Host-newsreel_session=;" in response.headers["Set-Cookie"]
    assert "Max-Age=0" in response.headers["Set-Cookie"]


def test_password_reset_request_is_202(client, rpc):
    response = client.post("/api/v1/password-resets", json={"email": EMAIL})
    assert response.status_code == 202
    assert rpc.calls == [("auth.request_password_reset",
                          {"email": EMAIL, "client_ip": "127.0.0.1"})]


def test_password_reset_verify_answers_the_reset_token(client, rpc):
    response = client.post("/api/v1/password-resets/verify",
                           json={"email": EMAIL, "code": "042917"})
    assert response.status_code == 200
    assert response.json == {"reset_token": "reset-token", "expires_at": EXPIRES_AT}
    assert "Set-Cookie" not in response.headers


def test_password_reset_complete_is_204_and_clears_the_cookie(client, rpc):
    response = client.post("/api/v1/password-resets/complete",
                           json={"reset_token": "reset-token", "password": "Correct-Horse-42"})
    assert response.status_code == 204
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert rpc.calls == [("auth.complete_password_reset", {
        "reset_token": "reset-token", "password": "Correct-Horse-42",
        "client_ip": "127.0.0.1"})]


# -- the client address ------------------------------------------------------------------------

def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(client, rpc):
    client.post("/api/v1/password-resets", json={"email": EMAIL},
                headers={"X-Forwarded-For": "203.0.113.9"},
                environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert rpc.calls[0][1]["client_ip"] == "198.51.100.7"


@pytest.mark.parametrize(("trusted", "expected"), [(1, "203.0.113.9"), (2, "192.0.2.1")])
def test_trusted_proxies_give_the_real_client_address(trusted, expected):
    rpc = FakeRpc()
    app = create_app(rpc=rpc, config={"TESTING": True, "TRUSTED_PROXY_COUNT": trusted,
                                      "PUBLIC_BASE_URL": PUBLIC_BASE_URL})
    app.test_client().post(
        "/api/v1/password-resets", json={"email": EMAIL},
        headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert rpc.calls[0][1]["client_ip"] == expected
