"""Issue 10, point 9: the mailer reads one signing key ring, UNSUBSCRIBE_KEYS, and no other
purpose's; without it, it will not start."""

import pytest
from cryptography.fernet import Fernet

from services.mailer.entrypoint import MailerParts
from services.shared import signing_keys, unsubscribe


@pytest.fixture
def mailer_env(monkeypatch, tmp_path):
    for setting in (*signing_keys.ALL, signing_keys.RETIRED, "SMTP_URL"):
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("CODE_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("MAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    return monkeypatch


def test_the_mailer_signs_with_its_unsubscribe_ring_alone(mailer_env):
    new, old = "n" * 43, "o" * 43
    mailer_env.setenv("UNSUBSCRIBE_KEYS", f"{new},{old}")
    parts = MailerParts()
    parts.setup()   # no session, CSRF or download key in its environment, and none needed
    keys = parts.parts["unsubscribe_key"]
    token = unsubscribe.sign(keys, "acc-7")
    assert unsubscribe.read(new, token) == "acc-7" and unsubscribe.read(old, token) is None


def test_the_mailer_will_not_start_without_its_ring(mailer_env):
    mailer_env.setenv("SECRET_KEY", "s" * 64)   # the one key of before is not read
    with pytest.raises(RuntimeError, match="UNSUBSCRIBE_KEYS must be set"):
        MailerParts().setup()
