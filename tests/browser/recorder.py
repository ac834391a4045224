"""What went wrong in a page, as a person with the browser's console open would have seen it.

A `PageProblems` listens on browser contexts (every page and frame in them) for console errors,
uncaught exceptions, requests that failed and responses with a status of 400 or more. A test
declares the ones it expects (a page that asks `/api/v1/me` before anyone logged in gets 401);
conftest.py fails the test on any other, listed.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Request, Response, WebError
from playwright.sync_api import Error as PlaywrightError

CONSOLE_ERROR = "console error"
UNCAUGHT = "uncaught exception"
REQUEST_FAILED = "request failed"
HTTP_STATUS = "HTTP status"

# Chromium also logs every failed load in the console ("Failed to load resource: the server
# responded with a status of 404 (NOT FOUND)", "... net::ERR_ABORTED"). The network events say
# the same with the method, so such a line is dropped when one of them names its URL; it is kept
# when none does (Chromium's own favicon request reaches the console but not the network events).
_LOAD_FAILED = "Failed to load resource:"
_LOAD_FAILED_STATUS = re.compile(r"status of (\d{3})")


@dataclass(frozen=True)
class Problem:
    kind: str                 # one of the constants above
    url: str                  # the resource, or the page that logged or threw
    detail: str
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail} ({self.url})"


def _path(url: str) -> str:
    return urlsplit(url).path


def _path_matches(pattern: str, url: str) -> bool:
    path = _path(url)
    return path.startswith(pattern[:-1]) if pattern.endswith("*") else path == pattern


class PageProblems:
    """Records the problems of the contexts it watches. The three `expect_*` methods declare
    what is fine (it may also not happen); `unexpected()` is everything else."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._statuses: list[tuple[int, str]] = []
        self._failed_requests: list[str] = []
        self._console_errors: list[str] = []
        self._contexts: list[BrowserContext] = []
        self._handlers = {
            "console": self._on_console,
            "weberror": self._on_web_error,
            "requestfailed": self._on_request_failed,
            "response": self._on_response,
        }

    # --- what a test declares --------------------------------------------------------------
    def expect_status(self, status: int, path: str) -> None:
        """A response `status` for a URL whose path is `path` (query ignored; a trailing `*`
        matches a prefix) is fine, and so is Chromium's console line about it."""
        self._statuses.append((status, path))

    def expect_failed_request(self, path: str) -> None:
        """A request to `path` that fails without a response is fine (a download the browser
        hands over, a request cut short by leaving the page)."""
        self._failed_requests.append(path)

    def expect_console_error(self, text: str) -> None:
        """A console error or uncaught exception whose message contains `text` is fine."""
        self._console_errors.append(text)

    # --- what happened ---------------------------------------------------------------------
    def watch(self, context: BrowserContext) -> None:
        for event, handler in self._handlers.items():
            context.on(event, handler)
        self._contexts.append(context)

    def unwatch(self, context: BrowserContext) -> None:
        for event, handler in self._handlers.items():
            context.remove_listener(event, handler)
        self._contexts.remove(context)

    def settle(self) -> None:
        """Waits until the events of what the pages did so far have arrived: Playwright delivers
        them only while the test waits on the browser, and a round trip to each page's renderer
        comes back after the console lines and exceptions it sent before."""
        for context in self._contexts:
            for page in context.pages:
                # A page closed meanwhile has nothing left on the way.
                with contextlib.suppress(PlaywrightError):
                    page.evaluate("0")

    def unexpected(self) -> list[Problem]:
        network_urls = {p.url for p in self.problems if p.kind in (HTTP_STATUS, REQUEST_FAILED)}
        return [p for p in self.problems
                if not self._is_expected(p)
                and not (p.kind == CONSOLE_ERROR and p.detail.startswith(_LOAD_FAILED)
                         and p.url in network_urls)]

    def report(self) -> str:
        found = self.unexpected()
        if not found:
            return "no unexpected problems"
        return (f"{len(found)} unexpected problem(s) in the browser (declare an expected one with "
                "page.expect_status(STATUS, PATH), page.expect_failed_request(PATH) or "
                "page.expect_console_error(TEXT)):\n  - " + "\n  - ".join(map(str, found)))

    # --- internals -------------------------------------------------------------------------
    def _is_expected(self, problem: Problem) -> bool:
        if problem.kind == HTTP_STATUS:
            return any(status == problem.status and _path_matches(path, problem.url)
                       for status, path in self._statuses)
        if problem.kind == REQUEST_FAILED:
            return any(_path_matches(path, problem.url) for path in self._failed_requests)
        if problem.kind == CONSOLE_ERROR and problem.detail.startswith(_LOAD_FAILED):
            status = _LOAD_FAILED_STATUS.search(problem.detail)
            if status:
                return any(int(status.group(1)) == s and _path_matches(path, problem.url)
                           for s, path in self._statuses)
            return any(_path_matches(path, problem.url) for path in self._failed_requests)
        return any(text in problem.detail for text in self._console_errors)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            url = message.location.get("url") or (message.page.url if message.page else "")
            self.problems.append(Problem(CONSOLE_ERROR, url, message.text))

    def _on_web_error(self, web_error: WebError) -> None:
        error = web_error.error
        # The message and the innermost frames find the culprit; a whole stack would bury the list.
        detail = "\n      ".join((error.stack or f"{error.name}: {error.message}").splitlines()[:4])
        url = web_error.page.url if web_error.page else ""
        self.problems.append(Problem(UNCAUGHT, url, detail))

    def _on_request_failed(self, request: Request) -> None:
        self.problems.append(Problem(REQUEST_FAILED, request.url,
                                     f"{request.method} {request.failure}"))

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(Problem(
                HTTP_STATUS, response.url,
                f"{response.request.method} answered {response.status} {response.status_text}",
                status=response.status))
