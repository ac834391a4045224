"""RabbitMQ for tests: a throw-away vhost per use, the management API, and an event tap.

The management API's queue figures are refreshed every `collect_statistics_interval` (5 s by
default), so `queues()` lags; `queue_messages()` and `wait_for_queue()` ask the broker itself
(a passive declare over AMQP) for the ready count and the consumer count, which are exact.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pika
import pika.exceptions
import requests

# The broker's address; the vhost part of the URI is ignored (every use makes its own vhost).
AMQP_URL = (os.environ.get("TEST_AMQP_URI") or os.environ.get("AMQP_URI")
            or "amqp://guest:guest@127.0.0.1:5672/")
MANAGEMENT_URL = os.environ.get("TEST_RABBIT_MANAGEMENT_URL", "http://127.0.0.1:15672")
MANAGEMENT_AUTH = (os.environ.get("TEST_RABBIT_USER", "guest"),
                   os.environ.get("TEST_RABBIT_PASSWORD", "guest"))


def _q(part: str) -> str:
    return quote(part, safe="")


def amqp_uri_for(vhost: str, base: str = AMQP_URL, host: str | None = None,
                 port: int | None = None) -> str:
    """The base URI with its vhost (and optionally host/port, e.g. a proxy's) replaced."""
    parts = urlsplit(base)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{host or parts.hostname}:{port or parts.port or 5672}"
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    return f"{parts.scheme}://{netloc}/{_q(vhost)}"


# --- management API ------------------------------------------------------------------------

def management(method: str, path: str, expect: Iterable[int] = (200, 201, 204),
               **kwargs) -> requests.Response:
    response = requests.request(method, f"{MANAGEMENT_URL}/api{path}", auth=MANAGEMENT_AUTH,
                                timeout=kwargs.pop("timeout", 15), **kwargs)
    if response.status_code not in tuple(expect):
        raise AssertionError(f"RabbitMQ management {method} {path}: "
                             f"{response.status_code} {response.text[:500]}")
    return response


@dataclass(frozen=True)
class QueueInfo:
    name: str
    messages_ready: int
    messages_unacknowledged: int
    consumers: int
    arguments: dict = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return self.messages_ready + self.messages_unacknowledged


def queues(vhost: str) -> dict[str, QueueInfo]:
    """name → QueueInfo for every queue of the vhost (figures up to ~5 s old)."""
    rows = management("GET", f"/queues/{_q(vhost)}").json()
    return {row["name"]: QueueInfo(row["name"], row.get("messages_ready", 0) or 0,
                                   row.get("messages_unacknowledged", 0) or 0,
                                   row.get("consumers", 0) or 0, row.get("arguments") or {})
            for row in rows}


def connections(vhost: str) -> list[dict]:
    return management("GET", f"/vhosts/{_q(vhost)}/connections").json()


HARNESS_CONNECTION_PREFIX = "newsreel-test-harness"
# The `app_id` of what a test publishes itself (`TestVhost.publish`): the contract check at
# `NewsreelSystem.close()` holds the services to the contract, not a test's stand-ins and
# deliberately broken messages.
HARNESS_APP_ID = "newsreel-test-harness"


def harness_params(amqp_uri: str, role: str) -> pika.URLParameters:
    """Connection parameters for the harness's own connections, named so that
    `close_all_connections` can spare them."""
    params = pika.URLParameters(amqp_uri)
    params.socket_timeout = 10
    params.connection_attempts = 1
    params.client_properties = {"connection_name": f"{HARNESS_CONNECTION_PREFIX}:{role}"}
    return params


def is_harness_connection(conn: dict) -> bool:
    name = (conn.get("client_properties") or {}).get("connection_name") or ""
    return name.startswith(HARNESS_CONNECTION_PREFIX)


def close_all_connections(vhost: str, reason: str = "closed by the test harness",
                          include_harness: bool = False) -> int:
    """Closes every client connection of the vhost (as the broker would on a failure) except,
    unless `include_harness`, the harness's own (event taps); returns how many were closed.
    The management API learns of a new connection within a moment: to be sure one is there,
    `wait_for_connections` first."""
    closed = 0
    for conn in connections(vhost):
        if is_harness_connection(conn) and not include_harness:
            continue
        management("DELETE", f"/connections/{_q(conn['name'])}", expect=(200, 204, 404),
                   headers={"X-Reason": reason})
        closed += 1
    return closed


_live_vhosts: set[str] = set()


@atexit.register
def _delete_leftover_vhosts() -> None:
    """Safety net for a run that ended before its fixtures' finalizers."""
    for name in list(_live_vhosts):
        with contextlib.suppress(Exception):
            management("DELETE", f"/vhosts/{_q(name)}", expect=(200, 204, 404), timeout=5)


class TestVhost:
    """A fresh vhost `newsreel-test-<hex>` with full rights for the test user; `delete()` (or
    leaving the `with` block) removes it with everything in it."""

    __test__ = False   # not a test class, whatever its name

    def __init__(self, prefix: str = "newsreel-test"):
        self.name = f"{prefix}-{secrets.token_hex(4)}"
        self.user = MANAGEMENT_AUTH[0]
        management("PUT", f"/vhosts/{_q(self.name)}", json={"description": "newsreel tests"})
        self.deleted = False
        _live_vhosts.add(self.name)
        management("PUT", f"/permissions/{_q(self.name)}/{_q(self.user)}",
                   json={"configure": ".*", "write": ".*", "read": ".*"})

    def __repr__(self) -> str:
        return f"<TestVhost {self.name}>"

    def __enter__(self) -> TestVhost:
        return self

    def __exit__(self, *exc) -> None:
        self.delete()

    @property
    def amqp_uri(self) -> str:
        return amqp_uri_for(self.name)

    def amqp_uri_via(self, port: int, host: str = "127.0.0.1") -> str:
        """The vhost's URI through another port, e.g. a `TcpProxy`'s."""
        return amqp_uri_for(self.name, host=host, port=port)

    def delete(self) -> None:
        if not self.deleted:
            management("DELETE", f"/vhosts/{_q(self.name)}", expect=(200, 204, 404))
            self.deleted = True
            _live_vhosts.discard(self.name)

    # --- inspection ------------------------------------------------------------------------
    def queues(self) -> dict[str, QueueInfo]:
        return queues(self.name)

    def connections(self, include_harness: bool = False) -> list[dict]:
        return [c for c in connections(self.name)
                if include_harness or not is_harness_connection(c)]

    def close_all_connections(self, reason: str = "closed by the test harness",
                              include_harness: bool = False) -> int:
        return close_all_connections(self.name, reason, include_harness)

    def queue_state(self, name: str, connection=None) -> QueueInfo | None:
        """Exact ready count and consumers (AMQP passive declare); unacked from the management
        API (may lag). None when the queue does not exist."""
        if connection is None:
            with harness_connection(self.amqp_uri, "inspect") as connection:
                return self.queue_state(name, connection)
        channel = connection.channel()
        try:
            ok = channel.queue_declare(name, passive=True).method
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                return None
            raise
        with contextlib.suppress(Exception):
            channel.close()
        unacked = 0
        with contextlib.suppress(AssertionError):
            row = management("GET", f"/queues/{_q(self.name)}/{_q(name)}").json()
            unacked = row.get("messages_unacknowledged", 0) or 0
        return QueueInfo(name, ok.message_count, unacked, ok.consumer_count)

    def queue_messages(self, name: str) -> int:
        """Messages ready in the queue, exactly (0 if it does not exist)."""
        state = self.queue_state(name)
        return 0 if state is None else state.messages_ready

    def wait_for_queue(self, name: str, predicate: Callable[[QueueInfo], bool],
                       timeout: float = 30.0) -> QueueInfo:
        """Waits until the queue exists and `predicate(QueueInfo)` holds."""
        deadline = time.monotonic() + timeout
        with harness_connection(self.amqp_uri, "inspect") as connection:
            while True:
                state = self.queue_state(name, connection)
                if state is not None and predicate(state):
                    return state
                if time.monotonic() > deadline:
                    raise AssertionError(f"queue {name!r} in {self.name}: {state} never matched "
                                         f"in {timeout} s; queues: {sorted(self.queues())}")
                time.sleep(0.2)

    def wait_for_connections(self, predicate: Callable[[int], bool], timeout: float = 30.0,
                             include_harness: bool = False) -> int:
        """Waits until `predicate(number of client connections)` holds, as the management API
        sees them (it can take a moment); the harness's own are not counted unless asked."""
        deadline = time.monotonic() + timeout
        while True:
            count = len(self.connections(include_harness))
            if predicate(count):
                return count
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {count} connections, never matched")
            time.sleep(0.2)

    def publish(self, exchange: str, routing_key: str, body: bytes | str | dict,
                headers: dict | None = None, **properties) -> None:
        """Publishes one persistent message with confirms (dicts become JSON), marked as
        the harness's own (`app_id`, unless given)."""
        properties.setdefault("app_id", HARNESS_APP_ID)
        if isinstance(body, dict):
            body = json.dumps(body)
            properties.setdefault("content_type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        with harness_connection(self.amqp_uri, "publish") as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(
                headers=headers, delivery_mode=2, **properties), mandatory=False)

    def tap(self, exchanges: Iterable[str]) -> EventTap:
        return EventTap(self.amqp_uri, exchanges)


