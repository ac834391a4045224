"""The error table: every code a service raises becomes its status and a sentence in the
user's language, in the one JSON error shape."""

import logging

import pytest

from gateway.errors import ERRORS
from gateway.rpc import BrokerUnavailable, ServiceUnavailable
from gateway.terms import TERMS_VERSION
from services.shared.errors import ServiceError

LOGIN = {"email": "claire.martin@example.org", "password": "Correct-Horse-42"}

# code, details as nameko delivers them (strings), status, French, English
SERVICE_ERRORS = [
    # every refusal of a code is this one answer, with no detail (issue 10, point 3)
    ("invalid_code", {}, 400,
     "Ce code est erroné, a expiré ou a déjà servi. Demandez-en un nouveau.",
     "This code is wrong, expired or already used. Ask for a new one."),
    ("invalid_code", {"attempts_left": "3"}, 400,
     "Ce code est erroné, a expiré ou a déjà servi. Demandez-en un nouveau.",
     "This code is wrong, expired or already used. Ask for a new one."),
    ("rate_limited", {"retry_after": "45", "limit": "login_ip"}, 429,
     "Trop de demandes. Réessayez dans 45 secondes.",
     "Too many requests. Try again in 45 seconds."),
    ("rate_limited", {"retry_after": "600"}, 429,
     "Trop de demandes. Réessayez dans 10 minutes.",
     "Too many requests. Try again in 10 minutes."),
    ("not_verified", {}, 403,
     "Ce compte n'est pas encore vérifié. Entrez le code envoyé à votre adresse e-mail.",
     "This account is not verified yet. Enter the code sent to your email address."),
    ("invalid_credentials", {}, 401, "Adresse e-mail ou mot de passe incorrect.",
     "Incorrect email address or password."),
    ("unauthorized", {}, 401,
     "Vous n'êtes pas connecté ou votre session a expiré. Veuillez vous connecter.",
     "You are not logged in, or your session has expired. Please log in."),
    ("invalid_reset_token", {}, 400,
     "Cette réinitialisation du mot de passe a expiré ou a déjà été utilisée. "
     "Veuillez recommencer.",
     "This password reset has expired or was already used. Please start again."),
    ("terms_not_accepted", {}, 400,
     "Veuillez lire et accepter les conditions d'utilisation.",
     "Please read and accept the terms of use."),
    ("weak_password", {"rules": ["min_length"]}, 400,
     "Le mot de passe doit comporter au moins 12 caractères.",
     "The password must have at least 12 characters."),
]


def login_failing_with(client, rpc, error, language):
    rpc.answer("auth.login", error)
    return client.post(f"/api/v1/sessions?lang={language}", json=LOGIN)


@pytest.mark.parametrize(("code", "details", "status", "french", "english"), SERVICE_ERRORS)
def test_a_service_error_becomes_its_status_and_a_localized_message(
        client, rpc, code, details, status, french, english):
    for language, message in (("fr", french), ("en", english)):
        response = login_failing_with(client, rpc, ServiceError(code, details), language)

        assert response.status_code == status == ERRORS[code].status
        assert response.mimetype == "application/json"
        assert response.json["error"]["code"] == code
        assert response.json["error"]["message"] == message
        assert response.headers["Content-Language"] == language


def test_every_code_in_the_table_has_a_french_and_an_english_message(app):
    for code, kind in ERRORS.items():
        for language in ("fr", "en"):
            with app.test_request_context(f"/api/v1/me?lang={language}"):
                message = kind.message({**kind.defaults, "rules": ["digit"],
                                        "retry_after": 5})
            assert message and message.strip() == message, code
        with app.test_request_context("/?lang=fr"):
            french = kind.message({**kind.defaults})
        with app.test_request_context("/?lang=en"):
            english = kind.message({**kind.defaults})
        assert french != english, f"{code} is not translated into French"


def test_details_are_converted_back_from_nameko_strings(client, rpc):
    response = login_failing_with(client, rpc, ServiceError("too_many_uploads", {"maximum": "2"}),
                                  "fr")
    assert response.json["error"]["maximum"] == 2


def test_a_refused_code_carries_no_detail_whatever_a_service_sends(client, rpc):
    # a count of tries left was only ever sent for real accounts: it told them apart
    error = ServiceError("invalid_code", {"attempts_left": "2", "reason": "expired"})
    response = login_failing_with(client, rpc, error, "en")
    assert set(response.json["error"]) == {"code", "message"}


def test_the_codes_that_told_accounts_apart_are_gone_from_the_table():
    assert "code_expired" not in ERRORS and "too_many_attempts" not in ERRORS


def test_rate_limited_sends_retry_after_and_hides_internal_details(client, rpc):
    error = ServiceError("rate_limited", {"retry_after": "60", "limit": "login_ip"})
    response = login_failing_with(client, rpc, error, "fr")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert response.json["error"]["retry_after"] == 60
    assert "limit" not in response.json["error"]


