"""The account use cases. Each takes plain values and returns plain values; the nameko
entrypoint (entrypoint.py) only forwards calls here, and the tests call this directly.

Every state change and the event that announces it are written in one transaction (the
outbox). Failures that must leave a trace (a wrong code counts as a try) commit first and
raise after."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.shared.db import transaction
from services.shared.errors import ServiceError
from services.shared.outbox import Outbox
from services.shared.sealed import Sealer

from . import domain
from .domain import CodeOutcome, Purpose
from .limits import Limit, RateLimiter
from .models import Account, ResetToken, UserSession, VerificationCode

SESSION_TTL = timedelta(days=7)

CODE_ERRORS = {
    CodeOutcome.WRONG: "invalid_code",
    CodeOutcome.MISSING: "invalid_code",
    CodeOutcome.EXPIRED: "code_expired",
    CodeOutcome.DEAD: "too_many_attempts",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuthSettings:
    code_key: bytes
    session_ttl: timedelta = SESSION_TTL


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
        self.limiter.hit("register_ip", client_ip, now)
        self.limiter.hit("register_email", domain.email_key(email), now)
        self._require_terms(terms_version)
        self._require_strong(password)
        language = language if language in domain.LANGUAGES else domain.LANGUAGES[0]
        password_hash = self.passwords.hash(password)  # always: the same cost for every address

        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
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
                # An unfinished registration starts over with the latest details: only the
                # owner of the mailbox can finish it, with the code sent now. The terms too:
                # the acceptance on record is the one of the registration that gets finished.
                account.password_hash = password_hash
                account.full_name, account.organisation = full_name.strip(), organisation.strip()
                account.language = language
                account.password_changed_at = now
                account.terms_version, account.terms_accepted_at = terms_version, now
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
        now = self.clock()
        email = domain.normalize_email(email)
        self.limiter.hit("resend_ip", client_ip, now)
        self.limiter.hit("resend_email", domain.email_key(email), now)
        self.limiter.hit("resend_email_hourly", domain.email_key(email), now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
            if account is not None and account.verified_at is None:
                self._issue_code(session, account, Purpose.VERIFY, now)

    def verify_account(self, email: str, code: str, client_ip: str) -> dict:
        now = self.clock()
        email = domain.normalize_email(email)
        self._limit_code_checks(email, client_ip, now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
            outcome = self._consume_code(session, account, Purpose.VERIFY, code, now)
            if outcome.outcome is CodeOutcome.OK:
                account.verified_at = now
                self.outbox.add(session, "account.verified.v1", {
                    "account_id": account.id, "email": account.email,
                    "verified_at": _iso(now),
                }, subject=account.id)
                return self._open_session(session, account, client_ip, now)
        raise _code_error(outcome)

    # -- sessions -----------------------------------------------------------------------------

    def login(self, email: str, password: str, client_ip: str) -> dict:
        now = self.clock()
        email = domain.normalize_email(email)
        self.limiter.hit("login_ip", client_ip, now)
        self.limiter.hit("login_email", domain.email_key(email), now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
        if account is None:
            self.passwords.waste_time_like_a_check(password)
            raise ServiceError("invalid_credentials")
        if not self.passwords.matches(account.password_hash, password):
            raise ServiceError("invalid_credentials")
        if account.verified_at is None:
            raise ServiceError("not_verified")
        with transaction(self.session) as session:
            account = session.get(Account, account.id)
            if self.passwords.outdated(account.password_hash):
                account.password_hash = self.passwords.hash(password)
            return self._open_session(session, account, client_ip, now)

    def logout(self, token: str) -> None:
        with transaction(self.session) as session:
            session.execute(delete(UserSession).where(
                UserSession.token_hash == domain.hash_token(token)))

    def authenticate(self, token: str) -> dict:
        with transaction(self.session) as session:
            return self._account_for_token(session, token, self.clock()).as_dict()

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
        now = self.clock()
        email = domain.normalize_email(email)
        self.limiter.hit("reset_ip", client_ip, now)
        self.limiter.hit("reset_email", domain.email_key(email), now)
        self.limiter.hit("reset_email_hourly", domain.email_key(email), now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
            if account is not None:
                self._issue_code(session, account, Purpose.RESET, now)

    def verify_password_reset(self, email: str, code: str, client_ip: str) -> dict:
        now = self.clock()
        email = domain.normalize_email(email)
        self._limit_code_checks(email, client_ip, now)
        with transaction(self.session) as session:
            account = self._account_by_email(session, email)
            outcome = self._consume_code(session, account, Purpose.RESET, code, now)
            if outcome.outcome is CodeOutcome.OK:
                token = domain.new_token()
                expires_at = now + domain.RESET_TOKEN_TTL
                session.execute(delete(ResetToken).where(ResetToken.account_id == account.id))
                session.add(ResetToken(token_hash=domain.hash_token(token),
                                       account_id=account.id, expires_at=expires_at))
                return {"reset_token": token, "expires_at": _iso(expires_at)}
        raise _code_error(outcome)

    def complete_password_reset(self, reset_token: str, password: str, client_ip: str) -> None:
        now = self.clock()
        self.limiter.hit("reset_ip", client_ip, now)
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
            session.execute(delete(UserSession).where(UserSession.account_id == account.id))
            session.execute(delete(VerificationCode).where(
                VerificationCode.account_id == account.id))
            self.outbox.add(session, "password.changed.v1", {
                "account_id": account.id, "email": account.email,
                "full_name": account.full_name, "language": account.language,
                "changed_at": _iso(now), "reason": "reset",
            }, subject=account.id)

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
            session.execute(delete(ResetToken).where(ResetToken.expires_at <= now))
            session.execute(delete(VerificationCode).where(
                VerificationCode.expires_at <= now - timedelta(days=1)))
        self.limiter.purge(now)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _account_by_email(session, email: str) -> Account | None:
        return session.execute(select(Account).where(Account.email == email)).scalar_one_or_none()

    def _account_for_token(self, session, token: str, now: datetime) -> Account:
        row = session.get(UserSession, domain.hash_token(token))
        if row is None or row.expires_at <= now:
            raise ServiceError("unauthorized")
        return session.get(Account, row.account_id)

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
        self.limiter.hit("code_ip", client_ip, now)
        self.limiter.hit("code_email", domain.email_key(email), now)

    def _issue_code(self, session, account: Account, purpose: Purpose, now: datetime) -> None:
        """A new code replaces the previous one; only its HMAC is kept. The mailer gets the code
        sealed for it alone: other subscribers see that a code was issued, never the code."""
        code = domain.new_code()
        expires_at = now + domain.CODE_TTL
        session.execute(delete(VerificationCode).where(
            VerificationCode.account_id == account.id, VerificationCode.purpose == purpose.value))
        session.add(VerificationCode(
            account_id=account.id, purpose=purpose.value, attempts=0, created_at=now,
            code_hash=domain.hash_code(self.settings.code_key, account.id, purpose.value, code),
            expires_at=expires_at))
        self.outbox.add(session, "verification_code.issued.v1", {
            "account_id": account.id, "purpose": purpose.value, "language": account.language,
            "issued_at": _iso(now), "expires_at": _iso(expires_at),
            "valid_minutes": int(domain.CODE_TTL.total_seconds() // 60),
            "sealed": self.sealer.seal({"email": account.email, "full_name": account.full_name,
                                        "code": code}),
        }, subject=account.id)

    def _consume_code(self, session, account: Account | None, purpose: Purpose, code: str,
                      now: datetime) -> domain.CodeCheck:
        record = None
        if account is not None:
            record = session.get(VerificationCode, (account.id, purpose.value),
                                 with_for_update=True)
        if record is None:
            return domain.CodeCheck(CodeOutcome.MISSING)
        submitted = domain.hash_code(self.settings.code_key, account.id, purpose.value, code)
        result = domain.check_code(record.code_hash, record.expires_at, record.attempts,
                                   submitted, now)
        if result.outcome in (CodeOutcome.WRONG, CodeOutcome.DEAD):
            record.attempts += 1
        elif result.outcome is CodeOutcome.OK:
            session.delete(record)  # single use
        return result

    def _open_session(self, session, account: Account, client_ip: str, now: datetime) -> dict:
        token = domain.new_token()
        expires_at = now + self.settings.session_ttl
        session.add(UserSession(token_hash=domain.hash_token(token), account_id=account.id,
                            created_at=now, expires_at=expires_at, client_ip=client_ip))
        return {"token": token, "expires_at": _iso(expires_at), "account": account.as_dict()}


def _code_error(check: domain.CodeCheck) -> ServiceError:
    details = {"attempts_left": check.attempts_left} if check.outcome is CodeOutcome.WRONG else {}
    return ServiceError(CODE_ERRORS[check.outcome], details)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
