"""`Subscriber`: a durable queue of the team's own, bound to the contract's exchanges, each
event handed to a callback and acked only once the callback returned.

Delivery is at least once: an event whose ack was lost (a dropped connection, a crash in
the callback's process) comes again, with the same CloudEvents `id`. De-duplicate on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pika
import pika.exceptions

from contract import validate as contract

log = logging.getLogger("subscriber")

# Broker answers that no retry will cure: wrong credentials or rights, or a queue that exists
# with other arguments. Everything else (a lost connection, an exchange not declared yet
# because its service never ran) is retried with back-off.
FATAL_REPLY_CODES = {403, 406}


class InvalidEvent(Exception):
    """Raised by a callback for an event it will never be able to handle: the message is
    rejected without requeue (any other exception puts it back for another try)."""


def print_json_line(event: dict) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Subscriber:
    """Consumes `events` (event types such as `news.published.v1`) through the durable queue
    `queue`, declared and bound at every (re)connection.

    `on_event(event)` gets each event as a dict (the whole CloudEvent); by default it is
    printed as one JSON line. When it returns, the message is acked; when it raises, the
    message goes back to the queue after `retry_pause` seconds (`InvalidEvent`: dropped).
    A message that is not a JSON object, or (`validate`) breaks its schema, is rejected
    without reaching the callback. `run()` reconnects with back-off until `stop()`, SIGTERM
    or SIGINT."""

    def __init__(self, amqp_uri: str, queue: str, events: Iterable[str],
                 on_event: Callable[[dict], Any] | None = None, *, validate: bool = False,
                 prefetch: int = 10, retry_pause: float = 2.0, max_backoff: float = 30.0,
                 allow_internal: bool = False):
        events = [events] if isinstance(events, str) else list(dict.fromkeys(events))
        if not events:
            raise ValueError("no event types to subscribe to")
        if not queue:
            raise ValueError("a queue name is needed (team.<your team>…)")
        for event_type in events:
            try:
                internal = contract.is_internal(event_type)
            except contract.UnknownEventType as unknown:
                raise ValueError(str(unknown)) from None
            if internal and not allow_internal:
                raise ValueError(f"{event_type} is internal to its service and not part of "
                                 "the contract for other teams")
        self.amqp_uri = amqp_uri
        self.queue = queue
        self.events = events
        self.bindings = [(contract.exchange_of(event_type), event_type) for event_type in events]
        self.on_event = on_event or print_json_line
        self.validate = validate
        self.prefetch = prefetch
        self.retry_pause = retry_pause
        self.max_backoff = max_backoff
        self.connected = threading.Event()   # set while consuming (for health checks, tests)
        self.connections = 0                 # how many times it connected
        self._was_consuming = False
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ends `run()` within a moment; safe from another thread or a signal handler."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, handle_signals: bool | None = None) -> None:
        """Consumes until stopped. `handle_signals` (default: when called from the main
        thread): SIGTERM and SIGINT stop it cleanly, unacked messages going back to the
        queue. Raises on a fatal broker answer (bad credentials or rights)."""
        if handle_signals is None:
            handle_signals = threading.current_thread() is threading.main_thread()
        previous = {}
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, lambda *_: self.stop())
        try:
            self._run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._consume()
            except (pika.exceptions.AMQPError, OSError) as error:
                self.connected.clear()
                if _fatal(error):
                    raise
                if self._stop.is_set():
                    break
                if self._was_consuming:
                    backoff = 1.0    # it worked until now: try again soon
                # jitter: many subscribers cut at once do not all come back at once
                wait = backoff * random.uniform(0.5, 1.0)
                log.warning("subscriber: %s; reconnecting in %.1f s", _describe(error), wait)
                self._stop.wait(wait)
                backoff = min(backoff * 2, self.max_backoff)

    def _consume(self) -> None:
        self._was_consuming = False
        params = pika.URLParameters(self.amqp_uri)
        params.client_properties = {"connection_name": f"subscriber:{self.queue}"}
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.queue_declare(self.queue, durable=True)
            for exchange, event_type in self.bindings:
                channel.queue_bind(self.queue, exchange, routing_key=event_type)
            self.connections += 1
            self._was_consuming = True
            self.connected.set()
            log.info("subscriber: consuming %s (%s)", self.queue,
                     ", ".join(f"{e} from {x}" for x, e in self.bindings))
            # the timeout lets a stop() be noticed while nothing arrives
            for method, _properties, body in channel.consume(self.queue, inactivity_timeout=0.5):
                if self._stop.is_set():
                    break
                if method is not None:
                    self._handle(connection, channel, method, body)
            if not self._stop.is_set():
                # the broker cancelled the consumer (its queue was deleted): run() subscribes
                # again, declaring the queue anew
                log.warning("subscriber: the broker cancelled the consumer of %s", self.queue)
                return
            # messages received but not handled go back to the queue with the cancel
            channel.cancel()
            log.info("subscriber: stopped")
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):
                connection.close()

    def _handle(self, connection, channel, method, body: bytes) -> None:
        tag = method.delivery_tag
        try:
            event = json.loads(body)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            log.error("subscriber: a message on %s is not a JSON event (%s): dropped",
                      method.routing_key, error)
            channel.basic_reject(tag, requeue=False)
            return
        event_id = event.get("id")
        if self.validate:
            problems = contract.problems(event, method.routing_key)
            if problems:
                log.error("subscriber: %s dropped", contract.describe(
                    method.routing_key, event, problems))
                channel.basic_reject(tag, requeue=False)
                return
        try:
            self.on_event(event)
        except InvalidEvent as error:
            log.error("subscriber: %s %s refused by the handler (%s): dropped",
                      method.routing_key, event_id, error)
            channel.basic_reject(tag, requeue=False)
            return
        except Exception:
            log.exception("subscriber: handling %s %s failed; back to the queue in %s s",
                          method.routing_key, event_id, self.retry_pause)
            # a pause, so that a handler failing on every event does not spin
            self._sleep(connection, self.retry_pause)
            channel.basic_nack(tag, requeue=True)
            return
        channel.basic_ack(tag)

    def _sleep(self, connection, seconds: float) -> None:
        """Waits while keeping the connection alive (heartbeats), until stopped."""
        deadline = seconds
        while deadline > 0 and not self._stop.is_set():
            step = min(0.2, deadline)
            connection.sleep(step)
            deadline -= step


def _fatal(error: BaseException) -> bool:
    if isinstance(error, pika.exceptions.ProbableAuthenticationError |
                  pika.exceptions.ProbableAccessDeniedError |
                  pika.exceptions.AuthenticationError):
        return True
    return isinstance(error, pika.exceptions.ChannelClosedByBroker) and \
        error.reply_code in FATAL_REPLY_CODES


def _describe(error: BaseException) -> str:
    if isinstance(error, pika.exceptions.ChannelClosedByBroker) and error.reply_code == 404:
        return f"{error.reply_text} (has its service never run yet?)"
    return f"connection lost or refused ({error!r})"
