"""The one exception services raise across RPC.

A service speaks in machine codes (`invalid_code`, `rate_limited`…) with details; the gateway
turns a code into an HTTP status and a sentence in the user's language (see gateway/errors.py).
Registered with nameko so the gateway receives a `ServiceError`, not a bare RemoteError."""

from nameko.exceptions import deserialize_to_instance
from nameko.rpc import rpc


@deserialize_to_instance
class ServiceError(Exception):
    def __init__(self, code: str, details: dict | None = None):
        super().__init__(code, details or {})

    @property
    def code(self) -> str:
        return self.args[0]

    @property
    def details(self) -> dict:
        return self.args[1]

    def __str__(self) -> str:
        return f"{self.code} {self.details}" if self.details else self.code


# An RPC entrypoint whose ServiceErrors are answers, not failures: nameko logs them as
# expected (a warning) instead of as a crash.
service_rpc = rpc(expected_exceptions=ServiceError)
