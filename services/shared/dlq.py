"""Look at and replay dead-lettered messages.

    python -m services.shared.dlq list                  # every *.dlq queue and its depth
    python -m services.shared.dlq show QUEUE            # the parked messages' errors
    python -m services.shared.dlq replay QUEUE [--max N]  # back to the handler's queue

QUEUE is the handler's queue (`evt-auth-…--mailer.on_…`) or its `.dlq`. Replay publishes with
confirms and acks the parked copy only then: a crash in between duplicates, never loses (the
handlers are idempotent)."""

import argparse
import json
import sys
from urllib.parse import quote, urlsplit

import pika
import requests

from .config import amqp_addresses, env
from .consumer import ATTEMPT_HEADER


def _management(path: str):
    parts = urlsplit(amqp_addresses()[0])
    base = env("RABBITMQ_MANAGEMENT_URL", f"http://{parts.hostname}:15672")
    vhost = quote(parts.path.lstrip("/") or "/", safe="")
    response = requests.get(f"{base}/api/{path.format(vhost=vhost)}",
                            auth=(parts.username or "guest", parts.password or "guest"),
                            timeout=10)
    response.raise_for_status()
    return response.json()


def _connect() -> pika.BlockingConnection:
    """To the first broker of AMQP_URI's list that answers."""
    return pika.BlockingConnection([pika.URLParameters(a) for a in amqp_addresses()])


def _names(queue: str) -> tuple[str, str]:
    origin = queue.removesuffix(".dlq")
    return origin, origin + ".dlq"


def list_queues() -> None:
    for queue in _management("queues/{vhost}"):
        if queue["name"].endswith(".dlq"):
            print(f"{queue.get('messages', 0):>6}  {queue['name']}")


def show(queue: str) -> None:
    _, dlq = _names(queue)
    connection = _connect()
    channel = connection.channel()
    seen = []
    while (got := channel.basic_get(dlq))[0] is not None:
        method, properties, body = got
        headers = properties.headers or {}
        seen.append(method.delivery_tag)
        print(json.dumps({"message_id": properties.message_id,
                          "attempts": headers.get(ATTEMPT_HEADER),
                          "error": headers.get("x-newsreel-error"),
                          "body": body.decode("utf-8", "replace")[:500]}, ensure_ascii=False))
    connection.close()  # unacked: they all go back to the queue


def replay(queue: str, limit: int | None) -> int:
    origin, dlq = _names(queue)
    connection = _connect()
    channel = connection.channel()
    channel.confirm_delivery()
    moved = 0
    while limit is None or moved < limit:
        method, properties, body = channel.basic_get(dlq)
        if method is None:
            break
        headers = dict(properties.headers or {})
        headers[ATTEMPT_HEADER] = 1
        properties.headers = headers
        channel.basic_publish("", origin, body, properties)   # raises unless confirmed
        channel.basic_ack(method.delivery_tag)
        moved += 1
    connection.close()
    return moved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    sub.add_parser("show").add_argument("queue")
    replay_parser = sub.add_parser("replay")
    replay_parser.add_argument("queue")
    replay_parser.add_argument("--max", type=int)
    args = parser.parse_args(argv)
    if args.command == "list":
        list_queues()
    elif args.command == "show":
        show(args.queue)
    else:
        print(f"replayed {replay(args.queue, args.max)} message(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
