"""The account use cases. Each takes plain values and returns plain values; the nameko
entrypoint (entrypoint.py) only forwards calls here, and the tests call this directly.

Every state change and the event that announces it are written in one transaction (the
outbox). Failures that must leave a trace (a wrong code counts as a try) commit first and
raise after."""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.shared.db import transaction
from services.shared.errors import ServiceError
from services.shared.outbox import Outbox
from services.shared.sealed import Sealer

from . import domain
from .domain import Purpose
from .limits import Limit, RateLimiter
from .models import Account, CodeGuard, CodeRequest, ResetToken, UserSession, VerificationCode

log = logging.getLogger(__name__)

SESSION_TTL = timedelta(days=7)
# A session's last use is written at most this often: an idle timeout of minutes needs no
# write per request.
SEEN_RESOLUTION = timedelta(seconds=60)
# What an unknown address's codes are looked up and hashed under: the same work as a real one.
NO_ACCOUNT = "00000000-0000-0000-0000-000000000000"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuthSettings:
    code_key: bytes
    session_ttl: timedelta = SESSION_TTL
    # Idle timeout per kind of session (domain.SESSION_KINDS); absent or None: none.
    idle_timeouts: dict[str, timedelta | None] = field(
        default_factory=lambda: {"portal": timedelta(minutes=30)})


