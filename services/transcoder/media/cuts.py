"""Partial versions (cuts) of a rendition file.

`fast_cut` — stream copy of whole GOPs, nearly instant. The cut is widened to the keyframes
around the asked range (the keyframe at or before the in point, the keyframe at or after the
out point), because a copy can only start on a keyframe (MXF has no edit lists to hide
pre-roll frames) and, with B-frames, only end cleanly at a GOP boundary. The result says what
was really delivered: "you asked 10:00:05:12, you got 10:00:05:00".

`frame_cut` — frame-exact: the first frame is the asked in point and the frame count is exact.
- `smart` (H.264 and XDCAM renditions, whose GOPs are closed): the partial GOPs at head and tail
  are re-encoded with the rendition's own encoder settings, the whole GOPs between them are
  copied (`-frames:v N`: `-t` overshoots), the parts are joined with the concat demuxer
  (MPEG-TS parts, an explicit `duration` each) and the audio is cut sample-exact and muxed.
- `copy` (intra-only sources such as a ProRes/DNxHD original): every frame is a keyframe, so a
  copy cut is already frame-exact.
- `reencode` (everything else, or on request): the range is re-encoded, decoding from the GOP
  before the in point (input seeking), never from the start of the file.

Video and audio are always mapped explicitly and the timecode is set with `-timecode` to the
label of the real first frame. Audio is re-encoded (cheap) so it starts and ends with the
picture, sample-exact. Every output is written atomically through `run.transcode`.

Video parts are written without audio and muxed in a last step: `-frames:v` ends *every*
stream of an output when it is reached, which cut the audio short by a packet or more.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg

from services.shared.mediainfo import MediaFacts, probe, run_ffprobe

from .renditions import RENDITIONS, Rendition, rendition, video_encoder_options
from .run import ProgressCallback, TranscodeError, run_graph, transcode
from .timecode import CutRange, CutRequestError, offset_timecode

KEYFRAME_SEARCH_S = 12.0  # seconds probed around each cut point (longer than any GOP we make)
INTRA_CODECS = {"prores", "dnxhd", "mjpeg", "v210", "rawvideo", "ffv1", "jpeg2000", "huffyuv",
                "utvideo", "cfhd"}


@dataclass(frozen=True)
class CutResult:
    path: str
    rendition: str
    accuracy: str  # "keyframe" (fast) or "frame"
    first_frame: int  # of the source, really delivered
    in_tc: str  # label of the first frame delivered
    out_tc: str  # label of the first frame after the cut (exclusive)
    duration_s: float
    method: str  # "copy" (fast), "smart", "copy" (intra-only), "reencode"
    end_frame_exclusive: int = 0
    frame_count: int = 0
    requested_in_tc: str = ""
    requested_out_tc: str = ""
    parts: tuple[tuple[str, int, int], ...] = field(default=())  # (copy|encode, first, end)

    @property
    def exact(self) -> bool:
        return (self.in_tc, self.out_tc) == (self.requested_in_tc, self.requested_out_tc)

    def as_dict(self) -> dict:
        return {"path": self.path, "rendition": self.rendition, "accuracy": self.accuracy,
                "method": self.method, "first_frame": self.first_frame,
                "end_frame_exclusive": self.end_frame_exclusive, "in_tc": self.in_tc,
                "out_tc": self.out_tc, "duration_s": self.duration_s,
                "frame_count": self.frame_count, "requested_in_tc": self.requested_in_tc,
                "requested_out_tc": self.requested_out_tc}


# --- Planning (pure) ------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    kind: str  # "copy" or "encode"
    first: int
    end: int  # exclusive

    @property
    def frames(self) -> int:
        return self.end - self.first


def keyframe_span(keyframes: list[int], total: int, first: int, end: int) -> tuple[int, int]:
    """The whole GOPs covering [first, end): (keyframe ≤ first, keyframe ≥ end or the end)."""
    start = max((k for k in keyframes if k <= first), default=None)
    if start is None:
        raise ValueError(f"no keyframe at or before frame {first}")
    stop = min((k for k in keyframes if k >= end), default=total)
    return start, min(stop, total)


def smart_plan(keyframes: list[int], first: int, end: int) -> list[Part]:
    """Head (re-encode up to the first keyframe inside the range), whole GOPs (copy), tail
    (re-encode from the last keyframe inside the range). One `encode` part if the range holds
    no GOP boundary."""
    inside = sorted(k for k in keyframes if first <= k <= end)
    if len(inside) < 2 or inside[0] == inside[-1]:  # not one whole GOP inside the range
        return [Part("encode", first, end)]
    copy_from, copy_to = inside[0], inside[-1]
    parts = []
    if first < copy_from:
        parts.append(Part("encode", first, copy_from))
    if copy_from < copy_to:
        parts.append(Part("copy", copy_from, copy_to))
    if copy_to < end:
        parts.append(Part("encode", copy_to, end))
    return parts


# --- Facts about the source's timeline ------------------------------------------------------

@dataclass
class _Timeline:
    """Frame ↔ seconds for one source, and its keyframes (found with ffprobe, packets only)."""

    path: str
    facts: MediaFacts
    keyframe_times: dict[int, Fraction] = field(default_factory=dict)  # frame → exact pts (s)
    non_keyframes_seen: int = 0
    scanned: list[tuple[float, float]] = field(default_factory=list)

    @property
    def rate(self) -> Fraction:
        return self.facts.frame_rate

    def scan(self, start_s: float, end_s: float) -> None:
        start_s, end_s = max(0.0, start_s), max(0.0, end_s)
        if any(a <= start_s and end_s <= b for a, b in self.scanned):
            return
        answer = run_ffprobe(["-select_streams", "v:0", "-show_entries",
                              "packet=pts,flags:stream=time_base,start_pts",
                              "-read_intervals", f"{start_s:.3f}%{end_s:.3f}", self.path])
        stream = (answer.get("streams") or [{}])[0]
        time_base = Fraction(stream.get("time_base") or "1/90000")
        start_pts = stream.get("start_pts")
        origin = Fraction(int(start_pts)) * time_base if isinstance(start_pts, int) else \
            Fraction(str(self.facts.video_start_time))
        for packet in answer.get("packets", []):
            pts = packet.get("pts")
            if not isinstance(pts, int):
                continue
            if "K" in packet.get("flags", ""):
                exact = Fraction(pts) * time_base
                frame = round((exact - origin) * self.rate)
                self.keyframe_times.setdefault(frame, exact)
            else:
                self.non_keyframes_seen += 1
        self.scanned.append((start_s, end_s))

    def scan_around(self, frame: int) -> None:
        at = float(frame / self.rate)
        self.scan(at - KEYFRAME_SEARCH_S, at + KEYFRAME_SEARCH_S)

    def keyframes(self) -> list[int]:
        return sorted(self.keyframe_times)

    def ensure_keyframes_around(self, first: int, end: int) -> list[int]:
        """Scan near `first` and `end`; rescan the whole file if a neighbour is missing."""
        self.scan_around(first)
        self.scan_around(end)
        keys = self.keyframes()
        before = any(k <= first for k in keys)
        after = any(k >= end for k in keys) or end >= self.facts.frame_count
        if not (before and after):
            self.scan(0.0, self.facts.duration + 1.0)
            keys = self.keyframes()
        return keys

    def _from_format_start(self, seconds: Fraction) -> Fraction:
        return max(Fraction(0), seconds - Fraction(str(self.facts.format_start_time)))

    def copy_seek(self, keyframe: int) -> str:
        """`-ss` landing exactly on `keyframe` for a stream copy (rounded up to the
        microsecond: the demuxer seeks to the last keyframe at or before the time)."""
        exact = self._from_format_start(self.keyframe_times[keyframe])
        return f"{math.ceil(exact * 1_000_000) / 1_000_000:.6f}"

    def decode_seek(self, frame: int) -> str:
        """`-ss` for a decoded stream whose first frame must be `frame`: half a frame early,
        so that ffmpeg's accurate seek keeps `frame` and drops `frame - 1` whatever the
        rounding of the timestamps."""
        origin = Fraction(str(self.facts.video_start_time))
        at = self._from_format_start(origin + (Fraction(frame) - Fraction(1, 2)) / self.rate)
        return f"{float(at):.6f}"

    def audio_seek(self, frame: int) -> str:
        """`-ss` for the audio that plays with `frame` (sample-exact once decoded)."""
        origin = Fraction(str(self.facts.video_start_time))
        return f"{float(self._from_format_start(origin + Fraction(frame) / self.rate)):.6f}"

    def seconds(self, frames: int) -> float:
        return float(Fraction(frames) / self.rate)


# --- Building blocks ------------------------------------------------------------------------

def guess_rendition(facts: MediaFacts) -> str:
    """Which of our renditions a file is (for a cut asked without saying)."""
    if facts.video_codec == "mpeg2video" and "mxf" in facts.container:
        return "xdcam-hd422"
    if facts.video_codec == "h264" and facts.height >= 720:
        return "h264-1080p"
    if facts.video_codec == "h264":
        return "proxy"
    return "original"


def _part_format(codec: str) -> tuple[str, str]:
    if codec in ("h264", "mpeg2video", "hevc"):
        return "mpegts", ".ts"
    return "mov", ".mov"


def _audio_output(spec: Rendition, facts: MediaFacts) -> dict:
    if spec.audio_codec == "pcm_s24le":
        return {"c:a": "pcm_s24le"}
    if spec.audio_codec == "aac":
        return {"c:a": "aac", "b:a": spec.audio_bitrate}
    # original: PCM stays PCM (same sample format), AAC stays AAC, anything else: 24-bit PCM
    if facts.audio_codec == "aac":
        return {"c:a": "aac", "b:a": 192_000}
    codec = facts.audio_codec if facts.audio_codec.startswith("pcm_") else "pcm_s24le"
    return {"c:a": codec}


def _muxer(spec: Rendition, dest: Path) -> dict:
    if spec.muxer:
        options = {"f": spec.muxer}
    else:
        options = {"f": {".mov": "mov", ".mp4": "mp4", ".mxf": "mxf"}.get(
            dest.suffix.lower(), "mov")}
    if spec.faststart or options["f"] in ("mp4", "mov"):
        options["movflags"] = "+faststart"
    return options


class _Steps:
    """One progress bar over several ffmpeg runs, weighted by their expected cost."""

    def __init__(self, weights: list[float], callback: ProgressCallback | None):
        self.weights = weights
        self.total = sum(weights) or 1.0
        self.callback = callback
        self.done = 0.0
        self.last = -1.0

    def step(self, index: int) -> ProgressCallback | None:
        if self.callback is None:
            return None
        base = sum(self.weights[:index])

        def report(percent: float) -> None:
            value = (base + self.weights[index] * percent / 100.0) / self.total * 100.0
            value = 100.0 if index == len(self.weights) - 1 and percent >= 100.0 else min(
                value, 99.9)
            if value > self.last:
                self.last = value
                self.callback(value)

        return report


def _encode_video_part(timeline: _Timeline, spec: Rendition, part: Part, dest: str,
                       on_progress, timeout) -> None:
    facts = timeline.facts
    interlaced = facts.interlaced and spec.name == "xdcam-hd422"
    source = ffmpeg.input(timeline.path, ss=timeline.decode_seek(part.first),
                          t=f"{timeline.seconds(part.frames + 1):.6f}")
    video = (source["v:0"].filter("trim", end_frame=part.frames)
             .filter("setpts", "PTS-STARTPTS"))
    options = _video_encoder(spec, facts, timecode=offset_timecode(
        facts.start_timecode, part.first, facts.frame_rate))
    if spec.name == "xdcam-hd422":
        video = video.filter("setfield", "tff" if interlaced else "prog")
    video = video.filter("format", options.pop("_pix_fmt"))
    fmt, _ = _part_format(facts.video_codec if spec.name == "original" else spec.video_codec)
    graph = video.output(dest, f=fmt, **options)
    run_graph(graph, duration=timeline.seconds(part.frames), on_progress=on_progress,
              timeout=timeout)


def _video_encoder(spec: Rendition, facts: MediaFacts, timecode: str) -> dict:
    """Encoder options for re-encoded frames (with the pixel format under `_pix_fmt`)."""
    if spec.name in ("xdcam-hd422", "h264-1080p", "proxy"):
        options = video_encoder_options(spec, facts.frame_rate, timecode=timecode,
                                        interlaced=facts.interlaced
                                        and spec.name == "xdcam-hd422")
        return {**options, "_pix_fmt": spec.pixel_format}
    # An original that is not intra-only: ProRes 422 (the mezzanine this toolkit makes).
    return {"c:v": "prores_ks", "profile:v": 2, "vendor": "apl0", "qscale:v": 4,
            "timecode": timecode, "_pix_fmt": "yuv422p10le"}


def _copy_video_part(timeline: _Timeline, part: Part, dest: str, fmt: str, on_progress,
                     timeout) -> None:
    graph = (ffmpeg.input(timeline.path, ss=timeline.copy_seek(part.first))["v:0"]
             .output(dest, f=fmt, **{"c:v": "copy", "frames:v": part.frames}))
    run_graph(graph, duration=timeline.seconds(part.frames), on_progress=on_progress,
              timeout=timeout)


def _concat_list(parts: list[tuple[str, int]], timeline: _Timeline, folder: str) -> str:
    lines = ["ffconcat version 1.0"]
    for path, frames in parts:
        quoted = path.replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {timeline.seconds(frames):.6f}"]
    listing = Path(folder) / "parts.ffconcat"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(listing)


def _mux(timeline: _Timeline, spec: Rendition, video_input, first: int, frames: int,
         dest: Path, timecode: str, on_progress, timeout) -> MediaFacts:
    """Video (copied from the joined parts) + the source's audio for exactly those frames."""
    facts = timeline.facts

    def build(tmp: str):
        streams = [video_input["v:0"]]
        # The rate said again: streams from the concat demuxer carry none, and the MXF muxer
        # would take the 90 kHz timebase for the edit rate.
        options = {"c:v": "copy", "r": _rate_text(facts.frame_rate), "timecode": timecode,
                   **_muxer(spec, Path(tmp))}
        if facts.audio_streams:
            audio = ffmpeg.input(timeline.path, ss=timeline.audio_seek(first),
                                 t=f"{timeline.seconds(frames):.6f}")
            streams += [audio[f"a:{i}"] for i in range(facts.audio_streams)]
            options.update(_audio_output(spec, facts))
        return ffmpeg.output(*streams, tmp, **options)

    def check(out: MediaFacts) -> None:
        if out.frame_count != frames:
            raise TranscodeError(f"the cut has {out.frame_count} frames, expected {frames}")

    [path] = transcode(build, dest, duration=timeline.seconds(frames), on_progress=on_progress,
                       timeout=timeout, check=check)
    return probe(path)


