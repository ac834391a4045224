"""The sample masters (the demo's videos and the tests' fixtures)."""

from fractions import Fraction

import pytest

from services.transcoder.media.inspection import ffprobe_json
from services.transcoder.media.sample import make_master


def test_refuses_impossible_masters(tmp_path):
    with pytest.raises(ValueError, match="even"):
        make_master(tmp_path / "odd.mov", 1, size=(321, 180))
    with pytest.raises(ValueError, match="drop-frame"):
        make_master(tmp_path / "df25.mov", 1, rate=25, start_tc="10:00:00;00")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow_media
def test_small_master_is_a_broadcast_like_mezzanine(small_master):
    facts = small_master.facts
    assert (facts.video_codec, facts.video_profile, facts.pixel_format) == (
        "prores", "Standard", "yuv422p10le")  # ProRes 422, 10-bit 4:2:2
    assert (facts.width, facts.height, facts.frame_rate, facts.frame_count) == (
        320, 180, Fraction(25), 150)
    assert facts.start_timecode == "10:00:00:00"
    assert (facts.audio_codec, facts.audio_sample_rate, facts.audio_channels) == (
        "pcm_s24le", 48000, 2)
    streams = ffprobe_json("-show_streams", small_master.path)["streams"]
    assert [s.get("codec_tag_string") for s in streams] == ["apcn", "in24", "tmcd"]


@pytest.mark.slow_media
def test_ntsc_master(ntsc_master):
    facts = ntsc_master.facts
    assert facts.frame_rate == Fraction(30000, 1001) and facts.field_order == "tt"
    assert facts.start_timecode == "01:00:00;00" and facts.audio_stream_channels == (1, 1)
