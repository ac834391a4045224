"""Fixtures for browser tests: Debian's Chromium, headless, driven by Playwright.

    pytestmark = pytest.mark.browser

    def test_login_page(page_factory, screenshot):
        page = page_factory(base_url)                  # its own context; French, 1280 x 800
        page.expect_status(401, "/api/v1/me")          # fine here: nobody is logged in yet
        page.goto("/connexion")
        page.get_by_role("button", name="Se connecter").click()
        screenshot(page, "login")   # test-output/screenshots/login-desktop.png, login-phone.png

Every page made by `page_factory` records console errors, uncaught exceptions, failed requests
and responses with a status of 400 or more (`recorder.py`); when the test is over, any of them
that the test did not declare with `page.expect_status(STATUS, PATH)`,
`page.expect_failed_request(PATH)` or `page.expect_console_error(TEXT)` fails it, listed.
`page.problems` is the recorder itself.

The browser is the one ./scripts/test installs (Debian's `chromium` package; NEWSREEL_CHROMIUM
names another). A test never skips for want of it: it fails and says to run ./scripts/test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.browser.recorder import PageProblems

REPO_ROOT = Path(__file__).resolve().parents[2]
# Outside var/: ./scripts/test deletes its state directory there, and the screenshots are for
# a person to look at after the run.
SCREENSHOT_DIR = REPO_ROOT / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
# Dates and times on the pages render the same on every machine.
TIMEZONE = "Europe/Paris"
HOW_TO = ("Run ./scripts/test, which installs Debian's chromium package before running pytest "
          "(or set NEWSREEL_CHROMIUM to a Chromium binary).")

_PAGE_PROBLEMS = pytest.StashKey[list[PageProblems]]()
_REPORT_OF_FAILED = pytest.StashKey[str]()


def chromium_path() -> str:
    return (os.environ.get("NEWSREEL_CHROMIUM") or shutil.which("chromium")
            or "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Chromium, headless, for the whole session (each page gets a context of its own)."""
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"The browser tests need Chromium, and there is none at {path}.\n{HOW_TO}",
                    pytrace=False)
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=path, headless=True)
        except PlaywrightError as exc:
            pytest.fail(f"Chromium at {path} did not start: {exc.message}\n{HOW_TO}",
                        pytrace=False)
        yield launched
        launched.close()


