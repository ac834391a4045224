"""Key rings per purpose (signing_keys.py) and the unsubscribe link across a rotation."""

import pytest

from services.shared import signing_keys, unsubscribe
from services.shared.signing_keys import KeyRing

OLD = "old-" + "o" * 40
NEW = "new-" + "n" * 40


def test_a_ring_is_newest_first_and_hands_itsdangerous_the_newest_last():
    ring = KeyRing.parse("CSRF_KEYS", f" {NEW} , {OLD},")
    assert ring.keys == (NEW, OLD) and ring.current == NEW
    assert ring.oldest_first == [OLD, NEW]
    assert NEW not in repr(ring) and OLD not in repr(ring)


def test_an_unsubscribe_link_survives_a_rotation_and_new_ones_use_the_new_key():
    old_link = unsubscribe.sign(OLD, "acc-1")
    rotated = KeyRing.parse("UNSUBSCRIBE_KEYS", f"{NEW},{OLD}")
    assert unsubscribe.read(rotated, old_link) == "acc-1"
    new_link = unsubscribe.sign(rotated, "acc-2")
    assert unsubscribe.read(NEW, new_link) == "acc-2"
    assert unsubscribe.read(OLD, new_link) is None
    assert unsubscribe.read(NEW, old_link) is None     # dropped: its links end


def test_a_missing_setting_says_which_and_that_secret_key_is_retired(monkeypatch):
    monkeypatch.delenv("UNSUBSCRIBE_KEYS", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="UNSUBSCRIBE_KEYS must be set") as plain:
        unsubscribe.keys_from_env()
    assert "SECRET_KEY" not in str(plain.value)
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    with pytest.raises(RuntimeError, match="SECRET_KEY is no longer read"):
        unsubscribe.keys_from_env()


def test_short_keys_and_shared_keys_are_refused_without_showing_them():
    with pytest.raises(RuntimeError, match="at least 32") as short:
        KeyRing.parse("SESSION_KEYS", f"{NEW},short-secret")
    assert "short-secret" not in str(short.value)
    with pytest.raises(RuntimeError, match="SESSION_KEYS and CSRF_KEYS share a key") as shared:
        signing_keys.check_apart([KeyRing.parse("SESSION_KEYS", NEW),
                                  KeyRing.parse("CSRF_KEYS", f"{OLD},{NEW}")])
    assert NEW not in str(shared.value)


def test_fresh_keys_are_long_distinct_and_comma_free():
    keys = signing_keys.fresh()
    assert set(keys) == set(signing_keys.ALL)
    signing_keys.check_apart(KeyRing.parse(name, value) for name, value in keys.items())
    assert all(len(v) >= signing_keys.MIN_CHARS and "," not in v for v in keys.values())
