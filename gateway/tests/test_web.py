"""The portal's pages against a fake of the services: what they show, where their forms lead,
the errors beside the fields in the visitor's language, CSRF, the way back to the page the
visitor was on (never to another site), the language switch, the headers, the dev outbox."""

import re
from email.message import EmailMessage

import pytest
from markupsafe import escape

from gateway.app import create_app
from gateway.terms import TERMS_VERSION
from gateway.web.common import local_path
from services.shared.errors import ServiceError

from .conftest import PUBLIC_BASE_URL
from .fakes import GOOD_TOKEN, NEWS_ITEM, NEWS_SUMMARY, SLUG, VIDEO, VIDEO_ID

PASSWORD = "Tr4in-Station-Bl00m"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CSRF_FIELD = re.compile(rb'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.data[:500]
    return CSRF_FIELD.search(page.data).group(1).decode()


def post_form(client, path: str, data: dict, token_from: str | None = None, **kwargs):
    token = csrf_token(client, token_from or path)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def shown(value: str) -> str:
    """`value` as a page writes it (HTML-escaped)."""
    return str(escape(value))


# -- the news ----------------------------------------------------------------------------------

def test_the_home_page_lists_the_latest_news_and_searches(client, rpc):
    page = client.get("/?q=  otan   bruxelles &page=2")
    assert page.status_code == 200
    html = text(page)
    assert shown(NEWS_SUMMARY["title"]) in html and f'href="/news/{SLUG}"' in html
    assert NEWS_SUMMARY["poster_url"] in html
    assert "Compte multimédia" in html                      # French by default
    assert rpc.calls[-1] == ("catalog.list_news", {
        "q": "otan bruxelles", "lang": "fr", "page": 2, "per_page": 12})


@pytest.mark.parametrize("number", ["x", "-3", "0", "99999999999"])
def test_a_hand_made_page_number_is_a_page_that_exists(client, rpc, number):
    assert client.get(f"/?page={number}").status_code == 200
    assert 1 <= rpc.calls[-1][1]["page"] <= 1_000_000


def test_the_language_is_switched_remembered_and_the_visitor_stays_where_they_were(client):
    switched = client.get("/language/en?next=/news/" + SLUG)
    assert switched.status_code == 303 and switched.headers["Location"] == "/news/" + SLUG
    assert "newsreel_lang=en" in switched.headers["Set-Cookie"]
    html = text(client.get("/"))
    assert '<html lang="en">' in html and "Multimedia account" in html
    assert client.get("/language/de").status_code == 404
    assert client.get("/language/fr?next=//evil.example").headers["Location"] == "/"


@pytest.mark.parametrize(("target", "kept"), [
    ("/news/x?y=1", True), ("/", True), ("//evil.example/x", False), ("/\\evil.example", False),
    ("https://evil.example/", False), ("javascript:alert(1)", False), ("news/x", False),
    ("/x\r\nSet-Cookie: a=b", False), ("", False), (None, False)])
def test_only_a_path_of_the_portal_is_a_way_back(target, kept):
    assert local_path(target, "/default") == (target if kept else "/default")


def test_a_news_item_shows_its_programme_player_and_shotlist(client):
    html = text(client.get(f"/news/{SLUG}"))
    assert shown(NEWS_ITEM["title"]) in html
    assert f"Programme {VIDEO['programme']}" in html
    assert f'<source src="{VIDEO["preview_url"]}" type="video/mp4">' in html
    for shot in VIDEO["shotlist"]:
        assert f'data-seconds="{shot["in_seconds"]}"' in html
    assert VIDEO["master_path"] not in html                 # no storage path on a page
    # logged out: the panel says why and leads to log in, then back here
    assert "download-form" not in html
    assert f'href="/account/login?next=/news/{SLUG}"' in html


def test_a_logged_in_visitor_gets_the_download_panel(client):
    client.set_cookie("__Host-newsreel_session", GOOD_TOKEN)
    html = text(client.get(f"/news/{SLUG}"))
    assert f'data-video-id="{VIDEO_ID}"' in html and "download-form" in html
    for name in ("xdcam-hd422", "h264-1080p", "proxy", "original"):
        assert f'value="{name}"' in html
    assert 'class="pick"' in html                            # shotlist rows can be ticked


def test_a_service_out_of_reach_is_said_on_a_page(client, rpc):
    from gateway.rpc import ServiceUnavailable
    rpc.answer("catalog.list_news", ServiceUnavailable("catalog", "no reply"))
    page = client.get("/?lang=en")
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "Temporarily unavailable" in text(page)


def test_an_unknown_item_is_a_404_page(client, rpc):
    rpc.answer("catalog.get_news", ServiceError("not_found", {"resource": "news"}))
    page = client.get("/news/nothing-here")
    assert page.status_code == 404 and "<h1>" in text(page)


def test_pages_carry_a_strict_policy_and_no_inline_script(client):
    page = client.get(f"/news/{SLUG}")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["Referrer-Policy"] == "same-origin"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text(page), re.S)
    for attributes, _ in scripts:   # only files, and one JSON block of sentences
        assert "src=" in attributes or ('type="application/json"' in attributes)


