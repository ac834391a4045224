"""Fixtures for the services' own tests: every database-backed test runs on SQLite (the
embedded default) and on PostgreSQL."""

import pytest

from tests.support.databases import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def service_database_url(request, tmp_path):
    return database_url(request.param, request.node.name, tmp_path, request.addfinalizer)
