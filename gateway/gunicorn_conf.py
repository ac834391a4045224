"""gunicorn settings for the gateway: `gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app`.

Threads, not green threads (the Flask process is never monkey-patched), and one started RPC
proxy per thread: RPC_POOL_SIZE sets both. Every value can still be overridden on the command
line or with GUNICORN_CMD_ARGS."""

import os

from prometheus_client import multiprocess

_pool_size = int(os.environ.get("RPC_POOL_SIZE") or 8)

bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or 8000}"  # noqa: S104
worker_class = "gthread"
workers = int(os.environ.get("GATEWAY_WORKERS") or 1)
threads = _pool_size
# An RPC times out after RPC_TIMEOUT_SECONDS (10 by default): leave room for it.
timeout = 60
graceful_timeout = 30
errorlog = "-"
# gunicorn 27's control socket defaults to one path per user: two gateways on a machine (tests,
# dev) would fight over it, and nothing here uses it.
control_socket_disable = True
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        "static_fields": {"service": "gateway"},
    }},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    # wsgi.py puts its own JSON handler (with request ids) on the root logger once loaded
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # the app already writes one line per request, with its request id
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def child_exit(server, worker):
    # With several workers, metrics go through PROMETHEUS_MULTIPROC_DIR; a dead worker's live
    # gauges must stop counting.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