@pytest.fixture
def page_factory(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """`page_factory(base_url, *, width=1280, height=800, locale="fr-FR")`: a new page in a new
    browser context (no cookies shared with other pages), whose problems are checked after the
    test. Relative URLs (`page.goto("/")`) are resolved against `base_url`."""
    recorders = request.node.stash.setdefault(_PAGE_PROBLEMS, [])
    contexts: list[BrowserContext] = []

    def factory(base_url: str, *, width: int = 1280, height: int = 800,
                locale: str = "fr-FR") -> Page:
        context = browser.new_context(base_url=base_url, viewport={"width": width,
                                      "height": height}, locale=locale, timezone_id=TIMEZONE)
        contexts.append(context)
        problems = PageProblems()
        problems.watch(context)
        recorders.append(problems)
        page = context.new_page()
        page.problems = problems
        page.expect_status = problems.expect_status
        page.expect_failed_request = problems.expect_failed_request
        page.expect_console_error = problems.expect_console_error
        return page

    yield factory
    for context in contexts:
        with contextlib.suppress(PlaywrightError):
            context.close()


def _png_name(name: str, form: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"screenshot name {name!r}: letters, digits, '.', '_' and '-' only")
    return SCREENSHOT_DIR / f"{name}-{form}.png"


# The page's DOM as it is now, as HTML. The values typed into fields are properties, which HTML
# leaves out: the copy gets them as attributes. <noscript> goes, because the copy is shown with
# JavaScript off.
_SNAPSHOT = """() => {
  const copy = document.documentElement.cloneNode(true);
  const live = document.querySelectorAll("input, textarea, select");
  const fields = copy.querySelectorAll("input, textarea, select");
  live.forEach((field, i) => {
    const twin = fields[i];
    if (field.type === "checkbox" || field.type === "radio") {
      twin.toggleAttribute("checked", field.checked);
    } else if (field.tagName === "SELECT") {
      [...field.options].forEach((o, j) => twin.options[j].toggleAttribute("selected", o.selected));
    } else if (field.tagName === "TEXTAREA") {
      twin.textContent = field.value;
    } else if (field.type !== "file") {
      twin.setAttribute("value", field.value);
    }
  });
  copy.querySelectorAll("noscript, script").forEach((node) => node.remove());
  return (document.doctype ? `<!DOCTYPE ${document.doctype.name}>` : "") + copy.outerHTML;
}"""
_SHOT = {"full_page": True, "animations": "disabled", "caret": "hide"}


def _shoot_copy(browser: Browser, page: Page, path: Path, options: dict) -> None:
    """Shoots a still copy of `page` in a new context made with `options`: its current DOM,
    served at its URL (so its style sheets and images load, with its cookies) to a browser with
    JavaScript off (so nothing runs again: no request is repeated, no state is reset, a page
    that answered a POST is not asked for with a GET)."""
    html = page.evaluate(_SNAPSHOT)
    locale, timezone = page.evaluate(
        "[navigator.language, Intl.DateTimeFormat().resolvedOptions().timeZone]")
    context = browser.new_context(**options, locale=locale, timezone_id=timezone,
                                  java_script_enabled=False,
                                  storage_state=page.context.storage_state())
    # The copy's style sheets and images are the page's too: a phone's 2x image that is missing
    # is the page's problem.
    problems: PageProblems | None = getattr(page, "problems", None)
    if problems is not None:
        problems.watch(context)
    try:
        copy = context.new_page()
        url = page.url.split("#", 1)[0]
        if url.startswith(("http:", "https:")):
            copy.route(lambda requested: requested == url,
                       lambda route: route.fulfill(body=html,
                                                   content_type="text/html; charset=utf-8"),
                       times=1)
            copy.goto(url, wait_until="networkidle")
        else:   # about:blank after set_content(): nothing to load the style sheets from
            copy.set_content(html, wait_until="networkidle")
        copy.screenshot(path=path, **_SHOT)
        if problems is not None:
            problems.settle()
    finally:
        if problems is not None:
            problems.unwatch(context)
        context.close()


@pytest.fixture
def screenshot(browser: Browser) -> Callable[[Page, str], tuple[Path, Path]]:
    """`screenshot(page, name)` writes two full-page PNGs of the page as it is now and returns
    their paths: `test-output/screenshots/<name>-desktop.png` (1280 x 800; the page itself when
    it is that size) and `<name>-phone.png` (390 x 844 at device scale 2, so 780 pixels wide;
    mobile viewport, touch). Where the page itself is not shot, a still copy of its DOM is (see
    `_shoot_copy`): what scripts would do at that width (a resize handler) is not in it, what
    CSS does is."""

    def take(page: Page, name: str) -> tuple[Path, Path]:
        desktop, phone = _png_name(name, "desktop"), _png_name(name, "phone")
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        if page.viewport_size == DESKTOP:
            page.screenshot(path=desktop, **_SHOT)
        else:
            _shoot_copy(browser, page, desktop, {"viewport": DESKTOP})
        _shoot_copy(browser, page, phone, PHONE)
        return desktop, phone

    return take


# --- the pages' problems fail the test ----------------------------------------------------------

def _unexpected(item: pytest.Item) -> str:
    reports = []
    for problems in item.stash.get(_PAGE_PROBLEMS, []):
        problems.settle()
        if problems.unexpected():
            reports.append(problems.report())
    return "\n".join(reports)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        result = yield
    except (Exception, pytest.fail.Exception):
        # The test failed by itself; what its pages did wrong goes into its report as a section.
        with contextlib.suppress(Exception):
            if found := _unexpected(item):
                item.stash[_REPORT_OF_FAILED] = found
        raise
    if found := _unexpected(item):
        pytest.fail(found, pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and _REPORT_OF_FAILED in item.stash:
        report.sections.append(("what the browser saw", item.stash[_REPORT_OF_FAILED]))
    return report
