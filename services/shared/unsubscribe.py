"""The signed token in every newsletter's unsubscribe link. The mailer signs it, the gateway
reads it; both hold `SECRET_KEY`. It names the account and never expires: a link in an old
newsletter must still work (RFC 8058)."""

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "newsletter-unsubscribe"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def sign(secret_key: str, account_id: str) -> str:
    return _serializer(secret_key).dumps({"account": account_id})


def read(secret_key: str, token: str) -> str | None:
    """The account id, or None for a forged, altered or malformed token."""
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    account = payload.get("account") if isinstance(payload, dict) else None
    return account if isinstance(account, str) else None
