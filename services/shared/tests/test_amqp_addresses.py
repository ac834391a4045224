"""AMQP_URI may name several brokers, separated by ';' (every node of a RabbitMQ cluster, as
the local and test setups give them; in Kubernetes it names the cluster's one Service): every
AMQP client of ours tries them in turn, on its first connection and on every reconnection
(issue 10, point 17). Each address is a whole URI: kombu takes nothing from the first.

Against the machine's broker, the first address a port where nothing listens: each client
must get through on the second."""

import json
import logging

import pytest
from nameko import messaging as nameko_messaging
from sqlalchemy import MetaData

from gateway.rpc import start_cluster_proxy
from services.shared import config, dlq, nameko_fixes, topology
from services.shared.db import make_engine, make_session_factory
from services.shared.outbox import Outbox, Relay, outbox_table
from tests.support.processes import free_port
from tests.support.rabbit import TestVhost, amqp_uri_for, blocking_channel

CLUSTER = ("amqp://newsreel:s3cret-one@rabbit-0:5672/newsreel ; "
           "amqp://newsreel:s3cret-two@rabbit-1:5672/newsreel;"
           "amqp://newsreel:s3cret-three@rabbit-2:5672/newsreel")


@pytest.fixture(scope="module")
def vhost():
    with TestVhost() as vhost:
        yield vhost


@pytest.fixture
def dead_first(vhost) -> str:
    """The vhost's URI behind an address where nothing listens."""
    return ";".join([amqp_uri_for(vhost.name, port=free_port()), vhost.amqp_uri])


def test_the_addresses_are_split_once_for_every_client(monkeypatch):
    monkeypatch.setenv("AMQP_URI", CLUSTER)
    assert config.amqp_addresses() == [
        "amqp://newsreel:s3cret-one@rabbit-0:5672/newsreel",
        "amqp://newsreel:s3cret-two@rabbit-1:5672/newsreel",
        "amqp://newsreel:s3cret-three@rabbit-2:5672/newsreel"]
    # what kombu and nameko are given: the same list, in kombu's own form
    assert config.amqp_uri() == ";".join(config.amqp_addresses())
    monkeypatch.setenv("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    assert config.amqp_addresses() == ["amqp://guest:guest@127.0.0.1:5672/"]


@pytest.mark.parametrize("uri", [
    "amqp://a:b@rabbit-0/v;amqps://a:b@rabbit-1/v",     # TLS to some nodes only
    "amqp://a:b@rabbit-0/v;rabbit-1",                   # not a whole URI
    " ; ",
])
def test_a_list_that_cannot_be_meant_is_refused(uri, monkeypatch):
    monkeypatch.setenv("AMQP_URI", uri)
    with pytest.raises(RuntimeError):
        config.amqp_addresses()
    with pytest.raises(RuntimeError):
        config.amqp_ssl()


def test_no_password_of_the_list_reaches_the_logs(caplog):
    """nameko logs the URI when it cannot connect; its own redaction masks the first
    address's password only."""
    assert "s3cret" not in config.redact_amqp_uri(CLUSTER)
    assert config.redact_amqp_uri(CLUSTER).count("rabbit-") == 3
    nameko_fixes.apply()
    consumer = nameko_messaging.QueueConsumer()
    consumer.container = type("Container", (), {"config": {"AMQP_URI": CLUSTER}})()
    with caplog.at_level(logging.WARNING, logger="nameko.messaging"):
        consumer.on_connection_error(ConnectionRefusedError(111, "refused"), 1)
    assert "rabbit-2" in caplog.text and "s3cret" not in caplog.text


def test_the_outbox_relay_gets_through_on_another_address(vhost, dead_first, tmp_path):
    metadata = MetaData()
    box = Outbox("addrtest", outbox_table(metadata))
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    metadata.create_all(engine)
    with make_session_factory(engine).begin() as session:
        box.add(session, "thing.happened.v1", {"n": 1}, subject="1")
    with blocking_channel(vhost.amqp_uri) as channel:
        channel.exchange_declare("addrtest.events", "topic", durable=True)
        channel.queue_declare("addrtest-all", durable=True)
        channel.queue_bind("addrtest-all", "addrtest.events", "#")
    relay = Relay(box, engine, dead_first)
    try:
        assert relay.publish_pending() == 1
    finally:
        relay.close()
        engine.dispose()
    assert vhost.queue_messages("addrtest-all") == 1


def test_the_gateways_rpc_client_and_the_topology_step_get_through(vhost, dead_first):
    proxy = start_cluster_proxy(dead_first, timeout=5)    # its reply queue declared
    proxy.stop()
    assert topology.declare(uri=dead_first)
    assert "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued" in \
        vhost.queues()


def test_the_dead_letter_tool_gets_through(vhost, dead_first, monkeypatch, capsys):
    monkeypatch.setenv("AMQP_URI", dead_first)
    with blocking_channel(vhost.amqp_uri) as channel:
        channel.queue_declare("evt-x--y.z.dlq", durable=True)
        channel.basic_publish("", "evt-x--y.z.dlq", b'{"parked": true}')
    dlq.show("evt-x--y.z")
    [shown] = capsys.readouterr().out.splitlines()
    assert json.loads(json.loads(shown)["body"]) == {"parked": True}
