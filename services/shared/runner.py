"""Runs one nameko service as a process: JSON logs, a port for /metrics and the probes
(/healthz, /readyz), graceful SIGTERM.

Each service's `__main__` monkey-patches eventlet first, then calls `run()`."""

import logging
import signal
import sys

import eventlet
from nameko.runners import ServiceRunner
from pythonjsonlogger.json import JsonFormatter

from . import cloudevents, nameko_fixes
from .config import amqp_ssl, amqp_uri, env, env_int
from .logcontext import LogContextFilter
from .metrics import serve_metrics

log = logging.getLogger(__name__)


def nameko_config() -> dict:
    return {
        "AMQP_URI": amqp_uri(),
        # amqps://: every connection nameko opens verifies the broker (AMQP_CA_FILE)
        "AMQP_SSL": amqp_ssl(),
        "SERIALIZER": "json",
        "ACCEPT": ["json", cloudevents.SERIALIZER],
        "max_workers": env_int("MAX_WORKERS", 10),
        "HEARTBEAT": env_int("AMQP_HEARTBEAT", 30),
    }


class _ExpectedErrorsWithoutTraceback(logging.Filter):
    """nameko logs an RPC's expected ServiceError (a wrong code, a weak password) with its
    traceback; the one-line message is all an operator needs."""

    def filter(self, record):
        if record.getMessage().startswith("(expected)"):
            record.exc_info = None
            record.exc_text = None
        return True


def setup_logging(service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"service": service}))
    handler.addFilter(_ExpectedErrorsWithoutTraceback())
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(env("LOG_LEVEL", "INFO"))
    # kombu logs every reconnection attempt at length; its warnings are enough
    logging.getLogger("kombu").setLevel(logging.WARNING)


def run(service_cls, default_metrics_port: int) -> None:
    service = service_cls.name
    setup_logging(service)
    nameko_fixes.apply()
    port = env_int("METRICS_PORT", default_metrics_port)
    probes = serve_metrics(port)
    runner = ServiceRunner(nameko_config())
    runner.add_service(service_cls)

    def _graceful_stop(signum, _frame):
        log.info("signal %s: finishing the work in hand, then stopping", signum)
        # Not ready first: the pod leaves its Service's endpoints while the work in hand ends.
        probes.mark_not_ready()
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, _graceful_stop)
    signal.signal(signal.SIGINT, _graceful_stop)
    runner.start()
    # runner.start() returns once every entrypoint is set up, consumers included.
    probes.mark_ready()
    log.info("%s started, metrics on :%s", service, port)
    runner.wait()
    probes.mark_not_ready()
    log.info("%s stopped", service)
