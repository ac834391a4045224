"""AMQP over TLS (issue 10, point 8): with `amqps://` every client of ours verifies the broker,
its certificate chain against AMQP_CA_FILE and its name against the URI's host.

The broker is the real one, behind a TLS front made with a throw-away CA (tests/support/tls.py):
the handshake the clients do is the one they would do with RabbitMQ's TLS listener."""

import ssl

import pytest
from kombu import Connection
from kombu.exceptions import OperationalError
from sqlalchemy import MetaData

from gateway.rpc import BrokerUnavailable, NamekoRpc, start_cluster_proxy
from services.shared import config, topology
from services.shared.db import make_engine, make_session_factory
from services.shared.outbox import Outbox, Relay, outbox_table
from tests.support.rabbit import TestVhost, blocking_channel
from tests.support.smtp import SmtpCapture
from tests.support.system import NewsreelSystem
from tests.support.tls import ThrowawayCA, TlsFront


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = ThrowawayCA(directory / "ours")
    return {"ca": ca, "other_ca": ThrowawayCA(directory / "other", name="another CA"),
            "broker": ca.issue("127.0.0.1", "localhost"),
            "elsewhere": ca.issue("broker.elsewhere.example")}


@pytest.fixture(scope="module")
def vhost():
    with TestVhost() as vhost:
        yield vhost


def amqps_uri(front: TlsFront, vhost: TestVhost) -> str:
    return f"amqps://guest:guest@127.0.0.1:{front.port}/{vhost.name}"


def connect(uri: str) -> None:
    """One attempt, as the services' kombu connections make each of theirs."""
    with Connection(uri, ssl=config.amqp_ssl(uri), connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=0)


def test_amqps_with_the_ca_file_reaches_the_broker(pki, vhost, monkeypatch):
    monkeypatch.setenv("AMQP_CA_FILE", str(pki["ca"].ca_file))
    with TlsFront(pki["broker"]) as front:
        uri = amqps_uri(front, vhost)
        monkeypatch.setenv("AMQP_URI", uri)
        # kombu as the services use it: the topology step declares the handler queues
        assert topology.declare(uri=uri)
        # the gateway's RPC client starts its proxy (its reply queue, over TLS)
        start_cluster_proxy(uri, timeout=5).stop()
        assert front.handshakes >= 2
    assert "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued" in \
        vhost.queues()


@pytest.mark.parametrize("case", ["unknown CA", "another name"])
def test_amqps_refuses_a_broker_it_cannot_verify(pki, vhost, monkeypatch, case):
    if case == "unknown CA":  # a certificate for the right name, from a CA we do not trust
        monkeypatch.setenv("AMQP_CA_FILE", str(pki["other_ca"].ca_file))
        issued = pki["broker"]
    else:                     # our CA, but a certificate for another host
        monkeypatch.setenv("AMQP_CA_FILE", str(pki["ca"].ca_file))
        issued = pki["elsewhere"]
    with TlsFront(issued) as front:
        uri = amqps_uri(front, vhost)
        with pytest.raises(OperationalError) as refused:
            connect(uri)
        assert isinstance(refused.value.__cause__, ssl.SSLCertVerificationError)
        expected = "unable to get local issuer" if case == "unknown CA" else "match"
        assert expected in str(refused.value)
        if case == "unknown CA":  # the gateway's RPC client too (it tries twice, 2 s apart)
            rpc = NamekoRpc(uri, pool_size=1, timeout=5, ping_timeout=5)
            with pytest.raises(BrokerUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                rpc.ping("auth")
            rpc.close()
        assert front.handshakes == 0  # nothing was ever relayed to the broker


def test_a_ca_file_without_amqps_is_refused(pki, monkeypatch):
    """Setting AMQP_CA_FILE means TLS was meant: a plain amqp:// URI with it is a mistake."""
    monkeypatch.setenv("AMQP_CA_FILE", str(pki["ca"].ca_file))
    with pytest.raises(RuntimeError, match="amqps://"):
        config.amqp_ssl("amqp://guest:guest@127.0.0.1:5672/")
    monkeypatch.delenv("AMQP_CA_FILE")
    assert config.amqp_ssl("amqp://guest:guest@127.0.0.1:5672/") is None


@pytest.mark.integration
def test_a_service_serves_rpc_and_publishes_its_events_over_tls(pki, tmp_path, monkeypatch):
    """The auth service (its RPC consumer and its outbox relay) and the gateway's client, all
    through the TLS front only."""
    monkeypatch.setenv("AMQP_CA_FILE", str(pki["ca"].ca_file))  # for the gateway's client here
    with TlsFront(pki["broker"]) as front, SmtpCapture() as smtp, NewsreelSystem(
            backend="sqlite", tmp_path=tmp_path, smtp=smtp,
            env={"AMQP_CA_FILE": str(pki["ca"].ca_file)}) as system:
        uri = amqps_uri(front, system.vhost)
        system.env["AMQP_URI"] = uri
        for process in system.processes.values():
            process.env["AMQP_URI"] = uri
        tap = system.tap(["auth.events"])
        system.start("auth", timeout=60)
        rpc = NamekoRpc(uri, pool_size=1, timeout=10, ping_timeout=10)
        try:
            rpc.ping("auth")
            rpc.call("auth", "register", email="tls@example.org",
                     password="Tls-Sample-Pass-42!", full_name="Tess Ell",
                     organisation="Newsreel", language="en", client_ip="192.0.2.1",
                     terms_version="2024-01")
        finally:
            rpc.close()
        tap.wait_for(None)  # an event the outbox relay published
        # nothing reached the broker but through the front
        assert all(c.get("ssl") is False and c["peer_port"] for c in system.vhost.connections())
        assert front.handshakes >= 3


def test_the_outbox_relay_publishes_over_tls(pki, vhost, tmp_path, monkeypatch):
    """The relay's publisher verifies the broker like every other connection of the process.
    (kombu pools producers by address, not by TLS options: a publisher without them would hand
    its unverified connection to the others, or fail where they succeed.)"""
    monkeypatch.setenv("AMQP_CA_FILE", str(pki["ca"].ca_file))
    metadata = MetaData()
    box = Outbox("tlstest", outbox_table(metadata))
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    metadata.create_all(engine)
    with make_session_factory(engine).begin() as session:
        box.add(session, "thing.happened.v1", {"n": 1}, subject="1")
    with blocking_channel(vhost.amqp_uri) as channel:  # somewhere for the event to go
        channel.exchange_declare("tlstest.events", "topic", durable=True)
        channel.queue_declare("tlstest-all", durable=True)
        channel.queue_bind("tlstest-all", "tlstest.events", "#")
    with TlsFront(pki["broker"]) as front:
        assert Relay(box, engine, amqps_uri(front, vhost)).publish_pending() == 1
        assert front.handshakes == 1
    assert vhost.queue_messages("tlstest-all") == 1
    engine.dispose()
