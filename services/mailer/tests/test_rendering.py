"""The mails' words: every kind in both languages, the code where it belongs, dates in the
reader's language, and nothing a user typed able to change the markup."""

import re
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from services.mailer.rendering import KINDS, RenderedMail, clean_display_name, render

CODE = "045123"  # a leading zero: the code is a string, never an int
EXPIRES = datetime(2019, 11, 20, 14, 32, 5, tzinfo=UTC)
CHANGED = datetime(2019, 11, 20, 16, 32, tzinfo=timezone(timedelta(hours=2)))  # 14:32 UTC
LOCKED_UNTIL = datetime(2019, 11, 21, 5, 32, tzinfo=timezone(timedelta(hours=-9)))  # 14:32 UTC


def verification(purpose="verify", **overrides):
    context = {
        "full_name": "Jeanne Dupré",
        "code": CODE,
        "purpose": purpose,
        "expires_at": EXPIRES,
        "valid_minutes": 30,
    }
    context.update(overrides)
    return context


def changed(reason="reset", **overrides):
    return {"full_name": "Jeanne Dupré", "changed_at": CHANGED, "reason": reason, **overrides}


def locked(purpose="reset", **overrides):
    return {"full_name": "Jeanne Dupré", "purpose": purpose, "failures": 10,
            "locked_until": LOCKED_UNTIL, **overrides}


CONTEXTS = {
    "verification_code:verify": ("verification_code", verification("verify")),
    "verification_code:reset": ("verification_code", verification("reset")),
    "registration_attempted": ("registration_attempted", {"full_name": "Jeanne Dupré"}),
    "password_changed:reset": ("password_changed", changed("reset")),
    "password_changed:change": ("password_changed", changed("change")),
    "code_locked:verify": ("code_locked", locked("verify")),
    "code_locked:reset": ("code_locked", locked("reset")),
    "newsletter": ("newsletter", {
        "full_name": "Jeanne Dupré", "title": "Les ministres se réunissent à Bruxelles",
        "summary": "Un large éventail de défis de sécurité.", "url": "https://x.test/news/a",
        "published_at": CHANGED, "unsubscribe_url": "https://x.test/newsletter/unsubscribe?t=1"}),
}


class _TagBalance(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.h1 = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.h1 += tag == "h1"
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_kinds_are_exported():
    assert set(KINDS) == {"verification_code", "registration_attempted", "password_changed",
                          "code_locked", "newsletter"}
    assert {kind for kind, _ in CONTEXTS.values()} == set(KINDS)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("case", sorted(CONTEXTS))
def test_every_kind_renders_in_both_languages(case, language):
    kind, context = CONTEXTS[case]
    mail = render(kind, language, context)

    assert isinstance(mail, RenderedMail)
    assert mail.subject and "\n" not in mail.subject and mail.subject == mail.subject.strip()
    assert "Newsreel" in mail.subject
    assert "Jeanne Dupré" in mail.text and "Jeanne Dupré" in mail.html
    assert f'<html lang="{language}"' in mail.html
    header = "COMPTE MULTIMÉDIA" if language == "fr" else "MULTIMEDIA ACCOUNT"
    assert header in mail.html and "Newsreel" in mail.html
    assert "{{" not in mail.text + mail.html and "{%" not in mail.text + mail.html

    checker = _TagBalance()
    checker.feed(mail.html)
    checker.close()
    assert checker.errors == [] and checker.stack == [] and checker.h1 == 1


def test_the_two_languages_differ():
    for kind, context in CONTEXTS.values():
        fr, en = render(kind, "fr", context), render(kind, "en", context)
        assert fr.subject != en.subject and fr.text != en.text


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("purpose", ["verify", "reset"])
def test_code_is_in_the_body_on_its_own_line_and_never_in_the_subject(language, purpose):
    mail = render("verification_code", language, verification(purpose))

    assert CODE not in mail.subject
    assert CODE in mail.text.splitlines()
    assert mail.html.count(CODE) == 1
    code_tag = mail.html[: mail.html.index(CODE)].rsplit("<", 1)[1]
    assert "monospace" in code_tag and "letter-spacing" in code_tag and "font-size:34px" in code_tag


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("fr", "Ce code expirera dans 30 minutes (à 14:32 UTC)."),
        ("en", "This code expires in 30 minutes (at 14:32 UTC)."),
    ],
)
def test_expiry_is_a_utc_time_in_the_readers_language(language, sentence):
    # Given in another zone, shown in UTC.
    expires = EXPIRES.astimezone(timezone(timedelta(hours=-5)))
    mail = render("verification_code", language, verification(expires_at=expires))
    assert sentence in mail.text
    assert sentence in mail.html


def test_valid_minutes_comes_from_the_context():
    mail = render("verification_code", "fr", verification(valid_minutes=15))
    assert "Ce code expirera dans 15 minutes" in mail.text


