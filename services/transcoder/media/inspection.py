"""Looking at media files from tests: every frame as a small grey picture, which frame of a
list a picture is, ffprobe's JSON, where the keyframes are. Used by the toolkit's tests and by
the end-to-end tests that check what a user downloaded."""

from __future__ import annotations

import functools
import json
import subprocess
from fractions import Fraction

from services.shared.mediainfo import ffmpeg_binary, ffprobe_binary, probe

THUMB = (160, 90)


@functools.lru_cache(maxsize=32)
def gray_frames(path: str, size: tuple[int, int] = THUMB) -> tuple[bytes, ...]:
    """Every frame of `path`, decoded, as small grey pictures (for comparing pictures)."""
    width, height = size
    raw = subprocess.run(  # noqa: S603 - an argument list, no shell
        [ffmpeg_binary(), "-v", "error", "-i", path, "-map", "0:v:0", "-vf",
         f"scale={width}:{height}:flags=area,format=gray", "-f", "rawvideo", "-"],
        capture_output=True, check=True).stdout
    step = width * height
    return tuple(raw[i:i + step] for i in range(0, len(raw), step))


def difference(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two grey pictures (0 = identical)."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def closest(frame: bytes, candidates: tuple[bytes, ...] | list[bytes]) -> tuple[int, float]:
    scores = [difference(frame, c) for c in candidates]
    best = min(range(len(scores)), key=scores.__getitem__)
    return best, scores[best]


def ffprobe_json(*args: str) -> dict:
    done = subprocess.run([ffprobe_binary(), "-v", "error", "-of", "json", *args],  # noqa: S603
                          capture_output=True, check=True)
    return json.loads(done.stdout)


def keyframes(path: str) -> list[int]:
    """Frame indexes of the video keyframes (packets only; fine for tiny files)."""
    facts = probe(path)
    data = ffprobe_json("-select_streams", "v:0", "-show_entries",
                        "packet=pts,flags:stream=time_base", path)
    tb = Fraction(data["streams"][0]["time_base"])
    return sorted(round(Fraction(p["pts"]) * tb * facts.frame_rate)
                  for p in data["packets"] if "K" in p["flags"])
