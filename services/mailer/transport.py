"""How a rendered mail leaves the mailer: an SMTP relay (``SMTP_URL``) or, without one, ``.eml``
files in a local outbox directory (development).

Failures are classified for the caller, which retries with back-off or gives up:

    MailDeliveryError
    ├── TransientMailError          connection refused/reset, timeouts, 4xx replies, disconnections
    │   └── MailConfigurationError  our side is wrong (bad credentials, STARTTLS/AUTH not offered,
    │                               untrusted certificate): retrying will not help until an operator
    │                               fixes SMTP_URL, but the mail must not be dropped either
    └── PermanentMailError          5xx replies about the message or the recipient (550 …)

Transient ones are `services.shared.failures.Transient`: the handler waits them out, however
long, and never parks the message in a dead-letter queue.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from services.mailer.rendering import RenderedMail
from services.shared.failures import Transient

log = logging.getLogger(__name__)

Security = Literal["plain", "starttls", "tls"]

DEFAULT_PORTS: dict[str, int] = {"plain": 25, "starttls": 587, "tls": 465}
DEFAULT_TIMEOUT = 30.0
_SCHEMES: dict[str, Security] = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# --------------------------------------------------------------------------- errors


class MailDeliveryError(Exception):
    """A mail could not be handed over. ``smtp_code``: the server's reply code, if there was one."""

    def __init__(self, message: str, *, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code


class TransientMailError(MailDeliveryError, Transient):
    """Worth retrying later, with back-off, for as long as it lasts."""


class MailConfigurationError(TransientMailError):
    """Our SMTP settings or the relay's are wrong. Transient so that mails wait (a capped
    back-off, until an operator fixes it) rather than being dropped; worth an alert, not a
    retry storm."""


class PermanentMailError(MailDeliveryError):
    """The relay refused this message for good (5xx): do not retry."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    security: Security = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    # The TLS context for STARTTLS and implicit TLS; None means ssl.create_default_context()
    # (system CAs, hostname checked). Tests and private CAs pass their own.
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.security not in DEFAULT_PORTS:
            raise ValueError(f"SMTP security must be one of {sorted(DEFAULT_PORTS)}")
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP username and password go together")


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read ``SMTP_URL``.

    ``smtp://host[:25]``                      plain (optionally ``?starttls=1``)
    ``smtp+starttls://user:pass@host[:587]``  STARTTLS
    ``smtps://user:pass@host[:465]``          implicit TLS
    Query parameters: ``starttls`` (smtp:// only), ``timeout`` (seconds). User and password are
    percent-decoded. Raises ``ValueError`` naming the problem (never echoing the password).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("SMTP_URL is empty")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:  # bad port, bad IPv6 literal
        raise ValueError(f"SMTP_URL is malformed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        expected = ", ".join(f"{s}://" for s in _SCHEMES)
        raise ValueError(
            f"SMTP_URL: unknown scheme {scheme + '://' if scheme else '(none)'}; "
            f"expected {expected}"
        )
    security = _SCHEMES[scheme]
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"SMTP_URL: port {port} is out of range")
    if not parts.hostname:
        raise ValueError("SMTP_URL has no host (expected e.g. smtp://127.0.0.1:2525)")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("SMTP_URL must not have a path or a fragment")

    timeout = DEFAULT_TIMEOUT
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError("SMTP_URL has a malformed query string") from None
    for key, value in query:
        if key == "starttls":
            if scheme != "smtp":
                raise ValueError("SMTP_URL: the starttls parameter only applies to smtp://")
            flag = value.lower()
            if flag not in _TRUE | _FALSE:
                raise ValueError("SMTP_URL: starttls must be 1/0 (or true/false)")
            security = "starttls" if flag in _TRUE else "plain"
        elif key == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                raise ValueError("SMTP_URL: timeout must be a number of seconds") from None
            if not 0 < timeout <= 600:
                raise ValueError("SMTP_URL: timeout must be between 0 and 600 seconds")
        else:
            raise ValueError(f"SMTP_URL: unknown parameter {key!r} (known: starttls, timeout)")

    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if username is not None and password is None:
        raise ValueError("SMTP_URL has a user name but no password (smtp://user:password@host)")
    if username == "":
        raise ValueError("SMTP_URL has a password but no user name")
    return SmtpSettings(
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[security],
        security=security,
        username=username,
        password=password,
        timeout=timeout,
    )


# --------------------------------------------------------------------------- messages

_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Auto-Submitted",
    )
)
_MESSAGE_ID_RE = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")


def build_message(
    rendered: RenderedMail,
    to_addr: str,
    to_name: str | None,
    from_addr: str | Address,
    message_id: str,
    extra_headers: Mapping[str, str] | None = None,
    *,
    date: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative (text, then HTML) UTF-8 message, ready for either transport.

    ``from_addr`` is "Name <addr>" or an ``Address``. ``message_id`` is kept as given ("<x@y>";
    the angle brackets are added when missing) so that a re-send has the same id. ``date``
    defaults to now (UTC). Raises ``ValueError`` for a bad address, id or header.
    """
    if not isinstance(to_addr, str) or "@" not in to_addr:
        raise ValueError(f"invalid recipient address {to_addr!r}")
    msg = EmailMessage(policy=policy.default)  # smtplib and the outbox write it with CRLF
    try:
        msg["From"] = from_addr if isinstance(from_addr, Address) else _parse_address(from_addr)
        msg["To"] = Address(display_name=_one_line(to_name or ""), addr_spec=to_addr.strip())
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError(f"invalid address: {exc}") from None
    msg["Subject"] = _one_line(rendered.subject)
    msg["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    msg["Message-ID"] = normalise_message_id(message_id)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange/Outlook
    for name, value in (extra_headers or {}).items():
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by build_message, not by extra_headers")
        if not re.fullmatch(r"[!-9;-~]+", name):
            raise ValueError(f"invalid header name {name!r}")
        if name in msg:
            del msg[name]
        msg[name] = _one_line(value)
    # Quoted-printable keeps every line 7-bit and short, whatever the relay supports.
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def normalise_message_id(message_id: str) -> str:
    mid = (message_id or "").strip()
    if not mid.startswith("<"):
        mid = f"<{mid}>"
    if not _MESSAGE_ID_RE.fullmatch(mid):
        raise ValueError(f"invalid Message-ID {message_id!r} (expected <left@right>)")
    return mid


def message_id_for(key: str, from_addr: str | Address) -> str:
    """A stable Message-ID for one mail, e.g. from the event id that caused it: ``<key@domain>``
    with the domain of the From address. The same key gives the same id."""
    domain = (from_addr if isinstance(from_addr, Address) else _parse_address(from_addr)).domain
    left = re.sub(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]", "-", key.strip())
    left = re.sub(r"\.{2,}", ".", left).strip(".") or "mail"
    return normalise_message_id(f"<{left}@{domain or 'localhost'}>")


def _parse_address(text: str) -> Address:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = text
    addresses = msg["From"].addresses
    if len(addresses) != 1 or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
        raise ValueError(f"expected one address like 'Name <user@example.org>', got {text!r}")
    return addresses[0]


def _one_line(value: str) -> str:
    """Header values never carry line breaks (header injection)."""
    return " ".join(str(value).split())


# --------------------------------------------------------------------------- transports


class MailTransport(Protocol):
    def send(self, msg: EmailMessage) -> None: ...


class SmtpTransport:
    """One connection per message: connect, (STARTTLS), (AUTH), send, QUIT."""

    def __init__(self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None):
        self.settings = settings
        self._ssl_context = ssl_context or settings.ssl_context

    def __repr__(self) -> str:
        s = self.settings
        return f"SmtpTransport({s.security}://{s.host}:{s.port})"

    def _tls_context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def send(self, msg: EmailMessage) -> None:
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=self._tls_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=self._tls_context())  # EHLO before and after, by smtplib
            if s.username is not None and s.password is not None:
                smtp.login(s.username, s.password)
            refused = smtp.send_message(msg)
        except Exception as exc:
            raise _classify(exc, s) from exc
        finally:
            if smtp is not None:
                _close_quietly(smtp)
        if refused:  # some recipients of several were refused; one recipient per message here
            raise _refused(refused)
        log.debug("mail %s handed to %s:%s", msg.get("Message-ID"), s.host, s.port)


def _close_quietly(smtp: smtplib.SMTP) -> None:
    # After DATA was accepted the mail is sent: a failing QUIT must not turn into a retry.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> MailDeliveryError:
    codes = [code for code, _ in recipients.values()]
    detail = "; ".join(f"{addr}: {code} {_text(resp)}" for addr, (code, resp) in recipients.items())
    if codes and all(400 <= c < 500 for c in codes):
        return TransientMailError(f"recipient deferred: {detail}", smtp_code=codes[0])
    code = next((c for c in codes if c >= 500), codes[0] if codes else None)
    return PermanentMailError(f"recipient refused: {detail}", smtp_code=code)


def _classify(exc: BaseException, s: SmtpSettings) -> MailDeliveryError:
    where = f"{s.host}:{s.port}"
    if isinstance(exc, MailDeliveryError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused(exc.recipients)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailConfigurationError(
            f"{where}: authentication failed: {exc.smtp_code} {_text(exc.smtp_error)}",
            smtp_code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, _text(exc.smtp_error)
        if code == 530:  # 5.7.0 authentication required: our settings lack credentials
            return MailConfigurationError(f"{where}: {code} {text}", smtp_code=code)
        if 400 <= code < 500:
            return TransientMailError(f"{where}: {code} {text}", smtp_code=code)
        if code >= 500:
            return PermanentMailError(f"{where}: {code} {text}", smtp_code=code)
        return TransientMailError(f"{where}: unexpected reply {code} {text}", smtp_code=code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientMailError(f"{where}: server disconnected ({exc})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailConfigurationError(f"{where}: {exc} (check the scheme of SMTP_URL)")
    if isinstance(exc, smtplib.SMTPException):  # e.g. "No suitable authentication method"
        return MailConfigurationError(f"{where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc
        return MailConfigurationError(f"{where}: TLS certificate not trusted ({reason})")
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return TransientMailError(f"{where}: TLS connection closed ({exc})")
    if isinstance(exc, ssl.SSLError):  # e.g. TLS spoken to a plain port: check the URL's scheme
        return MailConfigurationError(f"{where}: TLS failed: {exc}")
    if isinstance(exc, TimeoutError):
        return TransientMailError(f"{where}: timed out after {s.timeout:g}s")
    if isinstance(exc, OSError):  # refused, reset, unreachable, DNS, TLS handshake
        return TransientMailError(f"{where}: {exc.__class__.__name__}: {exc}")
    if isinstance(exc, UnicodeError):  # e.g. a non-ASCII address and no SMTPUTF8 on the relay
        return PermanentMailError(f"{where}: cannot encode the message: {exc}")
    return TransientMailError(f"{where}: {exc.__class__.__name__}: {exc}")


def _text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    path: Path
    subject: str
    to: str
    date: datetime | None
    message_id: str | None


class OutboxTransport:
    """Development transport: each message becomes ``<UTC date>_<message id>.eml`` in a directory.

    Writes are atomic (temporary file in the same directory, fsync, rename), and a message with a
    Message-ID already in the outbox replaces that file instead of adding a second one.
    """

    SUFFIX = ".eml"
    _TMP_PREFIX = ".tmp-"

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"OutboxTransport({str(self.directory)!r})"

    def send(self, msg: EmailMessage) -> None:
        message_id = msg.get("Message-ID")
        if not message_id:
            raise ValueError("the message has no Message-ID")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self._path_for(str(message_id), _message_date(msg) or datetime.now(UTC))
            data = msg.as_bytes(policy=policy.SMTP)
            _atomic_write(target, data, prefix=self._TMP_PREFIX)
        except OSError as exc:  # disk full, permissions: may well pass later
            raise TransientMailError(f"outbox {self.directory}: {exc}") from exc
        log.info("mail %s written to %s", message_id, target)

    def list_messages(self, limit: int | None = None) -> list[OutboxEntry]:
        """The outbox, newest first (by the Date header, then by file name)."""
        if not self.directory.is_dir():
            return []
        parser = BytesParser(policy=policy.default)
        entries: list[OutboxEntry] = []
        for path in self.directory.glob(f"*{self.SUFFIX}"):
            if path.name.startswith(self._TMP_PREFIX) or not path.is_file():
                continue
            try:
                with path.open("rb") as fp:
                    headers = parser.parse(fp, headersonly=True)
            except OSError:  # removed while listing
                continue
            entries.append(
                OutboxEntry(
                    path=path,
                    subject=str(headers.get("Subject", "")),
                    to=str(headers.get("To", "")),
                    date=_message_date(headers),
                    message_id=headers.get("Message-ID"),
                )
            )
        epoch = datetime.min.replace(tzinfo=UTC)
        entries.sort(key=lambda e: (e.date or epoch, e.path.name), reverse=True)
        return entries[:limit] if limit is not None else entries

    def _path_for(self, message_id: str, date: datetime) -> Path:
        tail = f"_{safe_message_id(message_id)}{self.SUFFIX}"
        # A re-send is built again with a new Date: keep the first file's name so it is replaced.
        existing = sorted(self.directory.glob(f"*{tail}"))
        if existing:
            return existing[0]
        return self.directory / f"{date.astimezone(UTC):%Y%m%dT%H%M%SZ}{tail}"


def safe_message_id(message_id: str) -> str:
    """A file-name-safe, collision-free form of a Message-ID: readable part + short hash."""
    raw = message_id.strip().strip("<>")
    readable = re.sub(r"[^A-Za-z0-9.@-]+", "_", raw).strip("._")[:80] or "message"
    digest = hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}"


def _message_date(msg: EmailMessage) -> datetime | None:
    value = msg.get("Date")
    if not value:
        return None
    try:
        date = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def _atomic_write(target: Path, data: bytes, *, prefix: str) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable (POSIX); not possible everywhere, and then not needed.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def transport_from_env(smtp_url: str | None, outbox_dir: str | os.PathLike[str]) -> MailTransport:
    """``SmtpTransport`` when ``smtp_url`` is set (raises ``ValueError`` if it is malformed),
    otherwise ``OutboxTransport(outbox_dir)``."""
    if smtp_url and smtp_url.strip():
        return SmtpTransport(parse_smtp_url(smtp_url))
    return OutboxTransport(outbox_dir)
