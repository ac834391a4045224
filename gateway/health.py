"""Probes. /healthz: the process answers (it never touches the broker, so a broker outage does
not get healthy gateways restarted). /readyz: the broker answers and so do the services the
gateway needs, each to an RPC ping within READINESS_TIMEOUT_SECONDS."""

import logging

from flask import Blueprint, jsonify

from .rpc import BrokerUnavailable, ServiceUnavailable, current_rpc

log = logging.getLogger(__name__)

health = Blueprint("health", __name__)

REQUIRED_SERVICES = ("auth",)


@health.get("/healthz")
def alive():
    return jsonify(status="ok")


@health.get("/readyz")
def ready():
    checks = {"broker": "ok"}
    for service in REQUIRED_SERVICES:
        try:
            current_rpc().ping(service)
            checks[service] = "ok"
        except BrokerUnavailable as exc:
            log.warning("not ready: %s", exc)
            checks["broker"] = "unavailable"
            checks[service] = "unknown"
        except ServiceUnavailable as exc:
            log.warning("not ready: %s", exc)
            checks[service] = "unavailable"
    is_ready = all(state == "ok" for state in checks.values())
    return jsonify(status="ready" if is_ready else "unavailable", checks=checks), (
        200 if is_ready else 503)
