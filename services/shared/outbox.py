"""The transactional outbox and its relay.

A service writes its events into the `outbox` table in the same transaction as the change they
describe. The relay publishes them to `<service>.events` with publisher confirms, keeping the
event id, and deletes a row only once the broker has confirmed it. A crash anywhere in between
means the event is published again later, never lost; consumers drop the duplicate by its id.

Events are published *mandatory*: one that no queue is bound to comes back from the broker
(basic.return) instead of vanishing. Such a row stays in the outbox, is tried again every
OUTBOX_UNROUTABLE_RETRY_SECONDS, and is logged and counted (newsreel_outbox_unroutable_total,
kept="true", which an alert watches): a consumer's queue is missing (the topology step did not
run, a binding was removed) and the event waits for it. The exception is an announcement
(`ANNOUNCEMENTS`): an event the contract offers to whoever subscribes and that no Newsreel
handler needs; with no subscriber there is no one to keep it for (counted, kept="false").
"""

import json
import logging
import os
import threading
from datetime import UTC, datetime, timedelta

from kombu import Connection, Exchange, Producer
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
# The event types no Newsreel handler consumes: offered to outside subscribers (the contract),
# fine to go nowhere. services/shared/tests/test_outbox.py holds this list to the handlers'
# bindings (services.shared.topology) and the contract: every other event has a consumer here.
ANNOUNCEMENTS = frozenset({
    "account.registered.v1", "account.verified.v1", "mail.sent.v1", "mail.failed.v1",
    "cut.ready.v1", "cut.failed.v1",
})


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
        self.amqp_uri = amqp_uri
        self._channel = None
        # kombu's retries when connecting ({"max_retries": 0}: fail at once, for a test)
        self.retry_policy = {"max_retries": 3, "interval_start": 0.5, "interval_step": 1}
        fault, _, self.fault_event_type = os.environ.get(FAULT_ENV, "").partition(":")
        self.fault = fault or None
        # How long a relay owns the rows it is publishing. A relay that dies leaves them to
        # the others (or to its restart) after this; it must outlast one confirmed publish.
        self.claim = timedelta(seconds=env_float("OUTBOX_CLAIM_SECONDS", 15.0))
        # How long an event the broker returned (no queue bound) waits before the next try.
        self.unroutable_retry = timedelta(
            seconds=max(1.0, env_float("OUTBOX_UNROUTABLE_RETRY_SECONDS", 60.0)))

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
        """Publish everything committed so far; returns how many events the broker confirmed
        as routed to a queue."""
        published = 0
        while rows := self._claim():
            for index, row in enumerate(rows):
                try:
                    # kept from round to round; a failure drops it and the next try connects
                    self._channel = self._channel or _ConfirmedChannel(
                        self.amqp_uri, self.exchange, self.retry_policy)
                    routed = self._publish(self._channel, row)
                except Exception:
                    metrics.OUTBOX_PUBLISH_FAILURES.labels(self.outbox.service).inc()
                    self.close()
                    self._release([r.id for r in rows[index:]])
                    raise
                published += routed
            if len(rows) < BATCH:
                break
        self.refresh_backlog()
        return published

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _fault(self, moment: str, row) -> None:
        if self.fault == moment and self.fault_event_type in ("", row.event_type):
            log.warning("fault injection: exiting at %s of %s", moment, row.event_id)
            os._exit(70)

    def _publish(self, channel: "_ConfirmedChannel", row) -> bool:
        """True once the broker confirmed the event routed; False if it returned it."""
        self._fault("exit_before_publish", row)
        routed = channel.publish(json.loads(row.envelope), row.event_type, row.event_id)
        self._fault("exit_after_publish", row)
        if not routed:
            return self._returned(row)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(self.table).where(self.table.c.id == row.id))
        metrics.EVENTS_PUBLISHED.labels(self.outbox.service, row.event_type).inc()
        return True

    def _returned(self, row) -> bool:
        """The broker had no queue for the event: keep it for a later try, unless it is an
        announcement no one subscribed to."""
        kept = row.event_type not in ANNOUNCEMENTS
        metrics.OUTBOX_UNROUTABLE.labels(self.outbox.service, row.event_type,
                                         "true" if kept else "false").inc()
        with Session(self.engine) as session, session.begin():
            if kept:
                session.execute(update(self.table).where(self.table.c.id == row.id).values(
                    claimed_until=datetime.now(UTC) + self.unroutable_retry))
            else:
                session.execute(delete(self.table).where(self.table.c.id == row.id))
        if kept:
            log.error("event %s %s: no queue is bound to it on %s (a consumer's queue is "
                      "missing); kept in the outbox, tried again in %s", row.event_type,
                      row.event_id, self.exchange.name, self.unroutable_retry,
                      extra={"emitted_event_id": row.event_id})
        else:
            log.info("announcement %s %s had no subscriber", row.event_type, row.event_id)
        return False

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


class _ConfirmedChannel:
    """One connection and channel for a relay's round: publisher confirms, mandatory
    publishes, and a basic.return handler, so that a returned event is told from a routed one
    and each publish waits for its own confirm. (nameko's Publisher registers no return
    handler: py-amqp then raises on the return and leaves that message's confirm unread on the
    channel, where the next publish would take it for its own.)"""

    def __init__(self, amqp_uri: str, exchange: Exchange, retry_policy: dict):
        self.connection = Connection(amqp_uri, ssl=amqp_ssl(amqp_uri),
                                     transport_options={"confirm_publish": True})
        try:
            self.connection.ensure_connection(**retry_policy)
            self.returned: set[str] = set()
            self.producer = Producer(self.connection.channel(), exchange=exchange,
                                     serializer=cloudevents.SERIALIZER,
                                     on_return=self._on_return)
            exchange(self.producer.channel).declare()
        except BaseException:
            self.close()
            raise

    def _on_return(self, exception, exchange, routing_key, message) -> None:
        self.returned.add(message.properties.get("message_id"))

    def publish(self, body: dict, routing_key: str, message_id: str) -> bool:
        # RabbitMQ sends a mandatory message's basic.return before its basic.ack, so the
        # return (if any) has been handled once the confirm is in
        self.producer.publish(
            body, routing_key=routing_key, message_id=message_id, delivery_mode=2,
            mandatory=True,
            # a connection that dies between the publish and its confirm must not hang
            # the relay: give up, and the row is published again
            timeout=PUBLISH_TIMEOUT, confirm_timeout=PUBLISH_TIMEOUT)
        if message_id in self.returned:
            self.returned.discard(message_id)
            return False
        return True

    def close(self) -> None:
        try:
            self.connection.release()
        except Exception:  # already gone with the broker: nothing to give back
            log.debug("relay connection closed uncleanly", exc_info=True)


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
        self.relay.close()
