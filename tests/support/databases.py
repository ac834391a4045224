"""A fresh database per test and service, on SQLite or PostgreSQL.

PostgreSQL databases are created with `TEST_POSTGRES_URL` (a role with CREATEDB; `./scripts/test`
sets it up) and dropped at the end, after their connections are terminated.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

DEFAULT_POSTGRES_URL = "postgresql://newsreel:newsreel@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgres")

_pending_drops: set[str] = set()


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def _libpq(url: str) -> str:
    """psycopg2 takes `postgresql://`, not SQLAlchemy's `postgresql+psycopg2://`."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(_libpq(url))
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _admin_connection():
    connection = psycopg2.connect(_libpq(postgres_admin_url()), connect_timeout=10)
    connection.autocommit = True
    return connection


def database_url(backend: str, name: str, tmp_path: str | os.PathLike,
                 addfinalizer: Callable[[Callable[[], None]], object] | None = None) -> str:
    """A URL for a new, empty database for `name` (e.g. a service name).

    sqlite: a file under `tmp_path` (created by the service on first connect).
    postgres: `CREATE DATABASE nr_<name>_<hex>`; it is dropped by the callable handed to
    `addfinalizer` (e.g. `request.addfinalizer`), or at exit when none is given.
    """
    slug = re.sub(r"[^a-z0-9_]", "_", name.lower())[:30]
    if backend == "sqlite":
        directory = Path(tmp_path) / "db"
        directory.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{directory / f'{slug}-{secrets.token_hex(3)}.db'}"
    if backend != "postgres":
        raise ValueError(f"unknown database backend {backend!r}; one of {BACKENDS}")
    db_name = f"nr_{slug}_{secrets.token_hex(4)}"
    connection = _admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))
    finally:
        connection.close()
    # SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg (3), which is not installed:
    # name the driver the project pins
    url = _with_database(postgres_admin_url(), db_name).replace(
        "postgresql://", "postgresql+psycopg2://", 1)
    _pending_drops.add(db_name)
    if addfinalizer is not None:
        addfinalizer(lambda: drop_database(db_name))
    return url


def drop_database(db_name: str) -> None:
    """Terminates the database's connections (services may still hold some) and drops it."""
    connection = _admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (db_name,))
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(db_name)))
    finally:
        connection.close()
    _pending_drops.discard(db_name)


def database_exists(db_name: str) -> bool:
    connection = _admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,))
            return cursor.fetchone() is not None
    finally:
        connection.close()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@atexit.register
def _drop_leftovers() -> None:
    for db_name in list(_pending_drops):
        with contextlib.suppress(Exception):
            drop_database(db_name)
