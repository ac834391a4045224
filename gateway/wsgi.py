"""The gateway process: `gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app`."""

import atexit
import warnings

# nameko imports eventlet, which warns on import that it is deprecated; the gateway never
# monkey-patches nor runs eventlet (nameko's standalone RPC proxy works without it).
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from services.shared.config import env  # noqa: E402

from .app import create_app  # noqa: E402
from .observability import setup_json_logging  # noqa: E402
from .uploads import start_sweeper  # noqa: E402

setup_json_logging(env("LOG_LEVEL", "INFO"))
app = create_app()
start_sweeper(app, app.config["UPLOAD_SWEEP_SECONDS"])
# Closing the proxies' connections at exit deletes nothing on the broker: their reply queues
# expire by themselves. It only spares RabbitMQ from logging abrupt disconnections.
atexit.register(app.extensions["rpc"].close)
