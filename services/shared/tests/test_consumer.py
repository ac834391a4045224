"""reliable_handler against a real broker: `Later` hands a message back through the nearest
delay queue without spending an attempt; a handler sees `redelivered` when the worker that
had the message died before its ack; an unreachable database is waited out for as long as it
takes, never parked, while a bug goes through the retry ladder to the dead-letter queue; a body
that is not JSON, or not a CloudEvent, is parked at once with its reason."""

import json
import os
import subprocess
import sys
import time

import pytest

from services.shared import cloudevents
from tests.support.processes import REPO_ROOT
from tests.support.rabbit import TestVhost

QUEUE = "evt-source-thing.happened.v1--probe.on_thing"


@pytest.fixture
def vhost():
    with TestVhost() as vhost:
        yield vhost


@pytest.fixture
def probe(vhost, tmp_path):
    """start() runs the probe service (again); the log of its deliveries is `probe.log`."""
    processes = []

    class Probe:
        log = tmp_path / "probe.jsonl"

        def start(self):
            process = subprocess.Popen(
                [sys.executable, "-m", "services.shared.tests.consumer_probe_service"],
                cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                env={**os.environ, "AMQP_URI": vhost.amqp_uri, "PROBE_LOG": str(self.log),
                     "RETRY_DELAYS_MS": "200,400,800", "PYTHONWARNINGS": "ignore"})
            processes.append(process)
            assert process.stdout.readline().strip() == "probe started"
            vhost.wait_for_queue(QUEUE, lambda q: q.consumers == 1, timeout=30)
            return process

        def deliveries(self, event_id, count, timeout=20.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                lines = self.log.read_text().splitlines() if self.log.exists() else []
                found = [json.loads(line) for line in lines]
                found = [d for d in found if d["id"] == event_id]
                if len(found) >= count:
                    return found
                time.sleep(0.05)
            raise AssertionError(f"{event_id}: {count} deliveries expected, saw {found}")

    yield Probe()
    for process in processes:
        process.kill()
        process.wait()


def publish(vhost, event_id, action):
    event = cloudevents.envelope("source", "thing.happened.v1", {"action": action},
                                 event_id=event_id)
    vhost.publish("source.events", "thing.happened.v1", event, message_id=event_id)


def parked(vhost):
    """The messages in the handler's dead-letter queue, left there."""
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(vhost.amqp_uri))
    channel = connection.channel()
    found = []
    while (got := channel.basic_get(f"{QUEUE}.dlq"))[0] is not None:
        found.append((got[1].headers or {}, got[2]))
    connection.close()   # unacked: they stay parked
    return found


def test_later_brings_the_message_back_without_spending_an_attempt(vhost, probe):
    probe.start()
    publish(vhost, "e-later", "later")
    started = time.monotonic()
    first, second = probe.deliveries("e-later", 2)
    assert time.monotonic() - started >= 0.3   # through the 400-ms queue, the nearest >= 0.3 s
    assert (first["attempt"], second["attempt"]) == (1, 1)
    queues = vhost.queues()
    assert f"{QUEUE}.retry.400" in queues
    assert queues[f"{QUEUE}.dlq"].messages_ready == 0
    time.sleep(0.5)
    assert len(probe.deliveries("e-later", 2)) == 2        # handled, acked: no third time


def test_a_message_whose_worker_died_comes_back_marked_redelivered(vhost, probe):
    process = probe.start()
    publish(vhost, "e-die", "die")
    [first] = probe.deliveries("e-die", 1)
    assert process.wait(20) == 3
    assert first == {"id": "e-die", "attempt": 1, "redelivered": False}
    probe.start()
    second = probe.deliveries("e-die", 2)[1]
    assert second == {"id": "e-die", "attempt": 1, "redelivered": True}



def test_an_unreachable_database_is_waited_out_past_the_whole_ladder_and_never_parked(
        vhost, probe):
    probe.start()
    publish(vhost, "e-db", "db-down:6")     # twice the three-step ladder
    deliveries = probe.deliveries("e-db", 7)
    assert [d["attempt"] for d in deliveries] == [1] * 7   # waiting spends no attempt
    publish(vhost, "e-after", "nothing")   # handled after: the consumer went on
    probe.deliveries("e-after", 1)
    assert vhost.queues()[f"{QUEUE}.dlq"].messages_ready == 0
    assert parked(vhost) == []


def test_a_bug_goes_through_the_ladder_then_to_the_dead_letter_queue(vhost, probe):
    probe.start()
    publish(vhost, "e-bug", "broken")
    assert [d["attempt"] for d in probe.deliveries("e-bug", 4)] == [1, 2, 3, 4]
    vhost.wait_for_queue(f"{QUEUE}.dlq", lambda q: q.messages == 1, timeout=20)
    [(headers, _)] = parked(vhost)
    assert "ValueError" in headers["x-newsreel-error"]


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"specversion": "1.0", "id": "trunc', "not JSON"),
    (b'["a", "list"]', "not a CloudEvent"),
    (b'{"id": "e-no-type", "data": {}}', "not a CloudEvent"),
])
def test_a_body_that_cannot_be_an_event_is_parked_at_once_with_its_reason(
        vhost, probe, body, reason):
    process = probe.start()
    vhost.publish("source.events", "thing.happened.v1", body,
                  content_type="application/cloudevents+json", message_id="bad-body")
    vhost.wait_for_queue(f"{QUEUE}.dlq", lambda q: q.messages == 1, timeout=20)
    [(headers, parked_body)] = parked(vhost)
    assert parked_body == body
    assert reason in headers["x-newsreel-error"]
    publish(vhost, "e-next", "nothing")     # the consumer goes on
    probe.deliveries("e-next", 1)
    assert process.poll() is None
    assert not probe.log.exists() or all(
        '"bad-body"' not in line for line in probe.log.read_text().splitlines())
