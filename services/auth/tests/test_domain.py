from datetime import UTC, datetime, timedelta

import pytest

from services.auth import domain
from services.auth.domain import CodeOutcome

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("password", "broken"), [
    ("Tr4in-Station-Bl00m", []),
    ("Sh0rt!a", ["min_length"]),
    ("Has space Tr4in!!", ["no_spaces"]),
    ("alllowercase-2024x", ["uppercase"]),
    ("ALLUPPERCASE-2024X", ["lowercase"]),
    ("No-Digits-Here-At-All", ["digit"]),
    ("NoSymbols2024Here", ["symbol"]),
    ("short", ["min_length", "uppercase", "digit", "symbol"]),
    ("Aa1!" * 33, ["max_length"]),
    ("Élan-Vital-Ωmega-7", []),   # letters beyond ASCII count as letters
])
def test_password_rules_are_the_seed_pages(password, broken):
    assert domain.password_problems(password) == broken


@pytest.mark.parametrize("password", ["P@ssw0rd2024!", "Password1234!", "Welcome123!!!",
                                      "Qwerty123456!", "!!Sunshine2025"])
def test_common_passwords_dressed_up_are_refused(password):
    assert domain.password_problems(password) == ["breached"]


def test_breached_list_is_shipped_and_large():
    common = domain.common_passwords()
    assert "password" in common and "123456" in common
    assert len(common) > 10_000


def test_a_long_random_password_is_not_breached():
    assert not domain.is_breached("Vq7#kLm2$Xw9!pRt")


def test_codes_are_six_digits_and_vary():
    codes = {domain.new_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 190


def test_code_hash_is_bound_to_key_account_and_purpose():
    key = b"k" * 32
    base = domain.hash_code(key, "a1", "verify", "123456")
    assert base == domain.hash_code(key, "a1", "verify", "123456")
    assert base != domain.hash_code(b"x" * 32, "a1", "verify", "123456")
    assert base != domain.hash_code(key, "a2", "verify", "123456")
    assert base != domain.hash_code(key, "a1", "reset", "123456")
    assert "123456" not in base


def _check(submitted, attempts=0, expires_at=NOW + timedelta(minutes=1)):
    return domain.check_code("stored", expires_at, attempts, submitted, NOW)


def test_check_code_outcomes():
    assert _check("stored").outcome is CodeOutcome.OK
    wrong = _check("other")
    assert (wrong.outcome, wrong.attempts_left) == (CodeOutcome.WRONG, 4)
    assert _check("other", attempts=4).outcome is CodeOutcome.DEAD
    assert _check("stored", attempts=5).outcome is CodeOutcome.DEAD
    assert _check("stored", expires_at=NOW).outcome is CodeOutcome.EXPIRED
    assert domain.check_code(None, None, 0, "x", NOW).outcome is CodeOutcome.MISSING


def test_email_normalisation_and_key():
    assert domain.normalize_email("  Jane.Doe@Example.ORG ") == "jane.doe@example.org"
    assert domain.email_key("JANE@example.org") == domain.email_key("jane@example.org ")
    assert "jane" not in domain.email_key("jane@example.org")
