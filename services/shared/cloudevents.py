"""The CloudEvents 1.0 structured-mode JSON envelope every event travels in.

Routing key = the event type (`account.registered.v1`); the CloudEvents `type` adds the
producing service (`newsreel.auth.account.registered.v1`) so the envelope stands on its own."""

import json
import uuid
from datetime import UTC, datetime

import kombu.serialization

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
SERIALIZER = "cloudevents"


def envelope(service: str, event_type: str, data: dict, subject: str | None = None,
             event_id: str | None = None, time: datetime | None = None) -> dict:
    event = {
        "specversion": SPECVERSION,
        "id": event_id or str(uuid.uuid4()),
        "source": f"/services/{service}",
        "type": f"newsreel.{service}.{event_type}",
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject is not None:
        event["subject"] = subject
    return event


def event_type_of(event: dict) -> str:
    """`newsreel.auth.account.registered.v1` -> `account.registered.v1`."""
    return event["type"].split(".", 2)[2]


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def register_serializer() -> None:
    """Let kombu (and so nameko) publish and accept `application/cloudevents+json`."""
    kombu.serialization.register(SERIALIZER, _dumps, json.loads,
                                 content_type=CONTENT_TYPE, content_encoding="utf-8")


register_serializer()