# -- the account screens -----------------------------------------------------------------------

def register_form(**overrides) -> dict:
    return {"email": "ana@example.org", "password": PASSWORD, "full_name": "Ana Lima",
            "organisation": "Le Quotidien", "language": "fr", "terms": TERMS_VERSION,
            **overrides}


def test_registration_goes_to_the_code_screen_then_account_created(client, rpc):
    done = post_form(client, "/account/register?next=/news/" + SLUG, register_form(),
                     token_from="/account/register?next=/news/" + SLUG)
    assert done.status_code == 303 and done.headers["Location"] == "/account/verify"
    assert rpc.calls[-1] == ("auth.register", {
        "email": "ana@example.org", "password": PASSWORD, "full_name": "Ana Lima",
        "organisation": "Le Quotidien", "language": "fr", "terms_version": TERMS_VERSION,
        "client_ip": "127.0.0.1"})
    screen = text(client.get("/account/verify"))
    assert "ana@example.org" in screen and "30 minutes" in screen
    # the code AND the password chosen at registration (issue 10, point 2)
    assert 'id="password"' in screen and 'autocomplete="current-password"' in screen
    verified = post_form(client, "/account/verify", {"code": "123456", "password": PASSWORD},
                         headers={"User-Agent": BROWSER})
    assert verified.status_code == 303 and verified.headers["Location"] == "/account/created"
    assert rpc.calls[-1] == ("auth.verify_account", {
        "email": "ana@example.org", "code": "123456", "password": PASSWORD,
        "client_ip": "127.0.0.1", "kind": "portal", "user_agent": BROWSER})
    assert "__Host-newsreel_session=" + GOOD_TOKEN in verified.headers["Set-Cookie"]
    created = text(client.get("/account/created"))
    assert "newsletter" in created.lower() and f'href="/news/{SLUG}"' in created
    subscribed = post_form(client, "/account/newsletter", {"subscribed": "true",
                                                            "back": "/account/created"},
                           token_from="/account/created")
    assert subscribed.status_code == 303
    assert rpc.calls[-1] == ("auth.set_newsletter", {"token": GOOD_TOKEN, "subscribed": True})


def test_registration_errors_are_shown_beside_their_field_in_the_users_language(client, rpc):
    rpc.answer("auth.register", ServiceError("weak_password", {"rules": ["min_length"]}))
    refused = post_form(client, "/account/register?lang=en", register_form(password="short"),
                        token_from="/account/register?lang=en")
    assert refused.status_code == 400
    html = text(refused)
    error = re.search(r'id="password-error" role="alert">([^<]+)<', html).group(1)
    assert "12" in error and 'aria-invalid="true"' in html
    assert 'value="ana@example.org"' in html and PASSWORD not in html  # kept, not the password

    calls = len(rpc.calls)
    unticked = post_form(client, "/account/register", register_form(terms=""))
    assert unticked.status_code == 400
    assert re.search(r'id="terms-error" role="alert">[^<]+<', text(unticked))
    bad_email = post_form(client, "/account/register", register_form(email="not-an-email"))
    assert re.search(r'id="email-error" role="alert">[^<]+<', text(bad_email))
    # a field the form has no error place for (a forged choice): said for the whole form
    forged = post_form(client, "/account/register", register_form(language="de"))
    assert forged.status_code == 400 and 'class="form-error"' in text(forged)
    assert "auth.register" not in [name for name, _ in rpc.calls[calls:]]


