"""The account rules, as plain Python: no database, no broker, no framework.

Password policy (the seed page's: at least 12 characters, no spaces, upper and lower case,
digits and symbols; at most 128; not a well-known breached password), verification codes
(6 digits from a CSPRNG, kept only as an HMAC, 30 minutes, single use, dead after 5 wrong
tries) and the outcome of checking one."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
CODE_TTL = timedelta(minutes=30)
MAX_CODE_ATTEMPTS = 5
RESET_TOKEN_TTL = timedelta(minutes=15)
LANGUAGES = ("fr", "en")
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
    return email.strip().lower()


def email_key(email: str) -> str:
    """What rate limits are keyed on: the same for known and unknown addresses."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


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


class CodeOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    DEAD = "dead"          # too many wrong tries: only a new code helps
    MISSING = "missing"    # none issued, already used, or replaced


@dataclass
class CodeCheck:
    outcome: CodeOutcome
    attempts_left: int = 0


def check_code(code_hash: str | None, expires_at: datetime | None, attempts: int,
               submitted_hash: str, now: datetime) -> CodeCheck:
    """Judges a submitted code against the stored one. The caller records one more attempt
    for a wrong code (WRONG, or DEAD when it was the last try allowed)."""
    if code_hash is None or expires_at is None:
        return CodeCheck(CodeOutcome.MISSING)
    if attempts >= MAX_CODE_ATTEMPTS:
        return CodeCheck(CodeOutcome.DEAD)
    if now >= expires_at:
        return CodeCheck(CodeOutcome.EXPIRED)
    if not hmac.compare_digest(code_hash, submitted_hash):
        left = MAX_CODE_ATTEMPTS - attempts - 1
        return CodeCheck(CodeOutcome.WRONG if left > 0 else CodeOutcome.DEAD, max(left, 0))
    return CodeCheck(CodeOutcome.OK)