@contextlib.contextmanager
def harness_connection(amqp_uri: str, role: str = "helper"):
    connection = pika.BlockingConnection(harness_params(amqp_uri, role))
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            connection.close()


@contextlib.contextmanager
def blocking_channel(amqp_uri: str):
    """A channel on a short-lived harness connection."""
    with harness_connection(amqp_uri) as connection:
        yield connection.channel()


# --- event tap ---------------------------------------------------------------------------------

@dataclass
class TappedMessage:
    exchange: str
    routing_key: str
    headers: dict[str, Any]
    properties: pika.BasicProperties
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def injected(self) -> bool:
        """Published by the test itself (`TestVhost.publish`), not by a service."""
        return self.properties.app_id == HARNESS_APP_ID

    def __repr__(self) -> str:
        return f"<TappedMessage {self.exchange} {self.routing_key} {self.body[:120]!r}>"


def routing_key_is(key: str) -> Callable[[TappedMessage], bool]:
    def predicate(message: TappedMessage) -> bool:
        return message.routing_key == key

    return predicate


class EventTap:
    """An exclusive, server-named queue bound with `#` to each exchange (declared durable topic
    if absent); a background thread collects every message. The bindings exist when the
    constructor returns, so nothing published afterwards is missed."""

    def __init__(self, amqp_uri: str, exchanges: Iterable[str]):
        self.exchanges = list(exchanges)
        self._messages: list[TappedMessage] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._connection = pika.BlockingConnection(harness_params(amqp_uri, "eventtap"))
        channel = self._connection.channel()
        for exchange in self.exchanges:
            channel = self._ensure_exchange(channel, exchange)
        self.queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for exchange in self.exchanges:
            channel.queue_bind(self.queue, exchange, routing_key="#")
        channel.basic_consume(self.queue, self._on_message, auto_ack=True)
        self._channel = channel
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"eventtap-{self.queue}")
        self._thread.start()

    def _ensure_exchange(self, channel, exchange: str):
        try:
            channel.exchange_declare(exchange, passive=True)
            return channel
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
        channel = self._connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        return channel

    def _on_message(self, channel, method, properties, body) -> None:
        message = TappedMessage(method.exchange, method.routing_key,
                                dict(properties.headers or {}), properties, bytes(body),
                                time.time())
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._connection.process_data_events(time_limit=0.2)
        except BaseException as exc:
            if not self._stop.is_set():
                self.error = exc
                with self._cond:
                    self._cond.notify_all()
        finally:
            with contextlib.suppress(Exception):
                self._connection.close()

    def __enter__(self) -> EventTap:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def messages(self) -> list[TappedMessage]:
        with self._cond:
            return list(self._messages)

    def of_type(self, routing_key: str) -> list[TappedMessage]:
        return [m for m in self.messages if m.routing_key == routing_key]

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()

    def wait_for(self, predicate: Callable[[TappedMessage], bool] | str | None = None,
                 count: int = 1, timeout: float = 30.0) -> list[TappedMessage]:
        """Waits until `count` messages match and returns every matching one, oldest first.
        `predicate` may be a routing key (the event type), a callable, or None (any)."""
        if isinstance(predicate, str):
            predicate = routing_key_is(predicate)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self._messages if predicate is None or predicate(m)]
                if len(found) >= count:
                    return found
                if self.error is not None:
                    raise AssertionError(f"event tap on {self.exchanges} broke: {self.error!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [m.routing_key for m in self._messages]
                    raise AssertionError(
                        f"{len(found)} matching messages on {self.exchanges} after {timeout} s, "
                        f"wanted {count}; received routing keys: {seen}")
                self._cond.wait(remaining)

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(10)
