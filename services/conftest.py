"""Fixtures for the services' own tests: every database-backed test runs on SQLite (the
embedded default) and on PostgreSQL; a clock the test moves; a MEDIA_ROOT of the test's own."""

from datetime import UTC, datetime, timedelta

import pytest

from services.shared.db import make_engine, make_session_factory
from services.shared.migrate import upgrade
from tests.support.databases import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def service_database_url(request, tmp_path):
    return database_url(request.param, request.node.name, tmp_path, request.addfinalizer)


@pytest.fixture
def migrated_database(service_database_url):
    """`migrated_database("auth")`: a session factory on that service's schema, at head."""
    engines = []

    def session_factory_for(service: str):
        upgrade(service, service_database_url)
        engines.append(make_engine(service_database_url))
        return make_session_factory(engines[-1])

    yield session_factory_for
    for engine in engines:
        engine.dispose()


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Clock:
    """Injected where a use case asks the time: a test moves it instead of waiting."""

    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def media_root(tmp_path):
    root = tmp_path / "media"
    (root / "ingest").mkdir(parents=True)
    return root
