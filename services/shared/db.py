"""Database engines, a session per nameko worker, and units of work on it.

SQLite is the embedded default: WAL so readers never block the writer, a busy timeout so a
second writer waits instead of failing, foreign keys on. Transactions must not do network I/O:
under eventlet a green thread that yields while holding SQLite's write lock would stall the
whole process."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from weakref import WeakKeyDictionary

from nameko.extensions import DependencyProvider
from sqlalchemy import DateTime, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

# Every service names its constraints and indexes the same way, so migrations can refer to
# them on every backend (SQLite's batch mode needs names to drop anything).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_engine(url: str) -> Engine:
    if url.startswith(("postgresql://", "postgres://")):
        # psycopg2 cooperates with eventlet; SQLAlchemy 2.1's default driver (psycopg 3)
        # would block every green thread.
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own transaction handling would defer BEGIN; take it over so that
            # SQLAlchemy's begin() is a real BEGIN (the documented recipe).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # IMMEDIATE takes the write lock up front: no deadlock between two transactions
            # that both read then write.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                           hide_parameters=True)
    event.listen(engine, "handle_error", _hide_detail)
    return engine


# PostgreSQL's DETAIL line quotes the values at fault ("Key (token_hash)=(…) already exists"):
# a hash, an HMAC or a token would reach the exception's text, its traceback and the logs.
_DETAIL = re.compile(r"^DETAIL:.*$", re.MULTILINE)
_DETAIL_HIDDEN = "DETAIL:  [values hidden]"


def _hide_detail(context) -> None:
    """The exception (and the driver's, chained to it) keep everything but the values."""
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is not None and error.args and isinstance(error.args[0], str) \
                and "DETAIL:" in error.args[0]:
            error.args = (_DETAIL.sub(_DETAIL_HIDDEN, error.args[0]), *error.args[1:])


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """One unit of work on `session`: committed at the end of the block, rolled back if it
    raises. A worker may run several in a row (a rate-limit hit must commit even when the
    operation it guards then fails)."""
    with session.begin():
        yield session


class Database(DependencyProvider):
    """A SQLAlchemy session per nameko worker, closed when the worker ends (whatever it left
    uncommitted is rolled back), so no session is ever shared by two green threads."""

    def __init__(self, url_getter):
        self.url_getter = url_getter
        self.engine = None
        self.session_factory = None
        self.sessions = WeakKeyDictionary()

    def setup(self):
        self.engine = make_engine(self.url_getter())
        self.session_factory = make_session_factory(self.engine)

    def stop(self):
        if self.engine is not None:
            self.engine.dispose()

    def get_dependency(self, worker_ctx):
        session = self.session_factory()
        self.sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx):
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if dialect.name != "sqlite" else \
            value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