def _checked(range_: CutRange, facts: MediaFacts) -> None:
    if range_.first_frame < 0 or range_.end_frame_exclusive > facts.frame_count:
        raise CutRequestError("out_of_range", {"reason": "the range is outside this file",
                                               "frames": facts.frame_count})
    if range_.end_frame_exclusive <= range_.first_frame:
        raise CutRequestError("reversed_range", {"in_tc": range_.in_tc,
                                                 "out_tc": range_.out_tc})


def _result(dest: Path, spec_name: str, accuracy: str, method: str, facts: MediaFacts,
            first: int, end: int, out: MediaFacts, range_: CutRange,
            parts: list[Part]) -> CutResult:
    label = lambda frame: offset_timecode(facts.start_timecode, frame, facts.frame_rate)  # noqa: E731
    return CutResult(
        path=str(dest), rendition=spec_name, accuracy=accuracy, first_frame=first,
        in_tc=label(first), out_tc=label(end), duration_s=float(Fraction(out.frame_count)
                                                               / facts.frame_rate),
        method=method, end_frame_exclusive=end, frame_count=out.frame_count,
        requested_in_tc=range_.in_tc, requested_out_tc=range_.out_tc,
        parts=tuple((p.kind, p.first, p.end) for p in parts))


# --- The two cuts ---------------------------------------------------------------------------

