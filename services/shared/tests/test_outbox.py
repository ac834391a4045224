"""The outbox relay against a real broker and each database."""

import json
import threading

import pika
import pytest
from sqlalchemy import MetaData, select

from services.shared import cloudevents
from services.shared.db import make_engine, make_session_factory
from services.shared.outbox import Outbox, Relay, outbox_table
from tests.support.processes import free_port
from tests.support.rabbit import TestVhost


@pytest.fixture
def vhost():
    with TestVhost() as vhost:
        yield vhost


@pytest.fixture
def outbox(service_database_url):
    metadata = MetaData()
    box = Outbox("relaytest", outbox_table(metadata))
    engine = make_engine(service_database_url)
    metadata.create_all(engine)
    yield box, engine
    engine.dispose()


def bind_queue(vhost):
    connection = pika.BlockingConnection(pika.URLParameters(vhost.amqp_uri))
    channel = connection.channel()
    channel.exchange_declare("relaytest.events", "topic", durable=True)
    channel.queue_declare("all-events", durable=True)
    channel.queue_bind("all-events", "relaytest.events", "#")
    return connection, channel


def drain(channel):
    received = []
    while (got := channel.basic_get("all-events", auto_ack=True))[0] is not None:
        received.append(got)
    return received


def add_events(box, engine, count, event_type="thing.happened.v1"):
    ids = []
    with make_session_factory(engine).begin() as session:
        for n in range(count):
            ids.append(box.add(session, event_type, {"n": n}, subject=str(n)))
    return ids


def test_committed_events_are_published_with_their_ids_then_removed(vhost, outbox):
    box, engine = outbox
    connection, channel = bind_queue(vhost)
    ids = add_events(box, engine, 3)
    with pytest.raises(RuntimeError), make_session_factory(engine).begin() as session:
        box.add(session, "thing.happened.v1", {"n": "rolled back"})
        raise RuntimeError("the change fails: its event must not leave")

    relay = Relay(box, engine, vhost.amqp_uri)
    assert relay.publish_pending() == 3
    received = drain(channel)
    assert [props.message_id for _, props, _ in received] == ids
    method, props, body = received[0]
    assert method.routing_key == "thing.happened.v1"
    assert props.content_type == cloudevents.CONTENT_TYPE and props.delivery_mode == 2
    event = json.loads(body)
    assert event["id"] == ids[0] and event["type"] == "newsreel.relaytest.thing.happened.v1"
    assert event["source"] == "/services/relaytest" and event["data"] == {"n": 0}
    assert relay.refresh_backlog() == 0
    connection.close()


def test_an_unreachable_broker_keeps_the_events_for_later(vhost, outbox):
    box, engine = outbox
    ids = add_events(box, engine, 2)
    dead = Relay(box, engine, f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    dead.publisher.retry_policy = {"max_retries": 0}
    with pytest.raises(Exception):  # noqa: B017 - whatever kombu raises for a refused connection
        dead.publish_pending()
    with engine.connect() as connection:
        rows = connection.execute(select(box.table.c.event_id, box.table.c.claimed_until)).all()
    assert [row.event_id for row in rows] == ids
    assert all(row.claimed_until is None for row in rows), "released for the next try"

    connection, channel = bind_queue(vhost)
    assert Relay(box, engine, vhost.amqp_uri).publish_pending() == 2
    assert [props.message_id for _, props, _ in drain(channel)] == ids
    connection.close()


def test_two_relays_share_the_work_without_publishing_twice(vhost, outbox):
    box, engine = outbox
    connection, channel = bind_queue(vhost)
    ids = add_events(box, engine, 250)
    relays = [Relay(box, engine, vhost.amqp_uri) for _ in range(2)]
    counts = []
    threads = [threading.Thread(target=lambda r=r: counts.append(r.publish_pending()))
               for r in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = [props.message_id for _, props, _ in drain(channel)]
    assert sum(counts) == 250
    assert sorted(received) == sorted(ids)
    connection.close()
