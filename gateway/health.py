"""Probes. /healthz: the process answers (it never touches the broker, so a broker outage does
not get healthy gateways restarted). /readyz: this gateway can serve, which asks no service:
an outage of auth, of the catalog or of the broker is every gateway's alike, and taking them
all out of their Service would also stop what needs none of them (public pages served from
cache, downloads of links already issued, nginx's own answers). A route whose service does not
answer says so itself: 503 with the error table's `service_unavailable` (gateway/errors.py)."""

from flask import Blueprint, jsonify

health = Blueprint("health", __name__)


@health.get("/healthz")
def alive():
    return jsonify(status="ok")


@health.get("/readyz")
def ready():
    # gunicorn stops accepting on SIGTERM and nginx's preStop sleep drains the pod: nothing
    # here needs to say "not ready" while stopping
    return jsonify(status="ready")
