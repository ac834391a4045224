"""SMPTE timecode and cut requests, as pure arithmetic (no ffmpeg here).

A user gives an in and an out point either as a timecode on the master's own clock
(`"10:00:05:12"` for a master that starts at 10:00:00:00) or as seconds from the start of the
file (`"12.5"`, `12.5`, `12`). Both become frame indexes from the first frame of the file.

Conventions (said once, used everywhere):
- The in point is the first frame of the cut; the out point is the first frame *after* it
  (exclusive), so `duration = out - in`: in 10:00:05:00, out 10:00:15:00 is exactly 10 s.
- Seconds are snapped to the nearest frame boundary (half a frame rounds up).
- Drop-frame timecode (`;` before the frames, 29.97 and 59.94 only) follows the master: on a
  drop-frame master both `10:00:05;12` and `10:00:05:12` are read as drop-frame labels; a `;`
  on a non-drop-frame master is refused (it would name another frame).
- Timecode wraps at 24 hours (a master starting at 23:59:50:00 goes on at 00:00:00:00).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Protocol

MIN_CUT_SECONDS = 1.0

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;])(\d{2})$", re.ASCII)
_SECONDS = re.compile(r"^\+?(\d+(?:\.\d*)?|\.\d+)$", re.ASCII)


class CutRequestError(ValueError):
    """A cut request the user must change. `code` is machine-readable: `invalid_timecode`,
    `out_of_range`, `reversed_range`, `cut_too_short`, `cut_too_long`; `details` says what."""

    def __init__(self, code: str, details: dict | None = None):
        super().__init__(code, details or {})

    @property
    def code(self) -> str:
        return self.args[0]

    @property
    def details(self) -> dict:
        return self.args[1]

    def __str__(self) -> str:
        return f"{self.code} {self.details}" if self.details else self.code


def as_rate(rate) -> Fraction:
    """A frame rate as a Fraction: 25, 29.97, "30000/1001", Fraction(25)…; 29.97 and 59.94 (and
    23.976) given as decimals are read as the NTSC rates they stand for."""
    if isinstance(rate, Fraction):
        value = rate
    elif isinstance(rate, str) and "/" in rate:
        value = Fraction(rate)
    else:
        value = Fraction(str(rate))
        for ntsc in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)):
            if value != ntsc and abs(value - ntsc) < Fraction(1, 100):
                value = ntsc
    if value <= 0:
        raise ValueError(f"frame rate must be positive, not {rate!r}")
    return value


def nominal_fps(rate) -> int:
    """Frames per timecode second: 25 for 25, 30 for 29.97, 60 for 59.94, 24 for 23.976."""
    return max(1, round(as_rate(rate)))


def drop_frame_allowed(rate) -> bool:
    value = as_rate(rate)
    return value.denominator == 1001 and value.numerator in (30000, 60000)


def _drops_per_minute(rate) -> int:
    return 2 * nominal_fps(rate) // 30  # 2 for 29.97, 4 for 59.94


def frames_per_day(rate, drop_frame: bool = False) -> int:
    fps = nominal_fps(rate)
    if drop_frame:
        return 24 * 6 * (fps * 600 - 9 * _drops_per_minute(rate))
    return 24 * 3600 * fps


@dataclass(frozen=True)
class Timecode:
    """A timecode label `HH:MM:SS:FF` (`;` before FF when drop-frame)."""

    hours: int
    minutes: int
    seconds: int
    frames: int
    drop_frame: bool = False

    @classmethod
    def parse(cls, text: str, rate=None) -> Timecode:
        """Read a label; with a `rate`, also check that it names a frame that exists at it."""
        match = _TIMECODE.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise CutRequestError("invalid_timecode", {"value": str(text),
                                                       "reason": "expected HH:MM:SS:FF"})
        hours, minutes, seconds, separator, frames = match.groups()
        timecode = cls(int(hours), int(minutes), int(seconds), int(frames),
                       drop_frame=separator == ";")
        if rate is not None:
            timecode.validate(rate)
        return timecode

    def validate(self, rate) -> None:
        fps = nominal_fps(rate)
        reason = None
        if self.hours >= 24:
            reason = "hours must be below 24"
        elif self.minutes >= 60:
            reason = "minutes must be below 60"
        elif self.seconds >= 60:
            reason = "seconds must be below 60"
        elif self.frames >= fps:
            reason = f"frames must be below {fps} at this frame rate"
        elif self.drop_frame and not drop_frame_allowed(rate):
            reason = "drop-frame timecode exists only at 29.97 and 59.94 frames per second"
        elif (self.drop_frame and self.minutes % 10 and self.seconds == 0
              and self.frames < _drops_per_minute(rate)):
            reason = "this drop-frame label does not exist (dropped at the start of the minute)"
        if reason:
            raise CutRequestError("invalid_timecode", {"value": str(self), "reason": reason})

    def to_frames(self, rate) -> int:
        """Frames since 00:00:00:00 (drop-frame labels counted as such)."""
        self.validate(rate)
        fps = nominal_fps(rate)
        total = ((self.hours * 60 + self.minutes) * 60 + self.seconds) * fps + self.frames
        if self.drop_frame:
            minutes = self.hours * 60 + self.minutes
            total -= _drops_per_minute(rate) * (minutes - minutes // 10)
        return total

    @classmethod
    def from_frames(cls, frames: int, rate, drop_frame: bool = False) -> Timecode:
        """The label of the `frames`-th frame since 00:00:00:00 (wrapping at 24 h)."""
        if drop_frame and not drop_frame_allowed(rate):
            raise ValueError(f"no drop-frame timecode at {as_rate(rate)} frames per second")
        fps = nominal_fps(rate)
        frames %= frames_per_day(rate, drop_frame)
        if drop_frame:
            drop = _drops_per_minute(rate)
            per_ten_minutes = fps * 600 - 9 * drop
            per_minute = fps * 60 - drop
            tens, rest = divmod(frames, per_ten_minutes)
            frames += 9 * drop * tens
            if rest > drop:
                frames += drop * ((rest - drop) // per_minute)
        seconds_total, frame = divmod(frames, fps)
        minutes_total, second = divmod(seconds_total, 60)
        hour, minute = divmod(minutes_total, 60)
        return cls(hour % 24, minute, second, frame, drop_frame)

    def __str__(self) -> str:
        separator = ";" if self.drop_frame else ":"
        return (f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}"
                f"{separator}{self.frames:02d}")


def timecode_to_frames(text: str, rate) -> int:
    """`"10:00:05:12"` at 25 → 900137 (frames since midnight)."""
    return Timecode.parse(text, rate).to_frames(rate)


def frames_to_timecode(frames: int, rate, drop_frame: bool = False) -> str:
    return str(Timecode.from_frames(frames, rate, drop_frame))


def offset_timecode(start_timecode: str, frame_index: int, rate) -> str:
    """The label of frame `frame_index` of a file whose first frame is `start_timecode`."""
    start = Timecode.parse(start_timecode, rate)
    return frames_to_timecode(start.to_frames(rate) + frame_index, rate, start.drop_frame)


class _Facts(Protocol):
    frame_rate: Fraction
    start_timecode: str
    frame_count: int


@dataclass(frozen=True)
class CutRange:
    """Frames `[first_frame, end_frame_exclusive)` of the file, and their labels."""

    first_frame: int
    end_frame_exclusive: int
    in_tc: str  # label of the first frame
    out_tc: str  # label of the first frame after the cut (exclusive out point)
    duration_s: float
    rate: Fraction

    @property
    def frames(self) -> int:
        return self.end_frame_exclusive - self.first_frame

    @property
    def last_tc(self) -> str:
        """Label of the last frame inside the cut (an inclusive out point)."""
        drop = ";" in self.in_tc
        return frames_to_timecode(Timecode.parse(self.out_tc).to_frames(self.rate) - 1,
                                  self.rate, drop)

    def as_dict(self) -> dict:
        return {"first_frame": self.first_frame, "end_frame_exclusive": self.end_frame_exclusive,
                "in_tc": self.in_tc, "out_tc": self.out_tc, "duration_s": self.duration_s}


def _seconds(value) -> Fraction | None:
    """Seconds as an exact Fraction, None if `value` is not a seconds value at all."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CutRequestError("invalid_timecode", {"value": str(value),
                                                       "reason": "not a finite number"})
        number = Fraction(Decimal(repr(value)))
    elif isinstance(value, str) and _SECONDS.match(value.strip()):
        try:
            number = Fraction(Decimal(value.strip()))
        except InvalidOperation:  # pragma: no cover - the regex already filters
            return None
    elif isinstance(value, str) and value.strip().startswith("-"):
        rest = value.strip()[1:]
        if _SECONDS.match(rest) or _TIMECODE.match(rest):
            raise CutRequestError("invalid_timecode", {"value": value,
                                                       "reason": "must not be negative"})
        return None
    else:
        return None
    if number < 0:
        raise CutRequestError("invalid_timecode", {"value": str(value),
                                                   "reason": "must not be negative"})
    return number


