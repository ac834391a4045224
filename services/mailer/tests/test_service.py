"""The mailer's use case on each database, with a recording transport in place of SMTP (the
real SMTP path is covered by test_transport.py and the integration tests)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from services.mailer.models import Mail, outbox
from services.mailer.service import Mailer, Outcome
from services.mailer.transport import PermanentMailError, TransientMailError
from services.shared import cloudevents
from services.shared.sealed import Sealer

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONSUMER = "mailer.verification_code.issued.v1"


class RecordingTransport:
    def __init__(self):
        self.sent = []
        self.failures = []

    def send(self, message):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


@pytest.fixture
def session_factory(migrated_database):
    return migrated_database("mailer")


@pytest.fixture
def sealer():
    return Sealer(Fernet.generate_key().decode())


@pytest.fixture
def transport():
    return RecordingTransport()


@pytest.fixture
def mailer(session_factory, transport, sealer):
    return Mailer(session_factory(), transport, sealer, "Newsreel <no-reply@newsreel.test>",
                  "newsreel.test", clock=lambda: NOW)


def code_event(sealer, language="fr"):
    return cloudevents.envelope("auth", "verification_code.issued.v1", {
        "account_id": "acc-1", "purpose": "verify", "language": language,
        "expires_at": (NOW + timedelta(minutes=30)).isoformat(), "valid_minutes": 30,
        "sealed": sealer.seal({"email": "jane@example.org", "full_name": "Jane Doe",
                               "code": "042917"}),
    })


def deliver(mailer, event, last_attempt=False):
    return mailer.deliver(event, CONSUMER, mailer.verification_code_mail(event["data"]),
                          last_attempt)


def outbox_events(session_factory):
    with session_factory() as session:
        return [json.loads(row.envelope) for row in
                session.execute(select(outbox.table).order_by(outbox.table.c.id))]


def test_an_event_is_mailed_once_however_often_it_arrives(mailer, transport, sealer,
                                                          session_factory):
    event = code_event(sealer)
    assert deliver(mailer, event) == Outcome.SENT
    assert deliver(mailer, event) == Outcome.DUPLICATE
    [message] = transport.sent
    assert message["To"] == "Jane Doe <jane@example.org>"
    assert message["Message-ID"] == f"<{event['id']}.verification_code@newsreel.test>"
    assert "042917" in message.get_body(("plain",)).get_content()
    [sent] = outbox_events(session_factory)
    assert sent["type"] == "newsreel.mailer.mail.sent.v1"
    assert sent["data"]["caused_by"] == event["id"] and "042917" not in json.dumps(sent)
    with session_factory() as session:
        mail = session.execute(select(Mail)).scalar_one()
    assert (mail.status, mail.attempts) == ("sent", 1)


def test_the_mail_speaks_the_accounts_language(mailer, transport, sealer):
    deliver(mailer, code_event(sealer, language="en"))
    deliver(mailer, code_event(sealer, language="fr"))
    english, french = (m["Subject"] for m in transport.sent)
    assert english != french and "code" in english.lower()


def test_a_temporary_failure_is_left_to_the_retry_then_sent_once(mailer, transport, sealer,
                                                                 session_factory):
    event = code_event(sealer)
    transport.failures.append(TransientMailError("451 try later"))
    with pytest.raises(TransientMailError):
        deliver(mailer, event)
    assert outbox_events(session_factory) == []
    assert deliver(mailer, event) == Outcome.SENT
    with session_factory() as session:
        mail = session.execute(select(Mail)).scalar_one()
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 2, None)


def test_the_last_attempt_or_a_permanent_refusal_records_a_failure(mailer, transport, sealer,
                                                                   session_factory):
    transport.failures += [TransientMailError("451"), PermanentMailError("550 no such user")]
    assert deliver(mailer, code_event(sealer), last_attempt=True) == Outcome.FAILED
    assert deliver(mailer, code_event(sealer)) == Outcome.FAILED
    failed = outbox_events(session_factory)
    assert [(e["type"], e["data"]["permanent"]) for e in failed] == [
        ("newsreel.mailer.mail.failed.v1", False), ("newsreel.mailer.mail.failed.v1", True)]
    assert transport.sent == []
