"""Auth's migrations on a database that already holds accounts (SQLite and PostgreSQL)."""

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import insert, select

from services.auth.models import Account
from services.shared.db import make_engine, make_session_factory
from services.shared.migrate import alembic_config

REGISTERED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_accounts_registered_before_the_terms_keep_working_without_any(service_database_url):
    config = alembic_config("auth", service_database_url)
    command.upgrade(config, "0001")
    engine = make_engine(service_database_url)
    try:
        with engine.begin() as connection:
            # only the columns 0001 made (a Core insert names only the values given)
            connection.execute(insert(Account.__table__).values(
                id="5a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d", email="early@example.org",
                password_hash="not-a-hash", full_name="Early Bird", organisation="Example",
                language="fr", newsletter=False, roles="", created_at=REGISTERED,
                verified_at=REGISTERED, password_changed_at=REGISTERED))
        command.upgrade(config, "head")
        with make_session_factory(engine)() as session:
            account = session.execute(select(Account)).scalar_one()
            assert account.as_dict()["terms_version"] is None
            assert account.as_dict()["terms_accepted_at"] is None
            account.terms_version, account.terms_accepted_at = "2026-11-21", REGISTERED
            session.commit()
        command.downgrade(config, "0001")
        command.upgrade(config, "head")
    finally:
        engine.dispose()


def test_stored_addresses_take_their_one_form_and_two_mailboxes_in_one_are_left(
        service_database_url):
    config = alembic_config("auth", service_database_url)
    command.upgrade(config, "0002")
    engine = make_engine(service_database_url)
    try:
        with engine.begin() as connection:
            for number, email in enumerate(("Rédaction@Exämple.org", "jane@example.org",
                                            "\uff4a\uff41\uff4e\uff45@example.org")):
                connection.execute(insert(Account.__table__).values(
                    id=f"5a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4{number}", email=email,
                    password_hash="not-a-hash", full_name="Someone", organisation="Example",
                    language="fr", newsletter=False, roles="", created_at=REGISTERED,
                    verified_at=REGISTERED, password_changed_at=REGISTERED))
        command.upgrade(config, "head")
        with engine.connect() as connection:
            emails = connection.execute(select(Account.email).order_by(Account.id)).scalars()
            assert list(emails) == ["rédaction@xn--exmple-cua.org", "jane@example.org",
                                    "\uff4a\uff41\uff4e\uff45@example.org"]
        command.downgrade(config, "0002")
    finally:
        engine.dispose()
