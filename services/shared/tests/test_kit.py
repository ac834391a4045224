from datetime import UTC, datetime

import kombu.serialization
import pytest
from cryptography.fernet import Fernet

from services.shared import cloudevents, unsubscribe
from services.shared.consumer import retry_delays_ms, retry_queue
from services.shared.errors import ServiceError
from services.shared.sealed import InvalidToken, Sealer


def test_envelope_is_a_structured_cloudevent():
    event = cloudevents.envelope("auth", "account.registered.v1", {"a": 1}, subject="acc-1",
                                 time=datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    assert event == {
        "specversion": "1.0", "id": event["id"], "source": "/services/auth",
        "type": "newsreel.auth.account.registered.v1", "time": "2026-11-21T12:00:00Z",
        "datacontenttype": "application/json", "data": {"a": 1}, "subject": "acc-1"}
    assert len(event["id"]) == 36
    assert cloudevents.event_type_of(event) == "account.registered.v1"


def test_kombu_speaks_cloudevents_json():
    content_type, encoding, body = kombu.serialization.dumps({"é": 1}, cloudevents.SERIALIZER)
    assert (content_type, encoding) == ("application/cloudevents+json", "utf-8")
    assert kombu.serialization.loads(body, content_type, encoding) == {"é": 1}


def test_sealed_payloads_open_only_with_a_held_key_and_survive_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Sealer(old).seal({"code": "123456"})
    assert "123456" not in token
    assert Sealer(f"{new},{old}").open(token) == {"code": "123456"}
    with pytest.raises(InvalidToken):
        Sealer(new).open(token)


def test_retry_schedule_is_configurable(monkeypatch):
    monkeypatch.delenv("RETRY_DELAYS_MS", raising=False)
    assert retry_delays_ms() == (1_000, 5_000, 30_000, 120_000, 600_000)
    monkeypatch.setenv("RETRY_DELAYS_MS", "200, 400")
    assert retry_delays_ms() == (200, 400)
    queue = retry_queue("evt-x", 200)
    assert queue.name == "evt-x.retry.200"
    assert queue.queue_arguments == {"x-message-ttl": 200, "x-dead-letter-exchange": "",
                                     "x-dead-letter-routing-key": "evt-x"}


def test_service_errors_carry_a_code_and_details():
    error = ServiceError("rate_limited", {"retry_after": 60})
    assert (error.code, error.details, str(error)) == (
        "rate_limited", {"retry_after": 60}, "rate_limited {'retry_after': 60}")
    assert ServiceError("unauthorized").details == {}


def test_unsubscribe_tokens_name_the_account_and_resist_tampering():
    token = unsubscribe.sign("k" * 64, "acc-1")
    assert unsubscribe.read("k" * 64, token) == "acc-1"
    assert unsubscribe.read("x" * 64, token) is None
    assert unsubscribe.read("k" * 64, token[:-2] + "AA") is None
    assert unsubscribe.read("k" * 64, "garbage") is None


def test_a_workers_log_lines_name_the_request_or_the_event_it_serves():
    import logging

    from services.shared.logcontext import LogContextFilter, _fields, fields_of

    event = {"specversion": "1.0", "id": "e-1", "type": "newsreel.auth.password.changed.v1"}
    assert fields_of({"request_id": "r" * 100}, ()) == {"request_id": "r" * 64}
    assert fields_of({}, (event,)) == {"event_id": "e-1",
                                       "event_type": "newsreel.auth.password.changed.v1"}
    assert fields_of({"request_id": 5}, ("not an event",)) == {}
    token = _fields.set({"request_id": "abc12345"})
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        assert LogContextFilter().filter(record) and record.request_id == "abc12345"
    finally:
        _fields.reset(token)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    LogContextFilter().filter(record)
    assert not hasattr(record, "request_id")
