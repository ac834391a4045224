"""The nameko edge of the auth service: RPC methods that forward to AccountService."""

from datetime import timedelta

from argon2 import PasswordHasher
from eventlet import tpool
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.shared.config import database_url, env, env_int, require
from services.shared.db import Database
from services.shared.errors import ServiceError, service_rpc
from services.shared.observed import Observed
from services.shared.outbox import OutboxRelay
from services.shared.sealed import Sealer

from .limits import parse_limits
from .models import outbox
from .service import AccountService, AuthSettings, Passwords, utcnow


def _auth_database_url() -> str:
    return database_url("auth")


# Each argon2id hash holds memory_cost KiB (64 MiB by default) while it runs. The process
# holds AUTH_HASHES_IN_FLIGHT of them at most, so that it stays inside its memory limit
# (deploy/k8s/base/auth.yaml; deploy/tests checks the sum) whatever the number of logins at
# once; the others wait their turn up to AUTH_HASH_WAIT_SECONDS, then get 503 + Retry-After.
HASHES_IN_FLIGHT = 4
HASH_WAIT_SECONDS = 10
# The process's own memory besides the hashes (77 MiB measured idle on 2026-12-04, Python
# 3.11; the rest is room for requests, connections and the native threads' stacks).
PROCESS_BASE_MIB = 128


class OffloadedHasher(PasswordHasher):
    """argon2id holds a core for ~0.1 s by design. Run in a native thread (argon2 releases the
    GIL), it no longer freezes the service's green threads: a login does not stall every
    `authenticate` behind it. At most `in_flight` at once (see HASHES_IN_FLIGHT)."""

    def __init__(self, in_flight: int = HASHES_IN_FLIGHT,
                 wait_seconds: float = HASH_WAIT_SECONDS, **kwargs):
        super().__init__(**kwargs)
        self.gate = Semaphore(in_flight)
        self.wait_seconds = wait_seconds

    def hash(self, password, **kwargs):
        return self._offload(super().hash, password, **kwargs)

    def verify(self, hash, password):
        return self._offload(super().verify, hash, password)

    def _offload(self, work, *args, **kwargs):
        if not self.gate.acquire(timeout=self.wait_seconds):
            raise ServiceError("service_unavailable", {"retry_after": 1})
        try:
            return tpool.execute(work, *args, **kwargs)
        finally:
            self.gate.release()


def _clock(offset_seconds: int):
    """A test restarts auth in the future to see a code expire. Never set in production."""
    offset = timedelta(seconds=offset_seconds)
    return lambda: utcnow() + offset


class AccountServiceParts(DependencyProvider):
    """What AccountService needs besides a session, built once per process from the
    environment (the one wiring place)."""

    def setup(self):
        self.parts = {
            "outbox": outbox,
            "limits": parse_limits(env("AUTH_RATE_LIMITS")),
            "sealer": Sealer.from_env(),
            "settings": AuthSettings(
                code_key=bytes.fromhex(require("CODE_HASH_KEY")),
                idle_timeouts={"portal": timedelta(
                    minutes=env_int("AUTH_PORTAL_IDLE_MINUTES", 30))}),
            "passwords": Passwords(OffloadedHasher(
                env_int("AUTH_HASHES_IN_FLIGHT", HASHES_IN_FLIGHT),
                env_int("AUTH_HASH_WAIT_SECONDS", HASH_WAIT_SECONDS))),
            "clock": _clock(env_int("AUTH_CLOCK_OFFSET_SECONDS", 0)),
        }

    def get_dependency(self, worker_ctx):
        return self.parts


class AuthService(Observed):
    name = "auth"

    db = Database(_auth_database_url)
    parts = AccountServiceParts()
    relay = OutboxRelay(outbox, _auth_database_url)

    @property
    def accounts(self) -> AccountService:
        return AccountService(self.db, **self.parts)

    @service_rpc
    def ping(self):
        return "pong"

    @service_rpc
    def register(self, email, password, full_name, organisation, language, client_ip,
                 terms_version):
        self.accounts.register(email, password, full_name, organisation, language, client_ip,
                               terms_version)

    @service_rpc
    def resend_verification(self, email, client_ip):
        self.accounts.resend_verification(email, client_ip)

    @service_rpc
    def verify_account(self, email, code, password, client_ip, kind="api", user_agent=None):
        return self.accounts.verify_account(email, code, password, client_ip, kind, user_agent)

    @service_rpc
    def login(self, email, password, client_ip, kind="api", user_agent=None):
        return self.accounts.login(email, password, client_ip, kind, user_agent)

    @service_rpc
    def logout(self, token):
        self.accounts.logout(token)

    @service_rpc
    def authenticate(self, token):
        return self.accounts.authenticate(token)

    @service_rpc
    def list_sessions(self, token):
        return self.accounts.list_sessions(token)

    @service_rpc
    def end_other_sessions(self, token):
        return self.accounts.end_other_sessions(token)

    @service_rpc
    def change_password(self, token, current_password, new_password, client_ip):
        self.accounts.change_password(token, current_password, new_password, client_ip)

    @service_rpc
    def set_newsletter(self, token, subscribed):
        return self.accounts.set_newsletter(token, subscribed)

    @service_rpc
    def unsubscribe_newsletter(self, account_id):
        self.accounts.unsubscribe_newsletter(account_id)

    @service_rpc
    def request_password_reset(self, email, client_ip):
        self.accounts.request_password_reset(email, client_ip)

    @service_rpc
    def verify_password_reset(self, email, code, client_ip):
        return self.accounts.verify_password_reset(email, code, client_ip)

    @service_rpc
    def complete_password_reset(self, reset_token, password, client_ip):
        self.accounts.complete_password_reset(reset_token, password, client_ip)

    # Codes asked for are made and mailed within about a second of the answer (CodeRequest).
    @timer(interval=1)
    def issue_requested_codes(self):
        self.accounts.issue_requested_codes()

    @timer(interval=3600)
    def purge_expired(self):
        self.accounts.purge_expired()
