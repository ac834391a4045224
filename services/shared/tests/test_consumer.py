"""reliable_handler against a real broker: `Later` hands a message back through the nearest
delay queue without spending an attempt, and a handler sees `redelivered` when the worker that
had the message died before its ack."""

import json
import os
import subprocess
import sys
import time

import pytest

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
    vhost.publish("source.events", "thing.happened.v1", {"id": event_id, "action": action},
                  message_id=event_id)


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