def point_to_frame(value, rate, start_timecode: str = "00:00:00:00") -> int:
    """A user's in or out point as a frame index from the start of the file (may be negative or
    past the end: range checks are `resolve_cut`'s). Raises `CutRequestError("invalid_timecode")`.
    """
    rate = as_rate(rate)
    seconds = _seconds(value)
    if seconds is not None:
        return math.floor(seconds * rate + Fraction(1, 2))
    if not isinstance(value, str):
        raise CutRequestError("invalid_timecode", {"value": str(value),
                                                   "reason": "expected HH:MM:SS:FF or seconds"})
    label = Timecode.parse(value)
    start = Timecode.parse(start_timecode, rate)
    if label.drop_frame and not start.drop_frame:
        raise CutRequestError("invalid_timecode", {
            "value": value, "reason": "drop-frame timecode given for a non-drop-frame video"})
    if start.drop_frame:
        label = Timecode(label.hours, label.minutes, label.seconds, label.frames, True)
    frame = label.to_frames(rate) - start.to_frames(rate)
    if frame < 0:
        wrapped = frame + frames_per_day(rate, start.drop_frame)
        # Past midnight on a master that starts late in the day; otherwise before the start.
        return wrapped if wrapped < frames_per_day(rate, start.drop_frame) // 2 else frame
    return frame


