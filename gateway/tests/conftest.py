import os
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from gateway.app import create_app
from services.shared.signing_keys import HELD_BY

from .fakes import FakeRpc

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
PUBLIC_BASE_URL = "https://news.example.org"


def compile_stale_catalogs() -> None:
    """What `pybabel compile -d gateway/translations` does, for a bare `pytest gateway`:
    messages in French need the .mo files (they are build output, not in git)."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        partial = mo.with_suffix(f".mo.{os.getpid()}")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        partial.replace(mo)


compile_stale_catalogs()
# The gateway refuses to start without its signing keys, one ring per purpose; tests sign
# with these.
SIGNING_KEYS = {setting: f"gateway-tests-{setting.lower()}-" + "k" * 40
                for setting in HELD_BY["gateway"]}
for _setting, _key in SIGNING_KEYS.items():
    os.environ.setdefault(_setting, _key)


@pytest.fixture
def rpc() -> FakeRpc:
    return FakeRpc()


@pytest.fixture
def app(rpc):
    return create_app(rpc=rpc, config={
        "TESTING": True,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "TRUSTED_PROXY_COUNT": 0,
    })


@pytest.fixture
def client(app):
    return app.test_client()
