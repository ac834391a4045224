"""Sending for real: an aiosmtpd server on 127.0.0.1 (plain, AUTH, STARTTLS, implicit TLS),
failures classified the way the service needs them, and the development outbox."""

import contextlib
import ipaddress
import os
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.mailer import transport as transport_module
from services.mailer.rendering import RenderedMail
from services.mailer.transport import (
    MailConfigurationError,
    MailDeliveryError,
    OutboxTransport,
    PermanentMailError,
    SmtpSettings,
    SmtpTransport,
    TransientMailError,
    build_message,
    message_id_for,
    parse_smtp_url,
    transport_from_env,
)

# aiosmtpd warns when AUTH is allowed without TLS; the plain-AUTH tests do that on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

FROM = "Newsreel <no-reply@newsreel.localhost>"
TO = "jeanne.dupre@example.org"
TO_NAME = "Jeanne Dupré-Ünal"
RENDERED = RenderedMail(
    subject="Votre code de vérification Newsreel",
    text="Bonjour Jeanne Dupré-Ünal,\n\n045123\n\nCe code expirera dans 30 minutes.\n",
    html='<!DOCTYPE html><html lang="fr"><body><p>045123</p><p>Été</p></body></html>\n',
)


def message(message_id="<evt-1.verification_code@newsreel.localhost>", **kwargs):
    return build_message(RENDERED, TO, TO_NAME, FROM, message_id, **kwargs)


# --------------------------------------------------------------------------- SMTP test server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """Keeps what it receives. smtplib returns only once the DATA reply arrived, and aiosmtpd
    replies after handle_DATA returned, so the lists are filled when send() returns."""

    def __init__(self):
        self.envelopes, self.tls, self.authenticated = [], [], []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        self.authenticated.append(bool(session.authenticated))
        return "250 2.0.0 Queued"


class Refusing(Collector):
    def __init__(self, stage, reply):
        super().__init__()
        self.stage, self.reply = stage, reply

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.stage == "mail":
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stage == "rcpt":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stage == "data":
            return self.reply
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def smtp_server(handler, **kwargs):
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def settings_for(controller, security="plain", **kwargs) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=controller.port, security=security, timeout=5, **kwargs
    )


def received(collector, index=0):
    envelope = collector.envelopes[index]
    return envelope, BytesParser(policy=policy.default).parsebytes(envelope.original_content)


def content(part) -> str:
    """A text part's content; on the wire (and in .eml files) lines end with CRLF."""
    return part.get_content().replace("\r\n", "\n")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1/localhost, and the paths to it and its key."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def server_tls(certificate):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_tls(certificate):
    """A client context that trusts the test certificate (and checks the host name)."""
    return ssl.create_default_context(cafile=str(certificate[0]))


def password_checker(user=b"mailer", password=b"s3cret:/@pass"):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == (user, password)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535

    return authenticate


# --------------------------------------------------------------------------- SMTP: success


def test_plain_smtp_delivers_a_message_that_parses_back():
    collector = Collector()
    with smtp_server(collector) as controller:
        SmtpTransport(settings_for(controller)).send(message())

    envelope, msg = received(collector)
    assert envelope.mail_from == "no-reply@newsreel.localhost"
    assert envelope.rcpt_tos == [TO]
    assert collector.tls == [False]

    assert msg["From"].addresses[0].display_name == "Newsreel"
    assert msg["To"].addresses[0].display_name == TO_NAME
    assert msg["To"].addresses[0].addr_spec == TO
    assert msg["Subject"] == "Votre code de vérification Newsreel"
    assert msg["Message-ID"] == "<evt-1.verification_code@newsreel.localhost>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime.tzinfo is not None
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert content(text) == RENDERED.text
    assert content(html) == RENDERED.html
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_non_ascii_names_are_encoded_words_on_the_wire():
    collector = Collector()
    with smtp_server(collector) as controller:
        SmtpTransport(settings_for(controller)).send(message())
    raw = collector.envelopes[0].original_content
    raw.decode("ascii")  # 7-bit on the wire: encoded words and quoted-printable
    assert b"=?utf-8?" in raw and TO_NAME.encode() not in raw


