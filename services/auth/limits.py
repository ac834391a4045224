"""Rate limits on the account endpoints, per client address and per (hashed) e-mail address.

Fixed windows counted in the database, so every auth replica sees the same counts. A hit is
committed in its own transaction before the guarded operation runs: a failed login still
counts. Limits keyed on the e-mail apply whether or not an account exists (no enumeration)."""

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
    "register_email": Limit(5, 3600),
    "resend_email": Limit(1, 60),          # one new code a minute: 429 + Retry-After
    "resend_email_hourly": Limit(6, 3600),
    "resend_ip": Limit(30, 3600),
    "login_email": Limit(10, 900),
    "login_ip": Limit(100, 900),
    "code_email": Limit(10, 900),          # on top of the 5 tries a single code allows
    "code_ip": Limit(50, 900),
    "reset_email": Limit(1, 60),
    "reset_email_hourly": Limit(6, 3600),
    "reset_ip": Limit(30, 3600),
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
        limit = self.limits[name]
        key = f"{name}:{subject}"
        for _ in range(2):  # a concurrent first hit on the same key may win the insert
            try:
                retry_after = self._count(key, limit, now)
                break
            except IntegrityError:
                continue
        else:
            retry_after = None
        if retry_after is not None:
            raise ServiceError("rate_limited", {"retry_after": retry_after, "limit": name})

    def _count(self, key: str, limit: Limit, now: datetime) -> int | None:
        window = timedelta(seconds=limit.seconds)
        with transaction(self.session) as session:
            row = session.get(RateLimitWindow, key, with_for_update=True)
            if row is None:
                session.add(RateLimitWindow(key=key, window_start=now, hits=1))
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
