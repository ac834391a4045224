"""The mails auth's account notices cause, through the mailer's own handlers (nameko's
worker_factory: the real handler methods, the real Mailer, each database, a recording
transport): the owner told of a code lock, a password change told as it happened. The events
are the contract's examples, so the contract and the mailer cannot drift apart."""

import json
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from nameko.testing.services import worker_factory
from sqlalchemy import select

from contract import validate as contract
from services.mailer.entrypoint import MailerService
from services.mailer.models import Mail
from services.mailer.service import Outcome
from services.shared import topology
from services.shared.sealed import Sealer

from .test_service import RecordingTransport, outbox_events

NOW = datetime(2025, 12, 2, 8, 0, tzinfo=UTC)


def example(event_type: str, **data) -> dict:
    event = json.loads(contract.example_path(event_type).read_text())
    event["data"].update(data)
    assert contract.problems(event) == []     # still an event auth may send
    return event


@pytest.fixture
def transport():
    return RecordingTransport()


@pytest.fixture
def session_factory(migrated_database):
    return migrated_database("mailer")


@pytest.fixture
def service(session_factory, transport):
    return worker_factory(MailerService, db=session_factory(), parts={
        "transport": transport, "sealer": Sealer(Fernet.generate_key().decode()),
        "from_addr": "Newsreel <no-reply@newsreel.test>", "message_domain": "newsreel.test",
        "portal_url": "https://newsreel.test", "clock": lambda: NOW,
        "unsubscribe_key": "u" * 43})


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_the_mailer_listens_for_code_locks_on_auths_exchange():
    queues = {q.routing_key: q for q in topology.handler_queues(MailerService)}
    locked = queues["verification_code.locked.v1"]
    assert locked.exchange.name == contract.exchange_of("verification_code.locked.v1")
    assert locked.name == "evt-auth-verification_code.locked.v1--mailer.on_code_locked"


@pytest.mark.parametrize(("language", "purpose", "words", "until"), [
    ("fr", "reset", "pour réinitialiser le mot de passe",
     "jusqu'au mardi 2 décembre 2025 à 07:56 UTC"),
    ("en", "verify", "to verify the e-mail address",
     "until Tuesday, 2 December 2025 at 07:56 UTC"),
])
def test_a_code_lock_is_told_to_the_owner_once_in_their_language(
        service, transport, session_factory, language, purpose, words, until):
    event = example("verification_code.locked.v1", language=language, purpose=purpose)
    assert service.on_code_locked(event) == Outcome.SENT
    assert service.on_code_locked(event) == Outcome.DUPLICATE      # a redelivery
    [message] = transport.sent
    assert message["To"] == "Ana Silva <ana.silva@example.org>"
    assert message["Message-ID"] == \
        f"<{event['id']}.code_locked.{event['data']['account_id']}@newsreel.test>"
    text = " ".join(body(message).split())
    assert words in text and until in text
    assert ("n'a pas été modifié" if language == "fr" else "has not been changed") in text
    assert "newsreel.test" not in text          # no link in a mail anyone can cause
    [sent] = outbox_events(session_factory)
    assert sent["data"]["kind"] == "code_locked" and contract.problems(sent) == []
    with session_factory() as session:
        assert session.execute(select(Mail.status)).scalar_one() == "sent"


def test_a_code_lock_is_told_even_after_the_lock_ended(service, transport):
    # the mailer was away longer than the lock: the owner should still learn someone tried
    event = example("verification_code.locked.v1", locked_until="2025-12-02T07:56:12Z")
    assert service.on_code_locked(event) == Outcome.SENT and len(transport.sent) == 1


@pytest.mark.parametrize(("reason", "told", "not_told"), [
    ("change", "your other sessions were signed out", "every open session"),
    ("reset", "every open session", "your other sessions"),
])
def test_a_password_change_is_told_as_it_happened(service, transport, reason, told, not_told):
    event = example("password.changed.v1", language="en", reason=reason)
    assert service.on_password_changed(event) == Outcome.SENT
    [message] = transport.sent
    text = " ".join(body(message).split())
    assert told in text and not_told not in text
