"""The proxy pool without a broker: proxies are started lazily, lent to one thread at a time,
kept after an answer (even an error answer) and replaced after a transport failure."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

from gateway.rpc import BrokerUnavailable, ProxyPool, ServiceUnavailable, StartedProxy
from services.shared.errors import ServiceError


class FakeProxies:
    """Starts fake proxies whose calls run `behaviour(service, method, kwargs)`, and checks
    that no proxy is ever used by two threads at once."""

    def __init__(self, behaviour=None):
        self.behaviour = behaviour or (lambda service, method, kwargs: kwargs.get("value"))
        self.started: list[dict] = []
        self.start_error: Exception | None = None
        self.lock = threading.Lock()

    def start(self) -> StartedProxy:
        if self.start_error is not None:
            raise self.start_error
        state = {"id": len(self.started), "busy": False, "stopped": False, "calls": 0}
        with self.lock:
            self.started.append(state)
        outer = self

        class Method:
            def __init__(self, service, method):
                self.service, self.method = service, method

            def __call__(self, **kwargs):
                assert not state["busy"], "a proxy was shared between threads"
                assert not state["stopped"], "a stopped proxy was used"
                state["busy"] = True
                state["calls"] += 1
                try:
                    return outer.behaviour(self.service, self.method, kwargs)
                finally:
                    state["busy"] = False

        class Service:
            def __init__(self, name):
                self.name = name

            def __getattr__(self, method):
                return Method(self.name, method)

        class Cluster:
            def __getitem__(self, service):
                return Service(service)

        return StartedProxy(cluster=Cluster(), stop=lambda: state.update(stopped=True))


def pool_of(proxies, size=2, checkout_timeout=1.0):
    return ProxyPool(proxies.start, size=size, checkout_timeout=checkout_timeout)


def test_proxies_start_lazily_and_are_reused():
    proxies = FakeProxies()
    pool = pool_of(proxies)
    assert proxies.started == []

    assert pool.call("auth", "echo", value=1) == 1
    assert pool.call("auth", "echo", value=2) == 2
    assert len(proxies.started) == 1
    assert proxies.started[0]["calls"] == 2


@pytest.mark.parametrize("answer", [ServiceError("rate_limited", {"retry_after": "2"}),
                                    RemoteError("ValueError", "a bug in the service")])
def test_an_error_answer_keeps_the_proxy(answer):
    def behaviour(service, method, kwargs):
        raise answer

    proxies = FakeProxies(behaviour)
    pool = pool_of(proxies)
    for _ in range(2):
        with pytest.raises(type(answer)):
            pool.call("auth", "verify_account")
    assert len(proxies.started) == 1
    assert not proxies.started[0]["stopped"]


@pytest.mark.parametrize(("failure", "reason"), [
    (RpcTimeout(10), "timed out"),
    (OperationalError("connection reset"), "connection lost"),
    (ConnectionResetError(104, "reset"), "connection lost"),
    (RuntimeError("This consumer has been disconnected"), "connection lost"),
])
def test_a_transport_failure_discards_the_proxy(failure, reason):
    failures = [failure]

    def behaviour(service, method, kwargs):
        if failures:
            raise failures.pop()
        return "ok"

    proxies = FakeProxies(behaviour)
    pool = pool_of(proxies)
    with pytest.raises(ServiceUnavailable, match=reason) as raised:
        pool.call("auth", "login")
    assert raised.value.service == "auth"
    assert proxies.started[0]["stopped"]

    assert pool.call("auth", "login") == "ok"
    assert len(proxies.started) == 2


def test_an_unknown_service_is_unavailable_but_the_proxy_is_kept():
    def behaviour(service, method, kwargs):
        raise UnknownService(service)

    proxies = FakeProxies(behaviour)
    pool = pool_of(proxies)
    with pytest.raises(ServiceUnavailable, match="not running"):
        pool.call("auth", "ping")
    assert not proxies.started[0]["stopped"]


def test_no_broker_is_broker_unavailable_and_frees_the_slot():
    proxies = FakeProxies()
    proxies.start_error = ConnectionRefusedError(111, "Connection refused")
    pool = pool_of(proxies, size=1)
    for _ in range(3):  # the slot is given back each time: no waiting on a dead pool
        with pytest.raises(BrokerUnavailable):
            pool.call("auth", "ping")

    proxies.start_error = None
    assert pool.call("auth", "echo", value="back") == "back"


def test_threads_never_share_a_proxy_and_never_exceed_the_pool():
    def behaviour(service, method, kwargs):
        time.sleep(0.002)
        return kwargs["value"]

    proxies = FakeProxies(behaviour)
    pool = pool_of(proxies, size=4, checkout_timeout=10)

    def calls(thread):
        return all(pool.call("auth", "echo", value=(thread, n)) == (thread, n)
                   for n in range(30))

    with ThreadPoolExecutor(max_workers=16) as threads:
        assert all(threads.map(calls, range(16)))
    assert 1 <= len(proxies.started) <= 4


def test_a_caller_waits_for_a_free_proxy_then_gives_up():
    release = threading.Event()

    def behaviour(service, method, kwargs):
        release.wait(5)
        return "done"

    proxies = FakeProxies(behaviour)
    pool = pool_of(proxies, size=1, checkout_timeout=0.2)
    with ThreadPoolExecutor(max_workers=1) as other:
        busy = other.submit(pool.call, "auth", "slow")
        time.sleep(0.05)
        with pytest.raises(ServiceUnavailable, match="busy"):
            pool.call("auth", "echo", value=1)
        release.set()
        assert busy.result() == "done"
    assert len(proxies.started) == 1


def test_close_stops_idle_proxies():
    proxies = FakeProxies()
    pool = pool_of(proxies)
    pool.call("auth", "echo", value=1)
    pool.close()
    assert proxies.started[0]["stopped"]
