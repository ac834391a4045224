"""A nameko service for test_consumer.py, run as its own process (the tests never import it):

    AMQP_URI=amqp://…/vhost PROBE_LOG=/tmp/log.jsonl \
        python -m services.shared.tests.consumer_probe_service

Its one reliable handler writes a line per delivery (event id, attempt, redelivered) to
PROBE_LOG, then does what the event's `data.action` says: `later` (raise Later(0.3) the first
time), `die` (exit at once the first time, the message unacked), `db-down:N` (the first N
deliveries try a database that is not there: a real, transient OperationalError), `broken`
(a ValueError every time: a bug, not an outage), else nothing."""

if __name__ == "__main__":
    import eventlet

    eventlet.monkey_patch()

import json
import os
from pathlib import Path

from nameko.runners import ServiceRunner

from services.shared.consumer import Delivery, Later, reliable_handler

LOG = Path(os.environ.get("PROBE_LOG", "probe.jsonl"))
# nothing listens on port 1: connecting is refused at once, as when PostgreSQL is stopped
DEAD_DATABASE = "postgresql://probe@127.0.0.1:1/probe"


class ConsumerProbe:
    name = "probe"
    delivery = Delivery()

    @reliable_handler("source", "thing.happened.v1")
    def on_thing(self, event):
        seen = [json.loads(line) for line in LOG.read_text().splitlines()] \
            if LOG.exists() else []
        seen_before = sum(1 for line in seen if line["id"] == event["id"])
        with LOG.open("a") as log:
            log.write(json.dumps({"id": event["id"], "attempt": self.delivery.attempt,
                                  "redelivered": self.delivery.redelivered}) + "\n")
        action = event["data"]["action"]
        if action.startswith("db-down:") and seen_before < int(action.partition(":")[2]):
            from services.shared.db import make_engine
            make_engine(DEAD_DATABASE).connect()
        if action == "broken":
            raise ValueError("a bug: this event can never be handled")
        if seen_before:
            return
        if action == "later":
            raise Later(0.3, "another worker holds it")
        if action == "die":
            os._exit(3)


if __name__ == "__main__":
    runner = ServiceRunner({"AMQP_URI": os.environ["AMQP_URI"], "SERIALIZER": "json",
                            "ACCEPT": ["json", "cloudevents"]})
    runner.add_service(ConsumerProbe)
    runner.start()
    print("probe started", flush=True)
    runner.wait()
