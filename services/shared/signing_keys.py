"""The keys that sign what leaves us and must come back unaltered: one key ring per purpose,
so that a key serves one purpose only (one stolen, or held by a service that needs only it,
forges nothing else) and each can be rotated without breaking what the others signed.

    SESSION_KEYS         the portal's own session cookie (Flask's)            gateway
    CSRF_KEYS            the portal forms' CSRF tokens (Flask-WTF)            gateway
    DOWNLOAD_LINK_KEYS   the signed download links, /files/<token>            gateway
    UNSUBSCRIBE_KEYS     the newsletter's unsubscribe links                   mailer (signs),
                                                                              gateway (reads)

Each setting is a comma-separated list, newest first: the first key signs, every key is
accepted when reading. To rotate, put a new key in front and keep the old one behind it for as
long as what it signed may come back (a download link's life, a portal session's; the
unsubscribe links of every newsletter ever sent, so an unsubscribe key is kept for good unless
it leaked), then drop it. The one `SECRET_KEY` of before is no longer read."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import env

SESSION_KEYS = "SESSION_KEYS"
CSRF_KEYS = "CSRF_KEYS"
DOWNLOAD_LINK_KEYS = "DOWNLOAD_LINK_KEYS"
UNSUBSCRIBE_KEYS = "UNSUBSCRIBE_KEYS"
ALL = (SESSION_KEYS, CSRF_KEYS, DOWNLOAD_LINK_KEYS, UNSUBSCRIBE_KEYS)
# Who holds which (the manifests and the local run give each process these and no others).
HELD_BY = {"gateway": ALL, "mailer": (UNSUBSCRIBE_KEYS,)}
RETIRED = "SECRET_KEY"
# A key is at least 32 characters: 256 bits of a generated one (`generate`), and no pass phrase.
MIN_CHARS = 32


@dataclass(frozen=True)
class KeyRing:
    """The keys of one purpose, newest first. Never printed (repr shows the setting only)."""

    setting: str
    keys: tuple[str, ...] = field(repr=False)

    @classmethod
    def parse(cls, setting: str, value: str | KeyRing | None) -> KeyRing:
        """The ring of `setting` from its value; RuntimeError (naming the setting, never the
        key) if it is missing or a key is too short."""
        if isinstance(value, KeyRing):
            return value
        keys = tuple(k.strip() for k in (value or "").split(",") if k.strip())
        if not keys:
            retired = (f" ({RETIRED} is no longer read: each purpose has its own keys, see "
                       "services/shared/signing_keys.py)") if env(RETIRED) else ""
            raise RuntimeError(f"{setting} must be set in the environment: comma-separated "
                               f"signing keys, newest first{retired}")
        if any(len(k) < MIN_CHARS for k in keys):
            raise RuntimeError(f"{setting}: every key must be at least {MIN_CHARS} characters "
                               "(python -m services.shared.signing_keys makes one)")
        return cls(setting, keys)

    @classmethod
    def from_env(cls, setting: str) -> KeyRing:
        return cls.parse(setting, env(setting))

    @property
    def current(self) -> str:
        """The key that signs."""
        return self.keys[0]

    @property
    def oldest_first(self) -> list[str]:
        """The order itsdangerous takes a list in: it signs with the last and tries them all,
        last first, when reading."""
        return list(reversed(self.keys))


def check_apart(rings: Iterable[KeyRing]) -> None:
    """RuntimeError if one key is in the rings of two purposes (it would serve both)."""
    seen: dict[str, str] = {}
    for ring in rings:
        for key in ring.keys:
            other = seen.setdefault(key, ring.setting)
            if other != ring.setting:
                raise RuntimeError(f"{other} and {ring.setting} share a key: each purpose "
                                   "needs keys of its own")


def generate() -> str:
    """A new key: 32 random bytes, URL-safe base64 (never a comma)."""
    return secrets.token_urlsafe(32)


def fresh(settings: Iterable[str] = ALL) -> dict[str, str]:
    """A new key for each setting (the local run, the test harness)."""
    return {setting: generate() for setting in settings}


if __name__ == "__main__":
    print(generate())
