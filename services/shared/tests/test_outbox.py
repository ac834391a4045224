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
    dead.retry_policy = {"max_retries": 0}
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


def _unroutable(service, event_type, kept):
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("newsreel_outbox_unroutable_total", {
        "service": service, "event_type": event_type, "kept": kept}) or 0


def test_an_event_no_queue_is_bound_to_is_kept_counted_and_published_once_one_is(
        vhost, outbox, caplog):
    box, engine = outbox
    ids = add_events(box, engine, 2, "thing.nobody_hears.v1")
    relay = Relay(box, engine, vhost.amqp_uri)
    counted = _unroutable("relaytest", "thing.nobody_hears.v1", "true")
    with caplog.at_level("ERROR", logger="services.shared.outbox"):
        assert relay.publish_pending() == 0          # the broker returned both
    assert _unroutable("relaytest", "thing.nobody_hears.v1", "true") == counted + 2
    assert "no queue" in caplog.text and ids[0] in caplog.text
    with engine.connect() as connection:
        rows = connection.execute(select(box.table.c.event_id)
                                  .order_by(box.table.c.id)).all()
    assert [row.event_id for row in rows] == ids     # kept, not lost
    assert relay.publish_pending() == 0              # not tried again at once

    connection, channel = bind_queue(vhost)          # the consumer's queue appears
    with engine.begin() as db:                       # ... and the retry time has come
        db.execute(box.table.update().values(claimed_until=None))
    assert relay.publish_pending() == 2
    assert [props.message_id for _, props, _ in drain(channel)] == ids
    assert relay.refresh_backlog() == 0
    connection.close()


def test_a_routed_event_after_a_returned_one_is_confirmed_for_itself(vhost, outbox):
    """A return and the next publish on the same channel: each confirm is its own."""
    box, engine = outbox
    connection, channel = bind_queue(vhost)
    channel.queue_unbind("all-events", "relaytest.events", "#")
    channel.queue_bind("all-events", "relaytest.events", "heard.*")
    add_events(box, engine, 1, "unheard.thing.v1")
    heard = add_events(box, engine, 3, "heard.thing")
    assert Relay(box, engine, vhost.amqp_uri).publish_pending() == 3
    assert [props.message_id for _, props, _ in drain(channel)] == heard
    connection.close()


def test_a_returned_announcement_is_counted_and_not_kept(vhost, outbox):
    """Events the contract offers to whoever subscribes, that no Newsreel handler needs
    (services.shared.outbox.ANNOUNCEMENTS): with no subscriber, there is no one to keep them
    for."""
    box, engine = outbox
    add_events(box, engine, 1, "mail.sent.v1")
    counted = _unroutable("relaytest", "mail.sent.v1", "false")
    assert Relay(box, engine, vhost.amqp_uri).publish_pending() == 0
    assert _unroutable("relaytest", "mail.sent.v1", "false") == counted + 1
    with engine.connect() as connection:
        assert connection.execute(select(box.table.c.event_id)).all() == []


def test_announcements_are_exactly_the_events_no_newsreel_handler_consumes():
    from contract import validate as contract
    from services.shared import topology
    from services.shared.outbox import ANNOUNCEMENTS

    consumed = {queue.routing_key for path in topology.SERVICES
                for queue in topology.handler_queues(topology._load(path))}
    assert consumed and not consumed & ANNOUNCEMENTS
    assert ANNOUNCEMENTS | consumed == set(contract.event_types())