def test_smtp_with_auth_logs_in():
    collector = Collector()
    with smtp_server(
        collector,
        authenticator=password_checker(),
        auth_require_tls=False,
        auth_required=True,
    ) as controller:
        settings = settings_for(controller, username="mailer", password="s3cret:/@pass")
        SmtpTransport(settings).send(message())
    assert collector.authenticated == [True]


def test_credentials_from_a_url_reach_the_server_decoded():
    collector = Collector()
    with smtp_server(
        collector, authenticator=password_checker(), auth_require_tls=False, auth_required=True
    ) as controller:
        url = f"smtp://mailer:s3cret%3A%2F%40pass@127.0.0.1:{controller.port}?timeout=5"
        transport_from_env(url, "/nonexistent").send(message())
    assert collector.authenticated == [True]


def test_starttls_upgrades_the_connection(server_tls, client_tls):
    collector = Collector()
    with smtp_server(collector, tls_context=server_tls, require_starttls=True) as controller:
        SmtpTransport(settings_for(controller, "starttls", ssl_context=client_tls)).send(message())
    assert collector.tls == [True]
    assert received(collector)[1]["Message-ID"] == "<evt-1.verification_code@newsreel.localhost>"


def test_starttls_with_auth(server_tls, client_tls):
    collector = Collector()
    with smtp_server(
        collector,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=password_checker(),
        auth_required=True,  # auth_require_tls stays True: AUTH only after STARTTLS
    ) as controller:
        settings = settings_for(
            controller,
            "starttls",
            username="mailer",
            password="s3cret:/@pass",
            ssl_context=client_tls,
        )
        SmtpTransport(settings).send(message())
    assert collector.tls == [True] and collector.authenticated == [True]


def test_implicit_tls(server_tls, client_tls):
    collector = Collector()
    with smtp_server(collector, ssl_context=server_tls) as controller:
        SmtpTransport(settings_for(controller, "tls"), ssl_context=client_tls).send(message())
    assert collector.tls == [True]
    assert received(collector)[1]["To"].addresses[0].display_name == TO_NAME


# --------------------------------------------------------------------------- SMTP: failures


@pytest.mark.parametrize(
    ("stage", "reply", "error", "code"),
    [
        ("rcpt", "550 5.1.1 No such user", PermanentMailError, 550),
        ("rcpt", "450 4.2.1 Mailbox busy", TransientMailError, 450),
        ("data", "451 4.3.0 Try again later", TransientMailError, 451),
        ("data", "554 5.6.0 Message refused", PermanentMailError, 554),
        ("mail", "421 4.7.0 Too many connections", TransientMailError, 421),
        ("mail", "553 5.7.1 Sender not allowed", PermanentMailError, 553),
    ],
)
def test_smtp_replies_are_classified(stage, reply, error, code):
    collector = Refusing(stage, reply)
    with smtp_server(collector) as controller, pytest.raises(MailDeliveryError) as caught:
        SmtpTransport(settings_for(controller)).send(message())
    assert type(caught.value) is error
    assert caught.value.smtp_code == code
    assert collector.envelopes == []


def test_permanent_and_transient_are_both_delivery_errors():
    assert issubclass(PermanentMailError, MailDeliveryError)
    assert issubclass(TransientMailError, MailDeliveryError)
    assert issubclass(MailConfigurationError, TransientMailError)
    assert not issubclass(PermanentMailError, TransientMailError)


def test_closed_port_is_transient():
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=5)
    with pytest.raises(TransientMailError) as caught:
        SmtpTransport(settings).send(message())
    assert not isinstance(caught.value, MailConfigurationError)
    assert "ConnectionRefusedError" in str(caught.value)


def test_a_server_that_never_greets_times_out_as_transient():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts the connection; nobody ever says 220
        settings = SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], timeout=0.5)
        with pytest.raises(TransientMailError, match="timed out"):
            SmtpTransport(settings).send(message())


