from datetime import UTC, datetime, timedelta

import pytest

from services.auth import domain

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


def test_a_code_matches_only_while_live_and_whichever_of_the_live_ones_it_is():
    later = NOW + timedelta(minutes=1)
    stored = [("first", later), ("second", later), ("old", NOW)]
    assert domain.code_matches(stored, "second", NOW) == 1
    assert domain.code_matches(stored, "first", NOW) == 0
    assert domain.code_matches(stored, "old", NOW) is None       # expired
    assert domain.code_matches(stored, "other", NOW) is None
    assert domain.code_matches([], "other", NOW) is None


def test_code_locks_grow_with_consecutive_failures_then_allow_one_a_day():
    locks = {n: domain.code_lock_after(n) for n in range(0, 26)}
    assert [n for n, lock in locks.items() if lock] == [5, 10, 15, 20, 21, 22, 23, 24, 25]
    assert [locks[n] for n in (5, 10, 15, 20, 21)] == [
        timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4), timedelta(hours=24),
        timedelta(hours=24)]


@pytest.mark.parametrize(("given", "client"), [
    ("192.0.2.10", "192.0.2.10"),
    (" 192.0.2.10 ", "192.0.2.10"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.10", "192.0.2.10"),      # an IPv4 client seen through an IPv6 socket
    ("not-an-address", "not-an-address"),
])
def test_client_key_takes_an_ipv6_client_by_its_slash_64(given, client):
    assert domain.client_key(given) == client


def test_email_normalisation_and_key():
    assert domain.normalize_email("  Jane.Doe@Example.ORG ") == "jane.doe@example.org"
    assert domain.email_key("JANE@example.org") == domain.email_key("jane@example.org ")
    assert "jane" not in domain.email_key("jane@example.org")
    full_width = "\uff4a\uff41\uff4e\uff45@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.org"
    assert domain.normalize_email(full_width) == "jane@example.org"   # NFKC
    assert domain.normalize_email("Rédaction@Exämple.ORG.") == "rédaction@xn--exmple-cua.org"
    assert domain.normalize_email("jane@xn--exmple-cua.org") == "jane@xn--exmple-cua.org"
    assert domain.normalize_email("no-at-sign") == "no-at-sign"
