"""Configuration comes from the environment only (12-factor). Defaults are the one-machine setup."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def var_dir() -> Path:
    """Where local state lives on one machine (databases, media, mail outbox)."""
    path = Path(env("NEWSREEL_VAR", str(REPO_ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def amqp_uri() -> str:
    return env("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, or an SQLite file under var/ (the embedded default)."""
    url = env(f"{service.upper()}_DATABASE_URL")
    return url or f"sqlite:///{var_dir() / (service + '.db')}"


def require(name: str) -> str:
    value = env(name)
    if value is None:
        raise RuntimeError(f"{name} must be set in the environment")
    return value