def test_a_server_that_hangs_up_is_transient():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def greet_and_hang_up():
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"220 flaky.example ESMTP\r\n")
                connection.recv(1024)  # EHLO, then close without answering

        thread = threading.Thread(target=greet_and_hang_up, daemon=True)
        thread.start()
        settings = SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], timeout=5)
        with pytest.raises(TransientMailError) as caught:
            SmtpTransport(settings).send(message())
        thread.join(timeout=5)
    assert not isinstance(caught.value, MailConfigurationError)


def test_wrong_password_is_a_configuration_error():
    collector = Collector()
    with smtp_server(
        collector, authenticator=password_checker(), auth_require_tls=False, auth_required=True
    ) as controller:
        settings = settings_for(controller, username="mailer", password="wrong")
        with pytest.raises(MailConfigurationError) as caught:
            SmtpTransport(settings).send(message())
    assert caught.value.smtp_code == 535
    assert "wrong" not in str(caught.value)
    assert collector.envelopes == []


def test_missing_credentials_is_a_configuration_error():
    collector = Collector()
    with (
        smtp_server(
            collector, authenticator=password_checker(), auth_require_tls=False, auth_required=True
        ) as controller,
        pytest.raises(MailConfigurationError) as caught,
    ):
        SmtpTransport(settings_for(controller)).send(message())
    assert caught.value.smtp_code == 530


def test_starttls_against_a_server_without_it_is_a_configuration_error(client_tls):
    with (
        smtp_server(Collector()) as controller,
        pytest.raises(MailConfigurationError, match="STARTTLS"),
    ):
        settings = settings_for(controller, "starttls", ssl_context=client_tls)
        SmtpTransport(settings).send(message())


def test_an_untrusted_certificate_is_refused(server_tls):
    collector = Collector()
    with (
        smtp_server(collector, ssl_context=server_tls) as controller,
        pytest.raises(MailConfigurationError, match="not trusted"),
    ):
        SmtpTransport(settings_for(controller, "tls")).send(message())  # system CAs only
    assert collector.envelopes == []


# --------------------------------------------------------------------------- messages


def test_build_message_headers():
    msg = message(
        extra_headers={"List-Unsubscribe": "<https://newsreel.example/u?t=abc>"},
        date=datetime(2019, 11, 20, 14, 32, tzinfo=UTC),
    )
    assert msg["Date"] == "Wed, 20 Nov 2019 14:32:00 +0000"
    assert msg["List-Unsubscribe"] == "<https://newsreel.example/u?t=abc>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert message(message_id="abc@newsreel.localhost")["Message-ID"] == "<abc@newsreel.localhost>"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message_id": "no-at-sign"},
        {"message_id": "<a b@c>"},
        {"extra_headers": {"Subject": "override"}},
        {"extra_headers": {"Bad Name": "x"}},
    ],
)
def test_build_message_refuses_bad_input(kwargs):
    with pytest.raises(ValueError):
        message(**kwargs)


@pytest.mark.parametrize("to_addr", ["", "nobody", "a b@example.org"])
def test_build_message_refuses_bad_recipients(to_addr):
    with pytest.raises(ValueError):
        build_message(RENDERED, to_addr, "X", FROM, "<a@b>")


def test_header_values_cannot_inject_headers():
    rendered = RenderedMail(subject="Hi\r\nBcc: victim@example.org", text="t\n", html="<p>h</p>\n")
    msg = build_message(
        rendered,
        TO,
        "Eve\r\nBcc: other@example.org",
        FROM,
        "<a@b>",
        extra_headers={"X-Test": "1\r\nBcc: third@example.org"},
    )
    assert "Bcc" not in msg
    assert b"\r\nBcc:" not in msg.as_bytes()


def test_message_id_for_is_stable_and_valid():
    first = message_id_for("0f8e-4c1d.verification_code", FROM)
    assert first == message_id_for("0f8e-4c1d.verification_code", FROM)
    assert first == "<0f8e-4c1d.verification_code@newsreel.localhost>"
    assert message_id_for("a b..c", FROM) == "<a-b.c@newsreel.localhost>"


