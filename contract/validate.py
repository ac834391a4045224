"""Checks an event against its schema in `contract/events/`.

    from contract import validate
    validate.problems(event)                 # [] when the event keeps the contract
    validate.problems(event, "news.published.v1")
    validate.exchange_of("news.published.v1")   # "catalog.events"

Used by the test harness (every event a service emits during the integration tests) and by
the subscriber's `--validate`. Schemas are read and compiled once per process.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

EVENTS_DIR = Path(__file__).resolve().parent / "events"
SCHEMA_SUFFIX = ".schema.json"
EXAMPLE_SUFFIX = ".example.json"
# the producers' exchanges, `<service>.events`; the CloudEvents `type` names the service
EXCHANGES = ("auth.events", "catalog.events", "transcoder.events", "mailer.events")
CONTENT_TYPE = "application/cloudevents+json"
# a failing event lists this many schema errors at most: the first ones say what is wrong
MAX_ERRORS = 5


class UnknownEventType(KeyError):
    def __str__(self) -> str:
        return (f"no schema for event type {self.args[0]!r} in {EVENTS_DIR} "
                f"(known: {', '.join(event_types())})")


@functools.cache
def schemas() -> dict[str, dict]:
    """Event type → its schema, for every `<event type>.schema.json`."""
    return {path.name.removesuffix(SCHEMA_SUFFIX): json.loads(path.read_text())
            for path in sorted(EVENTS_DIR.glob(f"*{SCHEMA_SUFFIX}"))}


def event_types(include_internal: bool = True) -> list[str]:
    return [name for name, schema in schemas().items()
            if include_internal or not is_internal(name)]


def schema_of(event_type: str) -> dict:
    try:
        return schemas()[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def schema_path(event_type: str) -> Path:
    schema_of(event_type)
    return EVENTS_DIR / f"{event_type}{SCHEMA_SUFFIX}"


def example_path(event_type: str) -> Path:
    return EVENTS_DIR / f"{event_type}{EXAMPLE_SUFFIX}"


def is_internal(event_type: str) -> bool:
    """An event a service emits for itself, which other teams must not build on."""
    return bool(schema_of(event_type).get("x-newsreel-internal"))


def service_of(event_type: str) -> str:
    """The producing service, from the schema's CloudEvents type
    (`newsreel.<service>.<event type>`)."""
    cloudevents_type = schema_of(event_type)["properties"]["type"]["const"]
    return cloudevents_type.split(".", 2)[1]


def exchange_of(event_type: str) -> str:
    return f"{service_of(event_type)}.events"


def event_type_of(event: Any) -> str | None:
    """`newsreel.auth.account.registered.v1` → `account.registered.v1` (None if not that)."""
    cloudevents_type = event.get("type") if isinstance(event, dict) else None
    if not isinstance(cloudevents_type, str) or cloudevents_type.count(".") < 2:
        return None
    return cloudevents_type.split(".", 2)[2]


@functools.cache
def validator(event_type: str) -> Draft202012Validator:
    # formats are checked where jsonschema can (uuid, email); timestamps carry a pattern
    return Draft202012Validator(schema_of(event_type),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(event: Any, event_type: str | None = None) -> list[str]:
    """What keeps `event` (a parsed CloudEvent) from its contract; [] when nothing does.
    `event_type`: the routing key it came with; by default the one its `type` names."""
    event_type = event_type or event_type_of(event)
    if event_type is None:
        return ["not a Newsreel CloudEvent: no `type` of the form newsreel.<service>.<event>"]
    try:
        checker = validator(event_type)
    except UnknownEventType as unknown:
        return [str(unknown)]
    errors = sorted(checker.iter_errors(event), key=lambda e: list(e.absolute_path))
    found = [f"{error.json_path}: {error.message}" for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        found.append(f"… and {len(errors) - MAX_ERRORS} more")
    return found


def message_problems(body: bytes | str, routing_key: str,
                     content_type: str | None = CONTENT_TYPE) -> list[str]:
    """`problems()` for a message as it came off the broker: its body must be JSON, its
    content type the CloudEvents one (when given), its routing key the event's type."""
    found = []
    if content_type != CONTENT_TYPE:
        found.append(f"content type {content_type!r}, not {CONTENT_TYPE!r}")
    try:
        event = json.loads(body)
    except ValueError as error:
        return [*found, f"body is not JSON: {error}"]
    named = event_type_of(event)
    if named is not None and named != routing_key:
        found.append(f"routing key {routing_key!r} but the event's type is {named!r}")
    return found + problems(event, routing_key)


def describe(event_type: str, event: Any, found: list[str]) -> str:
    """One paragraph of a failure report: the event, its id, what breaks. `event` parsed, or
    the body as it came off the broker."""
    if isinstance(event, bytes | str):
        try:
            event = json.loads(event)
        except ValueError:
            event = None
    event_id = event.get("id") if isinstance(event, dict) else None
    against = f"{event_type}{SCHEMA_SUFFIX}" if event_type in schemas() else "no schema"
    return "\n".join([f"{event_type} (event id {event_id!r}), against {against}:",
                      *(f"  - {line}" for line in found)])
