"""Cuts of the renditions: what was promised is what the file holds (timecode, frame count,
and the pictures themselves)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from services.shared.mediainfo import probe
from services.transcoder.media import cuts as C
from services.transcoder.media.inspection import (
    closest,
    difference,
    ffprobe_json,
    gray_frames,
    keyframes,
)
from services.transcoder.media.timecode import CutRange, CutRequestError, resolve_cut

from .test_renditions import FACTS

# 10:00:00:13 → 10:00:02:12 of the 3-s 1080p renditions: frames [13, 62). It crosses whole
# GOPs of both the 12-frame XDCAM and the 25-frame H.264 renditions and ends inside one.
IN_TC, OUT_TC = "10:00:00:13", "10:00:02:12"
FIRST, END = 13, 62


# --- Planning (pure) ------------------------------------------------------------------------

@pytest.mark.parametrize(("keys", "first", "end", "span"), [
    ([0, 12, 24, 36], 13, 30, (12, 36)),
    ([0, 12, 24, 36], 12, 24, (12, 24)),
    ([0, 12, 24, 36], 0, 40, (0, 48)),  # past the last keyframe: to the end of the file
    ([0, 25, 50], 13, 62, (0, 75)),
])
def test_fast_cuts_cover_the_range_with_whole_gops(keys, first, end, span):
    assert C.keyframe_span(keys, 48 if keys[-1] == 36 else 75, first, end) == span


@pytest.mark.parametrize(("keys", "first", "end", "plan"), [
    ([0, 12, 24, 36, 48, 60, 72], 13, 62,
     [("encode", 13, 24), ("copy", 24, 60), ("encode", 60, 62)]),
    ([0, 25, 50], 13, 62, [("encode", 13, 25), ("copy", 25, 50), ("encode", 50, 62)]),
    ([0, 25, 50], 25, 50, [("copy", 25, 50)]),
    ([0, 25, 50], 25, 62, [("copy", 25, 50), ("encode", 50, 62)]),
    ([0, 25, 50], 13, 50, [("encode", 13, 25), ("copy", 25, 50)]),
    ([0, 25, 50], 30, 62, [("encode", 30, 62)]),  # no whole GOP inside: one re-encode
    ([0, 25, 50], 26, 49, [("encode", 26, 49)]),
])
def test_smart_plan(keys, first, end, plan):
    parts = C.smart_plan(keys, first, end)
    assert [(p.kind, p.first, p.end) for p in parts] == plan
    assert sum(p.frames for p in parts) == end - first


def test_guess_rendition():
    assert C.guess_rendition(FACTS) == "original"
    assert C.guess_rendition(dataclasses.replace(FACTS, video_codec="mpeg2video",
                                                 container="mxf")) == "xdcam-hd422"
    assert C.guess_rendition(dataclasses.replace(FACTS, video_codec="h264")) == "h264-1080p"
    assert C.guess_rendition(dataclasses.replace(FACTS, video_codec="h264", width=640,
                                                 height=360)) == "proxy"


# --- Real cuts ------------------------------------------------------------------------------

def same_picture(cut_frame: bytes, source_frames, index: int) -> None:
    """The cut's frame is the source's frame `index`: the closest of all, and clearly closer
    than the neighbours (re-encoded frames are not bit-identical)."""
    best, score = closest(cut_frame, source_frames)
    assert best == index, f"looks like source frame {best}, not {index}"
    neighbours = [difference(cut_frame, source_frames[j]) for j in (index - 1, index + 1)
                  if 0 <= j < len(source_frames)]
    assert all(score * 2 < n for n in neighbours)


RENDITION_CASES = ["proxy", "h264-1080p", "xdcam-hd422"]


@pytest.fixture(scope="module")
def cut_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cuts")


@pytest.mark.slow_media
@pytest.mark.parametrize("name", RENDITION_CASES)
def test_fast_cut_lands_on_the_keyframe_before_and_says_so(name, hd_renditions, cut_dir):
    source = hd_renditions[name].path
    facts = probe(source)
    asked = resolve_cut(IN_TC, OUT_TC, facts)
    dest = cut_dir / f"fast-{name}{Path(source).suffix}"
    result = C.fast_cut(source, asked, dest)
    keys = keyframes(source)
    expected_first = max(k for k in keys if k <= FIRST)
    expected_end = min([k for k in keys if k >= END] + [facts.frame_count])
    assert (result.first_frame, result.end_frame_exclusive) == (expected_first, expected_end)
    assert expected_first in keys  # MXF has no edit lists: the cut starts ON a GOP
    assert (result.accuracy, result.method, result.rendition) == ("keyframe", "copy", name)
    assert (result.requested_in_tc, result.requested_out_tc) == (IN_TC, OUT_TC)
    assert result.in_tc == f"10:00:00:{expected_first:02d}"
    out = probe(dest)
    assert out.start_timecode == result.in_tc
    assert out.frame_count == result.frame_count == expected_end - expected_first
    assert out.duration == pytest.approx(result.duration_s, abs=0.001)
    assert out.video_codec == facts.video_codec
    assert out.audio_streams == facts.audio_streams
    # A copy: the very same pictures, bit for bit, from the keyframe on.
    cut_frames, source_frames = gray_frames(str(dest)), gray_frames(source)
    assert cut_frames[0] == source_frames[expected_first]
    assert cut_frames[-1] == source_frames[expected_end - 1]
    assert not [p for p in cut_dir.iterdir() if ".tmp-" in p.name or ".parts-" in p.name]


@pytest.mark.slow_media
@pytest.mark.parametrize("name", RENDITION_CASES)
def test_frame_cut_is_exact(name, hd_renditions, cut_dir):
    source = hd_renditions[name].path
    facts = probe(source)
    asked = resolve_cut(IN_TC, OUT_TC, facts)
    dest = cut_dir / f"frame-{name}{Path(source).suffix}"
    progress: list[float] = []
    result = C.frame_cut(source, asked, dest, name, on_progress=progress.append)
    assert (result.first_frame, result.end_frame_exclusive) == (FIRST, END)
    assert (result.in_tc, result.out_tc, result.accuracy) == (IN_TC, OUT_TC, "frame")
    assert result.method == "smart" and result.exact
    kinds = [kind for kind, _, _ in result.parts]
    assert kinds == ["encode", "copy", "encode"]
    assert progress[-1] == 100.0 and progress == sorted(progress)
    out = probe(dest)
    assert out.start_timecode == IN_TC
    assert out.frame_count == END - FIRST == 49
    assert out.duration == pytest.approx(49 / 25, abs=0.001)
    assert (out.width, out.height, out.video_codec, out.pixel_format) == (
        facts.width, facts.height, facts.video_codec, facts.pixel_format)
    assert (out.audio_streams, out.audio_channels, out.audio_codec) == (
        facts.audio_streams, facts.audio_channels, facts.audio_codec)
    # The pictures: the first frame is the asked in point, the last the one before the out
    # point, and the copied middle is bit-identical.
    cut_frames, source_frames = gray_frames(str(dest)), gray_frames(source)
    assert len(cut_frames) == 49
    same_picture(cut_frames[0], source_frames, FIRST)
    same_picture(cut_frames[-1], source_frames, END - 1)
    _, copy_first, copy_end = result.parts[1]
    assert cut_frames[copy_first - FIRST] == source_frames[copy_first]
    assert cut_frames[copy_end - 1 - FIRST] == source_frames[copy_end - 1]
    for i in range(0, 49, 6):
        same_picture(cut_frames[i], source_frames, FIRST + i)
    # The audio was cut to the picture, sample-exact (AAC frames: within one of 21 ms).
    streams = ffprobe_json("-show_streams", str(dest))["streams"]
    durations = [float(s["duration"]) for s in streams if s["codec_type"] in ("video", "audio")]
    assert max(durations) - min(durations) < 0.022, durations


@pytest.mark.slow_media
def test_fast_cut_of_the_proxy_mid_file(small_proxy, cut_dir):
    """'You asked 10:00:02:07, you got 10:00:02:00' (1-s GOPs of the proxy)."""
    asked = resolve_cut("10:00:02:07", "10:00:04:03", small_proxy.facts)
    result = C.fast_cut(small_proxy.path, asked, cut_dir / "proxy-fast.mp4")
    assert (result.in_tc, result.out_tc, result.first_frame) == ("10:00:02:00", "10:00:05:00",
                                                                 50)
    assert (result.requested_in_tc, result.duration_s, result.exact) == ("10:00:02:07", 3.0,
                                                                         False)
    assert probe(result.path).start_timecode == "10:00:02:00"
    assert gray_frames(result.path)[0] == gray_frames(small_proxy.path)[50]


@pytest.mark.slow_media
def test_reencode_path_is_exact_too(small_proxy, cut_dir):
    asked = resolve_cut("10:00:01:10", "10:00:03:20", small_proxy.facts)
    result = C.frame_cut(small_proxy.path, asked, cut_dir / "proxy-re.mp4", "proxy",
                         method="reencode")
    assert (result.method, result.first_frame, result.frame_count) == ("reencode", 35, 60)
    out = probe(result.path)
    assert (out.start_timecode, out.frame_count) == ("10:00:01:10", 60)
    frames = gray_frames(result.path)
    same_picture(frames[0], gray_frames(small_proxy.path), 35)
    same_picture(frames[-1], gray_frames(small_proxy.path), 94)


@pytest.mark.slow_media
def test_a_range_inside_one_gop_is_re_encoded(small_proxy, cut_dir):
    asked = resolve_cut("10:00:01:01", "10:00:02:01", small_proxy.facts)  # [26, 51)
    asked = CutRange(26, 49, "10:00:01:01", "10:00:01:24", 23 / 25, asked.rate)
    result = C.frame_cut(small_proxy.path, asked, cut_dir / "proxy-in-gop.mp4")
    assert (result.method, result.frame_count, result.parts) == ("reencode", 23,
                                                                 (("encode", 26, 49),))
    same_picture(gray_frames(result.path)[0], gray_frames(small_proxy.path), 26)


@pytest.mark.slow_media
def test_intra_only_original_is_cut_by_copy_frame_exact(small_master, cut_dir):
    asked = resolve_cut("10:00:01:07", "10:00:02:13", small_master.facts)
    for accuracy in ("fast", "frame"):
        result = C.cut(small_master.path, asked, cut_dir / f"orig-{accuracy}.mov",
                       accuracy=accuracy)
        assert (result.rendition, result.method, result.first_frame, result.frame_count) == (
            "original", "copy", 32, 31)
        out = probe(result.path)
        assert (out.video_codec, out.start_timecode, out.frame_count) == ("prores",
                                                                          "10:00:01:07", 31)
        assert out.audio_codec == "pcm_s24le"
        assert gray_frames(result.path)[0] == gray_frames(small_master.path)[32]


@pytest.mark.slow_media
def test_drop_frame_interlaced_xdcam_frame_cut(ntsc_xdcam, cut_dir):
    facts = probe(ntsc_xdcam.path)
    asked = resolve_cut("01:00:00;05", "01:00:01;20", facts)  # frames [5, 50)
    result = C.frame_cut(ntsc_xdcam.path, asked, cut_dir / "ntsc-frame.mxf")
    assert (result.method, result.in_tc, result.out_tc) == ("smart", "01:00:00;05",
                                                            "01:00:01;20")
    out = probe(result.path)
    assert (out.start_timecode, out.frame_count, out.field_order) == ("01:00:00;05", 45, "tt")
    source = gray_frames(ntsc_xdcam.path)
    same_picture(gray_frames(result.path)[0], source, 5)
    same_picture(gray_frames(result.path)[-1], source, 49)


def test_a_range_outside_the_file_is_refused(tmp_path):
    beyond = CutRange(1490, 1600, "", "", 4.4, FACTS.frame_rate)
    with pytest.raises(CutRequestError) as raised:
        C.fast_cut("/nowhere.mov", beyond, tmp_path / "x.mov", facts=FACTS)
    assert raised.value.code == "out_of_range"


def test_unknown_method_or_accuracy():
    with pytest.raises(ValueError):
        C.frame_cut("/x.mp4", None, "/y.mp4", method="magic")
    with pytest.raises(ValueError):
        C.cut("/x.mp4", None, "/y.mp4", accuracy="slow")
