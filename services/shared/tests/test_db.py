"""The database engines every service uses (services/shared/db.py), on each database."""

import logging
import traceback

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from services.shared.db import make_engine

SECRET = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$SECRET-HASH-VALUE"


def test_a_database_error_shows_none_of_the_statements_values(service_database_url, caplog):
    # A failed statement's parameters (a password hash, a code's HMAC, a session token) must
    # not reach an exception's text, which is logged and may be shown in a traceback.
    metadata = MetaData()
    table = Table("credentials", metadata, Column("hash", String(200), unique=True))
    engine = make_engine(service_database_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(table).values(hash=SECRET))
        with caplog.at_level(logging.DEBUG), pytest.raises(IntegrityError) as failed, \
                engine.begin() as connection:
            connection.execute(insert(table).values(hash=SECRET))
    finally:
        engine.dispose()
    message = str(failed.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in message
    assert "[parameters:" not in message and "SECRET-HASH-VALUE" not in caplog.text
    # nor PostgreSQL's own DETAIL line ("Key (hash)=(...) already exists"), in the exception
    # or in the driver's chained to it: what a logged traceback prints
    printed = "".join(traceback.format_exception(failed.value))
    assert "SECRET-HASH-VALUE" not in message and "SECRET-HASH-VALUE" not in printed
    assert "duplicate" in printed.lower() or "unique" in printed.lower()   # the cause stays
