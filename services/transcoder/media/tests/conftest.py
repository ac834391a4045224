"""Media made once per test session, tiny wherever the spec allows (2 cores: media is dear).

- `small_master`: 6 s, 320x180, 25p, starts 10:00:00:00, a -23 dBFS stereo tone (= -23 LUFS).
- `small_proxy`: the proxy rendition of it (6 s, GOP 1 s: fast cuts that land mid-file).
- `hd_master`: 3 s, 1920x1080 25p, a -30 dBFS tone (-30 LUFS: loudness normalisation has work).
- `hd_renditions`: xdcam-hd422, h264-1080p and proxy of it, made in one ffmpeg run.
- `ntsc_master`: 2 s, 320x180, 29.97 interlaced (tff), drop-frame 01:00:00;00, two mono tracks.
- `ntsc_xdcam`: its XDCAM HD422 (the interlaced 1080i59.94 recipe).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from services.shared.mediainfo import MediaFacts
from services.transcoder.media.renditions import RenditionResult, make_rendition, make_renditions
from services.transcoder.media.sample import make_master


@dataclass(frozen=True)
class Media:
    path: str
    facts: MediaFacts


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def small_master(media_dir) -> Media:
    path = media_dir / "small.mov"
    return Media(str(path), make_master(path, 6, size=(320, 180), rate=25,
                                        start_tc="10:00:00:00", title="Newsreel test",
                                        tone_dbfs=-23.0))


@pytest.fixture(scope="session")
def small_proxy(media_dir, small_master) -> Media:
    result = make_rendition("proxy", small_master.path, media_dir / "small-proxy.mp4",
                            facts=small_master.facts)
    return Media(result.path, result.facts)


@pytest.fixture(scope="session")
def hd_master(media_dir) -> Media:
    path = media_dir / "hd.mov"
    return Media(str(path), make_master(path, 3, size=(1920, 1080), rate=25,
                                        start_tc="10:00:00:00", tone_dbfs=-30.0))


@pytest.fixture(scope="session")
def hd_renditions(media_dir, hd_master) -> dict[str, RenditionResult]:
    return make_renditions(hd_master.path, {
        "xdcam-hd422": media_dir / "hd.mxf",
        "h264-1080p": media_dir / "hd-h264.mp4",
        "proxy": media_dir / "hd-proxy.mp4",
    }, facts=hd_master.facts)


@pytest.fixture(scope="session")
def ntsc_master(media_dir) -> Media:
    path = media_dir / "ntsc.mov"
    return Media(str(path), make_master(path, 2.2, size=(320, 180), rate="30000/1001",
                                        start_tc="01:00:00;00", interlaced=True,
                                        audio_tracks=2, channels_per_track=1,
                                        tone_dbfs=-26.0, tone_step_db=6.0))


@pytest.fixture(scope="session")
def ntsc_xdcam(media_dir, ntsc_master) -> RenditionResult:
    return make_rendition("xdcam-hd422", ntsc_master.path, media_dir / "ntsc.mxf",
                          facts=ntsc_master.facts)
