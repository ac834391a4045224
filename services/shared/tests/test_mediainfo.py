"""`probe`: the facts of a media file, from ffprobe. Files are made here with the ffmpeg CLI
(tiny and fast), so that this kit does not depend on the transcoder."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from services.shared import mediainfo
from services.shared.mediainfo import MediaError, MediaFacts, probe


def ffmpeg(*args: str) -> None:
    subprocess.run([mediainfo.ffmpeg_binary(), "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("probe")
    made = {name: folder / name for name in (
        "master.mov", "ntsc.mov", "xdcam.mxf", "tone.wav", "still.png", "silent.mp4")}
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
           "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=2",
           "-map", "0:v", "-map", "1:a", "-map", "1:a", "-c:v", "prores_ks", "-profile:v", "2",
           "-qscale:v", "8", "-c:a", "pcm_s24le", "-timecode", "10:00:00:00",
           str(made["master.mov"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30000/1001:duration=1",
           "-f", "lavfi", "-i", "sine=sample_rate=48000:duration=1", "-map", "0:v",
           "-map", "1:a", "-ac:a", "6", "-vf", "setfield=tff", "-flags", "+ildct+ilme",
           "-field_order", "tt",
           "-c:v", "prores_ks", "-qscale:v", "8", "-c:a", "pcm_s16le", "-timecode",
           "01:00:00;00", str(made["ntsc.mov"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=1",
           "-f", "lavfi", "-i", "sine=sample_rate=48000:duration=1", "-map", "0:v",
           "-map", "1:a", "-c:v", "mpeg2video", "-c:a", "pcm_s24le", "-timecode",
           "09:59:50:00", str(made["xdcam.mxf"]))
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", str(made["tone.wav"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x36:duration=1", "-frames:v", "1",
           str(made["still.png"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=50:duration=1", "-c:v",
           "libx264", "-preset", "ultrafast", str(made["silent.mp4"]))
    return made


@pytest.mark.slow_media
def test_a_mezzanine_master(files):
    facts = probe(files["master.mov"])
    assert isinstance(facts, MediaFacts)
    assert facts.duration == pytest.approx(2.0)
    assert facts.frame_rate == Fraction(25) and isinstance(facts.frame_rate, Fraction)
    assert (facts.width, facts.height) == (320, 180)
    assert facts.start_timecode == "10:00:00:00"  # from the tmcd track
    assert (facts.audio_streams, facts.audio_channels) == (2, 2)  # two mono tracks
    assert facts.audio_stream_channels == (1, 1)
    assert (facts.video_codec, facts.pixel_format, facts.field_order) == (
        "prores", "yuv422p10le", "progressive")
    assert "mov" in facts.container
    assert facts.size_bytes == files["master.mov"].stat().st_size
    assert facts.frame_count == 50
    assert (facts.audio_codec, facts.audio_sample_rate) == ("pcm_s24le", 48000)
    assert not facts.interlaced and not facts.drop_frame and facts.has_audio
    with pytest.raises(AttributeError):
        facts.width = 1  # frozen
    assert facts.as_dict()["frame_rate"] == "25/1"


@pytest.mark.slow_media
def test_ntsc_interlaced_drop_frame_surround(files):
    facts = probe(files["ntsc.mov"])
    assert facts.frame_rate == Fraction(30000, 1001)
    assert facts.start_timecode == "01:00:00;00" and facts.drop_frame
    assert facts.field_order == "tt" and facts.interlaced
    assert (facts.audio_streams, facts.audio_channels) == (1, 6)
    assert facts.frame_count == 30


@pytest.mark.slow_media
def test_mxf_timecode_and_frame_count_without_nb_frames(files):
    facts = probe(files["xdcam.mxf"])
    assert facts.container == "mxf" and facts.video_codec == "mpeg2video"
    assert facts.start_timecode == "09:59:50:00"  # from the format's tag
    assert facts.frame_count == 25  # duration x rate (MXF says no nb_frames)


@pytest.mark.slow_media
def test_no_timecode_and_no_audio(files):
    facts = probe(files["silent.mp4"])
    assert facts.start_timecode == "00:00:00:00"
    assert (facts.audio_streams, facts.audio_channels, facts.audio_codec) == (0, 0, "")
    assert facts.frame_rate == Fraction(50) and facts.frame_count == 50


@pytest.mark.slow_media
def test_audio_only_is_not_a_video(files):
    with pytest.raises(MediaError, match="no video stream"):
        probe(files["tone.wav"])


def test_not_media_at_all(tmp_path):
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(MediaError, match="not a media file") as raised:
        probe(junk)
    assert isinstance(raised.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        probe(tmp_path / "nothing.mov")


def test_binaries_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FFPROBE_PATH", "/opt/ffmpeg/bin/ffprobe")
    monkeypatch.setenv("FFMPEG_PATH", "/opt/ffmpeg/bin/ffmpeg")
    assert mediainfo.ffprobe_binary() == "/opt/ffmpeg/bin/ffprobe"
    assert mediainfo.ffmpeg_binary() == "/opt/ffmpeg/bin/ffmpeg"
    monkeypatch.setenv("FFPROBE_PATH", str(tmp_path / "no-ffprobe"))
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    with pytest.raises(MediaError):
        probe(video)
    monkeypatch.delenv("FFPROBE_PATH")
    assert mediainfo.ffprobe_binary().endswith("ffprobe")


@pytest.mark.slow_media
def test_a_still_image_is_a_one_frame_video(files):
    facts = probe(files["still.png"])
    assert (facts.width, facts.height, facts.video_codec) == (64, 36, "png")
