"""The account rules, as plain Python: no database, no broker, no framework.

Password policy (the seed page's: at least 12 characters, no spaces, upper and lower case,
digits and symbols; at most 128; not a well-known breached password), e-mail addresses as one
mailbox each, client addresses as rate limits see them, verification codes (6 digits from a
CSPRNG, kept only as an HMAC, 30 minutes, single use) and the growing locks that bound how many
codes anyone can try for one address."""

import contextlib
import hashlib
import hmac
import ipaddress
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

import idna

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
CODE_TTL = timedelta(minutes=30)
# Codes one address may hold at once (as many as it may be mailed in an hour, limits.py's
# code_mail_email): asking again adds one and keeps the others (someone else
# asking must not kill the owner's code); beyond this the oldest goes.
MAX_LIVE_CODES = 6
# Wrong codes for one address and purpose count across every code issued to it, until a right
# one. Every CODE_FAILURES_PER_LOCK of them lock code entry for the next step's time; past the
# last step, each failure locks it for the longest. So at most 20 guesses, then one a day:
# far below NIST SP 800-63B's 100 consecutive failures, and a million codes to guess from.
CODE_FAILURES_PER_LOCK = 5
CODE_LOCK_STEPS = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4),
                   timedelta(hours=24))
MAX_FREE_CODE_FAILURES = CODE_FAILURES_PER_LOCK * len(CODE_LOCK_STEPS)
RESET_TOKEN_TTL = timedelta(minutes=15)
LANGUAGES = ("fr", "en")
# A portal session ends after an idle time (AuthSettings.idle_timeouts); an API client's does
# not (a script may run once a day); both end at the absolute limit.
SESSION_KINDS = ("portal", "api")
# Editors publish news and ingest videos, and see who downloaded what.
ROLES = ("editor",)
# The gateway owns the terms of use and says which version is current; auth keeps the one an
# account accepted (accounts.terms_version: 32 characters).
TERMS_VERSION_MAX_LENGTH = 32

# The order in which a user reads the rules; `weak_password` lists the broken ones in it.
PASSWORD_RULES = ("min_length", "max_length", "no_spaces", "uppercase", "lowercase", "digit",
                  "symbol", "breached")

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l", "+": "t"})
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class Purpose(StrEnum):
    VERIFY = "verify"   # confirm the address of a new account
    RESET = "reset"     # prove the address before choosing a new password


@cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "common-passwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_breached(password: str) -> bool:
    """A well-known password, or one dressed up with capitals, digits, symbols or leet
    ("P@ssw0rd2024!" is "password")."""
    lowered = password.lower()
    common = common_passwords()
    if lowered in common:
        return True
    core = _EDGES.sub("", lowered)
    return bool(core) and (core in common or core.translate(_LEET) in common)


def password_problems(password: str) -> list[str]:
    """The rules `password` breaks, in PASSWORD_RULES order; empty when it is acceptable."""
    broken = set()
    if len(password) < MIN_PASSWORD_LENGTH:
        broken.add("min_length")
    if len(password) > MAX_PASSWORD_LENGTH:
        broken.add("max_length")
    if any(ch.isspace() for ch in password):
        broken.add("no_spaces")
    if not any(ch.isupper() for ch in password):
        broken.add("uppercase")
    if not any(ch.islower() for ch in password):
        broken.add("lowercase")
    if not any(ch.isdigit() for ch in password):
        broken.add("digit")
    if not any(not ch.isalnum() and not ch.isspace() for ch in password):
        broken.add("symbol")
    if not broken and is_breached(password):
        broken.add("breached")
    return [rule for rule in PASSWORD_RULES if rule in broken]


def normalize_email(email: str) -> str:
    """One spelling per mailbox, before an address is compared or stored: Unicode NFKC (full-width
    or ligatured letters are the plain ones), the domain in IDNA's ASCII form ("exämple.org" and
    "xn--exmple-cua.org" are one domain) and lower case throughout (no mail provider
    tells "Jane" from "jane", and two accounts must not share a mailbox). An address whose
    domain IDNA refuses is kept as typed, lowered: it can never receive a code anyway."""
    email = unicodedata.normalize("NFKC", email).strip()
    local, at, domain = email.rpartition("@")
    if not at:
        return email.lower()
    with contextlib.suppress(idna.IDNAError):
        domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    return f"{local}@{domain}".lower()


def email_key(email: str) -> str:
    """What rate limits and code locks are keyed on: the same for known and unknown
    addresses, and no address in clear in those tables."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


def client_key(client_ip: str) -> str:
    """What per-client limits are keyed on. An IPv6 client holds a whole /64 (a home or an
    office gets one, and picks any address in it at will), so that network is the client;
    an IPv4 address is one client. Anything else is kept as given."""
    try:
        address = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return client_ip.strip()[:64]
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_code(key: bytes, account_id: str, purpose: str, code: str) -> str:
    """An HMAC, not a plain hash: a million codes are too few to survive a leaked table
    without a key that lives outside the database. Bound to the account and the purpose, so a
    code is worth nothing anywhere else."""
    message = f"{account_id}:{purpose}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Session and reset tokens are 256 random bits: a plain SHA-256 is enough at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def code_matches(stored: list[tuple[str, datetime]], submitted_hash: str,
                 now: datetime) -> int | None:
    """The index of the live code `submitted_hash` is, or None. Every stored code is compared
    (constant-time each), whatever the answer, so the time says nothing about which one."""
    found = None
    for index, (code_hash, expires_at) in enumerate(stored):
        if hmac.compare_digest(code_hash, submitted_hash) and now < expires_at:
            found = index
    return found


def code_lock_after(failures: int) -> timedelta | None:
    """How long code entry locks once `failures` consecutive wrong codes are counted."""
    if failures > MAX_FREE_CODE_FAILURES:
        return CODE_LOCK_STEPS[-1]
    if failures and failures % CODE_FAILURES_PER_LOCK == 0:
        return CODE_LOCK_STEPS[failures // CODE_FAILURES_PER_LOCK - 1]
    return None