def fast_cut(source: str | os.PathLike, range_: CutRange, dest: str | os.PathLike, *,
             rendition_name: str | None = None, facts: MediaFacts | None = None,
             on_progress: ProgressCallback | None = None,
             timeout: float | None = None) -> CutResult:
    """Stream-copy the whole GOPs covering `range_` (input seeking, `-frames:v`), audio cut to
    match; returns what was really delivered (first keyframe, its timecode, the duration)."""
    source, dest = str(source), Path(dest)
    facts = facts or probe(source)
    _checked(range_, facts)
    spec = rendition(rendition_name or guess_rendition(facts))
    timeline = _Timeline(source, facts)
    keys = timeline.ensure_keyframes_around(range_.first_frame, range_.end_frame_exclusive)
    first, end = keyframe_span(keys, facts.frame_count, range_.first_frame,
                               range_.end_frame_exclusive)
    part = Part("copy", first, end)
    fmt, suffix = _part_format(facts.video_codec)
    steps = _Steps([0.2, 0.8 if facts.audio_streams else 0.2], on_progress)
    with tempfile.TemporaryDirectory(prefix=f".{dest.stem}.parts-", dir=_folder(dest)) as work:
        video_part = str(Path(work) / f"video{suffix}")
        _copy_video_part(timeline, part, video_part, fmt, steps.step(0), timeout)
        out = _mux(timeline, spec, ffmpeg.input(video_part), first, part.frames, dest,
                   offset_timecode(facts.start_timecode, first, facts.frame_rate),
                   steps.step(1), timeout)
    return _result(dest, spec.name, "keyframe", "copy", facts, first, end, out, range_, [part])


