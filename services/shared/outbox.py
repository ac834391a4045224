"""The transactional outbox and its relay.

A service writes its events into the `outbox` table in the same transaction as the change they
describe. The relay publishes them to `<service>.events` with publisher confirms, keeping the
event id, and deletes a row only once the broker has confirmed it. A crash anywhere in between
means the event is published again later, never lost; consumers drop the duplicate by its id.
"""

import json
import logging
import os
import threading
from datetime import UTC, datetime, timedelta

from kombu import Exchange
from nameko.amqp.publish import Publisher
from nameko.extensions import DependencyProvider
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import cloudevents, metrics
from .config import amqp_ssl, env, env_float
from .db import UtcDateTime, make_engine

log = logging.getLogger(__name__)

BATCH = 100
PUBLISH_TIMEOUT = 10.0
# Fault injection for tests: stop the process between the commit and the publish, or between
# the publish and the bookkeeping, of the first event (of a given type: `mode:event.type.v1`).
# Never set in production.
FAULT_ENV = "OUTBOX_RELAY_FAULT"


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("claimed_until", UtcDateTime()),
        Column("attempts", Integer, nullable=False, default=0),
    )


def events_exchange(service: str) -> Exchange:
    return Exchange(f"{service}.events", type="topic", durable=True)


class Outbox:
    """What the service layer calls to emit an event, inside its own transaction."""

    def __init__(self, service: str, table: Table):
        self.service = service
        self.table = table
        self.additions = 0  # lets the relay tell a worker that wrote events from one that did not

    def add(self, session: Session, event_type: str, data: dict,
            subject: str | None = None) -> str:
        event = cloudevents.envelope(self.service, event_type, data, subject=subject)
        session.execute(insert(self.table).values(
            event_id=event["id"], event_type=event_type,
            envelope=json.dumps(event, ensure_ascii=False),
            created_at=datetime.now(UTC), attempts=0))
        self.additions += 1
        # the link from the work at hand (its request or event id) to the event it causes
        log.info("event %s %s written to the outbox", event_type, event["id"],
                 extra={"emitted_event_id": event["id"], "emitted_event_type": event_type})
        return event["id"]


class Relay:
    """Moves committed events from the outbox to the broker. Several relays (replicas) may run:
    each claims a batch for a while before publishing, so they do not publish the same rows."""

    def __init__(self, outbox: Outbox, engine: Engine, amqp_uri: str):
        self.outbox = outbox
        self.table = outbox.table
        self.engine = engine
        self.exchange = events_exchange(outbox.service)
        self.publisher = Publisher(amqp_uri, use_confirms=True, serializer=cloudevents.SERIALIZER,
                                   declare=[self.exchange], ssl=amqp_ssl(amqp_uri))
        fault, _, self.fault_event_type = os.environ.get(FAULT_ENV, "").partition(":")
        self.fault = fault or None
        # How long a relay owns the rows it is publishing. A relay that dies leaves them to
        # the others (or to its restart) after this; it must outlast one confirmed publish.
        self.claim = timedelta(seconds=env_float("OUTBOX_CLAIM_SECONDS", 15.0))

    def _claim(self) -> list:
        now = datetime.now(UTC)
        t = self.table
        with Session(self.engine) as session, session.begin():
            candidates = select(t.c.id).where(
                or_(t.c.claimed_until.is_(None), t.c.claimed_until < now)
            ).order_by(t.c.id).limit(BATCH)
            ids = [row.id for row in session.execute(candidates)]
            if not ids:
                return []
            claimed = session.execute(
                update(t)
                .where(t.c.id.in_(ids), or_(t.c.claimed_until.is_(None), t.c.claimed_until < now))
                .values(claimed_until=now + self.claim,
                        attempts=t.c.attempts + 1)
                .returning(t.c.id, t.c.event_id, t.c.event_type, t.c.envelope)
            ).all()
        return sorted(claimed, key=lambda row: row.id)

    def publish_pending(self) -> int:
        """Publish everything committed so far; returns how many events the broker confirmed."""
        published = 0
        while rows := self._claim():
            for index, row in enumerate(rows):
                try:
                    self._publish(row)
                except Exception:
                    metrics.OUTBOX_PUBLISH_FAILURES.labels(self.outbox.service).inc()
                    self._release([r.id for r in rows[index:]])
                    raise
                published += 1
            if len(rows) < BATCH:
                break
        self.refresh_backlog()
        return published

    def _fault(self, moment: str, row) -> None:
        if self.fault == moment and self.fault_event_type in ("", row.event_type):
            log.warning("fault injection: exiting at %s of %s", moment, row.event_id)
            os._exit(70)

    def _publish(self, row) -> None:
        self._fault("exit_before_publish", row)
        self.publisher.publish(
            json.loads(row.envelope), exchange=self.exchange, routing_key=row.event_type,
            message_id=row.event_id, delivery_mode=2, mandatory=False,
            # a connection that dies between the publish and its confirm must not hang
            # the relay: give up, and the row is published again
            timeout=PUBLISH_TIMEOUT, confirm_timeout=PUBLISH_TIMEOUT)
        self._fault("exit_after_publish", row)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(self.table).where(self.table.c.id == row.id))
        metrics.EVENTS_PUBLISHED.labels(self.outbox.service, row.event_type).inc()

    def _release(self, row_ids: list[int]) -> None:
        """Hands unpublished rows back at once, for the next try (this relay's or another's)."""
        with Session(self.engine) as session, session.begin():
            session.execute(update(self.table).where(self.table.c.id.in_(row_ids))
                            .values(claimed_until=None))

    def refresh_backlog(self) -> int:
        with Session(self.engine) as session:
            backlog = session.execute(select(func.count()).select_from(self.table)).scalar_one()
        metrics.OUTBOX_BACKLOG.labels(self.outbox.service).set(backlog)
        return backlog


class OutboxRelay(DependencyProvider):
    """Runs the relay inside the service: woken after a worker that wrote events (they are
    committed by then), and every `OUTBOX_POLL_SECONDS` otherwise (after a crash or a broker
    outage). Injects the `Outbox` the service layer writes to."""

    def __init__(self, outbox: Outbox, database_url_getter):
        self.outbox = outbox
        self.database_url_getter = database_url_getter
        self.relay = None
        self._wakeup = threading.Event()
        self._running = False
        self._additions_seen = 0

    def setup(self):
        self.relay = Relay(self.outbox, make_engine(self.database_url_getter()),
                           self.container.config["AMQP_URI"])
        self.poll_seconds = env_float("OUTBOX_POLL_SECONDS", 1.0)

    def start(self):
        self._running = True
        self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self):
        self._running = False
        self._wakeup.set()

    def get_dependency(self, worker_ctx):
        return self.outbox

    def worker_teardown(self, worker_ctx):
        if self.outbox.additions != self._additions_seen:  # reads need no relay round
            self._additions_seen = self.outbox.additions
            self._wakeup.set()

    def _run(self):
        backoff = self.poll_seconds
        while self._running:
            self._wakeup.wait(backoff)
            self._wakeup.clear()
            try:
                self.relay.publish_pending()
                backoff = self.poll_seconds
            except Exception:
                log.exception("outbox relay could not publish; will retry")
                backoff = min(max(backoff * 2, 0.5), 15.0)
        # Last chance on a graceful stop: whatever the broker confirms now need not wait.
        if env("OUTBOX_FLUSH_ON_STOP", "1") == "1":
            try:
                self.relay.publish_pending()
            except Exception:
                log.warning("outbox not flushed on stop; the next start will publish it")
