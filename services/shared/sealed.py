"""Secrets that must cross the bus (a verification code on its way to the mailer) travel
sealed with Fernet under `CODE_ENCRYPTION_KEY`, a key only auth and the mailer hold. Several
comma-separated keys allow rotation: the first seals, any opens."""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .config import require

__all__ = ["InvalidToken", "Sealer"]


class Sealer:
    def __init__(self, keys: str):
        self._fernet = MultiFernet([Fernet(key.strip()) for key in keys.split(",") if key.strip()])

    @classmethod
    def from_env(cls) -> "Sealer":
        return cls(require("CODE_ENCRYPTION_KEY"))

    def seal(self, payload: dict) -> str:
        return self._fernet.encrypt(json.dumps(payload).encode()).decode()

    def open(self, token: str) -> dict:
        return json.loads(self._fernet.decrypt(token.encode()))
