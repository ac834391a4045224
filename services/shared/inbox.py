"""The idempotent consumer: which events a handler has already processed.

The id is recorded in the same transaction as the handler's own changes, so an event is either
fully handled and remembered, or neither."""

from datetime import UTC, datetime

from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from .db import UtcDateTime


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events", metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("processed_at", UtcDateTime(), nullable=False),
    )


class Inbox:
    def __init__(self, table: Table):
        self.table = table

    def seen(self, session: Session, consumer: str, event_id: str) -> bool:
        query = select(self.table.c.event_id).where(
            self.table.c.consumer == consumer, self.table.c.event_id == event_id)
        return session.execute(query).first() is not None

    def remember(self, session: Session, consumer: str, event_id: str) -> None:
        """Raises IntegrityError if another worker remembered it first: the caller's
        transaction then rolls back and the duplicate is dropped."""
        session.execute(insert(self.table).values(
            consumer=consumer, event_id=event_id, processed_at=datetime.now(UTC)))