class Passwords:
    """argon2id hashing. Built once per process: it keeps a hash of nothing, so that checking
    a password for an address without an account costs the same time as a real check and
    response times do not tell which addresses have accounts."""

    def __init__(self, hasher: PasswordHasher | None = None):
        self.hasher = hasher or PasswordHasher()
        self._nothing: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def matches(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def waste_time_like_a_check(self, password: str) -> None:
        if self._nothing is None:
            self._nothing = self.hasher.hash(domain.new_token())
        self.matches(self._nothing, password)

    def outdated(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


class AccountService:
    """The use cases, on one worker's database session."""

    def __init__(self, session: Session, outbox: Outbox, limits: dict[str, Limit],
                 sealer: Sealer, settings: AuthSettings, passwords: Passwords,
                 clock: Callable[[], datetime] = utcnow):
        self.session = session
        self.outbox = outbox
        self.limiter = RateLimiter(session, limits)
        self.sealer = sealer
        self.settings = settings
        self.passwords = passwords
        self.clock = clock

    # -- registration -----------------------------------------------------------------------

    def register(self, email: str, password: str, full_name: str, organisation: str,
                 language: str, client_ip: str, terms_version: str) -> None:
        """`terms_version`: the terms of use the person accepted (the gateway owns them and
        only lets the current version through); the account keeps it, and when."""
        now = self.clock()
        email = domain.normalize_email(email)
        client = domain.client_key(client_ip)
        self.limiter.hit("register_ip", client, now)
        self.limiter.hit("register_email_ip", f"{domain.email_key(email)}:{client}", now)
        self._require_terms(terms_version)
        self._require_strong(password)
        language = language if language in domain.LANGUAGES else domain.LANGUAGES[0]
        password_hash = self.passwords.hash(password)  # always: the same cost for every address

        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
            if account is not None and account.verified_at is None \
                    and not self._live_codes(session, account.id, Purpose.VERIFY, now):
                # Abandoned (every code it was sent has expired): it starts over as new.
                session.delete(account)
                session.flush()
                account = None
            if account is None:
                account = Account(
                    id=str(uuid.uuid4()), email=email, password_hash=password_hash,
                    full_name=full_name.strip(), organisation=organisation.strip(),
                    language=language, newsletter=False, roles="", created_at=now,
                    verified_at=None, password_changed_at=now, terms_version=terms_version,
                    terms_accepted_at=now)
                session.add(account)
                session.flush()
                self.outbox.add(session, "account.registered.v1", {
                    "account_id": account.id, "email": email, "full_name": account.full_name,
                    "organisation": account.organisation, "language": language,
                    "registered_at": _iso(now),
                }, subject=account.id)
                self._issue_code(session, account, Purpose.VERIFY, now)
            elif account.verified_at is None:
                # A registration is under way and its code is live: nothing of it changes
                # (its password above all: the code goes to the mailbox, and whoever holds it
                # must also know the password chosen first). The mailbox gets one more code
                # for that registration, within its mail budget.
                if self._mail_budget_left(session, account.email, now):
                    self._issue_code(session, account, Purpose.VERIFY, now)
            else:
                # Someone else, or the owner who forgot: the account stays as it is (the terms
                # it accepted included) and the answer is the same as for a new address.
                self.outbox.add(session, "account.registration_attempted.v1", {
                    "account_id": account.id, "email": account.email,
                    "full_name": account.full_name, "language": account.language,
                    "attempted_at": _iso(now),
                }, subject=account.id)

    def resend_verification(self, email: str, client_ip: str) -> None:
        self._request_code(email, Purpose.VERIFY, client_ip, "resend")

    def verify_account(self, email: str, code: str, password: str, client_ip: str,
                       kind: str = "api", user_agent: str | None = None) -> dict:
        """The code proves the mailbox; the password proves that this is the person who
        registered (someone else registering the same address meanwhile changed nothing)."""
        now = self.clock()
        email = domain.normalize_email(email)
        self._limit_code_checks(email, client_ip, now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
            pending = account if account is not None and account.verified_at is None else None
        password_ok = self._password_matches(pending, password)
        account = self._consume_code(email, pending, Purpose.VERIFY, code, now,
                                     also_required=password_ok)
        with transaction(self.session) as session:
            account = session.get(Account, account.id)
            account.verified_at = now
            self.outbox.add(session, "account.verified.v1", {
                "account_id": account.id, "email": account.email,
                "verified_at": _iso(now),
            }, subject=account.id)
            return self._open_session(session, account, client_ip, now, kind, user_agent)

    # -- sessions -----------------------------------------------------------------------------

    def login(self, email: str, password: str, client_ip: str, kind: str = "api",
              user_agent: str | None = None) -> dict:
        now = self.clock()
        email = domain.normalize_email(email)
        client = domain.client_key(client_ip)
        subject = domain.email_key(email)
        self.limiter.hit("login_ip", client, now)
        self.limiter.hit("login_email_ip", f"{subject}:{client}", now)
        if self.limiter.full("login_failures_email", subject, now):
            # Under attack from many clients: each gets fewer tries, the owner still some.
            self.limiter.hit("login_email_ip_escalated", f"{subject}:{client}", now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
        if not self._password_matches(account, password):
            self.limiter.count("login_failures_email", subject, now)
            raise ServiceError("invalid_credentials")
        if account.verified_at is None:
            raise ServiceError("not_verified")
        with transaction(self.session) as session:
            account = session.get(Account, account.id)
            if self.passwords.outdated(account.password_hash):
                account.password_hash = self.passwords.hash(password)
            return self._open_session(session, account, client_ip, now, kind, user_agent)

    def logout(self, token: str) -> None:
        with transaction(self.session) as session:
            session.execute(delete(UserSession).where(
                UserSession.token_hash == domain.hash_token(token)))

    def authenticate(self, token: str) -> dict:
        with transaction(self.session) as session:
            return self._account_for_token(session, token, self.clock()).as_dict()

    def list_sessions(self, token: str) -> list[dict]:
        """The account's open sessions, newest use first; `current` marks the asking one."""
        now = self.clock()
        with transaction(self.session) as session:
            account = self._account_for_token(session, token, now)
            rows = session.execute(select(UserSession).where(
                UserSession.account_id == account.id)).scalars()
            current = domain.hash_token(token)
            found = [_session_view(row, row.token_hash == current) for row in rows
                     if _session_alive(row, now)]
        found.sort(key=lambda one: one["last_seen_at"], reverse=True)
        return sorted(found, key=lambda one: not one["current"])   # stable: this one first

    def end_other_sessions(self, token: str) -> int:
        """Log out everywhere else; answers how many sessions ended."""
        with transaction(self.session) as session:
            account = self._account_for_token(session, token, self.clock())
            return self._end_sessions(session, account.id, keep=domain.hash_token(token))

    def change_password(self, token: str, current_password: str, new_password: str,
                        client_ip: str) -> None:
        """A logged-in change: the current password first (a session left open on a shared
        screen must not be enough), then every other session of the account ends."""
        now = self.clock()
        self.limiter.hit("login_ip", domain.client_key(client_ip), now)
        with transaction(self.session) as session:
            account = self._account_for_token(session, token, now)
        if not self.passwords.matches(account.password_hash, current_password):
            raise ServiceError("invalid_credentials")
        self._require_strong(new_password)
        password_hash = self.passwords.hash(new_password)
        with transaction(self.session) as session:
            account = session.get(Account, account.id)
            account.password_hash, account.password_changed_at = password_hash, now
            self._end_sessions(session, account.id, keep=domain.hash_token(token))
            self._password_changed(session, account, now, "change")

    def set_newsletter(self, token: str, subscribed: bool) -> dict:
        now = self.clock()
        with transaction(self.session) as session:
            account = self._account_for_token(session, token, now)
            self._subscribe(session, account, subscribed, now)
            return account.as_dict()

    def unsubscribe_newsletter(self, account_id: str) -> None:
        """From the signed link in a newsletter: no session needed, and the same answer
        whether or not the account (still) exists."""
        with transaction(self.session) as session:
            account = session.get(Account, account_id)
            if account is not None:
                self._subscribe(session, account, False, self.clock())

    def _subscribe(self, session, account: Account, subscribed: bool, now: datetime) -> None:
        if account.newsletter != subscribed:
            account.newsletter = subscribed
            self.outbox.add(session, "newsletter.subscription_changed.v1", {
                "account_id": account.id, "email": account.email,
                "full_name": account.full_name, "language": account.language,
                "subscribed": subscribed, "changed_at": _iso(now),
            }, subject=account.id)

    # -- password reset -----------------------------------------------------------------------

    def request_password_reset(self, email: str, client_ip: str) -> None:
        self._request_code(email, Purpose.RESET, client_ip, "reset")

    def verify_password_reset(self, email: str, code: str, client_ip: str) -> dict:
        now = self.clock()
        email = domain.normalize_email(email)
        self._limit_code_checks(email, client_ip, now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
        account = self._consume_code(email, account, Purpose.RESET, code, now)
        with transaction(self.session) as session:
            token = domain.new_token()
            expires_at = now + domain.RESET_TOKEN_TTL
            session.execute(delete(ResetToken).where(ResetToken.account_id == account.id))
            session.add(ResetToken(token_hash=domain.hash_token(token),
                                   account_id=account.id, expires_at=expires_at))
            return {"reset_token": token, "expires_at": _iso(expires_at)}

    def complete_password_reset(self, reset_token: str, password: str, client_ip: str) -> None:
        now = self.clock()
        self.limiter.hit("reset_ip", domain.client_key(client_ip), now)
        self._require_strong(password)  # before the token is spent: the user may try again
        password_hash = self.passwords.hash(password)
        with transaction(self.session) as session:
            reset = session.get(ResetToken, domain.hash_token(reset_token), with_for_update=True)
            if reset is None or reset.expires_at <= now:
                raise ServiceError("invalid_reset_token")
            account = session.get(Account, reset.account_id)
            session.delete(reset)
            account.password_hash = password_hash
            account.password_changed_at = now
            # The code reached the mailbox: the address is proven even if never verified.
            account.verified_at = account.verified_at or now
            self._end_sessions(session, account.id)
            session.execute(delete(VerificationCode).where(
                VerificationCode.account_id == account.id))
            self._password_changed(session, account, now, "reset")

    def _password_changed(self, session, account: Account, now: datetime, reason: str) -> None:
        self.outbox.add(session, "password.changed.v1", {
            "account_id": account.id, "email": account.email,
            "full_name": account.full_name, "language": account.language,
            "changed_at": _iso(now), "reason": reason,
        }, subject=account.id)

    # -- codes, asked for alike by every address ---------------------------------------------

    def _request_code(self, email: str, purpose: Purpose, client_ip: str, limits: str) -> None:
        """Records the request and nothing else: the same statements for every address, known
        or not. The code itself is made just after (issue_requested_codes)."""
        now = self.clock()
        email = domain.normalize_email(email)
        client = domain.client_key(client_ip)
        subject = f"{domain.email_key(email)}:{client}"
        self.limiter.hit(f"{limits}_ip", client, now)
        self.limiter.hit(f"{limits}_email_ip", subject, now)
        self.limiter.hit(f"{limits}_email_ip_hourly", subject, now)
        with transaction(self.session) as session:
            session.add(CodeRequest(email=email, purpose=purpose.value, requested_at=now))

    def issue_requested_codes(self, batch: int = 50) -> int:
        """Turns recorded requests into codes: for an account that can use one (an unverified
        one for `verify`, any for `reset`) and whose address has mail budget left; the others
        are dropped without a trace. Each request in its own transaction; replicas share the
        work (SKIP LOCKED). Answers how many requests were handled."""
        handled = 0
        while handled < batch:
            with transaction(self.session) as session:
                request = session.execute(
                    select(CodeRequest).order_by(CodeRequest.id).limit(1)
                    .with_for_update(skip_locked=True)).scalar_one_or_none()
                if request is None:
                    return handled
                now = self.clock()
                purpose = Purpose(request.purpose)
                account = self._account_by_email(session, request.email)
                usable = account is not None and (
                    purpose is Purpose.RESET or account.verified_at is None)
                if usable and self._mail_budget_left(session, account.email, now):
                    self._issue_code(session, account, purpose, now)
                session.delete(request)
            handled += 1
        return handled

    def _mail_budget_left(self, session, email: str, now: datetime) -> bool:
        return self.limiter.count("code_mail_email", domain.email_key(email), now,
                                  within=session) is None

    # -- roles (granted by an operator, see cli.py) -------------------------------------------

    def set_role(self, email: str, role: str, granted: bool) -> dict:
        if role not in domain.ROLES:
            raise ServiceError("invalid_request", {"field": "role", "allowed": list(domain.ROLES)})
        with transaction(self.session) as session:
            account = self._account_by_email(session, domain.normalize_email(email))
            if account is None:
                raise ServiceError("not_found")
            roles = set(account.as_dict()["roles"])
            roles = roles | {role} if granted else roles - {role}
            account.roles = ",".join(sorted(roles))
            return account.as_dict()

    def accounts_with_role(self, role: str) -> list[dict]:
        with transaction(self.session) as session:
            found = session.execute(select(Account).where(Account.roles.contains(role)))
            return [a.as_dict() for a in found.scalars() if role in a.as_dict()["roles"]]

    # -- housekeeping -------------------------------------------------------------------------

    def purge_expired(self) -> None:
        now = self.clock()
        with transaction(self.session) as session:
            session.execute(delete(UserSession).where(UserSession.expires_at <= now))
            idles = session.execute(select(UserSession.idle_seconds).distinct().where(
                UserSession.idle_seconds.is_not(None))).scalars().all()
            for idle in idles:
                session.execute(delete(UserSession).where(
                    UserSession.idle_seconds == idle,
                    UserSession.last_seen_at <= now - timedelta(seconds=idle)))
            session.execute(delete(ResetToken).where(ResetToken.expires_at <= now))
            session.execute(delete(VerificationCode).where(
                VerificationCode.expires_at <= now - timedelta(days=1)))
            # A guard forgets an address a month after its last wrong code.
            session.execute(delete(CodeGuard).where(
                CodeGuard.last_failure_at <= now - timedelta(days=30)))
        self.limiter.purge(now)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _account_by_email(session, email: str) -> Account | None:
        return session.execute(select(Account).where(Account.email == email)).scalar_one_or_none()

    def _account_for_token(self, session, token: str, now: datetime) -> Account:
        row = session.get(UserSession, domain.hash_token(token))
        if row is None or not _session_alive(row, now):
            raise ServiceError("unauthorized")
        if row.last_seen_at is None or now - row.last_seen_at >= SEEN_RESOLUTION:
            row.last_seen_at = now
        return session.get(Account, row.account_id)

    @staticmethod
    def _end_sessions(session, account_id: str, keep: str | None = None) -> int:
        query = delete(UserSession).where(UserSession.account_id == account_id)
        if keep is not None:
            query = query.where(UserSession.token_hash != keep)
        return session.execute(query).rowcount

    def _password_matches(self, account: Account | None, password: str) -> bool:
        """argon2 for every address: no account costs the same time as a wrong password."""
        if account is None:
            self.passwords.waste_time_like_a_check(password)
            return False
        return self.passwords.matches(account.password_hash, password)

    @staticmethod
    def _require_terms(terms_version: str) -> None:
        if not isinstance(terms_version, str) or not terms_version.strip() or \
                len(terms_version) > domain.TERMS_VERSION_MAX_LENGTH:
            raise ServiceError("terms_not_accepted")

    def _require_strong(self, password: str) -> None:
        problems = domain.password_problems(password)
        if problems:
            raise ServiceError("weak_password", {"rules": problems})

    def _limit_code_checks(self, email: str, client_ip: str, now: datetime) -> None:
        client = domain.client_key(client_ip)
        self.limiter.hit("code_ip", client, now)
        self.limiter.hit("code_email_ip", f"{domain.email_key(email)}:{client}", now)

    @staticmethod
    def _live_codes(session, account_id: str, purpose: Purpose, now: datetime,
                    lock: bool = False) -> list[VerificationCode]:
        query = select(VerificationCode).where(
            VerificationCode.account_id == account_id,
            VerificationCode.purpose == purpose.value).order_by(VerificationCode.created_at)
        if lock:
            query = query.with_for_update()
        return [code for code in session.execute(query).scalars() if code.expires_at > now]

    def _issue_code(self, session, account: Account, purpose: Purpose, now: datetime) -> None:
        """A new code joins the live ones (the oldest goes past MAX_LIVE_CODES); only its HMAC
        is kept. The mailer gets the code sealed for it alone: other subscribers see that a
        code was issued, never the code."""
        code = domain.new_code()
        expires_at = now + domain.CODE_TTL
        live = self._live_codes(session, account.id, purpose, now)
        session.execute(delete(VerificationCode).where(
            VerificationCode.account_id == account.id, VerificationCode.purpose == purpose.value,
            VerificationCode.code_hash.not_in(
                [one.code_hash for one in live[-(domain.MAX_LIVE_CODES - 1):]] or [""])))
        session.add(VerificationCode(
            account_id=account.id, purpose=purpose.value, created_at=now,
            code_hash=domain.hash_code(self.settings.code_key, account.id, purpose.value, code),
            expires_at=expires_at))
        self.outbox.add(session, "verification_code.issued.v1", {
            "account_id": account.id, "purpose": purpose.value, "language": account.language,
            "issued_at": _iso(now), "expires_at": _iso(expires_at),
            "valid_minutes": int(domain.CODE_TTL.total_seconds() // 60),
            "sealed": self.sealer.seal({"email": account.email, "full_name": account.full_name,
                                        "code": code}),
        }, subject=account.id)

    def _consume_code(self, email: str, account: Account | None, purpose: Purpose, code: str,
                      now: datetime, also_required: bool = True) -> Account:
        """The account whose live code `code` is (spent), or `invalid_code`. Every refusal is
        that one answer, for a known or an unknown address alike: a wrong, expired, used or
        replaced code, a locked address. Wrong ones count against the address across every
        code (domain.code_lock_after); reaching a lock tells the owner."""
        with transaction(self.session) as session:
            guard = self._guard(session, email, purpose)
            if guard.locked_until is not None and guard.locked_until > now:
                return self._refuse_code()
            account_id = account.id if account is not None else NO_ACCOUNT
            live = self._live_codes(session, account_id, purpose, now, lock=True)
            submitted = domain.hash_code(self.settings.code_key, account_id, purpose.value, code)
            found = domain.code_matches([(c.code_hash, c.expires_at) for c in live],
                                        submitted, now)
            if found is not None and also_required:
                guard.failures, guard.locked_until = 0, None
                session.execute(delete(VerificationCode).where(
                    VerificationCode.account_id == account_id,
                    VerificationCode.purpose == purpose.value))
                return account
            guard.failures += 1
            guard.last_failure_at = now
            lock = domain.code_lock_after(guard.failures)
            if lock is not None:
                guard.locked_until = now + lock
                if account is not None:
                    self._tell_owner_of_lock(session, account, purpose, guard, now)
        return self._refuse_code()

    @staticmethod
    def _refuse_code():
        raise ServiceError("invalid_code")

    def _guard(self, session, email: str, purpose: Purpose) -> CodeGuard:
        """The address's guard, locked for this check; made on first use for every address
        alike (two first checks at once: one insert wins, both go on)."""
        subject = f"{purpose.value}:{domain.email_key(email)}"
        guard = session.get(CodeGuard, subject, with_for_update=True)
        if guard is None:
            guard = CodeGuard(subject=subject, failures=0)
            session.add(guard)
            try:
                session.flush()
            except IntegrityError:
                # a check of the same address at the same instant made it first
                raise ServiceError("rate_limited", {"retry_after": 1,
                                                    "limit": "code_email_ip"}) from None
        return guard

    def _tell_owner_of_lock(self, session, account: Account, purpose: Purpose,
                            guard: CodeGuard, now: datetime) -> None:
        log.warning("code entry locked", extra={
            "account_id": account.id, "purpose": purpose.value, "failures": guard.failures,
            "locked_until": _iso(guard.locked_until)})
        self.outbox.add(session, "verification_code.locked.v1", {
            "account_id": account.id, "email": account.email, "full_name": account.full_name,
            "language": account.language, "purpose": purpose.value,
            "failures": guard.failures, "locked_at": _iso(now),
            "locked_until": _iso(guard.locked_until),
        }, subject=account.id)

    def _open_session(self, session, account: Account, client_ip: str, now: datetime,
                      kind: str, user_agent: str | None) -> dict:
        if kind not in domain.SESSION_KINDS:
            raise ServiceError("invalid_request", {"field": "kind",
                                                   "allowed": list(domain.SESSION_KINDS)})
        token = domain.new_token()
        expires_at = now + self.settings.session_ttl
        idle = self.settings.idle_timeouts.get(kind)
        session.add(UserSession(
            token_hash=domain.hash_token(token), account_id=account.id, created_at=now,
            expires_at=expires_at, client_ip=client_ip, last_seen_at=now,
            idle_seconds=int(idle.total_seconds()) if idle else None,
            user_agent=(user_agent or "")[:200] or None))
        return {"token": token, "expires_at": _iso(expires_at), "account": account.as_dict()}


def _session_alive(row: UserSession, now: datetime) -> bool:
    if row.expires_at <= now:
        return False
    return row.idle_seconds is None or row.last_seen_at is None or \
        now - row.last_seen_at < timedelta(seconds=row.idle_seconds)


def _session_view(row: UserSession, current: bool) -> dict:
    """What a person sees of their sessions: never the token or its hash."""
    return {"id": domain.hash_token(row.token_hash)[:16], "current": current,
            "created_at": _iso(row.created_at), "last_seen_at": _iso(row.last_seen_at or
                                                                     row.created_at),
            "expires_at": _iso(row.expires_at), "client_ip": row.client_ip,
            "user_agent": row.user_agent}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
