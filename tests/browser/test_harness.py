"""Tests of the browser harness itself (conftest.py, recorder.py), on a tiny Flask site."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from tests.browser.conftest import REPO_ROOT, SCREENSHOT_DIR
from tests.browser.recorder import CONSOLE_ERROR, HTTP_STATUS, PageProblems, Problem
from tests.support.processes import free_port

pytestmark = pytest.mark.browser

# An empty icon: else Chromium asks for /favicon.ico, and the 404 is a problem of every page.
HEAD = ('<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,"><title>Banc d&rsquo;essai</title></head>')

COUNTER = HEAD + """<body>
<h1>Banc d&rsquo;essai</h1>
<p role="status">…</p>
<button type="button">Compter</button>
<p id="clicks">Aucun clic</p>
<label>Nom <input name="name"></label>
<script>
  let clicks = 0;
  document.querySelector("button").addEventListener("click", () => {
    clicks += 1;
    document.getElementById("clicks").textContent = `${clicks} clic${clicks > 1 ? "s" : ""}`;
  });
  fetch("/api/v1/me").then((response) => {
    document.querySelector("[role=status]").textContent =
      response.status === 401 ? "Non connecté" : "Connecté";
  });
</script>
</body></html>"""

BROKEN = HEAD + """<body><p>Cassé</p>
<script>console.error("boom from the page"); throw new Error("kaput");</script>
</body></html>"""

MISSING_IMAGE = HEAD + '<body><img src="/missing.png" alt="absente"></body></html>'


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The base URL of a Flask app served from a thread of this process."""
    app = Flask(__name__)
    app.add_url_rule("/", "counter", lambda: COUNTER)
    app.add_url_rule("/broken", "broken", lambda: BROKEN)
    app.add_url_rule("/missing-image", "missing_image", lambda: MISSING_IMAGE)
    app.add_url_rule("/api/v1/me", "me", lambda: ({"error": "not_logged_in"}, 401))
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="browser-site")
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(5)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", f"{path}: not a PNG"
    return struct.unpack(">II", header[16:24])


def problems_of(browser: Browser, url: str) -> PageProblems:
    """The recorder on its own: loads `url` in a context it watches, outside page_factory (whose
    check would fail this test)."""
    problems = PageProblems()
    context = browser.new_context()
    problems.watch(context)
    try:
        context.new_page().goto(url)
        problems.settle()
    finally:
        problems.unwatch(context)
        context.close()
    return problems


# --- page_factory and screenshot -----------------------------------------------------------------

def test_a_click_changes_the_page_and_both_screenshots_are_written(page_factory, screenshot,
                                                                    site):
    for form in ("desktop", "phone"):
        (SCREENSHOT_DIR / f"harness-counter-{form}.png").unlink(missing_ok=True)
    page = page_factory(site)
    page.expect_status(401, "/api/v1/me")
    page.goto("/")
    expect(page.get_by_role("status")).to_have_text("Non connecté")
    assert page.evaluate("navigator.language") == "fr-FR"

    button = page.get_by_role("button", name="Compter")
    button.click()
    button.click()
    expect(page.locator("#clicks")).to_have_text("2 clics")
    page.get_by_label("Nom").fill("Ana Lima")

    desktop, phone = screenshot(page, "harness-counter")
    assert (desktop, phone) == (SCREENSHOT_DIR / "harness-counter-desktop.png",
                                SCREENSHOT_DIR / "harness-counter-phone.png")
    width, height = png_size(desktop)
    assert width == 1280 and height >= 800
    width, height = png_size(phone)
    assert width == 390 * 2 and height >= 844 * 2   # device scale factor 2
    # The 401 happened and, being declared, is no problem; the phone shot is a still copy of the
    # page (JavaScript off), so it was not asked again.
    assert [p.status for p in page.problems.problems if p.kind == HTTP_STATUS] == [401]
    assert page.problems.unexpected() == []


