"""A tiny nameko service for test_rpc_integration.py, run as its own process:

    AMQP_URI=amqp://…/vhost PROBE_SERVICE_NAME=gateway_probe \
        python -m gateway.tests.rpc_probe_service

eventlet monkey-patches that process only: the tests start it, they never import it."""

if __name__ == "__main__":
    import eventlet

    eventlet.monkey_patch()

import os

import eventlet
from nameko.rpc import rpc
from nameko.runners import ServiceRunner

from services.shared.errors import ServiceError


class GatewayProbe:
    name = os.environ.get("PROBE_SERVICE_NAME", "gateway_probe")

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def echo(self, value):
        return value

    @rpc
    def fail(self, code, details):
        raise ServiceError(code, details)

    @rpc
    def sleep(self, seconds):
        eventlet.sleep(seconds)
        return "late"


if __name__ == "__main__":
    runner = ServiceRunner({"AMQP_URI": os.environ["AMQP_URI"], "SERIALIZER": "json"})
    runner.add_service(GatewayProbe)
    runner.start()
    runner.wait()
