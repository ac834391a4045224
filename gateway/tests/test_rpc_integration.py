"""The real proxy pool against a real RabbitMQ (a throw-away vhost) and a tiny nameko service
in its own process (the test process, like the gateway, is never monkey-patched): answers
cross the broker, threads never share a proxy nor get each other's replies, and a timed-out
or cut proxy is replaced."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.rpc import BrokerUnavailable, NamekoRpc, ServiceUnavailable
from services.shared.errors import ServiceError
from tests.support.chaos import TcpProxy
from tests.support.rabbit import TestVhost

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SERVICE_NAME = "gateway_probe"


@pytest.fixture(scope="module")
def vhost():
    with TestVhost(prefix="newsreel-gateway-test") as created:
        yield created


@pytest.fixture(scope="module")
def probe_service(vhost):
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.tests.rpc_probe_service"], cwd=REPO,
        env={**os.environ, "AMQP_URI": vhost.amqp_uri, "PROBE_SERVICE_NAME": SERVICE_NAME,
             "PYTHONWARNINGS": "ignore"})
    client = NamekoRpc(vhost.amqp_uri, pool_size=1, timeout=2, ping_timeout=2)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping(SERVICE_NAME)
                break
            except ServiceUnavailable:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        yield process
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_rpc(uri, pool_size=4, timeout=5.0, ping_timeout=2.0):
    return NamekoRpc(uri, pool_size=pool_size, timeout=timeout, ping_timeout=ping_timeout)


def test_answers_and_service_errors_cross_the_broker(vhost, probe_service):
    rpc = make_rpc(vhost.amqp_uri)
    try:
        assert rpc.call(SERVICE_NAME, "echo", value={"a": [1, "b"]}) == {"a": [1, "b"]}
        with pytest.raises(ServiceError) as raised:
            rpc.call(SERVICE_NAME, "fail", code="rate_limited", details={"retry_after": 3})
        assert raised.value.code == "rate_limited"
        assert raised.value.details == {"retry_after": "3"}  # nameko stringifies values
        rpc.ping(SERVICE_NAME)
    finally:
        rpc.close()


def test_threads_never_get_each_others_replies(vhost, probe_service):
    rpc = make_rpc(vhost.amqp_uri, pool_size=4)

    def calls(thread: int) -> list[bool]:
        return [rpc.call(SERVICE_NAME, "echo", value=f"{thread}-{n}") == f"{thread}-{n}"
                for n in range(25)]

    try:
        with ThreadPoolExecutor(max_workers=12) as threads:
            results = list(threads.map(calls, range(12)))
        assert all(all(thread) for thread in results)
    finally:
        rpc.close()


def test_a_timed_out_proxy_is_replaced_and_its_late_reply_never_seen(vhost, probe_service):
    rpc = make_rpc(vhost.amqp_uri, pool_size=1, timeout=0.5)
    try:
        with pytest.raises(ServiceUnavailable, match="timed out"):
            rpc.call(SERVICE_NAME, "sleep", seconds=1.5)
        time.sleep(1.5)  # the late reply is now in the old proxy's queue
        assert rpc.call(SERVICE_NAME, "echo", value="fresh") == "fresh"
    finally:
        rpc.close()


def test_a_service_nobody_runs_is_unavailable_at_once(vhost, probe_service):
    rpc = make_rpc(vhost.amqp_uri)
    try:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="not running"):
            rpc.call("nobody_runs_this", "ping")
        with pytest.raises(ServiceUnavailable):
            rpc.ping("nobody_runs_this")
        assert time.monotonic() - started < 2
        # the proxy survived: the next call is answered
        assert rpc.call(SERVICE_NAME, "echo", value=1) == 1
    finally:
        rpc.close()


def test_a_broker_out_of_reach_is_broker_unavailable():
    with TcpProxy() as proxy:
        port = proxy.address[1]
    # the proxy is stopped: nothing listens on its port any more
    rpc = make_rpc(f"amqp://guest:guest@127.0.0.1:{port}/", timeout=2)
    with pytest.raises(BrokerUnavailable):
        rpc.call(SERVICE_NAME, "echo", value=1)
    with pytest.raises(BrokerUnavailable):
        rpc.ping(SERVICE_NAME)


def test_cut_connections_are_replaced(vhost, probe_service):
    with TcpProxy() as proxy:
        rpc = make_rpc(vhost.amqp_uri_via(proxy.address[1]), pool_size=2, timeout=3)
        try:
            assert rpc.call(SERVICE_NAME, "echo", value="before") == "before"
            proxy.cut()
            proxy.block()  # and no reconnection while the broker is "down"
            with pytest.raises(ServiceUnavailable):
                rpc.call(SERVICE_NAME, "echo", value="during")
            proxy.unblock()
            answers = [rpc.call(SERVICE_NAME, "echo", value=n) for n in range(5)]
            assert answers == list(range(5))
        finally:
            rpc.close()


def test_this_process_is_not_monkey_patched():
    import socket

    import eventlet.patcher

    assert not eventlet.patcher.is_monkey_patched("socket")
    assert socket.socket.__module__ == "socket"
