"""Nothing lost, nothing sent twice: the outbox, the idempotent mailer, retries and the
dead-letter queue, with services stopped, crashed and cut off from the broker."""

import collections
import json
import threading
import time

import pytest

from gateway.terms import TERMS_VERSION
from tests.journeys import latest_code, register, verify, verify_with_newest_code
from tests.support.smtp import sent_to

pytestmark = pytest.mark.integration

# Fifty registrations from one test client: lift the per-address limits, keep the others.
MANY = {"AUTH_RATE_LIMITS": "register_ip=1000/3600"}
CODE_QUEUE = "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued"


def assert_one_mail_each(system, addresses):
    mails = system.smtp.wait_for(lambda m: True, count=len(addresses), timeout=90)
    per_address = collections.Counter(rcpt for m in mails for rcpt in m.envelope_to)
    assert per_address == collections.Counter(addresses)
    message_ids = [m["Message-ID"] for m in mails]
    assert len(set(message_ids)) == len(message_ids)


def settle(system, queue=CODE_QUEUE):
    """Waits until the mailer has nothing left in hand, so a late duplicate would show."""
    system.vhost.wait_for_queue(queue, lambda q: q.messages == 0, timeout=60)
    system.wait_until(lambda: system.metric("mailer", "newsreel_outbox_backlog") == 0)


def test_fifty_registrations_while_the_mailer_is_down_give_fifty_mails(system_factory):
    system = system_factory(env=MANY)
    system.stop("mailer")
    addresses = [f"user{n:02d}@example.org" for n in range(50)]
    for address in addresses:
        register(system, address)
    system.vhost.wait_for_queue(CODE_QUEUE, lambda q: q.messages == 50, timeout=60)
    system.smtp.assert_nothing_sent(within=0.5)

    system.start("mailer")
    assert_one_mail_each(system, addresses)
    settle(system)
    assert len(system.smtp.messages) == 50


def test_broker_connections_cut_during_registrations_lose_no_mail(system_factory):
    system = system_factory(env=MANY)
    addresses = [f"cut{n:02d}@example.org" for n in range(30)]
    answered = []

    def chaos():
        for _ in range(3):
            time.sleep(0.7)
            system.proxy.cut()             # every service's broker connection drops at once
        system.proxy.block()              # then the broker is gone for a while
        time.sleep(2)
        system.proxy.unblock()

    breaker = threading.Thread(target=chaos)
    breaker.start()
    for address in addresses:
        # A client retries what the gateway could not do (503): the registration is idempotent
        # for an unverified address (it re-issues the code).
        for _ in range(60):
            response = system.api("POST", "/api/v1/accounts", json={
                "email": address, "password": "Tr4in-Station-Bl00m", "full_name": "Cut",
                "organisation": "Example", "language": "en", "terms_version": TERMS_VERSION})
            if response.status_code == 202:
                answered.append(address)
                break
            assert response.status_code == 503, response.text
            time.sleep(0.25)
    breaker.join()
    assert answered == addresses

    system.wait_until(lambda: system.metric("auth", "newsreel_outbox_backlog") == 0, timeout=60,
                      message="auth's relay did not catch up after the broker came back")
    for address in addresses:     # every address got its mail; the latest code works
        system.smtp.wait_for(sent_to(address), timeout=90)
    settle(system)
    for address in addresses[:5]:
        assert verify_with_newest_code(system, address).status_code == 200
    message_ids = [m["Message-ID"] for m in system.smtp.messages]
    assert len(set(message_ids)) == len(message_ids), "an event was mailed twice"


@pytest.mark.parametrize("fault", ["exit_before_publish", "exit_after_publish"])
def test_auth_dying_around_the_publish_still_sends_one_mail(system_factory, fault):
    system = system_factory(overrides={
        "auth": {"OUTBOX_RELAY_FAULT": f"{fault}:verification_code.issued.v1"}})
    register(system, "jane@example.org")          # committed, answered 202
    assert system.expect_exit("auth") == 70       # then the relay dies as told
    if fault == "exit_before_publish":
        system.smtp.assert_nothing_sent(within=1.0)

    system.start("auth")                          # no fault this time: the relay catches up
    code = latest_code(system, "jane@example.org")
    settle(system)
    assert len(system.smtp.wait_for(sent_to("jane@example.org"))) == 1
    if fault == "exit_after_publish":
        # the event was published twice with one id; the mailer dropped the second copy
        system.wait_until(lambda: system.metric(
            "mailer", "newsreel_events_consumed_total", outcome="duplicate") == 1)
    assert verify(system, "jane@example.org", code).status_code == 200


def test_a_handler_that_keeps_failing_parks_the_message_and_goes_on(system_factory):
    system = system_factory()
    poison = {
        "specversion": "1.0", "id": "poison-0001", "source": "/services/auth",
        "type": "newsreel.auth.verification_code.issued.v1", "datacontenttype": "application/json",
        "time": "2026-11-21T12:00:00Z",
        "data": {"account_id": "x", "purpose": "verify", "language": "fr",
                 "expires_at": "2026-11-21T12:30:00Z", "sealed": "not-a-fernet-token"},
    }
    system.vhost.publish("auth.events", "verification_code.issued.v1", json.dumps(poison),
                         content_type="application/cloudevents+json", message_id="poison-0001")
    dlq = CODE_QUEUE + ".dlq"
    system.vhost.wait_for_queue(dlq, lambda q: q.messages == 1, timeout=30)
    assert system.metric("mailer", "newsreel_messages_retried_total") == 3
    assert system.metric("mailer", "newsreel_messages_dead_lettered_total") == 1

    register(system, "after@example.org")         # the consumer goes on
    assert latest_code(system, "after@example.org")

    shown = system.run_python("-m", "services.shared.dlq", "show", dlq)
    assert shown.returncode == 0, shown.stderr
    parked = json.loads(shown.stdout.splitlines()[0])
    assert parked["message_id"] == "poison-0001" and parked["attempts"] == 4
    assert "InvalidToken" in parked["error"]
    replayed = system.run_python("-m", "services.shared.dlq", "replay", dlq)
    assert "replayed 1" in replayed.stdout
    system.wait_until(lambda: system.metric(
        "mailer", "newsreel_messages_dead_lettered_total") == 2)   # it failed again, parked again


def test_a_refused_recipient_is_reported_failed_and_not_retried(system_factory):
    system = system_factory()
    tap = system.tap(["mailer.events"])
    system.smtp.reject(True)
    register(system, "bounce@example.org")
    [failed] = tap.wait_for("mail.failed.v1")
    assert failed.json()["data"]["permanent"] is True
    assert len(system.smtp.attempts) == 1


def test_a_temporary_smtp_failure_is_retried_until_it_passes(system_factory):
    system = system_factory()
    system.smtp.fail_temporarily(True)
    register(system, "later@example.org")
    system.smtp.wait_for_attempts(count=2)
    system.smtp.fail_temporarily(False)
    assert latest_code(system, "later@example.org")
    assert system.metric("mailer", "newsreel_messages_retried_total") >= 2
