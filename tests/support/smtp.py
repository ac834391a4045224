"""A real SMTP server (aiosmtpd) that keeps every mail it receives, for tests to read.

    with SmtpCapture() as smtp:                 # or the `smtp` fixture
        ... SMTP_URL=smtp.url ...
        [mail] = smtp.wait_for(sent_to("ana@example.com"))
        code = find_code(mail)

`fail_temporarily(True)` answers 451 to every RCPT (the sender should retry later),
`reject(True)` answers 550 (the sender should give up). Every RCPT is also recorded in
`.attempts`, refused ones included, so a test can see that a sender retried.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller

CODE_RE = re.compile(r"\b(\d{6})\b")


class CapturedMessage(EmailMessage):
    """An `EmailMessage` with the SMTP envelope it came with."""

    envelope_from: str = ""
    envelope_to: tuple[str, ...] = ()
    received_at: float = 0.0


@dataclass(frozen=True)
class RcptAttempt:
    mail_from: str
    rcpt_to: str
    status: str          # the answer given, e.g. "250 OK", "451 4.3.0 ..."

    @property
    def code(self) -> int:
        return int(self.status[:3])


class _Handler:
    def __init__(self, capture: SmtpCapture):
        self.capture = capture

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.capture._rcpt(envelope.mail_from, address, envelope)

    async def handle_DATA(self, server, session, envelope):
        await self.capture._held()
        self.capture._deliver(envelope)
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """Binds port 0 and learns the port the kernel chose (no race on a 'free' port)."""

    def _trigger_server(self):
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


class SmtpCapture:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self._messages: list[CapturedMessage] = []
        self._attempts: list[RcptAttempt] = []
        self._cond = threading.Condition()
        self._temporary_failure = False
        self._reject = False
        self._hold = threading.Event()    # set: DATA waits (a slow server) until cleared
        self.waiting = threading.Event()  # set while a message is held at DATA
        self._parser = BytesParser(_class=CapturedMessage, policy=policy.default)
        self._controller = _Controller(_Handler(self), hostname=host, port=port,
                                       enable_SMTPUTF8=True, ready_timeout=10)
        self._started = False

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> SmtpCapture:
        if not self._started:
            self._controller.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._controller.stop()
            self._started = False

    def __enter__(self) -> SmtpCapture:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"<SmtpCapture {self.url} {len(self._messages)} messages>"

    # --- switches -------------------------------------------------------------------------
    def fail_temporarily(self, on: bool = True) -> None:
        """While on, every RCPT gets `451` (try again later)."""
        with self._cond:
            self._temporary_failure = on

    def reject(self, on: bool = True) -> None:
        """While on, every RCPT gets `550` (permanent failure)."""
        with self._cond:
            self._reject = on

    # --- what was received ----------------------------------------------------------------
    @property
    def messages(self) -> list[CapturedMessage]:
        with self._cond:
            return list(self._messages)

    @property
    def attempts(self) -> list[RcptAttempt]:
        with self._cond:
            return list(self._attempts)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()
            self._attempts.clear()

    def wait_for(self, predicate: Callable[[CapturedMessage], bool] | None = None,
                 count: int = 1, timeout: float = 30.0) -> list[CapturedMessage]:
        """Waits until at least `count` received messages match `predicate` (all, if None) and
        returns every matching one, oldest first."""
        return self._wait(lambda: [m for m in self._messages if predicate is None or predicate(m)],
                          count, timeout, "messages")

    def wait_for_attempts(self, predicate: Callable[[RcptAttempt], bool] | None = None,
                          count: int = 1, timeout: float = 30.0) -> list[RcptAttempt]:
        """Same, over RCPT attempts (refused ones included)."""
        return self._wait(lambda: [a for a in self._attempts if predicate is None or predicate(a)],
                          count, timeout, "RCPT attempts")

    def hold(self, on: bool = True) -> None:
        """While on, a message's DATA is not answered: the sender waits at the server (a
        slow SMTP server), until `hold(False)`; `waiting` is set meanwhile."""
        if on:
            self._hold.set()
        else:
            self._hold.clear()

    def assert_nothing_sent(self, predicate: Callable[[CapturedMessage], bool] | None = None,
                            within: float = 2.0) -> None:
        """Checks that no matching mail arrives for `within` seconds (a negative check
        cannot be anything but a bounded wait)."""
        try:
            found = self.wait_for(predicate, count=1, timeout=within)
        except AssertionError:
            return
        raise AssertionError(f"unexpected mail: {describe(found[0])}")

    def _wait(self, select: Callable[[], list], count: int, timeout: float, what: str) -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = select()
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    received = "\n".join(describe(m) for m in self._messages) or "(none)"
                    raise AssertionError(
                        f"{self.url}: {len(found)} matching {what} after {timeout} s, wanted "
                        f"{count}. Mail received:\n{received}\nRCPT attempts: "
                        f"{[(a.rcpt_to, a.status) for a in self._attempts]}")
                self._cond.wait(remaining)

    # --- called from the SMTP server's thread ---------------------------------------------
    async def _held(self) -> None:
        while self._hold.is_set():
            self.waiting.set()
            await asyncio.sleep(0.05)
        self.waiting.clear()

    def _rcpt(self, mail_from: str, address: str, envelope) -> str:
        with self._cond:
            if self._reject:
                status = "550 5.1.1 Mailbox unavailable (test rejection)"
            elif self._temporary_failure:
                status = "451 4.3.0 Temporary failure, try again later (test)"
            else:
                status = "250 OK"
                envelope.rcpt_tos.append(address)
            self._attempts.append(RcptAttempt(mail_from or "", address, status))
            self._cond.notify_all()
        return status

    def _deliver(self, envelope) -> None:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message = self._parser.parsebytes(raw)
        message.envelope_from = envelope.mail_from or ""
        message.envelope_to = tuple(envelope.rcpt_tos)
        message.received_at = time.time()
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()


# --- helpers over messages ---------------------------------------------------------------------

def sent_to(address: str) -> Callable[[CapturedMessage], bool]:
    """Predicate: the message was delivered to `address` (envelope, case-insensitive)."""
    wanted = address.lower()
    return lambda m: any(rcpt.lower() == wanted for rcpt in m.envelope_to)


def text_of(msg: EmailMessage) -> str:
    """The text/plain part, decoded to str."""
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        raise AssertionError(f"no text/plain part in {describe(msg)}")
    return part.get_content()


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    if part is None:
        raise AssertionError(f"no text/html part in {describe(msg)}")
    return part.get_content()


def find_code(msg: EmailMessage) -> str:
    """The one 6-digit code in the text part (it may appear several times, but only one code)."""
    text = text_of(msg)
    codes = set(CODE_RE.findall(text))
    if len(codes) != 1:
        raise AssertionError(
            f"expected exactly one 6-digit code, found {sorted(codes) or 'none'} in:\n{text}")
    return codes.pop()


def describe(msg: EmailMessage) -> str:
    envelope_to = getattr(msg, "envelope_to", None) or msg.get("To")
    return f"to={envelope_to} subject={msg.get('Subject')!r}"
