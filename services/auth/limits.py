"""Rate limits on the account endpoints, per client and per (hashed e-mail address, client).

Fixed windows counted in the database, so every auth replica sees the same counts. A hit is
committed in its own transaction before the guarded operation runs: a failed login still
counts. Limits keyed on the e-mail apply whether or not an account exists (no enumeration).

No limit counts every client's requests for one address: anyone could then spend the owner's
share and lock them out. What one address receives is bounded instead by what it costs no one
to keep (mails: `code_mail_email`, past which a request is answered alike and sends nothing,
the codes already sent staying good), by the code locks (domain.code_lock_after), and by an
escalation: past `login_failures_email` wrong passwords for one address, from anywhere, every
client gets only `login_email_ip_escalated` tries at that address."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.shared.db import transaction
from services.shared.errors import ServiceError

from .models import RateLimitWindow


@dataclass(frozen=True)
class Limit:
    hits: int
    seconds: int


DEFAULT_LIMITS = {
    "register_ip": Limit(20, 3600),
    "register_email_ip": Limit(5, 3600),
    "resend_ip": Limit(30, 3600),
    "resend_email_ip": Limit(1, 60),          # one new code a minute: 429 + Retry-After
    "resend_email_ip_hourly": Limit(6, 3600),
    "login_ip": Limit(100, 900),
    "login_email_ip": Limit(10, 900),
    "login_failures_email": Limit(30, 900),   # counted on wrong passwords only, from anywhere
    "login_email_ip_escalated": Limit(3, 3600),
    "code_ip": Limit(50, 900),
    "code_email_ip": Limit(10, 900),          # on top of the code locks
    "reset_ip": Limit(30, 3600),
    "reset_email_ip": Limit(1, 60),
    "reset_email_ip_hourly": Limit(6, 3600),
    "code_mail_email": Limit(6, 3600),        # codes mailed to one address, whoever asks
}


def parse_limits(overrides: str | None) -> dict[str, Limit]:
    """`login_ip=1000/60,register_ip=500/3600` replaces those limits (a load test, CI)."""
    limits = dict(DEFAULT_LIMITS)
    for part in (overrides or "").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        hits, _, seconds = value.partition("/")
        if name.strip() not in limits:
            raise ValueError(f"unknown rate limit {name!r}; known: {', '.join(limits)}")
        limits[name.strip()] = Limit(int(hits), int(seconds))
    return limits


class RateLimiter:
    def __init__(self, session: Session, limits: dict[str, Limit]):
        self.session = session
        self.limits = limits

    def hit(self, name: str, subject: str, now: datetime) -> None:
        """Counts one request; raises `rate_limited` (with `retry_after` seconds) past the limit."""
        retry_after = self.count(name, subject, now)
        if retry_after is not None:
            raise ServiceError("rate_limited", {"retry_after": retry_after, "limit": name})

    def count(self, name: str, subject: str, now: datetime,
              within: Session | None = None) -> int | None:
        """Counts one request; past the limit, the seconds until the window ends (else None).
        `within`: a session already in a transaction, that the count joins (and commits with)."""
        limit = self.limits[name]
        key = f"{name}:{subject}"
        if within is not None:
            return self._count_in(within, key, limit, now)
        for _ in range(2):  # a concurrent first hit on the same key may win the insert
            try:
                with transaction(self.session) as session:
                    return self._count_in(session, key, limit, now)
            except IntegrityError:
                continue
        return None

    def full(self, name: str, subject: str, now: datetime) -> bool:
        """Whether the window is used up, without counting."""
        limit = self.limits[name]
        with transaction(self.session) as session:
            row = session.get(RateLimitWindow, f"{name}:{subject}")
            return row is not None and row.window_start + timedelta(seconds=limit.seconds) > now \
                and row.hits >= limit.hits

    @staticmethod
    def _count_in(session: Session, key: str, limit: Limit, now: datetime) -> int | None:
        window = timedelta(seconds=limit.seconds)
        row = session.get(RateLimitWindow, key, with_for_update=True)
        if row is None:
            session.add(RateLimitWindow(key=key, window_start=now, hits=1))
            session.flush()
            return None
        if row.window_start + window <= now:
            row.window_start, row.hits = now, 1
            return None
        if row.hits >= limit.hits:
            return max(1, math.ceil((row.window_start + window - now).total_seconds()))
        row.hits += 1
        return None

    def purge(self, now: datetime) -> None:
        longest = max(limit.seconds for limit in self.limits.values())
        with transaction(self.session) as session:
            session.execute(delete(RateLimitWindow).where(
                RateLimitWindow.window_start < now - timedelta(seconds=longest)))
