"""What lets one journey be followed across the services' JSON logs: every line a worker
writes carries the gateway request it serves (`request_id`, sent by the gateway with each RPC)
or the event it handles (`event_id`, `event_type`); and each event written to an outbox is
logged with the work that caused it. So a request id leads to the events it caused, and an
event id to what each consumer did with it."""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from weakref import WeakKeyDictionary

from nameko.extensions import DependencyProvider

# Per green thread: greenlet gives each its own contextvars context.
_fields: ContextVar[dict | None] = ContextVar("newsreel_log_fields", default=None)

REQUEST_ID = "request_id"
MAX_ID = 64


def fields_of(context_data: dict, args: tuple) -> dict:
    """The identifiers of a worker's work: its call's request id, the event it handles."""
    found = {}
    request_id = context_data.get(REQUEST_ID)
    if isinstance(request_id, str) and request_id:
        found[REQUEST_ID] = request_id[:MAX_ID]
    event = args[0] if args else None
    if isinstance(event, dict) and "specversion" in event:
        found["event_id"] = str(event.get("id", ""))[:MAX_ID]
        found["event_type"] = str(event.get("type", ""))[:200]
    return found


class LogContext(DependencyProvider):
    """Declared on a service: its workers' log lines carry `fields_of` their work."""

    def __init__(self):
        self._tokens: WeakKeyDictionary = WeakKeyDictionary()

    def worker_setup(self, worker_ctx):
        self._tokens[worker_ctx] = _fields.set(fields_of(worker_ctx.data, worker_ctx.args))

    def worker_teardown(self, worker_ctx):
        token: Token | None = self._tokens.pop(worker_ctx, None)
        if token is not None:
            _fields.reset(token)


class LogContextFilter(logging.Filter):
    """Copies the current worker's identifiers onto each record (the JSON formatter writes
    them as fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_fields.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
