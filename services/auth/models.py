"""Auth's tables. Only this service reads or writes them."""

from datetime import UTC, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.shared.db import NAMING_CONVENTION, UtcDateTime
from services.shared.outbox import Outbox, outbox_table


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


Timestamp = UtcDateTime()


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    newsletter: Mapped[bool] = mapped_column(Boolean, default=False)
    roles: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    verified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    password_changed_at: Mapped[datetime] = mapped_column(Timestamp)
    # The terms of use the account accepted on registering, and when. Null for the accounts
    # registered before there were terms: they never accepted any.
    terms_version: Mapped[str | None] = mapped_column(String(32))
    terms_accepted_at: Mapped[datetime | None] = mapped_column(Timestamp)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "email": self.email,
            "full_name": self.full_name,
            "organisation": self.organisation,
            "language": self.language,
            "newsletter": self.newsletter,
            "verified": self.verified_at is not None,
            "roles": [role for role in self.roles.split(",") if role],
            "terms_version": self.terms_version,
            "terms_accepted_at": _iso(self.terms_accepted_at),
        }


class VerificationCode(Base):
    """A live code: up to domain.MAX_LIVE_CODES per account and purpose, each single use."""
    __tablename__ = "verification_codes"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class CodeGuard(Base):
    """Wrong codes for one address and purpose, across every code it was sent, and the lock
    they earned. Keyed on the hashed address, known or not: an unknown address is guarded
    (and answered) exactly like a real one."""
    __tablename__ = "code_guards"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    last_failure_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)


class CodeRequest(Base):
    """"Send me a code", recorded alike for every address; the code is made and mailed just
    after, off the answer's path (AccountService.issue_requested_codes), so that the answer
    does the same work whether or not the address has an account."""
    __tablename__ = "code_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    purpose: Mapped[str] = mapped_column(String(10))
    requested_at: Mapped[datetime] = mapped_column(Timestamp)


class UserSession(Base):
    """A signed-in browser or client; only the token's hash is kept."""
    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)   # the absolute limit
    client_ip: Mapped[str | None] = mapped_column(String(45))
    # Idle timeout: a session unused for `idle_seconds` ends (null: none, an API client's).
    # last_seen_at is written at most once a minute (service.SEEN_RESOLUTION).
    last_seen_at: Mapped[datetime | None] = mapped_column(Timestamp)
    idle_seconds: Mapped[int | None] = mapped_column(Integer)
    user_agent: Mapped[str | None] = mapped_column(String(200))


class ResetToken(Base):
    __tablename__ = "reset_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class RateLimitWindow(Base):
    """A fixed-window counter per limit and subject (client address or hashed e-mail)."""
    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(Timestamp, index=True)
    hits: Mapped[int] = mapped_column(Integer)


outbox = Outbox("auth", outbox_table(Base.metadata))


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