def test_the_verification_errors_are_beside_their_field(client, rpc):
    post_form(client, "/account/register", register_form())
    calls = len(rpc.calls)
    empty = post_form(client, "/account/verify?lang=en", {"code": "123456", "password": ""},
                      token_from="/account/verify?lang=en")
    assert empty.status_code == 400
    assert re.search(r'id="password-error" role="alert">This field must not be empty\.<',
                     text(empty))
    assert len(rpc.calls) == calls            # refused before any call
    rpc.answer("auth.verify_account", ServiceError("invalid_code"))
    refused = post_form(client, "/account/verify?lang=en", {"code": "123456",
                                                            "password": "not-it"},
                        token_from="/account/verify?lang=en")
    assert refused.status_code == 400
    said = re.search(r'id="code-error" role="alert">([^<]+)<', text(refused)).group(1)
    assert said == shown("This code is wrong, expired or already used, or the password is "
                         "not the one chosen at registration. Check the password, or ask for "
                         "a new code.")
    assert "not-it" not in text(refused)


def test_the_reset_code_screen_asks_for_no_password(client, rpc):
    post_form(client, "/account/reset", {"email": "ana@example.org"})
    screen = text(client.get("/account/reset/code"))
    assert 'id="code"' in screen and 'id="password"' not in screen
    post_form(client, "/account/reset/code", {"code": "654321"})
    assert rpc.calls[-1] == ("auth.verify_password_reset", {
        "email": "ana@example.org", "code": "654321", "client_ip": "127.0.0.1"})


def test_the_portals_logins_open_portal_sessions(client, rpc):
    post_form(client, "/account/login", {"email": "ana@example.org", "password": PASSWORD},
              headers={"User-Agent": BROWSER})
    assert rpc.calls[-1] == ("auth.login", {
        "email": "ana@example.org", "password": PASSWORD, "client_ip": "127.0.0.1",
        "kind": "portal", "user_agent": BROWSER})


# -- my sessions, my password (issue 10, point 5) ----------------------------------------------

def logged_in(client):
    client.set_cookie("__Host-newsreel_session", GOOD_TOKEN)
    return client


@pytest.mark.parametrize("path", ["/account/sessions", "/account/password"])
def test_the_session_pages_need_a_login_and_come_back_after_it(client, rpc, path):
    asked = client.get(path)
    assert asked.status_code == 303
    assert asked.headers["Location"] == f"/account/login?next={path}"


def test_my_sessions_lists_each_with_its_device_address_and_last_use(client, rpc):
    html = text(logged_in(client).get("/account/sessions?lang=en"))
    assert rpc.calls[-1] == ("auth.list_sessions", {"token": GOOD_TOKEN})
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)[1:]      # the header row aside
    assert len(rows) == 2
    assert "Firefox" in rows[0] and "Linux" in rows[0] and "198.51.100.7" in rows[0]
    assert "This session" in rows[0] and "This session" not in rows[1]
    assert "2001:db8::7" in rows[1] and "Unknown device" in rows[1]
    assert "December 4, 2026" in rows[0] and "December 3, 2026" in rows[1]
    assert "not-for-the-client" not in html
    form = re.search(r'<form method="post" action="/account/sessions/others">(.*?)</form>',
                     html, re.S).group(1)
    assert 'name="csrf_token"' in form and "Log out everywhere else" in form
    assert 'href="/account/password"' in html
    # the header, where the account is shown, leads here
    assert 'href="/account/sessions"' in text(client.get("/?lang=en"))


def test_log_out_everywhere_else_ends_the_others_and_says_so(client, rpc):
    logged_in(client)
    ended = post_form(client, "/account/sessions/others", {}, token_from="/account/sessions")
    assert ended.status_code == 303 and ended.headers["Location"] == "/account/sessions"
    assert rpc.calls[-1] == ("auth.end_other_sessions", {"token": GOOD_TOKEN})
    assert "Max-Age=0" not in ended.headers.get("Set-Cookie", "")   # this one stays
    assert "2 other sessions were ended." in text(client.get("/account/sessions?lang=en"))
    # said once
    assert "other sessions were ended" not in text(client.get("/account/sessions?lang=en"))


