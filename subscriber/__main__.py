"""python -m subscriber --amqp-uri URI --queue team.NAME --events TYPE… [--validate]

Prints every event received as one JSON line on stdout (logs go to stderr), acks it once
printed, and stops cleanly on SIGTERM or SIGINT. `--list` shows the contract's event types.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import pika.exceptions

from contract import validate as contract

from .consumer import Subscriber, print_json_line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m subscriber",
        description="Subscribe a durable queue of your team's to Newsreel's events and print "
                    "each as one JSON line (see contract/README.md).")
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI"),
                        help="amqp://user:password@host:5672/vhost (default: $AMQP_URI)")
    parser.add_argument("--queue", help="your durable queue, e.g. team.archive")
    parser.add_argument("--events", nargs="+", metavar="TYPE",
                        help="event types, e.g. news.published.v1 rendition.ready.v1")
    parser.add_argument("--validate", action="store_true",
                        help="drop (and log) events that break their schema")
    parser.add_argument("--prefetch", type=int, default=10,
                        help="unacked events held at once (default 10)")
    parser.add_argument("--retry-pause", type=float, default=2.0,
                        help="seconds before an event whose handling failed goes back")
    parser.add_argument("--list", action="store_true",
                        help="list the contract's event types and their exchanges, and exit")
    args = parser.parse_args(argv)
    if not args.list:
        missing = [flag for flag, value in (("--amqp-uri", args.amqp_uri),
                                            ("--queue", args.queue), ("--events", args.events))
                   if not value]
        if missing:
            parser.error(f"{', '.join(missing)} required")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for event_type in contract.event_types(include_internal=False):
            print(f"{event_type}\t{contract.exchange_of(event_type)}")
        return 0
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    subscriber = None

    def emit(event: dict) -> None:
        try:
            print_json_line(event)
        except BrokenPipeError:
            # nobody reads any more: the event goes back to the queue, and we stop
            subscriber.stop()
            raise

    try:
        subscriber = Subscriber(args.amqp_uri, args.queue, args.events, on_event=emit,
                                validate=args.validate, prefetch=args.prefetch,
                                retry_pause=args.retry_pause)
    except ValueError as error:
        print(f"subscriber: {error}", file=sys.stderr)
        return 2
    try:
        subscriber.run()
    except pika.exceptions.AMQPError as error:
        print(f"subscriber: the broker refused: {error!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
