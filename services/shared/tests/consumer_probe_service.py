"""A nameko service for test_consumer.py, run as its own process (the tests never import it):

    AMQP_URI=amqp://…/vhost PROBE_LOG=/tmp/log.jsonl \
        python -m services.shared.tests.consumer_probe_service

Its one reliable handler writes a line per delivery (event id, attempt, redelivered) to
PROBE_LOG, then does what the event's `action` says the first time it sees that event:
`later` (raise Later(0.3)), `die` (exit at once, the message unacked), else nothing."""

if __name__ == "__main__":
    import eventlet

    eventlet.monkey_patch()

import json
import os
from pathlib import Path

from nameko.runners import ServiceRunner

from services.shared.consumer import Delivery, Later, reliable_handler

LOG = Path(os.environ.get("PROBE_LOG", "probe.jsonl"))


class ConsumerProbe:
    name = "probe"
    delivery = Delivery()

    @reliable_handler("source", "thing.happened.v1")
    def on_thing(self, event):
        seen_before = LOG.exists() and any(json.loads(line)["id"] == event["id"]
                                           for line in LOG.read_text().splitlines())
        with LOG.open("a") as log:
            log.write(json.dumps({"id": event["id"], "attempt": self.delivery.attempt,
                                  "redelivered": self.delivery.redelivered}) + "\n")
        if seen_before:
            return
        if event["action"] == "later":
            raise Later(0.3, "another worker holds it")
        if event["action"] == "die":
            os._exit(3)


if __name__ == "__main__":
    runner = ServiceRunner({"AMQP_URI": os.environ["AMQP_URI"], "SERIALIZER": "json"})
    runner.add_service(ConsumerProbe)
    runner.start()
    print("probe started", flush=True)
    runner.wait()