def test_log_out_everywhere_else_needs_the_forms_csrf_token(client, rpc):
    logged_in(client)
    refused = client.post("/account/sessions/others", data={})
    assert refused.status_code == 400
    assert "auth.end_other_sessions" not in rpc.methods_called


def test_changing_the_password_asks_the_current_one_and_ends_the_other_sessions(client, rpc):
    logged_in(client)
    form = text(client.get("/account/password?lang=en"))
    assert 'id="current_password"' in form and 'autocomplete="current-password"' in form
    assert 'id="new_password"' in form and 'autocomplete="new-password"' in form
    changed = post_form(client, "/account/password", {
        "current_password": "Old-Station-Bl00m", "new_password": PASSWORD})
    assert changed.status_code == 303 and changed.headers["Location"] == "/account/sessions"
    assert rpc.calls[-1] == ("auth.change_password", {
        "token": GOOD_TOKEN, "current_password": "Old-Station-Bl00m", "new_password": PASSWORD,
        "client_ip": "127.0.0.1"})
    assert "Max-Age=0" not in changed.headers.get("Set-Cookie", "")
    assert "Your password has been changed" in text(client.get("/account/sessions?lang=en"))


def test_the_password_change_errors_are_beside_their_field(client, rpc):
    logged_in(client)
    rpc.answer("auth.change_password", ServiceError("invalid_credentials"))
    wrong = post_form(client, "/account/password?lang=en", {
        "current_password": "nope", "new_password": PASSWORD},
        token_from="/account/password?lang=en")
    assert wrong.status_code == 400
    html = text(wrong)
    assert re.search(r'id="current_password-error" role="alert">'
                     r'This is not your current password\.<', html)
    assert PASSWORD not in html and "nope" not in html
    assert "Max-Age=0" not in wrong.headers.get("Set-Cookie", "")    # still logged in
    rpc.answer("auth.change_password", ServiceError("weak_password", {"rules": ["digit"]}))
    weak = post_form(client, "/account/password?lang=en", {
        "current_password": PASSWORD, "new_password": "weak"},
        token_from="/account/password?lang=en")
    assert re.search(r'id="new_password-error" role="alert">[^<]*digits[^<]*<', text(weak))
    calls = len(rpc.calls)
    missing = post_form(client, "/account/password?lang=en", {
        "current_password": "", "new_password": PASSWORD},
        token_from="/account/password?lang=en")
    assert re.search(r'id="current_password-error" role="alert">[^<]+<', text(missing))
    assert "auth.change_password" not in rpc.methods_called[calls:]


def test_a_form_without_its_csrf_token_is_refused(client, rpc):
    refused = client.post("/account/login", data={"email": "a@example.org", "password": "x"})
    assert refused.status_code == 400 and "<h1>" in text(refused)
    assert "auth.login" not in rpc.methods_called


def test_login_goes_back_to_the_page_the_visitor_was_on(client, rpc):
    client.get("/account/login?next=/news/" + SLUG)
    entered = post_form(client, "/account/login", {"email": "ana@example.org",
                                                   "password": PASSWORD})
    assert entered.status_code == 303 and entered.headers["Location"] == "/news/" + SLUG
    rpc.answer("auth.login", ServiceError("invalid_credentials"))
    wrong = post_form(client, "/account/login?lang=en", {"email": "ana@example.org",
                                                         "password": "nope"},
                      token_from="/account/login?lang=en")
    assert wrong.status_code == 400 and "Incorrect email address or password." in text(wrong)


def test_the_password_reset_journey_ends_where_the_visitor_started(client, rpc):
    client.get("/account/reset?next=/news/" + SLUG)
    asked = post_form(client, "/account/reset", {"email": "ana@example.org"})
    assert asked.headers["Location"] == "/account/reset/code"
    coded = post_form(client, "/account/reset/code", {"code": "654321"})
    assert coded.headers["Location"] == "/account/reset/password"
    changed = post_form(client, "/account/reset/password", {"password": PASSWORD})
    assert changed.headers["Location"] == "/account/reset/done"
    assert rpc.calls[-1] == ("auth.complete_password_reset", {
        "reset_token": "reset-token", "password": PASSWORD, "client_ip": "127.0.0.1"})
    done = text(client.get("/account/reset/done"))
    assert f'href="/account/login?next=/news/{SLUG}"' in done
    # the grant was spent: the new-password screen now starts again
    assert client.get("/account/reset/password").headers["Location"] == "/account/reset"