def test_french_wording_follows_the_seed_page():
    verify = render("verification_code", "fr", verification("verify"))
    assert verify.subject == "Votre code de vérification Newsreel"
    assert "Nous avons envoyé ce code pour vérifier votre compte" in verify.text
    assert "Entrez le code de vérification" in verify.text

    reset = render("verification_code", "fr", verification("reset"))
    assert "Réinitialiser le mot de passe" in reset.subject
    assert "réinitialiser le mot de passe" in reset.text

    password = render("password_changed", "fr", changed("reset"))
    assert "Votre mot de passe a été mis à jour" in password.html


@pytest.mark.parametrize(
    ("language", "purpose", "advice"),
    [
        ("fr", "verify", "Vous n'avez pas créé de compte Newsreel"),
        ("fr", "reset", "Vous n'avez pas demandé à réinitialiser votre mot de passe"),
        ("en", "verify", "Didn't create a Newsreel account?"),
        ("en", "reset", "Didn't ask to reset your password?"),
    ],
)
def test_code_mails_say_what_to_do_when_not_asked_for(language, purpose, advice):
    mail = render("verification_code", language, verification(purpose))
    if language == "fr":
        ignore, mailbox = "Ignorez simplement ce message", "sans accès à votre boîte de réception"
    else:
        ignore, mailbox = "Simply ignore this e-mail", "without access to your mailbox"
    for part in (mail.text, mail.html):
        assert advice in part and ignore in part and mailbox in part


def test_verify_and_reset_say_different_things():
    verify = render("verification_code", "en", verification("verify"))
    reset = render("verification_code", "en", verification("reset"))
    assert verify.subject == "Your Newsreel verification code"
    assert reset.subject == "Reset your Newsreel password"
    assert "verify your Newsreel multimedia account" in verify.text
    assert "reset the password" in reset.text and "verify your" not in reset.text


@pytest.mark.parametrize(
    ("language", "when", "sessions"),
    [
        ("fr", "le mercredi 20 novembre 2019 à 14:32 UTC", "toutes les sessions ouvertes"),
        ("en", "on Wednesday, 20 November 2019 at 14:32 UTC", "every open session"),
    ],
)
def test_password_changed_says_when_and_that_sessions_ended(language, when, sessions):
    mail = render("password_changed", language, changed("reset"))
    assert when in mail.text and sessions in mail.text
    # French typography: no-break spaces inside « »
    fr_reset = "«\u00a0Réinitialiser le mot de passe\u00a0»"
    reset = fr_reset if language == "fr" else "“Reset password”"
    assert reset in mail.text


@pytest.mark.parametrize(
    ("language", "others", "everyone"),
    [
        ("fr", "vos autres sessions ont été fermées", "toutes les sessions ouvertes"),
        ("en", "your other sessions were signed out", "every open session"),
    ],
)
def test_a_change_while_logged_in_says_only_the_other_sessions_ended(language, others,
                                                                       everyone):
    # a change with the current password keeps the session that made it (auth's
    # change_password); a reset ends them all: each mail says what really happened
    change = render("password_changed", language, changed("change"))
    reset = render("password_changed", language, changed("reset"))
    for part in (change.text, change.html):
        assert others in part and everyone not in part
    for part in (reset.text, reset.html):
        assert everyone in part and others not in part
    # a paragraph of its own in the text part, as in the reset's
    for mail, words in ((change, others), (reset, everyone)):
        paragraphs = mail.text.split("\n\n")
        [paragraph] = [p for p in paragraphs if words in p]
        assert "\n" not in paragraph


def test_an_unknown_reason_for_a_password_change_is_refused():
    # a mail that guesses what happened to the sessions could tell the owner something false
    with pytest.raises(ValueError, match="reason"):
        render("password_changed", "en", changed("admin"))


@pytest.mark.parametrize(
    ("language", "purpose", "what", "until"),
    [
        ("fr", "reset", "pour réinitialiser le mot de passe de votre compte",
         "suspendue jusqu'au jeudi 21 novembre 2019 à 14:32 UTC"),
        ("fr", "verify", "pour vérifier l'adresse e-mail de votre compte",
         "suspendue jusqu'au jeudi 21 novembre 2019 à 14:32 UTC"),
        ("en", "reset", "to reset the password of your",
         "paused until Thursday, 21 November 2019 at 14:32 UTC"),
        ("en", "verify", "to verify the e-mail address of your",
         "paused until Thursday, 21 November 2019 at 14:32 UTC"),
    ],
)
def test_code_locked_tells_the_owner_what_happened_until_when_and_what_to_do(
        language, purpose, what, until):
    mail = render("code_locked", language, locked(purpose))
    if language == "fr":
        said = ["Quelqu'un a saisi plusieurs codes erronés", what, until,
                "Votre mot de passe n'a pas été modifié",
                "Si c'était vous, attendez cette heure-là, puis demandez un nouveau code",
                "Si ce n'était pas vous, vous n'avez rien à faire\u00a0: "
                "votre compte est en sécurité",
                "Ne communiquez jamais un code"]
    else:
        said = ["Someone entered several wrong codes", what, until,
                "Your password has not been changed",
                "If it was you, wait until then and ask for a new code",
                "If it was not you, there is nothing to do: your account is safe",
                "Never share a code"]
    for part in (mail.text, mail.html.replace("&#39;", "'")):
        for sentence in said:
            assert sentence in part, (sentence, part)
    other = "verify" if purpose == "reset" else "reset"
    assert what not in render("code_locked", language, locked(other)).text


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("purpose", ["verify", "reset"])
def test_code_locked_carries_no_code_and_no_link(language, purpose):
    # anyone can cause this mail by typing wrong codes: it must give nothing to act on but
    # words (no code, no button to click), like the code mails
    mail = render("code_locked", language, locked(purpose, portal_url="https://evil.example/",
                                                   code="045123"))
    whole = mail.subject + mail.text + mail.html
    assert "045123" not in whole and "evil.example" not in whole and "href=" not in mail.html
    assert not re.search(r"\d{6}", mail.text.replace("2019", ""))