def resolve_cut(in_, out, facts: _Facts, *, max_duration_s: float | None = None,
                min_duration_s: float = MIN_CUT_SECONDS) -> CutRange:
    """Check a user's in/out points against a video and turn them into frames.

    `facts` is anything with `frame_rate`, `start_timecode` and `frame_count` (a MediaFacts).
    `max_duration_s=None` allows the whole video."""
    rate = as_rate(facts.frame_rate)
    start_tc = facts.start_timecode or "00:00:00:00"
    total = int(facts.frame_count)

    def label(frame: int) -> str:
        return offset_timecode(start_tc, frame, rate)

    bounds = {"start_tc": label(0), "end_tc": label(total), "duration_s": float(total / rate)}
    points = {}
    for field, value in (("in", in_), ("out", out)):
        try:
            points[field] = point_to_frame(value, rate, start_tc)
        except CutRequestError as exc:
            raise CutRequestError(exc.code, {"field": field, **exc.details}) from None
    first, end = points["in"], points["out"]
    for field, frame, limit in (("in", first, total - 1), ("out", end, total)):
        if frame < 0:
            raise CutRequestError("out_of_range", {"field": field, "value": str(
                in_ if field == "in" else out), "reason": "before the start of the video",
                **bounds})
        if frame > limit:
            raise CutRequestError("out_of_range", {"field": field, "value": str(
                in_ if field == "in" else out), "reason": "past the end of the video", **bounds})
    if end <= first:
        raise CutRequestError("reversed_range", {"in": str(in_), "out": str(out),
                                                 "in_tc": label(first), "out_tc": label(end)})
    duration = Fraction(end - first) / rate
    if duration < Fraction(str(min_duration_s)):
        raise CutRequestError("cut_too_short", {"duration_s": float(duration),
                                                "minimum_s": min_duration_s})
    if max_duration_s is not None and duration > Fraction(str(max_duration_s)):
        raise CutRequestError("cut_too_long", {"duration_s": float(duration),
                                               "maximum_s": max_duration_s})
    return CutRange(first, end, label(first), label(end), float(duration), rate)
