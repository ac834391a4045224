"""The gateway's settings, read from the environment only (12-factor).

They land in `app.config` under these names; `create_app(config=...)` overrides any of them
(tests do, the process never does)."""

from pathlib import Path

from services.shared.config import REPO_ROOT, amqp_uri, env, env_float, env_int
from services.shared.signing_keys import CSRF_KEYS, HELD_BY, SESSION_KEYS, KeyRing, check_apart

# The largest tus chunk: the front door (nginx) and the gateway read the same setting.
DEFAULT_UPLOAD_CHUNK_MAX_BYTES = 64 * 1024 * 1024

MAX_BODY_BYTES = 16 * 1024
# News items (two language versions of a long article) and shotlists are larger.
NEWS_MAX_BODY_BYTES = 256 * 1024


def media_root() -> Path:
    """MEDIA_ROOT as the catalog reads it: else `<NEWSREEL_VAR or var/>/media`."""
    root = env("MEDIA_ROOT") or Path(env("NEWSREEL_VAR") or REPO_ROOT / "var") / "media"
    return Path(root).absolute()


def config_from_env() -> dict:
    return {
        "AMQP_URI": amqp_uri(),
        # One started proxy per gunicorn thread: gunicorn_conf.py sizes the threads from it too.
        "RPC_POOL_SIZE": env_int("RPC_POOL_SIZE", 8),
        "RPC_TIMEOUT_SECONDS": env_float("RPC_TIMEOUT_SECONDS", 10.0),
        "READINESS_TIMEOUT_SECONDS": env_float("READINESS_TIMEOUT_SECONDS", 2.0),
        # How many reverse proxies in front of us may set X-Forwarded-For/-Proto: 1 behind the
        # front door (nginx overwrites the header with the address it saw). 0: none is
        # trusted, the client address is the TCP peer's (a forged header changes nothing).
        "TRUSTED_PROXY_COUNT": env_int("TRUSTED_PROXY_COUNT", 0),
        "PUBLIC_BASE_URL": env("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        # What leaves the gateway signed and must come back unaltered: the portal's session
        # and forms, download links, newsletter links; a key ring each (signing_config).
        **{setting: env(setting) for setting in HELD_BY["gateway"]},
        # Shared with the catalog and the transcoder: /media serves the preview renditions
        # (poster, storyboard, proxy, HLS) the catalog links from it, and nothing else
        # (media.py).
        "MEDIA_ROOT": media_root(),
        # How long the catalog's word that a video is (not) public is kept, and how long a
        # public preview may be cached by anyone (media.py).
        "PREVIEW_ACCESS_SECONDS": env_float("PREVIEW_ACCESS_SECONDS", 5.0),
        "PREVIEW_MAX_AGE_SECONDS": env_int("PREVIEW_MAX_AGE_SECONDS", 60),
        # How long a signed download link (/files/<token>) works, in seconds (files.py).
        "DOWNLOAD_LINK_SECONDS": env_int("DOWNLOAD_LINK_SECONDS", 3600),
        # Resumable uploads of masters (uploads/): the largest master, unfinished uploads
        # per editor, how long an untouched one is kept, what the volume keeps free, the
        # largest chunk (the front door refuses larger ones: one setting for both).
        "UPLOAD_MAX_BYTES": env_int("UPLOAD_MAX_BYTES", 500 * 10**9),
        "UPLOAD_MAX_IN_PROGRESS": env_int("UPLOAD_MAX_IN_PROGRESS", 3),
        "UPLOAD_EXPIRY_SECONDS": env_int("UPLOAD_EXPIRY_SECONDS", 24 * 3600),
        "UPLOAD_DISK_RESERVE_BYTES": env_int("UPLOAD_DISK_RESERVE_BYTES", 2 * 1024**3),
        "UPLOAD_CHUNK_MAX_BYTES": env_int("UPLOAD_CHUNK_MAX_BYTES",
                                          DEFAULT_UPLOAD_CHUNK_MAX_BYTES),
        "UPLOAD_SWEEP_SECONDS": env_float("UPLOAD_SWEEP_SECONDS", 300.0),
        # Development only: the mailer's .eml outbox, listed at /dev/mail (web/devmail.py).
        "DEV_MAIL_OUTBOX": env("DEV_MAIL_OUTBOX"),
    }


def signing_config(config: dict) -> dict:
    """The key rings of `config` (the settings' values, newest key first) and what Flask and
    Flask-WTF make of them: Flask signs its session with SECRET_KEY and still reads what
    SECRET_KEY_FALLBACKS signed (Flask 3.1); Flask-WTF hands WTF_CSRF_SECRET_KEY to
    itsdangerous, which signs with a list's last key and reads with any. RuntimeError, naming
    the setting, if one is missing, too short, or shares a key with another purpose."""
    rings = {setting: KeyRing.parse(setting, config.get(setting))
             for setting in HELD_BY["gateway"]}
    check_apart(rings.values())
    session = rings[SESSION_KEYS]
    return {**rings,
            "SECRET_KEY": session.current,
            "SECRET_KEY_FALLBACKS": session.oldest_first[:-1],
            "WTF_CSRF_SECRET_KEY": rings[CSRF_KEYS].oldest_first}
