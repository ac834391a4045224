"""The transcoder's fixtures: a migrated database (SQLite and PostgreSQL, see
services/conftest.py), a MEDIA_ROOT of the test's own, a clock the test moves, and tiny real
media made once per session (a 4-s 320x180 25p master starting at 10:00:00:00, its proxy)."""

import json
import shutil
import uuid
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from sqlalchemy import select

from services.shared.cloudevents import envelope
from services.transcoder.media.renditions import make_rendition
from services.transcoder.media.sample import make_master
from services.transcoder.models import outbox
from services.transcoder.service import Transcoder, TranscoderSettings

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONSUMER = "transcoder.video.ingested.v1"


@pytest.fixture
def session_factory(migrated_database):
    return migrated_database("transcoder")


@pytest.fixture
def settings(media_root):
    return TranscoderSettings(media_root=media_root, storyboard_count=4)


@pytest.fixture
def make_transcoder(session_factory, settings, clock):
    def make(toolkit=None):
        return Transcoder(session_factory(), outbox, settings, toolkit=toolkit, clock=clock)
    return make


@pytest.fixture
def transcoder(make_transcoder):
    return make_transcoder()


def events(session_factory, event_type=None) -> list[dict]:
    """The events committed to the outbox, oldest first (no broker in these tests)."""
    with session_factory() as session:
        rows = session.execute(select(outbox.table).order_by(outbox.table.c.id)).all()
    found = [json.loads(row.envelope) for row in rows]
    return [e for e in found if event_type is None or e["type"].endswith("." + event_type)]


def ingested_event(video_id=None, master_path="ingest/clip.mov", seconds=4, rate="25/1",
                   start_timecode="10:00:00:00") -> dict:
    """A `video.ingested.v1` as the catalog writes it."""
    frames = int(Fraction(seconds) * Fraction(rate))
    return envelope("catalog", "video.ingested.v1", {
        "video_id": video_id or str(uuid.uuid4()), "news_id": str(uuid.uuid4()),
        "master_path": master_path, "duration": float(seconds), "frame_rate": rate,
        "width": 320, "height": 180, "start_timecode": start_timecode, "audio_channels": 2,
        "audio_streams": 1, "video_codec": "prores", "pixel_format": "yuv422p10le",
        "field_order": "progressive", "container": "mov,mp4,m4a,3gp,3g2,mj2",
        "size_bytes": 1000, "frame_count": frames, "ingested_at": "2026-11-21T11:00:00Z"})


@pytest.fixture
def video_id(transcoder) -> str:
    """A video the transcoder knows (its master file is not there: enough for requests)."""
    event = ingested_event()
    transcoder.record_video(event, CONSUMER)
    return event["data"]["video_id"]


@pytest.fixture(scope="session")
def session_media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transcoder-media")
    master = folder / "clip.mov"
    make_master(master, 4, size=(320, 180), rate=25, start_tc="10:00:00:00",
                title="Newsreel", tone_dbfs=-23.0)
    proxy = make_rendition("proxy", master, folder / "proxy.mp4")
    return {"master": master, "proxy": proxy.path}


@pytest.fixture
def real_video(transcoder, media_root, session_media) -> str:
    """A video whose master is really in this test's MEDIA_ROOT (4 s, 10:00:00:00, 25p)."""
    shutil.copyfile(session_media["master"], media_root / "ingest" / "clip.mov")
    event = ingested_event()
    transcoder.record_video(event, CONSUMER)
    return event["data"]["video_id"]


@pytest.fixture
def with_proxy(real_video, media_root, session_media) -> str:
    """…and its whole proxy rendition already made."""
    folder = media_root / "renditions" / real_video
    folder.mkdir(parents=True)
    shutil.copyfile(session_media["proxy"], folder / "proxy.mp4")
    return real_video
