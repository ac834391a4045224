"""The portal in a real browser (Debian's Chromium, headless), against the whole running system
(auth, mailer, catalog, the transcoder's api and worker, the gateway; RabbitMQ, SQLite, aiosmtpd,
ffmpeg), in French and in English:

- the account journey by clicking and typing, each code read from the test's SMTP server: a
  news page, "create an account" from its download panel, a wrong code then the right one, a
  new code, account created, the newsletter, and back to the news page;
- a cut from that page: a shotlist row seeks the player, the in point is taken from the player,
  the out point typed, frame-accurate, XDCAM; the progress bar is seen moving, then the link,
  then the file downloaded is the cut asked for (ffprobe);
- log out, the password reset journey, back to the page the visitor was on, logged in again;
- one's sessions: log out everywhere else, then a password change (a wrong current password
  said beside its field first) that ends the other sessions;
- a newcomer without SMTP server reading the code in the development outbox page.

Every page is screenshotted at desktop and phone width (test-output/screenshots/), and any
console error, failed request or unexpected 4xx/5xx fails the test (tests/browser/conftest.py)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from services.shared.mediainfo import probe
from services.transcoder.media.sample import make_master
from tests.journeys import PASSWORD, bearer, editor, ingest, login, publish, signed_in
from tests.support.smtp import SmtpCapture, find_code, sent_to
from tests.support.system import running_system

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow_media]

NEW_PASSWORD = "Gl4cier-Harbour-Mint"
STORY = {"translations": {
    "fr": {"title": "Les ministres inaugurent le pont de Lanvéoc",
           "summary": "Le pont de Lanvéoc relie les deux rives.",
           "body": "Les ministres ont inauguré le pont.\n\n« Un jour attendu »"},
    "en": {"title": "Ministers open the Lanvéoc bridge",
           "summary": "The Lanvéoc bridge links both banks.",
           "body": "Ministers opened the bridge.\n\n“A long-awaited day”"}}}
SHOTLIST = [
    {"in_tc": "10:00:00:00", "out_tc": "10:00:02:00", "kind": "shot",
     "description": {"fr": "Vue générale du pont", "en": "Wide shot of the bridge"}},
    {"in_tc": "10:00:02:00", "out_tc": "10:00:08:00", "kind": "soundbite",
     "description": {"fr": "Déclaration de la ministre", "en": "The minister's statement"},
     "speaker": "The Minister"},
    {"in_tc": "10:00:08:00", "out_tc": "10:00:12:00", "kind": "shot",
     "description": {"fr": "Les voitures passent", "en": "Cars cross the bridge"}}]
WORDS = {
    "fr": {"create": "Créer un compte", "code": "Code de vérification", "verify": "Vérifier",
           "new_code": "Envoyer un nouveau code", "subscribe": "S’abonner à la newsletter",
           "continue": "Continuer", "prepare": "Préparer le téléchargement",
           "link": "Télécharger le fichier", "log_out": "Se déconnecter",
           "log_in": "Se connecter", "forgot": "Mot de passe oublié ?",
           "reset": "Réinitialiser le mot de passe", "save": "Enregistrer le nouveau mot de passe",
           "back": "Revenir à la page où j’étais", "title": STORY["translations"]["fr"]["title"],
           "from_player": "Prendre la position du lecteur", "cut": "Un extrait, entre deux points",
           "frame": "À l’image près", "email": "Adresse e-mail", "password": "Mot de passe",
           "new_password": "Nouveau mot de passe", "full_name": "Nom complet",
           "organisation": "Média", "terms": "J’ai lu et j’accepte les conditions d’utilisation",
           "out": "Point de sortie", "created": "Vous avez créé votre compte avec succès",
           "updated": "Votre mot de passe a été mis à jour", "subscribed": "Vous êtes abonné"},
    "en": {"create": "Create an account", "code": "Verification code", "verify": "Verify",
           "new_code": "Send a new code", "subscribe": "Subscribe to the newsletter",
           "continue": "Continue", "prepare": "Prepare the download",
           "link": "Download the file", "log_out": "Log out", "log_in": "Log in",
           "forgot": "Forgot your password?", "reset": "Reset password",
           "save": "Save the new password", "back": "Back to the page I was on",
           "title": STORY["translations"]["en"]["title"],
           "from_player": "Set from the player", "cut": "A cut, between two points",
           "frame": "Frame-accurate", "email": "E-mail address", "password": "Password",
           "new_password": "New password", "full_name": "Full name",
           "organisation": "Media organisation",
           "terms": "I have read and accept the terms of use", "out": "Out point",
           "created": "You have successfully created your account",
           "updated": "Your password has been updated", "subscribed": "You are subscribed"},
}


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """The running system with one published story: a 12-s master (small picture, so that its
    XDCAM rendition takes seconds, not minutes) and its shotlist."""
    folder = tmp_path_factory.mktemp("portal")
    master = folder / "bridge.mov"
    make_master(master, 12, size=(320, 180), rate=25, start_tc="10:00:00:00",
                title="Lanvéoc", tone_dbfs=-23.0)
    with running_system(folder / "system", transcoder=True) as system:
        tap = system.tap()
        edith = editor(system)
        item, video = ingest(system, edith, tap, STORY, master, "bridge.mov", shotlist=SHOTLIST)
        yield SimpleNamespace(system=system, smtp=system.smtp, item=publish(system, edith, item),
                              video=video)


def newest_code(smtp: SmtpCapture, email: str, count: int) -> str:
    return find_code(smtp.wait_for(sent_to(email), count=count, timeout=30)[-1])


def watch_progress(page: Page) -> None:
    """Records every value the download panel's progress bar takes (window.seenProgress)."""
    page.evaluate("""() => {
        window.seenProgress = [];
        const bar = document.querySelector("form.download-form progress");
        new MutationObserver(() => window.seenProgress.push(Number(bar.value)))
            .observe(bar, {attributes: true, attributeFilter: ["value"]});
    }""")


