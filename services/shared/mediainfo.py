"""What a media file is, in the words a broadcaster uses: duration, frame rate, size, start
timecode, audio tracks, codec. One `ffprobe` call.

    facts = probe("/media/masters/abc.mov")
    facts.frame_rate, facts.start_timecode        # Fraction(25, 1), "10:00:00:00"

The binaries come from the environment: `FFPROBE_PATH` and `FFMPEG_PATH` (default: the ones on
PATH, i.e. Debian's ffmpeg 5.1 under /usr/bin). The imageio-ffmpeg wheel has no ffprobe.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

PROBE_TIMEOUT_S = 60.0
NO_TIMECODE = "00:00:00:00"


class MediaError(ValueError):
    """Not media we can use: unreadable, not audio-visual, or without a video stream."""


class ProbeFailed(MediaError):
    """ffprobe could not look at the file (not installed, killed, timed out): nothing is
    known of the file itself."""


def _binary(variable: str, name: str) -> str:
    configured = os.environ.get(variable)
    if configured:
        return configured
    return shutil.which(name) or f"/usr/bin/{name}"


def ffmpeg_binary() -> str:
    """The ffmpeg to run: `FFMPEG_PATH`, else the one on PATH."""
    return _binary("FFMPEG_PATH", "ffmpeg")


def ffprobe_binary() -> str:
    """The ffprobe to run: `FFPROBE_PATH`, else the one on PATH."""
    return _binary("FFPROBE_PATH", "ffprobe")


@dataclass(frozen=True)
class MediaFacts:
    path: str
    duration: float  # seconds, of the video stream when it says so, else of the file
    frame_rate: Fraction
    width: int
    height: int
    start_timecode: str  # "HH:MM:SS:FF" ("HH:MM:SS;FF" for drop-frame); "00:00:00:00" if none
    audio_channels: int  # over all audio streams
    audio_streams: int
    video_codec: str
    pixel_format: str
    field_order: str  # "progressive", "tt", "bb", "tb", "bt" or "unknown"
    container: str  # ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "mxf"
    size_bytes: int
    frame_count: int
    # Details the toolkit needs beyond the catalog's columns.
    video_profile: str = ""
    video_bit_rate: int = 0  # bit/s, 0 if the container does not say
    audio_codec: str = ""
    audio_sample_rate: int = 0
    audio_stream_channels: tuple[int, ...] = ()  # channels of each audio stream, in order
    video_start_time: float = 0.0  # first video pts in seconds
    format_start_time: float = 0.0  # what `-ss` counts from

    @property
    def interlaced(self) -> bool:
        return self.field_order in ("tt", "bb", "tb", "bt")

    @property
    def drop_frame(self) -> bool:
        return ";" in self.start_timecode

    @property
    def has_audio(self) -> bool:
        return self.audio_streams > 0

    def as_dict(self) -> dict:
        """JSON-friendly (the frame rate as "num/den")."""
        return {
            "duration": self.duration, "frame_rate": f"{self.frame_rate.numerator}/"
            f"{self.frame_rate.denominator}", "width": self.width, "height": self.height,
            "start_timecode": self.start_timecode, "audio_channels": self.audio_channels,
            "audio_streams": self.audio_streams, "video_codec": self.video_codec,
            "pixel_format": self.pixel_format, "field_order": self.field_order,
            "container": self.container, "size_bytes": self.size_bytes,
            "frame_count": self.frame_count,
        }


def _fraction(text: str | None) -> Fraction | None:
    if not text:
        return None
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _frame_rate(stream: dict) -> Fraction:
    real = _fraction(stream.get("r_frame_rate"))
    average = _fraction(stream.get("avg_frame_rate"))
    if real and average:
        if real == average:
            return real
        if real == 2 * average:  # a field rate (interlaced H.264 reports 50 for 25i)
            return average
        if real > 120:  # a timebase, not a rate
            return average
        return real
    rate = real or average
    if rate is None:
        raise MediaError("the video stream has no frame rate")
    return rate


def _float(value, default: float = 0.0) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if result == result else default  # NaN


def _timecode(data: dict, video: dict) -> str:
    candidates = [data.get("format", {}).get("tags", {})]
    candidates.append(video.get("tags", {}))
    candidates += [s.get("tags", {}) for s in data.get("streams", [])
                   if s.get("codec_tag_string") == "tmcd" or s.get("codec_type") == "data"]
    for tags in candidates:
        for key, value in tags.items():
            if key.lower() == "timecode" and value:
                return str(value)
    return NO_TIMECODE


def probe_json(path: str | os.PathLike) -> dict:
    """ffprobe's JSON for `path` (format and streams). MediaError when ffprobe read the file
    and found no media in it; ProbeFailed when it could not say (missing, killed, timed
    out): then the file may well be media, and must not be thrown away for it. Only local
    files are opened: a file that names others (a playlist, a concat list) reaches nothing
    beyond the disk."""
    command = [ffprobe_binary(), "-v", "error", "-protocol_whitelist", "file",
               "-show_format", "-show_streams", "-of", "json", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT_S,  # noqa: S603
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeFailed(f"{path}: cannot be probed ({exc})") from None
    if done.returncode < 0:  # killed by a signal (the OOM killer, a stop)
        raise ProbeFailed(f"{path}: ffprobe was stopped by signal {-done.returncode}")
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = message[-1] if message else "ffprobe failed"
        raise MediaError(f"{path}: not a media file ({reason})")
    try:
        return json.loads(done.stdout.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProbeFailed(f"{path}: ffprobe's answer cannot be read ({exc})") from None


def probe(path: str | os.PathLike) -> MediaFacts:
    """The facts of a media file. Raises `MediaError` for anything that is not a video."""
    path = str(path)
    if not Path(path).is_file():
        raise MediaError(f"{path}: no such file")
    data = probe_json(path)
    streams = data.get("streams", [])
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not s.get("disposition", {}).get("attached_pic")]
    if not videos:
        raise MediaError(f"{path}: has no video stream")
    video = videos[0]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    fmt = data.get("format", {})
    rate = _frame_rate(video)
    duration = _float(video.get("duration")) or _float(fmt.get("duration"))
    nb_frames = int(_float(video.get("nb_frames")))
    if duration <= 0 and nb_frames:
        duration = float(nb_frames / rate)
    frame_count = nb_frames or round(duration * rate)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if not width or not height:
        raise MediaError(f"{path}: the video stream has no picture size")
    field_order = video.get("field_order") or "unknown"
    return MediaFacts(
        path=path,
        duration=duration,
        frame_rate=rate,
        width=width,
        height=height,
        start_timecode=_timecode(data, video),
        audio_channels=sum(int(a.get("channels") or 0) for a in audios),
        audio_streams=len(audios),
        video_codec=video.get("codec_name", "unknown"),
        pixel_format=video.get("pix_fmt", "unknown"),
        field_order=field_order,
        container=fmt.get("format_name", "unknown"),
        size_bytes=int(_float(fmt.get("size"))) or os.path.getsize(path),
        frame_count=frame_count,
        video_profile=str(video.get("profile", "")),
        video_bit_rate=int(_float(video.get("bit_rate")) or _float(fmt.get("bit_rate"))),
        audio_codec=audios[0].get("codec_name", "") if audios else "",
        audio_sample_rate=int(_float(audios[0].get("sample_rate"))) if audios else 0,
        audio_stream_channels=tuple(int(a.get("channels") or 0) for a in audios),
        video_start_time=_float(video.get("start_time")),
        format_start_time=_float(fmt.get("start_time")),
    )


def run_ffprobe(args: list[str], timeout: float = PROBE_TIMEOUT_S) -> dict:
    """Run ffprobe with `args` (JSON output is asked for) and return the parsed answer."""
    command = [ffprobe_binary(), "-v", "error", "-of", "json", *args]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MediaError(f"ffprobe failed: {exc}") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise MediaError(f"ffprobe failed: {' '.join(tail) or done.returncode}")
    return json.loads(done.stdout.decode("utf-8") or "{}")