@pytest.mark.parametrize("language", ["fr", "en"])
def test_registration_attempted_explains_and_sends_no_code(language):
    mail = render("registration_attempted", language, {"full_name": "Jeanne Dupré"})
    if language == "fr":
        assert "Un compte existe déjà pour cette adresse" in mail.text
        assert "connectez-vous" in mail.text and "ignorez ce message" in mail.text
    else:
        assert "An account already exists for this address" in mail.text
        assert "log in" in mail.text and "ignore this e-mail" in mail.text


def test_optional_portal_url_and_support_email():
    context = changed(portal_url="https://newsreel.example.org/",
                      support_email="media@example.org")
    mail = render("password_changed", "en", context)
    assert 'href="https://newsreel.example.org/"' in mail.html
    assert 'href="mailto:media@example.org"' in mail.html and "media@example.org" in mail.text

    bare = render("password_changed", "en", changed("reset"))
    assert "href=" not in bare.html and "contact us" not in bare.text


def test_code_mails_carry_no_link_even_if_given_one():
    mail = render("verification_code", "fr", verification(portal_url="https://evil.example/"))
    assert "evil.example" not in mail.html + mail.text and "href=" not in mail.html


def test_html_escapes_what_the_user_typed():
    name = '<script>alert("x")</script><a href="https://evil.example">Jeanne</a>'
    for kind, context in CONTEXTS.values():
        mail = render(kind, "en", {**context, "full_name": name})
        assert "<script>" not in mail.html and '<a href="https://evil' not in mail.html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in mail.html


def test_a_name_cannot_add_lines_to_the_mail():
    name = "Jeanne\n\nURGENT: call +00 000 000\r\n\u202eDupré"
    mail = render("registration_attempted", "fr", {"full_name": name})
    first_lines = [line for line in mail.text.splitlines() if line.startswith("Bonjour")]
    assert first_lines == ["Bonjour Jeanne URGENT: call +00 000 000 Dupré,"]
    assert "\u202e" not in mail.text + mail.html


def test_long_names_are_shortened_and_empty_names_drop_out():
    assert len(clean_display_name("x" * 500)) == 80
    assert clean_display_name("x" * 500).endswith("…")
    mail = render("registration_attempted", "en", {"full_name": " \n "})
    assert "Hello,\n" in mail.text and '<p style="margin:0 0 16px;">Hello,</p>' in mail.html


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("de", "fr"),
        ("", "fr"),
        (None, "fr"),
        ("en-GB", "en"),
        ("EN", "en"),
        ("fr_CA", "fr"),
    ],
)
def test_language_fallback(language, expected):
    mail = render("registration_attempted", language, {"full_name": "Jeanne"})
    assert mail == render("registration_attempted", expected, {"full_name": "Jeanne"})


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown mail kind 'horoscope'"):
        render("horoscope", "fr", {"full_name": "Jeanne"})


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"full_name": "J"}, "missing context value"),
        (verification(code=45123), "6 digits"),
        (verification(code="12345"), "6 digits"),
        (verification(code="1234567"), "6 digits"),
        (verification(purpose="delete"), "purpose"),
        (verification(expires_at=datetime(2019, 11, 20, 14, 32)), "timezone-aware"),
        (verification(expires_at="2019-11-20T14:32:00Z"), "timezone-aware"),
        (verification(valid_minutes=0), "valid_minutes"),
    ],
)
def test_bad_context_is_refused(context, message):
    with pytest.raises(ValueError, match=message):
        render("verification_code", "fr", context)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"full_name": "J", "purpose": "reset"}, "missing context value"),
        (locked(purpose="delete"), "purpose"),
        (locked(locked_until=datetime(2019, 11, 20, 14, 32)), "timezone-aware"),
        (locked(locked_until="2019-11-20T14:32:00Z"), "timezone-aware"),
    ],
)
def test_bad_code_locked_context_is_refused(context, message):
    with pytest.raises(ValueError, match=message):
        render("code_locked", "fr", context)