# Each language asks for a rendition not made yet, so that its progress bar has work to show:
# (rendition, its label, the shotlist row whose start is the in point, the out point typed,
#  the file's extension, frames)
CUTS = {"fr": ("xdcam-hd422", "XDCAM", "10:00:02:00", "10:00:06:00", ".mxf", 100),
        "en": ("h264-1080p", "H.264", "10:00:08:00", "10:00:11:00", ".mp4", 75)}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_account_journey_then_a_cut_then_a_password_reset(portal, page_factory, screenshot,
                                                              tmp_path, lang):
    system, smtp, words = portal.system, portal.smtp, WORDS[lang]
    rendition, label, cut_in, cut_out, extension, frames = CUTS[lang]
    email = f"journalist-{lang}@example.org"
    page = page_factory(system.url, locale="fr-FR")          # a French browser…
    # Chromium plays the HLS preview itself; leaving the page cuts its segment loads short
    page.expect_failed_request(f"/media/renditions/{portal.video['id']}/hls/*")
    page.goto("/")
    if lang == "en":                                          # …switched to English, remembered
        page.get_by_role("link", name="EN", exact=True).click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, f"home-{lang}")

    # the news page, logged out: the panel leads to creating an account, then back here
    page.get_by_role("link", name=words["title"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["title"])
    story_url = page.url
    screenshot(page, f"news-item-logged-out-{lang}")
    # readable on a phone: nothing wider than the screen (the shotlist once was)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 800})
    page.locator(".download").get_by_role("link", name=words["create"]).click()

    page.get_by_label(words["email"]).fill(email)
    page.get_by_label(words["password"], exact=True).fill(PASSWORD)
    expect(page.locator("#password-rules li.met")).to_have_count(6)   # checked as one types
    page.get_by_label(words["full_name"]).fill("Jo Martin")
    page.get_by_label(words["organisation"], exact=True).fill("Example News")
    page.get_by_label(words["terms"]).check()
    screenshot(page, f"register-{lang}")
    page.get_by_role("button", name=words["create"]).click()

    # the code screen: a wrong code is refused beside the field, a new code replaces the first
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Vérifiez" if lang == "fr" else "Check your inbox")
    first = newest_code(smtp, email, 1)
    page.expect_status(400, "/account/verify")
    wrong = "000000" if first != "000000" else "111111"
    page.get_by_label(words["code"]).fill(wrong)
    page.get_by_label(words["password"], exact=True).fill(PASSWORD)  # the one chosen above
    page.get_by_role("button", name=words["verify"], exact=True).click()
    expect(page.locator("#code-error")).not_to_be_empty()
    expect(page.get_by_label(words["code"])).to_have_attribute("aria-invalid", "true")
    screenshot(page, f"verify-{lang}")
    page.get_by_role("button", name=words["new_code"]).click()
    second = newest_code(smtp, email, 2)
    page.get_by_label(words["code"]).fill(second)
    page.get_by_label(words["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=words["verify"], exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(words["created"])
    page.get_by_role("button", name=words["subscribe"]).click()
    expect(page.get_by_text(words["subscribed"])).to_be_visible()
    screenshot(page, f"account-created-{lang}")
    page.get_by_role("link", name=words["continue"]).click()
    assert page.url == story_url

    # ticking shotlist rows makes a cut from the first row ticked to the last
    picks = page.locator("table.shotlist input.pick")
    picks.nth(2).check()
    picks.nth(1).check()
    expect(page.locator("input[name=in]")).to_have_value("10:00:02:00")
    expect(page.locator("input[name=out]")).to_have_value("10:00:12:00")
    picks.nth(1).uncheck()
    picks.nth(2).uncheck()

    # a frame-accurate cut: in from the player after a shotlist row seeked it, out typed
    page.get_by_role("radio", name=re.compile(label)).check()
    page.get_by_role("button", name=cut_in).click()
    player = page.locator("section.programme video")
    seconds = int(cut_in[6:8])
    page.wait_for_function(f"v => Math.abs(v.currentTime - {seconds}) < 0.05",
                           arg=player.element_handle())
    page.get_by_role("radio", name=words["cut"]).check()
    page.get_by_role("button", name=words["from_player"]).first.click()
    expect(page.locator("input[name=in]")).to_have_value(cut_in)
    page.get_by_label(words["out"]).fill(cut_out)
    page.get_by_role("radio", name=re.compile(words["frame"])).check()
    watch_progress(page)
    page.get_by_role("button", name=words["prepare"]).click()
    link = page.get_by_role("link", name=re.compile(words["link"]))
    expect(link).to_be_visible(timeout=120_000)
    seen = page.evaluate("window.seenProgress")
    assert any(0 < value < 100 for value in seen), f"the bar never moved: {seen}"
    assert seen[-1] == 100 and seen == sorted(seen)
    screenshot(page, f"news-item-cut-ready-{lang}")
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    stamp = f"{cut_in[:2]}h{cut_in[3:5]}m{cut_in[6:8]}s{cut_in[9:]}-" \
            f"{cut_out[:2]}h{cut_out[3:5]}m{cut_out[6:8]}s{cut_out[9:]}"
    assert saved.suffix == extension and f"_{rendition}_{stamp}" in saved.name
    facts = probe(saved)
    assert (facts.start_timecode, facts.frame_count, facts.width) == (cut_in, frames, 1920)

    # log out; forgot the password; reset it by code; back here and in again
    page.get_by_role("button", name=words["log_out"]).click()
    page.locator("header").get_by_role("link", name=words["log_in"]).click()
    page.get_by_role("link", name=words["forgot"]).click()
    page.get_by_label(words["email"]).fill(email)
    screenshot(page, f"reset-{lang}")
    page.get_by_role("button", name=words["reset"]).click()
    page.get_by_label(words["code"]).fill(newest_code(smtp, email, 3))
    page.get_by_role("button", name=words["verify"], exact=True).click()
    page.get_by_label(words["new_password"]).fill(NEW_PASSWORD)
    expect(page.locator("#password-rules li.met")).to_have_count(6)
    screenshot(page, f"new-password-{lang}")
    page.get_by_role("button", name=words["save"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["updated"])
    screenshot(page, f"password-updated-{lang}")
    page.get_by_role("link", name=words["back"]).click()
    page.get_by_label(words["email"]).fill(email)
    page.get_by_label(words["password"], exact=True).fill(NEW_PASSWORD)
    screenshot(page, f"login-{lang}")
    page.locator("main").get_by_role("button", name=words["log_in"]).click()
    assert page.url == story_url
    expect(page.locator("header .who")).to_have_text("Jo Martin")


def test_a_newcomer_without_smtp_reads_the_code_in_the_local_outbox(tmp_path, page_factory,
                                                                    screenshot):
    outbox = tmp_path / "mail-outbox"
    with running_system(tmp_path / "system", env={
            "SMTP_URL": "", "MAIL_OUTBOX_DIR": str(outbox),
            "DEV_MAIL_OUTBOX": str(outbox)}) as system:
        page = page_factory(system.url, locale="en-US")
        page.goto("/account/register")
        page.get_by_label("E-mail address").fill("newcomer@example.org")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Full name").fill("New Comer")
        page.get_by_label("Media organisation", exact=True).fill("Example News")
        page.get_by_label("I have read and accept the terms of use").check()
        page.get_by_role("button", name="Create an account").click()
        verify_url = page.url

        mail = page.get_by_role("link", name=re.compile("verification code"))

        def listed() -> bool:   # the page lists what is there: look again until it arrives
            page.goto("/dev/mail")
            return mail.count() == 1
        system.wait_until(listed, timeout=30, interval=0.5,
                          message="the code never reached the development outbox")
        mail.click()
        code = re.search(r"\b(\d{6})\b", page.locator("article.mail pre").inner_text()).group(1)
        screenshot(page, "dev-mail-outbox")
        assert system.smtp.messages == []                       # nothing went to an SMTP server

        page.goto(verify_url)
        page.get_by_label("Verification code").fill(code)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Verify", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "You have successfully created your account")



def test_logging_in_with_the_keyboard_alone(portal, page_factory):
    system = portal.system
    signed_in(system, "keys@example.org", "en")
    page = page_factory(system.url, locale="en-US")
    page.goto("/account/login")
    page.keyboard.press("Tab")                   # the first stop skips to the content
    focused = "document.activeElement"
    assert page.evaluate(f"{focused}.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate(f"{focused}.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate(f"{focused}.id") == "email"   # labelled fields in reading order
    page.keyboard.type("keys@example.org")
    page.keyboard.press("Tab")
    assert page.evaluate(f"{focused}.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("header .who")).to_have_text("Jane Doe")
    # the focus ring is there for who needs it
    page.keyboard.press("Tab")
    outline = page.evaluate(f"getComputedStyle({focused}).outlineStyle")
    assert outline == "solid"


def test_my_sessions_log_out_everywhere_else_and_a_password_change(portal, page_factory,
                                                                   screenshot):
    system, email = portal.system, "sessions@example.org"
    elsewhere = signed_in(system, email, "en")                # a session on another device
    page = page_factory(system.url, locale="en-US")
    page.goto("/account/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()

    page.locator("header").get_by_role("link", name="My sessions").click()
    rows = page.locator("table.sessions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("This session")
    expect(rows.nth(1)).not_to_contain_text("This session")
    screenshot(page, "sessions")
    page.get_by_role("button", name="Log out everywhere else").click()
    expect(page.get_by_role("status")).to_have_text("1 other session was ended.")
    expect(rows).to_have_count(1)
    assert system.api("GET", "/api/v1/me", headers=bearer(elsewhere)).status_code == 401

    another = login(system, email).json()["token"]
    page.get_by_role("link", name="Change my password").click()
    page.expect_status(400, "/account/password")
    page.get_by_label("Current password").fill("Not-The-Password-42!")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change my password").click()
    expect(page.locator("#current_password-error")).to_have_text(
        "This is not your current password.")
    assert page.evaluate("document.activeElement.id") == "current_password"
    screenshot(page, "change-password")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change my password").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your password has been changed. Your other sessions have ended.")
    expect(rows).to_have_count(1)
    assert system.api("GET", "/api/v1/me", headers=bearer(another)).status_code == 401
    assert login(system, email, NEW_PASSWORD).status_code == 200
