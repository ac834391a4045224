"""The catalog's fixtures: a migrated database (SQLite and PostgreSQL, see services/conftest.py),
a MEDIA_ROOT of the test's own, a clock the test moves, and a tiny real master made by ffmpeg."""

import json
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.catalog.models import outbox
from services.catalog.service import Catalog, CatalogSettings

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BASE_URL = "https://newsreel.test"


@pytest.fixture
def session_factory(migrated_database):
    return migrated_database("catalog")


@pytest.fixture
def settings(media_root):
    return CatalogSettings(media_root=media_root, public_base_url=BASE_URL)


@pytest.fixture
def catalog(session_factory, settings, clock):
    return Catalog(session_factory(), outbox, settings, clock=clock)


def events(session_factory, event_type=None) -> list[dict]:
    """The events committed to the outbox, oldest first (no broker in these tests)."""
    with session_factory() as session:
        rows = session.execute(select(outbox.table).order_by(outbox.table.c.id)).all()
    found = [json.loads(row.envelope) for row in rows]
    return [e for e in found if event_type is None or e["type"].endswith("." + event_type)]


@pytest.fixture(scope="session")
def master_file(tmp_path_factory):
    """A real MOV master: 2 s, 160x90, 25 fps, a stereo tone, starting at 10:00:00:00."""
    path = tmp_path_factory.mktemp("masters") / "master.mov"
    subprocess.run([
        shutil.which("ffmpeg") or "/usr/bin/ffmpeg", "-v", "error", "-y",
        "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=2",
        "-ac", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le",
        "-timecode", "10:00:00:00", "-shortest", str(path),
    ], check=True, timeout=120)
    return path


@pytest.fixture
def master(master_file, media_root):
    """The master, dropped into this test's ingest folder."""
    target = media_root / "ingest" / "clip.mov"
    shutil.copyfile(master_file, target)
    return target


def news_body(*paragraphs):
    return [{"type": "quote" if p.startswith("«") else "paragraph", "text": p}
            for p in paragraphs]


def item(fr_title=None, en_title=None, summary="Résumé.", body=("Un paragraphe.",)):
    translations = {}
    if fr_title:
        translations["fr"] = {"title": fr_title, "summary": summary, "body": news_body(*body)}
    if en_title:
        translations["en"] = {"title": en_title, "summary": "Summary.",
                              "body": news_body("A paragraph.")}
    return translations