def test_the_desktop_shot_of_a_narrow_page_is_desktop_wide_and_the_page_stays_narrow(
        page_factory, screenshot, site):
    page = page_factory(site, width=600, height=700, locale="en-GB")
    page.expect_status(401, "/api/v1/me")
    page.goto("/")
    desktop, _ = screenshot(page, "harness-narrow")
    assert png_size(desktop)[0] == 1280
    assert page.viewport_size == {"width": 600, "height": 700}
    assert page.evaluate("navigator.language") == "en-GB"


# --- the recorder ---------------------------------------------------------------------------------

def test_console_errors_and_uncaught_exceptions_are_reported(browser, site):
    problems = problems_of(browser, f"{site}/broken")
    report = problems.report()
    assert "console error: boom from the page" in report
    assert "uncaught exception: Error: kaput" in report

    problems.expect_console_error("boom from the page")
    problems.expect_console_error("kaput")
    assert problems.unexpected() == []


def test_an_unexpected_404_is_reported_once(browser, site):
    problems = problems_of(browser, f"{site}/missing-image")
    [problem] = problems.unexpected()
    assert problem.kind == HTTP_STATUS and problem.status == 404
    assert problem.url == f"{site}/missing.png"
    assert "GET answered 404" in problems.report()
    # Chromium's console line about the same load is folded into it, not listed again.
    assert any(p.kind == CONSOLE_ERROR for p in problems.problems)
    assert "Failed to load resource" not in problems.report()

    problems.expect_status(403, "/missing.png")
    assert problems.unexpected() == [problem]
    problems.expect_status(404, "/missing.png")
    assert problems.unexpected() == []


def test_what_a_test_declares_matches_by_status_and_path():
    problems = PageProblems()
    problems.problems += [
        Problem(HTTP_STATUS, "http://h/media/1/a.mp4?x=1", "GET answered 404 NOT FOUND", 404),
        Problem(HTTP_STATUS, "http://h/api/v1/me", "GET answered 401 UNAUTHORIZED", 401),
        # Chromium's own favicon load: a console line and no network event
        Problem(CONSOLE_ERROR, "http://h/favicon.ico", "Failed to load resource: the server "
                "responded with a status of 404 (NOT FOUND)"),
    ]
    problems.expect_status(401, "/api/v1/me/")
    problems.expect_status(404, "/media/*")
    assert [p.url for p in problems.unexpected()] == ["http://h/api/v1/me",
                                                      "http://h/favicon.ico"]
    problems.expect_status(401, "/api/v1/me")
    problems.expect_status(404, "/favicon.ico")
    assert problems.unexpected() == []


# --- the end-of-test check, in a pytest run of its own -------------------------------------------

INNER_TESTS = '''
import os

SITE = os.environ["HARNESS_SITE"]


def test_page_with_a_console_error(page_factory):
    page_factory(SITE).goto("/broken")


def test_page_with_a_missing_image(page_factory):
    page_factory(SITE).goto("/missing-image")


def test_page_with_declared_errors(page_factory):
    page = page_factory(SITE)
    page.expect_console_error("boom from the page")
    page.expect_console_error("kaput")
    page.goto("/broken")


def test_failing_test_shows_what_the_browser_saw(page_factory):
    page_factory(SITE).goto("/broken")
    assert False, "failed by itself"
'''


def test_a_page_problem_fails_the_test_that_had_it(site, tmp_path):
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:pytest_nameko",
         "-p", "tests.browser.conftest", "test_inner.py"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "HARNESS_SITE": site},
        capture_output=True, text=True, timeout=240, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "3 failed, 1 passed" in out, out
    assert "FAILED test_inner.py::test_page_with_a_console_error" in out, out
    assert "console error: boom from the page" in out
    assert "uncaught exception: Error: kaput" in out
    assert "FAILED test_inner.py::test_page_with_a_missing_image" in out
    assert f"HTTP status: GET answered 404 NOT FOUND ({site}/missing.png)" in out
    assert "what the browser saw" in out and "failed by itself" in out