# -- development outbox ------------------------------------------------------------------------

def test_the_dev_outbox_is_off_unless_configured(client):
    assert client.get("/dev/mail").status_code == 404


def test_the_dev_outbox_lists_and_shows_the_mails_and_nothing_else(rpc, tmp_path):
    message = EmailMessage()
    message["To"], message["Subject"] = "ana@example.org", "Votre code"
    message.set_content("Votre code : 123456")
    (tmp_path / "20261121T120000Z_abc@newsreel.eml").write_bytes(bytes(message))
    (tmp_path.parent / "secret.eml").write_text("Subject: secret\n\nno")
    app = create_app(rpc=rpc, config={"TESTING": True, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
                                      "DEV_MAIL_OUTBOX": str(tmp_path)})
    client = app.test_client()
    listing = text(client.get("/dev/mail"))
    assert "Votre code" in listing and "ana@example.org" in listing
    opened = text(client.get("/dev/mail/20261121T120000Z_abc@newsreel.eml"))
    assert "123456" in opened
    for name in ("..%2fsecret.eml", "secret.eml", "%2e%2e/secret.eml"):
        assert client.get(f"/dev/mail/{name}").status_code == 404


# -- when things go wrong ----------------------------------------------------------------------

def test_log_out_clears_the_session_even_when_auth_is_out_of_reach(client, rpc):
    from gateway.rpc import ServiceUnavailable
    client.set_cookie("__Host-newsreel_session", GOOD_TOKEN)
    rpc.answer("auth.logout", ServiceUnavailable("auth", "no reply"))
    left = post_form(client, "/account/logout", {"back": "/news/" + SLUG},
                     token_from="/account/login")
    assert left.status_code == 303 and left.headers["Location"] == "/news/" + SLUG
    assert "__Host-newsreel_session=;" in left.headers["Set-Cookie"]


def test_trouble_with_auth_shows_the_page_logged_out_and_keeps_the_session(client, rpc):
    client.set_cookie("__Host-newsreel_session", GOOD_TOKEN)
    rpc.answer("auth.authenticate", ServiceError("internal_error"))
    page = client.get("/")
    assert page.status_code == 200 and "/account/login" in text(page)
    assert "__Host-newsreel_session=;" not in page.headers.get("Set-Cookie", "")
    rpc.answer("auth.authenticate", ServiceError("unauthorized"))   # a session that ended
    assert "__Host-newsreel_session=;" in client.get("/").headers["Set-Cookie"]


def test_unknown_pages_are_portal_pages_and_the_api_stays_json(client, rpc):
    missing = client.get("/nothing/here?lang=en")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Page not found" in text(missing)
    assert client.get("/account/logout").status_code == 405
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"
    rpc.answer("catalog.list_news", RuntimeError("a remote fault"))
    broken = client.get("/")
    assert broken.status_code == 500 and broken.mimetype == "text/html"


def test_logging_in_starts_a_fresh_portal_session(client, rpc):
    client.get("/account/reset")
    post_form(client, "/account/reset", {"email": "ana@example.org"})
    post_form(client, "/account/reset/code", {"code": "654321"})   # a grant, then abandoned
    post_form(client, "/account/login", {"email": "ana@example.org", "password": PASSWORD})
    assert client.get("/account/reset/password").headers["Location"] == "/account/reset"


def test_the_way_back_after_a_reset_keeps_its_query(client):
    client.get("/account/reset?next=" + "/%3Fq%3Dotan%26page%3D2")
    post_form(client, "/account/reset", {"email": "ana@example.org"})
    post_form(client, "/account/reset/code", {"code": "654321"})
    post_form(client, "/account/reset/password", {"password": PASSWORD})
    done = text(client.get("/account/reset/done"))
    assert 'href="/account/login?next=/?q%3Dotan%26page%3D2"' in done


def test_a_rate_limited_resend_is_a_429_page(client, rpc):
    post_form(client, "/account/register", register_form())
    rpc.answer("auth.resend_verification", ServiceError("rate_limited", {"retry_after": 30}))
    refused = post_form(client, "/account/verify/resend", {}, token_from="/account/verify")
    assert refused.status_code == 429 and 'class="form-error"' in text(refused)
