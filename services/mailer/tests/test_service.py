"""The mailer's use case on each database, with a recording transport in place of SMTP (the
real SMTP path is covered by test_transport.py and the integration tests)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from services.mailer.models import Mail, outbox
from services.mailer.service import Mailer, MailInProgress, Outcome
from services.mailer.transport import PermanentMailError, TransientMailError
from services.shared import cloudevents, unsubscribe
from services.shared.sealed import Sealer

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SECRET = "s" * 64
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
                  "newsreel.test", portal_url="https://newsreel.test", clock=lambda: NOW,
                  unsubscribe_key=SECRET)


def code_event(sealer, language="fr"):
    return cloudevents.envelope("auth", "verification_code.issued.v1", {
        "account_id": "acc-1", "purpose": "verify", "language": language,
        "expires_at": (NOW + timedelta(minutes=30)).isoformat(), "valid_minutes": 30,
        "sealed": sealer.seal({"email": "jane@example.org", "full_name": "Jane Doe",
                               "code": "042917"}),
    })


def deliver(mailer, event):
    return mailer.deliver(event, CONSUMER, mailer.verification_code_mail(event["data"]))


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
    assert message["Message-ID"] == f"<{event['id']}.verification_code.acc-1@newsreel.test>"
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


def test_a_permanent_refusal_records_a_failure_a_temporary_one_never_does(
        mailer, transport, sealer, session_factory):
    event = code_event(sealer)
    for _ in range(8):   # however long the relay keeps answering 4xx: the mail waits
        transport.failures.append(TransientMailError("451 try later"))
        with pytest.raises(TransientMailError):
            deliver(mailer, event)
    transport.failures.append(PermanentMailError("550 no such user"))
    assert deliver(mailer, code_event(sealer)) == Outcome.FAILED
    failed = outbox_events(session_factory)
    assert [(e["type"], e["data"]["permanent"]) for e in failed] == [
        ("newsreel.mailer.mail.failed.v1", True)]
    assert transport.sent == []
    assert deliver(mailer, event) == Outcome.SENT


def test_a_code_that_expired_before_it_could_be_sent_is_not_sent(session_factory, transport,
                                                                sealer, caplog):
    """The mailer (or its database, or the SMTP relay) was away longer than the code lives:
    the user asks for a new one; mailing a dead code would only confuse them."""
    event = code_event(sealer)          # valid until NOW + 30 min
    late = Mailer(session_factory(), transport, sealer, "Newsreel <no-reply@newsreel.test>",
                  "newsreel.test", clock=lambda: NOW + timedelta(minutes=30, seconds=1))
    with caplog.at_level("WARNING", logger="services.mailer.service"):
        assert deliver(late, event) == Outcome.EXPIRED
    assert transport.sent == []
    assert "expired" in caplog.text and event["id"] in caplog.text
    assert deliver(late, event) == Outcome.DUPLICATE      # remembered: not tried again
    with session_factory() as session:
        mail = session.execute(select(Mail)).scalar_one()
    assert mail.status == "expired" and mail.sent_at is None


def subscription(account_id, subscribed, language="fr", at=NOW):
    return cloudevents.envelope("auth", "newsletter.subscription_changed.v1", {
        "account_id": account_id, "email": f"{account_id}@example.org",
        "full_name": account_id.title(), "language": language, "subscribed": subscribed,
        "changed_at": at.isoformat()})


def published():
    return cloudevents.envelope("catalog", "news.published.v1", {
        "news_id": "n1", "published_at": "2025-12-03T10:00:00Z", "languages": ["fr", "en"],
        "video_ids": [], "poster_url": None,
        "translations": [
            {"language": "fr", "slug": "reunion", "title": "Réunion des ministres",
             "summary": "Les ministres se sont réunis.", "url": "https://newsreel.test/news/reunion"},
            {"language": "en", "slug": "meeting", "title": "Ministers meet",
             "summary": "The ministers met.", "url": "https://newsreel.test/news/meeting"}]})


def test_the_subscriber_list_follows_auth_and_ignores_stale_changes(mailer):
    consumer = "mailer.newsletter.subscription_changed.v1"
    assert mailer.record_subscription(subscription("ana", True), consumer) == Outcome.RECORDED
    late = subscription("ana", False, at=NOW - timedelta(seconds=5))
    assert mailer.record_subscription(late, consumer) == Outcome.STALE
    again = subscription("bob", True)
    mailer.record_subscription(again, consumer)
    assert mailer.record_subscription(again, consumer) == Outcome.DUPLICATE
    mailer.record_subscription(subscription("bob", False, at=NOW + timedelta(seconds=1)),
                               consumer)
    assert [m.account_id for m in mailer.newsletter_mails(published()["data"])] == ["ana"]


def test_the_newsletter_goes_to_each_subscriber_in_their_language_once(mailer, transport):
    consumer = "mailer.newsletter.subscription_changed.v1"
    for account, language in (("ana", "fr"), ("bob", "en"), ("eve", "de")):
        mailer.record_subscription(subscription(account, True, language), consumer)
    event = published()
    transport.failures.append(TransientMailError("451"))     # ana's first try fails
    requests = mailer.newsletter_mails(event["data"])
    with pytest.raises(TransientMailError):
        for request in requests:
            mailer.deliver(event, f"news/{request.account_id}", request)
    for request in mailer.newsletter_mails(event["data"]):    # the retried event
        mailer.deliver(event, f"news/{request.account_id}", request)
    for request in mailer.newsletter_mails(event["data"]):    # redelivered once more
        assert mailer.deliver(event, f"news/{request.account_id}", request) == Outcome.DUPLICATE

    sent = {m["To"].addresses[0].username: m for m in transport.sent}
    assert sorted(sent) == ["ana", "bob", "eve"]
    assert "Réunion des ministres" in sent["ana"]["Subject"]
    assert "Ministers meet" in sent["bob"]["Subject"]
    assert "Réunion des ministres" in sent["eve"]["Subject"]   # no German: the first language
    header = sent["bob"]["List-Unsubscribe"]
    token = header.split("token=")[1].rstrip(">")
    assert unsubscribe.read(SECRET, token) == "bob"
    assert sent["bob"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert token in sent["bob"].get_body(("plain",)).get_content()


def test_a_second_copy_of_an_event_in_flight_waits_instead_of_mailing_twice(
        session_factory, transport, sealer):
    """Two workers got the same event (a connection dropped before the first one's ack)."""
    clock = [NOW]

    def mailer_at():
        return Mailer(session_factory(), transport, sealer, "Newsreel <no-reply@newsreel.test>",
                      "newsreel.test", clock=lambda: clock[0], unsubscribe_key=SECRET)

    first, second = mailer_at(), mailer_at()
    event = code_event(sealer)
    request = first.verification_code_mail(event["data"])

    class SlowTransport(RecordingTransport):
        def send(self, message):   # the second copy arrives while the first is at SMTP
            with pytest.raises(MailInProgress):
                second.deliver(event, CONSUMER, request)
            super().send(message)

    first.transport = second_transport = SlowTransport()
    assert first.deliver(event, CONSUMER, request) == Outcome.SENT
    assert second.deliver(event, CONSUMER, request) == Outcome.DUPLICATE
    assert len(second_transport.sent) == 1 and transport.sent == []


def test_a_lease_left_by_a_dead_worker_lapses(session_factory, transport, sealer):
    clock = [NOW]
    mailer = Mailer(session_factory(), transport, sealer, "Newsreel <no-reply@newsreel.test>",
                    "newsreel.test", clock=lambda: clock[0], unsubscribe_key=SECRET)
    event = code_event(sealer)
    request = mailer.verification_code_mail(event["data"])

    class DyingTransport(RecordingTransport):
        def send(self, message):
            raise SystemExit("the worker dies at the SMTP server")

    mailer.transport = DyingTransport()
    with pytest.raises(SystemExit):
        mailer.deliver(event, CONSUMER, request)
    mailer.transport = transport
    clock[0] = NOW + timedelta(seconds=30)
    with pytest.raises(MailInProgress) as busy:
        mailer.deliver(event, CONSUMER, request)
    assert busy.value.seconds_left == 60  # the lease is 90 s: come back in a minute
    clock[0] = NOW + timedelta(minutes=2)
    assert mailer.deliver(event, CONSUMER, request) == Outcome.SENT
    assert len(transport.sent) == 1
