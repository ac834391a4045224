"""How the gateway calls the nameko services.

The measured facts (design/ARCHITECTURE.md): a standalone `ClusterRpcProxy` is single-threaded
(one shared by all threads broke with `KeyError: None` and hangs), and one per request was 3x
slower and left a reply queue behind each time. So: a pool of started proxies, about one per
gateway thread, each used by one thread at a time. The Flask process is not monkey-patched.

Everything else in the gateway sees only `RpcClient`, so unit tests swap in a fake."""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from amqp.exceptions import AMQPError
from flask import current_app, g, has_request_context
from kombu.exceptions import OperationalError
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from services.shared import nameko_fixes
from services.shared.config import amqp_ssl

# Imported for its side effect too: it registers ServiceError with nameko, so a service's
# ServiceError reaches us as an instance with its code and details, not as a RemoteError.
from services.shared.errors import ServiceError  # noqa: F401

log = logging.getLogger(__name__)

# After one of these the proxy's connection or reply consumer may be half-dead, or a late reply
# may still arrive on it: it is thrown away, never handed to the next request.
# (RuntimeError: nameko's reply consumer saying it was stopped or disconnected.)
BROKEN_PROXY_ERRORS = (RpcTimeout, OSError, AMQPError, OperationalError, RuntimeError)


class ServiceUnavailable(Exception):
    """The service did not answer (not running, timed out, or the broker is out of reach)."""

    def __init__(self, service: str, reason: str):
        super().__init__(service, reason)
        self.service = service
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.service}: {self.reason}"


class BrokerUnavailable(ServiceUnavailable):
    """No connection to RabbitMQ could be made: no service can be reached at all."""


class RpcClient(Protocol):
    def call(self, service: str, method: str, **kwargs: Any) -> Any:
        """The method's result; raises ServiceError as the service raised it, or
        ServiceUnavailable."""

    def ping(self, service: str) -> None:
        """Returns when `service` answers its `ping` RPC in time; raises BrokerUnavailable or
        ServiceUnavailable otherwise."""


@dataclass
class StartedProxy:
    """A started ClusterRpcProxy: `cluster` makes the calls, `stop()` closes its connection."""

    cluster: Any
    stop: Callable[[], None]
    # what nameko sends as each call's context data (the proxy's worker context)
    context: dict = field(default_factory=dict)


def start_cluster_proxy(amqp_uri: str, timeout: float) -> StartedProxy:
    # transient requests, and a reply queue that lives and dies with this proxy's connection
    nameko_fixes.apply()
    runner = ClusterRpcProxy({"AMQP_URI": amqp_uri, "AMQP_SSL": amqp_ssl(amqp_uri),
                              "SERIALIZER": "json"}, timeout=timeout)
    return StartedProxy(cluster=runner.start(), stop=runner.stop,
                        context=runner._worker_ctx.data)


def _carry_request_id(proxy: StartedProxy) -> None:
    """The gateway request this call serves goes along as the call's nameko context data, so
    the service logs it (services/shared/logcontext.py). A proxy serves one thread at a time:
    its context is set afresh for each call."""
    proxy.context.clear()
    if has_request_context() and g.get("request_id"):
        proxy.context["request_id"] = g.request_id


class ProxyPool:
    """At most `size` started proxies, created when first needed, each lent to one thread at a
    time. A proxy whose call failed at the transport level is stopped and forgotten; the next
    checkout starts a fresh one."""

    def __init__(self, start_proxy: Callable[[], StartedProxy], size: int,
                 checkout_timeout: float):
        self._start_proxy = start_proxy
        self._checkout_timeout = checkout_timeout
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[StartedProxy] = []
        self._idle_lock = threading.Lock()

    def call(self, service: str, method: str, **kwargs: Any) -> Any:
        # More threads than proxies (a misconfiguration) makes callers wait, never share.
        if not self._slots.acquire(timeout=self._checkout_timeout):
            raise ServiceUnavailable(service, "every RPC proxy stayed busy")
        try:
            proxy = self._take_idle() or self._start(service)
            _carry_request_id(proxy)
            try:
                result = getattr(proxy.cluster[service], method)(**kwargs)
            except UnknownService as exc:
                # Nobody consumes the service's queue; the proxy itself is fine.
                self._give_back(proxy)
                raise ServiceUnavailable(service, "not running") from exc
            except BROKEN_PROXY_ERRORS as exc:
                self._discard(proxy, exc)
                reason = "timed out" if isinstance(exc, RpcTimeout) else "connection lost"
                raise ServiceUnavailable(service, reason) from exc
            except Exception:
                # The reply came back (ServiceError, RemoteError): the proxy is in a clean state.
                self._give_back(proxy)
                raise
            except BaseException as exc:
                self._discard(proxy, exc)
                raise
            self._give_back(proxy)
            return result
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for proxy in idle:
            self._stop_quietly(proxy)

    def _take_idle(self) -> StartedProxy | None:
        with self._idle_lock:
            return self._idle.pop() if self._idle else None

    def _start(self, service: str) -> StartedProxy:
        try:
            return self._start_proxy()
        except BROKEN_PROXY_ERRORS as exc:
            raise BrokerUnavailable(service, f"cannot connect to the broker: {exc}") from exc

    def _give_back(self, proxy: StartedProxy) -> None:
        with self._idle_lock:
            self._idle.append(proxy)

    def _discard(self, proxy: StartedProxy, cause: BaseException) -> None:
        log.warning("RPC proxy discarded after %r; the next call starts a new one", cause)
        self._stop_quietly(proxy)

    @staticmethod
    def _stop_quietly(proxy: StartedProxy) -> None:
        try:
            proxy.stop()
        except Exception:  # its connection is already gone: nothing left to close
            log.debug("stopping an RPC proxy failed", exc_info=True)


class NamekoRpc:
    """The real RpcClient: one pool for requests, and a one-proxy pool with a short timeout for
    readiness probes, so that a slow probe never holds a request's proxy."""

    def __init__(self, amqp_uri: str, pool_size: int, timeout: float, ping_timeout: float):
        self._calls = ProxyPool(lambda: start_cluster_proxy(amqp_uri, timeout),
                                size=pool_size, checkout_timeout=timeout)
        self._pings = ProxyPool(lambda: start_cluster_proxy(amqp_uri, ping_timeout),
                                size=1, checkout_timeout=ping_timeout)

    @classmethod
    def from_config(cls, config: dict) -> "NamekoRpc":
        return cls(config["AMQP_URI"], config["RPC_POOL_SIZE"], config["RPC_TIMEOUT_SECONDS"],
                   config["READINESS_TIMEOUT_SECONDS"])

    def call(self, service: str, method: str, **kwargs: Any) -> Any:
        return self._calls.call(service, method, **kwargs)

    def ping(self, service: str) -> None:
        answer = self._pings.call(service, "ping")
        if answer != "pong":
            raise ServiceUnavailable(service, f"unexpected ping answer {answer!r}")

    def close(self) -> None:
        self._calls.close()
        self._pings.close()


def current_rpc() -> RpcClient:
    """The app's RpcClient (create_app puts it there)."""
    return current_app.extensions["rpc"]