def test_rate_limited_without_details_still_tells_when_to_retry(client, rpc):
    response = login_failing_with(client, rpc, ServiceError("rate_limited"), "en")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_a_malformed_detail_is_dropped_not_a_crash(client, rpc):
    error = ServiceError("too_many_uploads", {"maximum": "many"})
    response = login_failing_with(client, rpc, error, "en")
    assert response.status_code == 429
    assert response.json["error"] == {
        "code": "too_many_uploads",
        "message": "You have too many uploads in progress: finish or cancel one first."}


@pytest.mark.parametrize(("rules", "french", "english"), [
    (["min_length", "no_spaces", "uppercase", "digit", "symbol"],
     "Le mot de passe doit comporter au moins 12 caractères, sans espaces, des lettres "
     "majuscules, des chiffres et des symboles.",
     "The password must have at least 12 characters, no spaces, uppercase letters, digits, "
     "and symbols."),
    (["max_length"],
     "Le mot de passe doit comporter au plus 128 caractères.",
     "The password must have at most 128 characters."),
    (["lowercase", "symbol"],
     "Le mot de passe doit comporter des lettres minuscules et des symboles.",
     "The password must have lowercase letters and symbols."),
    (["breached"],
     "Ce mot de passe figure dans des listes de mots de passe divulgués : "
     "choisissez-en un autre.",
     "This password appears in lists of leaked passwords: choose another one."),
    (["some_future_rule"],
     "Le mot de passe doit comporter au moins 12 caractères, sans espaces, inclure des "
     "lettres majuscules/minuscules, des chiffres et des symboles.",
     "The password must have at least 12 characters, no spaces, and include uppercase and "
     "lowercase letters, digits and symbols."),
])
def test_weak_password_lists_the_broken_rules_in_both_languages(
        client, rpc, rules, french, english):
    rpc.answer("auth.register", ServiceError("weak_password", {"rules": rules}))
    body = {"email": "claire.martin@example.org", "password": "short",
            "full_name": "Claire Martin", "organisation": "Le Quotidien", "language": "fr",
            "terms_version": TERMS_VERSION}
    for language, message in (("fr", french), ("en", english)):
        response = client.post(f"/api/v1/accounts?lang={language}", json=body)

        assert response.status_code == 400
        assert response.json["error"] == {"code": "weak_password", "message": message,
                                          "rules": rules}


def test_an_unknown_service_error_code_is_a_logged_bug(client, rpc, caplog):
    rpc.answer("auth.login", ServiceError("brand_new_code", {"secret": "s3cr3t-detail"}))
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/v1/sessions?lang=en", json=LOGIN)

    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "s3cr3t" not in response.get_data(as_text=True)
    assert any("brand_new_code" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("unavailable", [
    ServiceUnavailable("auth", "timed out"),
    BrokerUnavailable("auth", "cannot connect to the broker"),
])
def test_an_unavailable_service_is_503_with_retry_after(client, rpc, unavailable):
    rpc.answer("auth.login", unavailable)
    response = client.post("/api/v1/sessions?lang=en", json=LOGIN)

    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    assert response.json["error"]["message"] == (
        "The service is temporarily unavailable. Please try again in a few moments.")
    assert int(response.headers["Retry-After"]) > 0


def test_an_unexpected_exception_is_a_json_500_logged_with_the_request_id(client, rpc, caplog):
    rpc.answer("auth.login", ZeroDivisionError("a bug"))
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/v1/sessions", json=LOGIN,
                               headers={"X-Request-Id": "trace-0123456789"})

    assert response.status_code == 500
    assert response.json["error"] == {
        "code": "internal_error",
        "message": "Une erreur inattendue s'est produite. Veuillez réessayer plus tard."}
    assert response.headers["X-Request-Id"] == "trace-0123456789"
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ZeroDivisionError]
    assert logged and logged[0].request_id == "trace-0123456789"


# -- Werkzeug's errors, in the same shape under /api/ ------------------------------------------

def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here?lang=en")
    assert response.status_code == 404
    assert response.json["error"] == {"code": "not_found",
                                      "message": "There is nothing at this address."}


def test_wrong_method_is_json_405_with_allow(client):
    response = client.get("/api/v1/accounts")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_outside_the_api_errors_stay_plain_http(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_body_over_16_kib_is_413(client, rpc):
    body = {"email": "claire.martin@example.org", "password": "x" * (17 * 1024)}
    response = client.post("/api/v1/sessions?lang=en", json=body)

    assert response.status_code == 413
    assert response.json["error"] == {
        "code": "payload_too_large",
        "message": "The request body is too large: 16 KiB at most."}
    assert rpc.calls == []


def test_non_json_body_is_415(client, rpc):
    response = client.post("/api/v1/sessions", data="email=a@example.org&password=x",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    assert rpc.calls == []


@pytest.mark.parametrize("raw", [b"{", b"", b"{'email': 1}", b"NaN", b"\xff\xfe{}",
                                 b"[" * 5000 + b"]" * 5000])
def test_malformed_json_is_400_invalid_request(client, rpc, raw):
    response = client.post("/api/v1/sessions?lang=en", data=raw,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"] == {"code": "invalid_request",
                                      "message": "The request body is not valid JSON."}
    assert rpc.calls == []
