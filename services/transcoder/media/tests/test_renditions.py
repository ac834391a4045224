"""The renditions table, the graphs, and the files they make (checked with ffprobe)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from services.shared.mediainfo import MediaFacts, ffmpeg_binary, probe
from services.transcoder.media import renditions as R
from services.transcoder.media.inspection import closest, ffprobe_json, gray_frames, keyframes
from services.transcoder.media.run import command_line

FACTS = MediaFacts(
    path="/m/master.mov", duration=60.0, frame_rate=Fraction(25), width=1920, height=1080,
    start_timecode="10:00:00:00", audio_channels=2, audio_streams=1, video_codec="prores",
    pixel_format="yuv422p10le", field_order="progressive", container="mov,mp4,m4a,3gp,3g2,mj2",
    size_bytes=1, frame_count=1500, audio_codec="pcm_s24le", audio_sample_rate=48000,
    audio_stream_channels=(2,))
LOUD = R.Loudness(integrated=-16.2, true_peak=-3.1, lra=4.0, threshold=-26.3, target_offset=0.2)
AT_TARGET = R.Loudness(integrated=-23.3, true_peak=-10.0, lra=2.0, threshold=-33.4,
                       target_offset=0.0)


def args(name, facts=FACTS, loudness=None, **kwargs) -> list[str]:
    dest = f"/out/x{R.RENDITIONS[name].extension}"
    return command_line(R.build_rendition(name, "/m/master.mov", dest, facts,
                                          loudness=loudness, **kwargs))


def option(argv: list[str], name: str, after: str | None = None) -> str:
    """The value of `-name` (in the output section that ends with `after`, if given)."""
    if after:
        argv = argv[:argv.index(after)]
    return argv[len(argv) - 1 - argv[::-1].index(name) + 1]


# --- Pure: the table and the graphs ---------------------------------------------------------

def test_the_table_of_architecture_md():
    assert set(R.RENDITIONS) == {"xdcam-hd422", "h264-1080p", "proxy", "original"}
    xdcam, h264, proxy = (R.RENDITIONS[n] for n in ("xdcam-hd422", "h264-1080p", "proxy"))
    assert (xdcam.video_codec, xdcam.pixel_format, xdcam.width, xdcam.height,
            xdcam.video_bitrate, xdcam.muxer, xdcam.audio_codec, xdcam.audio_layout) == (
        "mpeg2video", "yuv422p", 1920, 1080, 50_000_000, "mxf", "pcm_s24le", "mono-tracks")
    assert xdcam.gop_frames(25) == 12 and xdcam.closed_gop and xdcam.broadcast
    assert (h264.video_codec, h264.width, h264.height, h264.muxer, h264.audio_codec) == (
        "h264", 1920, 1080, "mp4", "aac")
    assert 15_000_000 <= h264.video_bitrate <= 20_000_000 and h264.faststart
    assert h264.gop_frames(25) == 25 and h264.gop_frames("30000/1001") == 29  # <= 1 s
    assert (proxy.width, proxy.height, proxy.burn_timecode, proxy.broadcast) == (
        640, 360, True, False)
    assert all(R.RENDITIONS[n].smart_cut for n in ("xdcam-hd422", "h264-1080p", "proxy"))
    assert not R.RENDITIONS["original"].smart_cut


def test_unknown_rendition():
    with pytest.raises(ValueError, match="unknown rendition"):
        R.rendition("dvcpro")


@pytest.mark.parametrize("name", ["xdcam-hd422", "h264-1080p", "proxy"])
def test_graphs_map_streams_explicitly_and_set_the_timecode(name):
    argv = args(name)
    maps = [argv[i + 1] for i, a in enumerate(argv) if a == "-map"]
    assert "0" not in maps and maps  # never `-map 0` (it drags the tmcd track along)
    assert option(argv, "-timecode") == "10:00:00:00"
    assert argv[0].endswith("ffmpeg")


def test_xdcam_recipe_progressive_master():
    argv = args("xdcam-hd422")
    for name, value in {"-c:v": "mpeg2video", "-b:v": "50M", "-minrate": "50M",
                        "-maxrate": "50M", "-bufsize": "17825792", "-g": "12", "-bf": "2",
                        "-dc": "10", "-flags": "+cgop", "-c:a": "pcm_s24le", "-f": "mxf",
                        "-mpv_flags": "+strict_gop", "-profile:v": "0", "-level:v": "2"}.items():
        assert option(argv, name) == value, name
    graph = option(argv, "-filter_complex")
    assert "setfield=prog" in graph and "format=yuv422p" in graph
    assert graph.count("channelmap") == 2  # one mono track per channel
    assert argv.count("-map") == 3


def test_xdcam_recipe_interlaced_master_bottom_field_first():
    facts = dataclasses.replace(FACTS, field_order="bb", audio_streams=4, audio_channels=4,
                                audio_stream_channels=(1, 1, 1, 1))
    argv = args("xdcam-hd422", facts)
    assert option(argv, "-flags") == "+ildct+ilme+cgop" and option(argv, "-top") == "1"
    graph = option(argv, "-filter_complex")
    assert "fieldorder=tff" in graph and "setfield=tff" in graph and "interl=1" in graph
    assert "amerge=inputs=4" in graph and graph.count("channelmap") == 4
    assert argv.count("-map") == 5


def test_xdcam_can_be_asked_progressive_from_an_interlaced_master():
    argv = args("xdcam-hd422", dataclasses.replace(FACTS, field_order="tt"), interlaced=False)
    assert option(argv, "-flags") == "+cgop"
    assert "bwdif" in option(argv, "-filter_complex")


def test_h264_and_proxy_recipes():
    h264 = args("h264-1080p")
    for name, value in {"-c:v": "libx264", "-profile:v": "high", "-g": "25",
                        "-keyint_min": "25", "-sc_threshold": "0", "-flags": "+cgop",
                        "-movflags": "+faststart", "-c:a": "aac", "-f": "mp4"}.items():
        assert option(h264, name) == value, name
    assert 15_000_000 <= int(option(h264, "-b:v")) <= 20_000_000
    assert int(option(h264, "-maxrate")) <= 20_000_000
    proxy = args("proxy")
    graph = option(proxy, "-filter_complex")
    assert "drawtext" in graph and "DejaVuSansMono.ttf" in graph
    assert re.search(r"timecode=10\\+:00\\+:00\\+:00", graph) and "rate=25/1" in graph
    assert "scale=640:360" in graph and option(proxy, "-g") == "25"


def test_interlaced_masters_are_deinterlaced_for_the_web():
    facts = dataclasses.replace(FACTS, field_order="tt")
    assert "bwdif" in option(args("proxy", facts), "-filter_complex")
    assert "bwdif" in option(args("h264-1080p", facts), "-filter_complex")


def test_loudnorm_only_on_broadcast_renditions_and_only_when_needed():
    assert "loudnorm" not in " ".join(args("h264-1080p", loudness=None))
    assert "loudnorm" not in " ".join(args("h264-1080p", loudness=AT_TARGET))
    assert "loudnorm" not in " ".join(args("proxy", loudness=LOUD))
    for name in ("h264-1080p", "xdcam-hd422"):
        graph = option(args(name, loudness=LOUD), "-filter_complex")
        assert "loudnorm=I=-23.0:LRA=7.0:TP=-1.0:linear=true:measured_I=-16.2" in graph
        assert "measured_TP=-3.1" in graph and "measured_thresh=-26.3" in graph
        assert "aresample=48000" in graph


@pytest.mark.parametrize(("integrated", "needed"), [
    (-23.0, False), (-23.5, False), (-22.5, False), (-23.51, True), (-22.49, True),
    (-30.0, True), (-16.0, True), (float("-inf"), False), (-70.0, False),
])
def test_the_half_lu_rule(integrated, needed):
    assert dataclasses.replace(AT_TARGET, integrated=integrated).needs_normalisation() is needed


def test_parse_loudnorm_json():
    stderr = """[Parsed_loudnorm_0 @ 0x5] \n{\n\t"input_i" : "-30.05",\n\t"input_tp" : "-29.90",
\t"input_lra" : "0.00",\n\t"input_thresh" : "-40.05",\n\t"output_i" : "-22.95",
\t"output_tp" : "-22.95",\n\t"output_lra" : "0.00",\n\t"output_thresh" : "-32.95",
\t"normalization_type" : "dynamic",\n\t"target_offset" : "-0.05"\n}\n"""
    assert R.parse_loudnorm_json(stderr) == R.Loudness(-30.05, -29.9, 0.0, -40.05, -0.05)
    silence = R.parse_loudnorm_json('{"input_i": "-inf", "input_tp": "-inf", "input_lra": '
                                    '"0.00", "input_thresh": "-inf", "target_offset": "inf"}')
    assert not silence.needs_normalisation()
    options = silence.loudnorm_options()
    assert options["measured_I"] == -99.0 and options["offset"] == 99.0


def test_several_renditions_share_one_decode():
    argv = command_line(R.build_renditions(
        {"xdcam-hd422": "/o/a.mxf", "h264-1080p": "/o/b.mp4", "proxy": "/o/c.mp4"},
        "/m/master.mov", FACTS, loudness=LOUD))
    assert argv.count("-i") == 1
    graph = option(argv, "-filter_complex")
    assert "split=3" in graph and "asplit=3" in graph
    assert [a for a in argv if a.startswith("/o/")] == ["/o/a.mxf", "/o/b.mp4", "/o/c.mp4"]


# --- Real files -----------------------------------------------------------------------------

def stream(path, kind, index=0) -> dict:
    return [s for s in ffprobe_json("-show_streams", path)["streams"]
            if s["codec_type"] == kind][index]


def video_bitrate(path: str) -> float:
    data = ffprobe_json("-select_streams", "v:0", "-show_entries", "packet=size", path)
    return sum(int(p["size"]) for p in data["packets"]) * 8 / probe(path).duration


def top_level_boxes(path: str) -> list[str]:
    boxes, data = [], Path(path).read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        boxes.append(data[offset + 4:offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        if size < 8:
            break
        offset += size
    return boxes


def elementary_stream(path: str, fmt: str, bsf: list[str] = ()) -> bytes:
    return subprocess.run([ffmpeg_binary(), "-v", "error", "-i", path, "-map", "0:v:0",
                           "-c", "copy", *bsf, "-f", fmt, "-"],
                          capture_output=True, check=True).stdout


def mpeg2_gop_headers(path: str) -> list[tuple[int, bool]]:
    """(frame count at that GOP, closed_gop flag) for each GOP header of an MPEG-2 stream."""
    es = elementary_stream(path, "mpeg2video")
    headers = []
    for match in re.finditer(b"\x00\x00\x01\xb8", es):
        bits = int.from_bytes(es[match.end():match.end() + 4], "big")
        closed = bool(bits >> 6 & 1)  # after the 25-bit time code
        pictures = es[:match.start()].count(b"\x00\x00\x01\x00")
        headers.append((pictures, closed))
    return headers


def h264_idr_pictures(path: str) -> int:
    es = elementary_stream(path, "h264", ["-bsf:v", "h264_mp4toannexb"])
    count = 0
    for match in re.finditer(b"\x00\x00\x01", es):
        header = es[match.end():match.end() + 2]
        if len(header) == 2 and header[0] & 0x1F == 5 and header[1] & 0x80:
            count += 1  # an IDR slice with first_mb_in_slice == 0: a new IDR picture
    return count


@pytest.mark.slow_media
def test_xdcam_hd422_matches_the_table(hd_renditions, hd_master):
    path = hd_renditions["xdcam-hd422"].path
    facts = probe(path)
    video = stream(path, "video")
    assert (video["codec_name"], video["profile"], video["level"], video["pix_fmt"]) == (
        "mpeg2video", "4:2:2", 2, "yuv422p")  # 4:2:2 Profile @ High Level
    assert (facts.width, facts.height, facts.frame_rate) == (1920, 1080, Fraction(25))
    assert facts.frame_count == hd_master.facts.frame_count == 75
    assert facts.start_timecode == "10:00:00:00" and facts.field_order == "progressive"
    assert 47e6 <= video_bitrate(path) <= 53e6  # CBR 50 Mbit/s
    assert keyframes(path) == [0, 12, 24, 36, 48, 60, 72]
    gops = mpeg2_gop_headers(path)
    assert [p for p, _ in gops] == [0, 12, 24, 36, 48, 60, 72] and all(c for _, c in gops)
    audio = [s for s in ffprobe_json("-show_streams", path)["streams"]
             if s["codec_type"] == "audio"]
    assert [(a["codec_name"], a["channels"], a["sample_rate"]) for a in audio] == [
        ("pcm_s24le", 1, "48000")] * 2
    fmt = ffprobe_json("-show_format", path)["format"]
    assert fmt["format_name"] == "mxf"
    assert fmt["tags"]["operational_pattern_ul"].startswith("060e2b34.04010101.0d010201.0101")


@pytest.mark.slow_media
def test_h264_1080p_matches_the_table(hd_renditions):
    path = hd_renditions["h264-1080p"].path
    facts = probe(path)
    video, audio = stream(path, "video"), stream(path, "audio")
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High",
                                                                         "yuv420p")
    assert (facts.width, facts.height, facts.frame_rate, facts.frame_count) == (
        1920, 1080, Fraction(25), 75)
    assert 14e6 <= video_bitrate(path) <= 21e6
    assert keyframes(path) == [0, 25, 50]  # GOP of 1 s
    assert h264_idr_pictures(path) == 3  # every GOP starts with an IDR: closed
    assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("aac", 2, "48000")
    assert facts.audio_streams == 1 and facts.start_timecode == "10:00:00:00"
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart


@pytest.mark.slow_media
def test_proxy_matches_the_table_and_burns_the_timecode_in(hd_renditions, small_proxy):
    path = hd_renditions["proxy"].path
    facts = probe(path)
    video, audio = stream(path, "video"), stream(path, "audio")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 640, 360)
    assert 0.5e6 <= video_bitrate(path) <= 1.3e6
    assert keyframes(path) == [0, 25, 50] and h264_idr_pictures(path) == 3
    assert (audio["codec_name"], audio["channels"]) == ("aac", 2)
    assert facts.start_timecode == "10:00:00:00"
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")
    # The burnt-in timecode changes the bottom of the picture every frame, the master's
    # picture does not have it there: compare the bottom strip of two frames.
    frames = gray_frames(small_proxy.path)
    bottom = slice(160 * 75, 160 * 90)
    assert frames[0][bottom] != frames[1][bottom]


@pytest.mark.slow_media
def test_renditions_agree_with_the_master_frame_by_frame(hd_renditions, hd_master):
    master = gray_frames(hd_master.path)
    for name in ("xdcam-hd422", "h264-1080p"):
        frames = gray_frames(hd_renditions[name].path)
        assert len(frames) == len(master)
        for i in (0, 13, 37, 74):
            assert closest(frames[i], master)[0] == i, (name, i)


@pytest.mark.slow_media
def test_loudness_is_normalised_to_minus_23_on_broadcast_renditions(hd_renditions):
    for name in ("h264-1080p", "xdcam-hd422"):
        result = hd_renditions[name]
        assert result.normalised and result.loudness.integrated == pytest.approx(-30, abs=0.5)
        measured = R.measure_loudness(result.path)
        assert measured.integrated == pytest.approx(-23, abs=1.0), name
        assert measured.true_peak <= -1.0
    proxy = hd_renditions["proxy"]
    assert not proxy.normalised
    assert R.measure_loudness(proxy.path).integrated == pytest.approx(-30, abs=1.0)


@pytest.mark.slow_media
def test_a_master_already_at_minus_23_is_left_alone(small_master):
    loudness = R.measure_loudness(small_master.path)
    assert loudness.integrated == pytest.approx(-23, abs=0.3)
    assert not loudness.needs_normalisation()
    argv = command_line(R.build_rendition("h264-1080p", small_master.path, "/o/x.mp4",
                                          small_master.facts, loudness=loudness))
    assert "loudnorm" not in " ".join(argv)


@pytest.mark.slow_media
def test_interlaced_drop_frame_master_gives_1080i_xdcam(ntsc_xdcam, ntsc_master):
    facts = probe(ntsc_xdcam.path)
    assert (facts.width, facts.height, facts.frame_rate) == (1920, 1080, Fraction(30000, 1001))
    assert facts.field_order == "tt" and facts.start_timecode == "01:00:00;00"
    assert facts.frame_count == ntsc_master.facts.frame_count
    assert facts.audio_streams == 2 and facts.audio_stream_channels == (1, 1)
    frame = ffprobe_json("-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries",
                         "frame=interlaced_frame,top_field_first", ntsc_xdcam.path)["frames"][0]
    assert (frame["interlaced_frame"], frame["top_field_first"]) == (1, 1)
    assert ntsc_xdcam.normalised  # -26 then -20 dBFS: about -22 LUFS
    assert R.measure_loudness(ntsc_xdcam.path).integrated == pytest.approx(-23, abs=1.0)


@pytest.mark.slow_media
def test_original_is_an_atomic_copy(media_dir, small_master):
    result = R.make_renditions(small_master.path, {"original": media_dir / "orig.mov"})
    original = result["original"]
    assert Path(original.path).read_bytes() == Path(small_master.path).read_bytes()
    assert not list(media_dir.glob(".orig.tmp-*"))


@pytest.mark.slow_media
def test_hls_preview(media_dir, small_proxy):
    playlist = R.make_hls(small_proxy.path, media_dir / "hls")
    text = playlist.read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", text)]
    assert durations == [2.0, 2.0, 2.0]
    assert int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", text).group(1)) <= 4
    for segment in re.findall(r"^(segment_\d+\.ts)$", text, flags=re.M):
        assert (playlist.parent / segment).stat().st_size > 0
    again = R.make_hls(small_proxy.path, media_dir / "hls")  # replaces a previous version
    assert again == playlist and not list(media_dir.glob(".hls.*"))
    with pytest.raises(ValueError):
        R.make_hls(small_proxy.path, media_dir / "hls6", segment_seconds=6)


@pytest.mark.slow_media
def test_poster_frame(media_dir, small_master):
    path = R.make_poster(small_master.path, media_dir / "poster.jpg")
    facts = probe(path)
    assert (facts.video_codec, facts.width, facts.height) == ("mjpeg", 320, 180)
    index, _ = closest(gray_frames(str(path))[0], gray_frames(small_master.path))
    assert abs(index - 15) <= 1  # 10% of 6 s at 25 fps
    later = R.make_poster(small_master.path, media_dir / "poster-4s.jpg", at=4.0, width=160)
    assert probe(later).width == 160
    index, _ = closest(gray_frames(str(later))[0], gray_frames(small_master.path))
    assert abs(index - 100) <= 1


@pytest.mark.slow_media
def test_storyboard_seeks_to_each_point(media_dir, small_master):
    board = R.make_storyboard(small_master.path, media_dir / "board.jpg", count=10)
    facts = probe(board.path)
    assert (facts.width, facts.height) == (1600, 90)
    assert board.frames == (7, 22, 37, 52, 67, 82, 97, 112, 127, 142)
    assert board.times[1] == pytest.approx(22 / 25)
    strip = gray_frames(board.path, (1600, 90))[0]
    master = gray_frames(small_master.path)
    candidates = [master[f] for f in board.frames]
    for i in range(10):
        tile = b"".join(strip[row * 1600 + i * 160: row * 1600 + (i + 1) * 160]
                        for row in range(90))
        assert closest(tile, candidates)[0] == i
    grid = R.make_storyboard(small_master.path, media_dir / "grid.jpg", count=6, columns=3,
                             tile=(96, 54))
    assert (probe(grid.path).width, probe(grid.path).height) == (288, 108)
    assert (grid.columns, grid.rows) == (3, 2)
