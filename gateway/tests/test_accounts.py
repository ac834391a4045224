"""Each Accounts operation of API.md: what it asks of the auth service, and what it answers."""

import pytest

from gateway.app import create_app
from gateway.terms import TERMS_VERSION
from services.shared.errors import ServiceError

from .conftest import PUBLIC_BASE_URL
from .fakes import EXPIRES_AT, GOOD_TOKEN, PUBLIC_ACCOUNT, SESSION_LIST, FakeRpc

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
    response = client.post("/api/v1/accounts/verify",
                           json={"email": EMAIL, "code": "042917", "password": "Correct-Horse-42"},
                           headers={"User-Agent": "newsroom-sync/2.1"})

    assert response.status_code == 200
    assert response.json == {"token": GOOD_TOKEN, "expires_at": EXPIRES_AT,
                             "account": PUBLIC_ACCOUNT}
    assert response.headers["Set-Cookie"].startswith(f"__Host-newsreel_session={GOOD_TOKEN};")
    # the password chosen at registration goes with the code (issue 10, point 2), and the
    # session opened is an API client's (no idle timeout), named by its User-Agent
    assert rpc.calls == [("auth.verify_account", {
        "email": EMAIL, "code": "042917", "password": "Correct-Horse-42",
        "client_ip": "127.0.0.1", "kind": "api", "user_agent": "newsroom-sync/2.1"})]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_refused_verification_says_the_code_or_the_password_in_one_answer(
        client, rpc, language):
    # auth refuses a wrong, expired or used code and a wrong password alike (no enumeration):
    # the sentence names both, the same for every address
    rpc.answer("auth.verify_account", ServiceError("invalid_code"))
    response = client.post(f"/api/v1/accounts/verify?lang={language}",
                           json={"email": EMAIL, "code": "042917", "password": "x"})
    assert response.status_code == 400
    assert response.json == {"error": {"code": "invalid_code",
                                       "message": VERIFICATION_REFUSED[language]}}


VERIFICATION_REFUSED = {
    "fr": "Ce code est erroné, a expiré ou a déjà servi, ou le mot de passe n'est pas celui "
          "choisi à l'inscription. Vérifiez le mot de passe, ou demandez un nouveau code.",
    "en": "This code is wrong, expired or already used, or the password is not the one chosen "
          "at registration. Check the password, or ask for a new code.",
}


def test_resend_verification_is_202(client, rpc):
    response = client.post("/api/v1/accounts/verify/resend", json={"email": EMAIL})
    assert response.status_code == 202
    assert rpc.calls == [("auth.resend_verification",
                          {"email": EMAIL, "client_ip": "127.0.0.1"})]


def test_login_answers_the_token_and_sets_the_cookie(client, rpc):
    response = client.post("/api/v1/sessions", json={"email": EMAIL, "password": "pw"},
                           headers={"User-Agent": ""})

    assert response.status_code == 200
    assert response.json["token"] == GOOD_TOKEN
    assert response.json["expires_at"] == EXPIRES_AT
    assert "roles" not in response.json["account"] and "id" not in response.json["account"]
    assert rpc.calls == [("auth.login", {"email": EMAIL, "password": "pw",
                                         "client_ip": "127.0.0.1", "kind": "api",
                                         "user_agent": None})]


def test_login_names_the_session_by_a_bounded_user_agent(client, rpc):
    client.post("/api/v1/sessions", json={"email": EMAIL, "password": "pw"},
                headers={"User-Agent": "curl/8.5.0 " + "x" * 5000})
    sent = rpc.calls[0][1]
    assert sent["kind"] == "api"
    assert sent["user_agent"].startswith("curl/8.5.0 x") and len(sent["user_agent"]) == 200


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


# -- one's sessions and password (issue 10, point 5) ------------------------------------------

def test_sessions_lists_ones_sessions_and_never_a_token(client, rpc):
    response = client.get("/api/v1/sessions", headers=BEARER)

    assert response.status_code == 200
    assert rpc.methods_called == ["auth.authenticate", "auth.list_sessions"]
    assert rpc.calls[1][1] == {"token": GOOD_TOKEN}
    listed = response.json["sessions"]
    assert [one["current"] for one in listed] == [True, False]
    assert listed[1] == {name: SESSION_LIST[1][name] for name in (
        "id", "current", "created_at", "last_seen_at", "expires_at", "client_ip",
        "user_agent")}
    # whatever auth were to add (a token, its hash), only the published fields go out
    assert GOOD_TOKEN not in response.get_data(as_text=True)
    assert "token" not in response.get_data(as_text=True)


def test_log_out_everywhere_else_says_how_many_sessions_ended(client, rpc):
    response = client.delete("/api/v1/sessions/others", headers=BEARER)

    assert response.status_code == 200
    assert response.json == {"ended": 2}
    assert rpc.methods_called == ["auth.authenticate", "auth.end_other_sessions"]
    assert rpc.calls[1][1] == {"token": GOOD_TOKEN}
    assert "Set-Cookie" not in response.headers      # this session stays


def test_a_password_change_is_204_and_keeps_this_session(client, rpc):
    response = client.post("/api/v1/me/password", headers=BEARER, json={
        "current_password": "Old-Horse-42-x", "new_password": "Correct-Horse-42"})

    assert response.status_code == 204
    assert rpc.methods_called == ["auth.authenticate", "auth.change_password"]
    assert rpc.calls[1][1] == {"token": GOOD_TOKEN, "current_password": "Old-Horse-42-x",
                               "new_password": "Correct-Horse-42", "client_ip": "127.0.0.1"}
    assert "Set-Cookie" not in response.headers


def test_a_wrong_current_password_is_said_beside_it_and_keeps_the_cookie(client, rpc):
    # invalid_credentials is auth's 401 for a login; here the caller IS logged in: a 401
    # would tell a browser its session is over and clear its cookie
    rpc.answer("auth.change_password", ServiceError("invalid_credentials"))
    client.set_cookie("__Host-newsreel_session", GOOD_TOKEN, domain="localhost")
    response = client.post("/api/v1/me/password?lang=en", headers={"Origin": PUBLIC_BASE_URL},
                           json={"current_password": "nope", "new_password": "Correct-Horse-42"})

    assert response.status_code == 400
    assert response.json == {"error": {
        "code": "wrong_password", "field": "current_password",
        "message": "This is not your current password."}}
    assert "Set-Cookie" not in response.headers


def test_a_weak_new_password_names_the_new_password(client, rpc):
    rpc.answer("auth.change_password", ServiceError("weak_password", {"rules": ["digit"]}))
    response = client.post("/api/v1/me/password?lang=en", headers=BEARER,
                           json={"current_password": "x", "new_password": "weak"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "weak_password"
    assert response.json["error"]["field"] == "new_password"
    assert response.json["error"]["rules"] == ["digit"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v1/sessions"),
                                              ("DELETE", "/api/v1/sessions/others"),
                                              ("POST", "/api/v1/me/password")])
def test_the_session_operations_need_a_session(client, rpc, method, path):
    body = {"current_password": "x", "new_password": "y"} if method == "POST" else None
    response = client.open(path, method=method, json=body)
    assert response.status_code == 401
    assert rpc.calls == []


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
