import pytest
from cryptography.fernet import Fernet

from services.shared.sealed import Sealer


@pytest.fixture
def sealer():
    return Sealer(Fernet.generate_key().decode())


@pytest.fixture
def session_factory(migrated_database):
    return migrated_database("auth")