def frame_cut(source: str | os.PathLike, range_: CutRange, dest: str | os.PathLike,
              rendition_name: str | None = None, *, method: str = "auto",
              facts: MediaFacts | None = None, on_progress: ProgressCallback | None = None,
              timeout: float | None = None) -> CutResult:
    """A frame-exact cut: first frame = the asked in point, exact frame count, the timecode set
    to the asked in point. `method`: "auto" (copy for intra-only sources, smart where the
    rendition's GOPs are closed, else reencode), "smart", "reencode"."""
    if method not in ("auto", "smart", "reencode"):
        raise ValueError("method is auto, smart or reencode")
    source, dest = str(source), Path(dest)
    facts = facts or probe(source)
    _checked(range_, facts)
    spec = rendition(rendition_name or guess_rendition(facts))
    first, end = range_.first_frame, range_.end_frame_exclusive
    timeline = _Timeline(source, facts)
    keys = timeline.ensure_keyframes_around(first, end)
    intra = facts.video_codec in INTRA_CODECS or (
        timeline.non_keyframes_seen == 0 and len(keys) > 1)
    if method == "auto" and intra:
        parts = [Part("copy", first, end)]
        chosen = "copy"
    elif method == "reencode" or (method == "auto" and not spec.smart_cut):
        parts = [Part("encode", first, end)]
        chosen = "reencode"
    else:
        if not spec.smart_cut:
            raise ValueError(f"a smart cut needs closed GOPs; {spec.name} does not promise them")
        parts = smart_plan(keys, first, end)
        chosen = "smart" if any(p.kind == "copy" for p in parts) else "reencode"
    timecode = offset_timecode(facts.start_timecode, first, facts.frame_rate)
    if chosen == "reencode":
        out = _reencode(timeline, spec, range_, dest, timecode, on_progress, timeout)
        return _result(dest, spec.name, "frame", chosen, facts, first, end, out, range_, parts)
    fmt, suffix = _part_format(facts.video_codec)
    weights = [p.frames * (1.0 if p.kind == "encode" else 0.05) for p in parts]
    steps = _Steps([*weights, 0.1 * (end - first)], on_progress)
    with tempfile.TemporaryDirectory(prefix=f".{dest.stem}.parts-", dir=_folder(dest)) as work:
        files = []
        for index, part in enumerate(parts):
            path = str(Path(work) / f"part{index}{suffix}")
            if part.kind == "copy":
                _copy_video_part(timeline, part, path, fmt, steps.step(index), timeout)
            else:
                _encode_video_part(timeline, spec, part, path, steps.step(index), timeout)
            files.append((path, part.frames))
        if len(files) == 1:
            video_input = ffmpeg.input(files[0][0])
        else:
            video_input = ffmpeg.input(_concat_list(files, timeline, work), f="concat", safe=0)
        out = _mux(timeline, spec, video_input, first, end - first, dest, timecode,
                   steps.step(len(parts)), timeout)
    return _result(dest, spec.name, "frame", chosen, facts, first, end, out, range_, parts)


