"""The signed token in every newsletter's unsubscribe link. The mailer signs it, the gateway
reads it; both hold `UNSUBSCRIBE_KEYS` (signing_keys.py), a key of this purpose only: the mailer
holds no key that signs anything else. It names the account and never expires: a link in an old
newsletter must still work (RFC 8058), so a rotated key stays behind the new one for as long as
old newsletters may be opened."""

from itsdangerous import BadSignature, URLSafeSerializer

from .signing_keys import UNSUBSCRIBE_KEYS, KeyRing

SALT = "newsletter-unsubscribe"


def keys_from_env() -> KeyRing:
    return KeyRing.from_env(UNSUBSCRIBE_KEYS)


def _serializer(keys: KeyRing | str) -> URLSafeSerializer:
    # signs with the newest key, reads with any of them
    return URLSafeSerializer(KeyRing.parse(UNSUBSCRIBE_KEYS, keys).oldest_first, salt=SALT)


def sign(keys: KeyRing | str, account_id: str) -> str:
    """`keys`: the ring, or the setting's value (newest first)."""
    return _serializer(keys).dumps({"account": account_id})


def read(keys: KeyRing | str, token: str) -> str | None:
    """The account id, or None for a forged, altered or malformed token."""
    try:
        payload = _serializer(keys).loads(token)
    except BadSignature:
        return None
    account = payload.get("account") if isinstance(payload, dict) else None
    return account if isinstance(account, str) else None