# --------------------------------------------------------------------------- outbox


def test_outbox_writes_one_eml_file_atomically(tmp_path):
    outbox = OutboxTransport(tmp_path / "outbox")  # created on first use
    outbox.send(message())

    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 1 and files[0].suffix == ".eml"
    assert files[0].name.startswith(datetime.now(UTC).strftime("%Y%m%dT"))
    assert "evt-1.verification_code@newsreel.localhost" in files[0].name
    parsed = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert parsed["Message-ID"] == "<evt-1.verification_code@newsreel.localhost>"
    raw = files[0].read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # RFC 5322 line ends
    assert content(parsed.get_body(("plain",))) == RENDERED.text


def test_outbox_leaves_nothing_behind_when_a_write_fails(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transport_module.os, "fsync", broken_fsync)
    with pytest.raises(TransientMailError, match="No space left"):
        OutboxTransport(tmp_path).send(message())
    assert list(tmp_path.iterdir()) == []


def test_outbox_a_failed_rewrite_keeps_the_previous_file_whole(tmp_path, monkeypatch):
    outbox = OutboxTransport(tmp_path)
    outbox.send(message())
    (path,) = tmp_path.iterdir()
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(transport_module.os, "fsync", broken_fsync)
    with pytest.raises(TransientMailError):
        outbox.send(message())  # the same Message-ID: it would replace that file
    assert list(tmp_path.iterdir()) == [path]
    assert path.read_bytes() == before


def test_outbox_same_message_id_twice_is_one_file(tmp_path):
    outbox = OutboxTransport(tmp_path)
    outbox.send(message(date=datetime(2019, 11, 20, 14, 32, tzinfo=UTC)))
    resent = RenderedMail(subject="Second try", text="t\n", html="<p>h</p>\n")
    outbox.send(
        build_message(
            resent,
            TO,
            TO_NAME,
            FROM,
            "<evt-1.verification_code@newsreel.localhost>",
            date=datetime(2019, 11, 20, 15, 0, tzinfo=UTC),  # rebuilt later: another Date
        )
    )
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].name.startswith("20191120T143200Z_")
    assert [entry.subject for entry in outbox.list_messages()] == ["Second try"]


def test_outbox_ids_that_look_alike_do_not_collide(tmp_path):
    outbox = OutboxTransport(tmp_path)
    outbox.send(message(message_id="<a/b@newsreel.localhost>"))
    outbox.send(message(message_id="<a_b@newsreel.localhost>"))
    assert len(list(tmp_path.iterdir())) == 2


def test_outbox_lists_newest_first(tmp_path):
    outbox = OutboxTransport(tmp_path)
    base = datetime(2019, 11, 20, 14, 0, tzinfo=UTC)
    for minutes, name in [(10, "second"), (0, "first"), (20, "third")]:
        rendered = RenderedMail(subject=f"Mail {name} é", text="t\n", html="<p>h</p>\n")
        outbox.send(
            build_message(
                rendered,
                f"{name}@example.org",
                TO_NAME,
                FROM,
                f"<{name}@newsreel.localhost>",
                date=base + timedelta(minutes=minutes),
            )
        )
    (tmp_path / ".tmp-crashed.part").write_bytes(b"half a mail")  # a crash mid-write

    entries = outbox.list_messages()
    assert [e.subject for e in entries] == ["Mail third é", "Mail second é", "Mail first é"]
    assert entries[0].to == f"{TO_NAME} <third@example.org>"
    assert entries[0].date == base + timedelta(minutes=20)
    assert entries[0].message_id == "<third@newsreel.localhost>"
    assert entries[0].path.parent == tmp_path and entries[0].path.exists()
    assert [e.subject for e in outbox.list_messages(limit=1)] == ["Mail third é"]