def _reencode(timeline: _Timeline, spec: Rendition, range_: CutRange, dest: Path,
              timecode: str, on_progress, timeout) -> MediaFacts:
    """Re-encode [first, end) in one run: video decoded from the GOP before the in point
    (input seeking) and trimmed by frame count, audio from its own exact seek."""
    facts = timeline.facts
    first, frames = range_.first_frame, range_.frames

    def build(tmp: str):
        source = ffmpeg.input(timeline.path, ss=timeline.decode_seek(first),
                              t=f"{timeline.seconds(frames + 1):.6f}")
        video = (source["v:0"].filter("trim", end_frame=frames)
                 .filter("setpts", "PTS-STARTPTS"))
        options = _video_encoder(spec, facts, timecode)
        if spec.name == "xdcam-hd422":
            video = video.filter("setfield", "tff" if facts.interlaced else "prog")
        video = video.filter("format", options.pop("_pix_fmt"))
        options.update(_muxer(spec, Path(tmp)))
        streams = [video]
        if facts.audio_streams:
            audio = ffmpeg.input(timeline.path, ss=timeline.audio_seek(first),
                                 t=f"{timeline.seconds(frames):.6f}")
            streams += [audio[f"a:{i}"] for i in range(facts.audio_streams)]
            options.update(_audio_output(spec, facts))
        return ffmpeg.output(*streams, tmp, **options)

    def check(out: MediaFacts) -> None:
        if out.frame_count != frames:
            raise TranscodeError(f"the cut has {out.frame_count} frames, expected {frames}")

    [path] = transcode(build, dest, duration=timeline.seconds(frames), on_progress=on_progress,
                       timeout=timeout, check=check)
    return probe(path)


def _rate_text(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def _folder(dest: Path) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return str(dest.parent)


def cut(source: str | os.PathLike, range_: CutRange, dest: str | os.PathLike, *,
        accuracy: str, rendition_name: str | None = None,
        on_progress: Callable[[float], None] | None = None,
        timeout: float | None = None) -> CutResult:
    """`accuracy="fast"` → `fast_cut`; `"frame"` → `frame_cut` (the API's two choices)."""
    if accuracy == "fast":
        return fast_cut(source, range_, dest, rendition_name=rendition_name,
                        on_progress=on_progress, timeout=timeout)
    if accuracy == "frame":
        return frame_cut(source, range_, dest, rendition_name, on_progress=on_progress,
                         timeout=timeout)
    raise ValueError("accuracy is fast or frame")


__all__ = ["RENDITIONS", "CutResult", "Part", "cut", "fast_cut", "frame_cut", "guess_rendition",
           "keyframe_span", "smart_plan"]

