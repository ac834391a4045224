"""Declares every event handler's durable queue and its binding, before any service runs.

A topic exchange drops what no queue is bound to. nameko declares a handler's queue when the
service starts, so an event published before its consumer ever ran would be lost: the first
start on a new machine (the run command loads sample content), or a new consumer deployed after
its producer. Running this first (the run command; in Kubernetes an init step) closes that gap.
It only declares what the handlers would declare themselves, so it is safe to repeat.

    python -m services.shared.topology
"""

import inspect
import logging

from kombu import Connection, Exchange, Queue

from .config import amqp_ssl, amqp_uri
from .consumer import ReliableEventHandler

log = logging.getLogger(__name__)

# The service classes whose handlers are declared; a new consuming service adds a line.
SERVICES = (
    "services.mailer.entrypoint:MailerService",
    "services.catalog.entrypoint:CatalogService",
    "services.transcoder.entrypoint:TranscoderService",
)


def handler_queues(service_cls) -> list[Queue]:
    queues = []
    for method_name, method in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ReliableEventHandler):
                # the name nameko gives a SERVICE_POOL handler's queue (nameko/events.py)
                name = (f"evt-{entrypoint.source_service}-{entrypoint.event_type}--"
                        f"{service_cls.name}.{method_name}")
                exchange = Exchange(f"{entrypoint.source_service}.events", type="topic",
                                    durable=True)
                queues.append(Queue(name, exchange=exchange, routing_key=entrypoint.event_type,
                                    durable=True))
    return queues


def _load(path: str):
    module_name, _, class_name = path.partition(":")
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)


def declare(service_paths=SERVICES, uri: str | None = None) -> list[str]:
    declared = []
    uri = uri or amqp_uri()
    with Connection(uri, ssl=amqp_ssl(uri)) as connection:
        channel = connection.default_channel
        for path in service_paths:
            for queue in handler_queues(_load(path)):
                queue(channel).declare()
                declared.append(queue.name)
    return declared


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = declare()
    print(f"topology: {len(names)} handler queues declared and bound")


if __name__ == "__main__":
    main()