def test_outbox_listing_of_a_missing_directory_is_empty(tmp_path):
    assert OutboxTransport(tmp_path / "nothing-yet").list_messages() == []


def test_outbox_needs_a_message_id(tmp_path):
    msg = message()
    del msg["Message-ID"]
    with pytest.raises(ValueError, match="Message-ID"):
        OutboxTransport(tmp_path).send(msg)


def test_outbox_files_are_private(tmp_path):
    OutboxTransport(tmp_path).send(message())
    (path,) = tmp_path.iterdir()
    assert os.stat(path).st_mode & 0o077 == 0  # codes are in there


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, "plain", None, None)),
        ("smtp://mail.example.org", ("mail.example.org", 25, "plain", None, None)),
        ("smtp://mail.example.org?starttls=1", ("mail.example.org", 587, "starttls", None, None)),
        ("smtp://h:2525?starttls=true", ("h", 2525, "starttls", None, None)),
        ("smtp://h?starttls=0", ("h", 25, "plain", None, None)),
        ("smtp+starttls://u:p@relay.example.org", ("relay.example.org", 587, "starttls", "u", "p")),
        ("smtps://h", ("h", 465, "tls", None, None)),
        (
            "smtps://user%40example.org:p%3Ass%2Fw0rd%20@smtp.example.org:465",
            ("smtp.example.org", 465, "tls", "user@example.org", "p:ss/w0rd "),
        ),
        ("SMTP://Mail.Example.ORG:26/", ("mail.example.org", 26, "plain", None, None)),
        ("smtp://[::1]:2525", ("::1", 2525, "plain", None, None)),
    ],
)
def test_parse_smtp_url(url, expected):
    s = parse_smtp_url(url)
    assert (s.host, s.port, s.security, s.username, s.password) == expected
    assert s.timeout == 30.0


def test_parse_smtp_url_timeout_and_secrets_stay_out_of_repr():
    s = parse_smtp_url("smtps://user:hunter2@h?timeout=7.5")
    assert s.timeout == 7.5
    assert "hunter2" not in repr(s) and "hunter2" not in repr(SmtpTransport(s))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("http://h", "unknown scheme"),
        ("localhost:25", "unknown scheme"),
        ("127.0.0.1:25", "unknown scheme"),
        ("smtp://", "no host"),
        ("smtp://h:99999", "malformed|out of range"),
        ("smtp://h:0", "out of range"),
        ("smtp://h:abc", "malformed"),
        ("smtp://[::1", "malformed"),
        ("smtp://h/path", "path"),
        ("smtp://h?foo=1", "unknown parameter 'foo'"),
        ("smtp://h?starttls=maybe", "starttls must be"),
        ("smtps://h?starttls=1", "only applies to smtp://"),
        ("smtp://user@h", "no password"),
        ("smtp://:pw@h", "no user name"),
        ("smtp://h?timeout=0", "timeout"),
        ("smtp://h?timeout=soon", "timeout"),
    ],
)
def test_parse_smtp_url_refuses_bad_urls(url, message):
    with pytest.raises(ValueError, match=message):
        parse_smtp_url(url)


def test_bad_url_errors_do_not_echo_the_password():
    with pytest.raises(ValueError) as caught:
        parse_smtp_url("smtp://user:hunter2@h?bogus=1")
    assert "hunter2" not in str(caught.value)


def test_transport_from_env(tmp_path):
    assert isinstance(transport_from_env(None, tmp_path), OutboxTransport)
    assert isinstance(transport_from_env("", tmp_path), OutboxTransport)
    outbox = transport_from_env("  ", str(tmp_path / "o"))
    assert isinstance(outbox, OutboxTransport) and outbox.directory == tmp_path / "o"
    smtp = transport_from_env("smtps://u:p@mail.example.org", tmp_path)
    assert isinstance(smtp, SmtpTransport)
    assert (smtp.settings.host, smtp.settings.port, smtp.settings.security) == (
        "mail.example.org",
        465,
        "tls",
    )
    with pytest.raises(ValueError):
        transport_from_env("ftp://x", tmp_path)
