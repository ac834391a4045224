"""The subscriber for other teams (subscriber/) against the real broker: it survives its
connection being cut, acks an event only once handled, drops what is not an event, and
works with exactly the read-only user's rights (contract/rabbitmq-readonly-user.json)."""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import threading
import time
import uuid
from urllib.parse import quote, urlsplit

import pika
import pika.exceptions
import pytest

from contract import validate as contract
from subscriber import InvalidEvent, Subscriber
from subscriber.__main__ import main
from tests.support import rabbit
from tests.support.rabbit import blocking_channel

pytestmark = pytest.mark.integration

QUEUE = "team.tests"


def event(event_type: str, **data) -> dict:
    """The contract's example of `event_type`, with a fresh id."""
    example = json.loads(contract.example_path(event_type).read_text())
    example["id"] = str(uuid.uuid4())
    example["data"].update(data)
    return example


def publish(vhost, value, event_type: str | None = None) -> None:
    if isinstance(value, dict):
        event_type = event_type or contract.event_type_of(value)
        value = json.dumps(value)
    vhost.publish(contract.exchange_of(event_type), event_type, value,
                  content_type=contract.CONTENT_TYPE)


def declare_exchanges(vhost) -> None:
    """What the services declare when they run."""
    with blocking_channel(vhost.amqp_uri) as channel:
        for exchange in contract.EXCHANGES:
            channel.exchange_declare(exchange, "topic", durable=True)


@contextlib.contextmanager
def running(subscriber: Subscriber):
    """The subscriber's run() in a thread, consuming when the block starts; stopped after,
    and whatever run() raised is raised here."""
    failure: list[BaseException] = []

    def run():
        try:
            subscriber.run()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert subscriber.connected.wait(15) or failure, "the subscriber never consumed"
        if failure:
            raise failure[0]
        yield subscriber
    finally:
        subscriber.stop()
        thread.join(15)
        assert not thread.is_alive(), "the subscriber did not stop"
    if failure:
        raise failure[0]


def assert_all_acked(vhost, name: str = QUEUE) -> None:
    """Once the subscriber is gone, whatever it had not acked is back in the queue (the
    broker's counts are exact here, unlike the management API's unacked figure)."""
    state = vhost.wait_for_queue(name, lambda q: q.consumers == 0, timeout=15)
    assert state.messages_ready == 0, state


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_it_reconnects_when_its_connection_is_cut_and_loses_nothing(vhost):
    declare_exchanges(vhost)
    received: queue.Queue = queue.Queue()
    subscriber = Subscriber(vhost.amqp_uri, QUEUE, ["news.published.v1", "rendition.ready.v1"],
                            on_event=received.put, validate=True)
    with running(subscriber):
        first = event("news.published.v1")
        publish(vhost, first)
        assert received.get(timeout=10)["id"] == first["id"]

        vhost.wait_for_connections(lambda n: n == 1)
        assert vhost.close_all_connections(reason="the test cuts it") == 1
        second = event("rendition.ready.v1")
        publish(vhost, second)                   # while it may still be away: the queue keeps it
        assert received.get(timeout=30)["id"] == second["id"]
        assert subscriber.connections == 2

        third = event("news.published.v1")
        publish(vhost, third)
        assert received.get(timeout=10)["id"] == third["id"]
    assert received.empty()
    assert_all_acked(vhost)


def test_an_event_is_acked_only_once_handled_and_comes_back_when_handling_fails(vhost):
    declare_exchanges(vhost)
    calls = []

    def flaky(value):
        calls.append(value["id"])
        if len(calls) < 3:
            raise RuntimeError("the database is away")

    one = event("news.published.v1")
    with running(Subscriber(vhost.amqp_uri, QUEUE, ["news.published.v1"], on_event=flaky,
                            retry_pause=0.2)):
        publish(vhost, one)
        wait_for(lambda: len(calls) == 3)
    assert calls == [one["id"]] * 3
    assert_all_acked(vhost)

    # a handler that keeps failing: stopped, the event is still in the queue for the next run
    failing_calls = []

    def failing(value):
        failing_calls.append(value["id"])
        raise RuntimeError("still away")

    two = event("news.published.v1")
    with running(Subscriber(vhost.amqp_uri, QUEUE, ["news.published.v1"], on_event=failing,
                            retry_pause=0.2)):
        publish(vhost, two)
        wait_for(lambda: len(failing_calls) >= 2)
    assert set(failing_calls) == {two["id"]}
    assert vhost.wait_for_queue(QUEUE, lambda q: q.consumers == 0).messages_ready == 1

    received: queue.Queue = queue.Queue()
    with running(Subscriber(vhost.amqp_uri, QUEUE, ["news.published.v1"],
                            on_event=received.put)):
        assert received.get(timeout=10)["id"] == two["id"]
    assert_all_acked(vhost)


