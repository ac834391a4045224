"""The mailer's tables: the mail log, the events already handled, its own outbox."""

from datetime import datetime

from sqlalchemy import Boolean, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.shared.db import NAMING_CONVENTION, UtcDateTime
from services.shared.inbox import Inbox, processed_events_table
from services.shared.outbox import Outbox, outbox_table


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Mail(Base):
    """One mail caused by one event, to one account (a newsletter is one event, many mails).
    Never holds the code or any other secret."""
    __tablename__ = "mails"
    __table_args__ = (UniqueConstraint("event_id", "kind", "account_id", name="uq_mails_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str | None] = mapped_column(String(36), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2))
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))   # sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # while a worker sends it: a second copy of the event waits instead of mailing twice
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Subscriber(Base):
    """The newsletter's audience: a projection of auth's `newsletter.subscription_changed.v1`
    events (only verified accounts can subscribe). `changed_at` keeps a late, retried event
    from undoing a newer choice."""
    __tablename__ = "subscribers"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    subscribed: Mapped[bool] = mapped_column(Boolean, index=True)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


outbox = Outbox("mailer", outbox_table(Base.metadata))
inbox = Inbox(processed_events_table(Base.metadata))