def test_what_is_not_a_valid_event_is_dropped_without_reaching_the_handler(vhost):
    declare_exchanges(vhost)
    received: queue.Queue = queue.Queue()

    def handle(value):
        if value["data"].get("refuse"):
            raise InvalidEvent("not for us")
        received.put(value)

    invalid = event("news.published.v1")
    del invalid["data"]["translations"]
    refused, good = event("news.published.v1", refuse=True), event("news.published.v1")
    with running(Subscriber(vhost.amqp_uri, QUEUE, ["news.published.v1"], on_event=handle,
                            validate=True, retry_pause=0.2)):
        publish(vhost, b"{not json", "news.published.v1")
        publish(vhost, b"[1, 2]", "news.published.v1")
        publish(vhost, invalid)
        publish(vhost, refused)
        publish(vhost, good)
        assert received.get(timeout=10)["id"] == good["id"]
    assert received.empty()
    assert_all_acked(vhost)                    # dropped, not back in the queue


def test_the_read_only_user_subscribes_but_cannot_publish_or_touch_other_queues(vhost):
    declare_exchanges(vhost)
    rights = json.loads((contract.EVENTS_DIR.parent / "rabbitmq-readonly-user.json")
                        .read_text())["permissions"]
    user, password = f"newsreel-readonly-test-{secrets.token_hex(4)}", secrets.token_hex(16)
    rabbit.management("PUT", f"/users/{user}", json={"password": password, "tags": ""})
    try:
        rabbit.management("PUT", f"/permissions/{quote(vhost.name, safe='')}/{user}",
                          json=rights)
        broker = urlsplit(rabbit.AMQP_URL)
        uri = (f"amqp://{user}:{password}@{broker.hostname}:{broker.port or 5672}/"
               f"{quote(vhost.name, safe='')}")
        received: queue.Queue = queue.Queue()
        with running(Subscriber(uri, "team.readonly", ["news.published.v1"],
                                on_event=received.put, validate=True)):
            news = event("news.published.v1")
            publish(vhost, news)
            assert received.get(timeout=10)["id"] == news["id"]

        params = pika.URLParameters(uri)
        with pika.BlockingConnection(params) as connection:
            channel = connection.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
                channel.basic_publish("catalog.events", "news.published.v1", b"{}")
                channel.queue_declare("team.probe", passive=True)   # forces a round trip
            assert refused.value.reply_code == 403

        # a queue outside team.*: refused for good, not retried
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            Subscriber(uri, "evt-catalog-news.published.v1--mailer.on_news_published",
                       ["news.published.v1"]).run(handle_signals=False)
        assert refused.value.reply_code == 403
    finally:
        rabbit.management("DELETE", f"/users/{user}", expect=(200, 204, 404))


def test_the_command_line_refuses_unknown_and_internal_events_and_lists_the_rest(capsys):
    assert main(["--amqp-uri", "amqp://x", "--queue", "team.x", "--events",
                 "kettle.boiled.v1"]) == 2
    assert "no schema for event type 'kettle.boiled.v1'" in capsys.readouterr().err
    assert main(["--amqp-uri", "amqp://x", "--queue", "team.x", "--events",
                 "job.queued.v1"]) == 2
    assert "internal" in capsys.readouterr().err
    assert main(["--list"]) == 0
    listed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert listed["news.published.v1"] == "catalog.events"
    assert listed["mail.sent.v1"] == "mailer.events"
    assert "job.queued.v1" not in listed
    assert len(listed) == len(contract.event_types()) - 1
