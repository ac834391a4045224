"""Timecode arithmetic and cut requests: pure, no ffmpeg."""

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.transcoder.media.timecode import (
    CutRequestError,
    Timecode,
    as_rate,
    frames_per_day,
    frames_to_timecode,
    nominal_fps,
    offset_timecode,
    point_to_frame,
    resolve_cut,
    timecode_to_frames,
)

NTSC = Fraction(30000, 1001)
NTSC60 = Fraction(60000, 1001)


@dataclass(frozen=True)
class Facts:
    frame_rate: Fraction
    start_timecode: str
    frame_count: int


MASTER = Facts(Fraction(25), "10:00:00:00", 60 * 25)  # one minute at 25, from 10:00:00:00


@pytest.mark.parametrize(("rate", "expected"), [
    (25, Fraction(25)), ("25", Fraction(25)), ("25/1", Fraction(25)), (29.97, NTSC),
    ("30000/1001", NTSC), (59.94, NTSC60), (23.976, Fraction(24000, 1001)), (50, Fraction(50)),
    (Fraction(30), Fraction(30)),
])
def test_rates_are_read_exactly(rate, expected):
    assert as_rate(rate) == expected


@pytest.mark.parametrize(("rate", "fps"), [(24, 24), (25, 25), (30, 30), (50, 50), (60, 60),
                                           (NTSC, 30), (NTSC60, 60), ("24000/1001", 24)])
def test_nominal_fps(rate, fps):
    assert nominal_fps(rate) == fps


@pytest.mark.parametrize(("text", "rate", "frames"), [
    ("00:00:00:00", 25, 0),
    ("00:00:01:00", 25, 25),
    ("10:00:05:12", 25, (36000 + 5) * 25 + 12),
    ("23:59:59:24", 25, 24 * 3600 * 25 - 1),
    ("00:00:01:00", 24, 24),
    ("00:00:01:29", 30, 59),
    ("00:00:01:49", 50, 99),
    ("00:01:00:00", 60, 3600),
    ("00:01:00:00", NTSC, 1800),  # non-drop-frame at 29.97: 30 labels a second
    # drop-frame: labels ;00 and ;01 are skipped at each minute but every tenth
    ("00:00:59;29", NTSC, 1799),
    ("00:01:00;02", NTSC, 1800),
    ("00:10:00;00", NTSC, 17982),
    ("01:00:00;00", NTSC, 107892),
    ("00:01:00;04", NTSC60, 3600),
    ("00:10:00;00", NTSC60, 35964),
])
def test_timecode_to_frames(text, rate, frames):
    assert timecode_to_frames(text, rate) == frames
    assert frames_to_timecode(frames, rate, drop_frame=";" in text) == text


@pytest.mark.parametrize(("text", "rate", "reason"), [
    ("10:00:05:25", 25, "frames must be below 25"),
    ("10:00:05:30", NTSC, "frames must be below 30"),
    ("10:60:00:00", 25, "minutes"),
    ("10:00:60:00", 25, "seconds"),
    ("24:00:00:00", 25, "hours"),
    ("00:01:00;00", NTSC, "does not exist"),
    ("00:01:00;01", NTSC, "does not exist"),
    ("00:01:00;03", NTSC60, "does not exist"),
    ("00:00:10;00", 25, "drop-frame timecode exists only"),
])
def test_impossible_labels_are_invalid(text, rate, reason):
    with pytest.raises(CutRequestError) as raised:
        timecode_to_frames(text, rate)
    assert raised.value.code == "invalid_timecode"
    assert reason in raised.value.details["reason"]


@pytest.mark.parametrize("text", [
    "", " ", "abc", "10:00:05", "10:00:05:1", "10:00:05:123", "10:0:05:12", "1:2:3:4",
    "10-00-05-12", "10:00:05.12", "10:00:05:12:00", "100:00:05:12", "\uff11\uff10:00:05:12",
])
def test_malformed_labels_are_invalid(text):
    with pytest.raises(CutRequestError) as raised:
        Timecode.parse(text)
    assert raised.value.code == "invalid_timecode"


def test_single_digit_hours_are_accepted():
    assert str(Timecode.parse("9:59:59:24", 25)) == "09:59:59:24"


@given(st.integers(min_value=0, max_value=frames_per_day(25) - 1))
def test_round_trip_25(frames):
    assert timecode_to_frames(frames_to_timecode(frames, 25), 25) == frames


@given(st.sampled_from([NTSC, NTSC60]), st.integers(min_value=0, max_value=10**8))
def test_round_trip_drop_frame(rate, frames):
    frames %= frames_per_day(rate, drop_frame=True)
    label = frames_to_timecode(frames, rate, drop_frame=True)
    assert ";" in label
    assert timecode_to_frames(label, rate) == frames


@given(st.sampled_from([NTSC, NTSC60]), st.integers(min_value=0, max_value=10**7))
def test_drop_frame_labels_are_consecutive(rate, frames):
    """Each next frame gets the next label that exists: +1 frame, or a skip at a minute."""
    a = Timecode.parse(frames_to_timecode(frames, rate, True))
    b = Timecode.parse(frames_to_timecode(frames + 1, rate, True))
    if b.frames != 0 and b.frames != (2 if rate == NTSC else 4):
        assert (b.hours, b.minutes, b.seconds, b.frames) == (a.hours, a.minutes, a.seconds,
                                                            a.frames + 1)


def test_drop_frame_keeps_time_with_the_clock():
    """One hour of 29.97 drop-frame labels is one hour of real time (to 3.6 ms)."""
    frames = timecode_to_frames("01:00:00;00", NTSC)
    assert abs(frames / NTSC - 3600) <= Fraction(36, 10000)


def test_offset_timecode_wraps_at_midnight():
    assert offset_timecode("23:59:59:24", 1, 25) == "00:00:00:00"
    assert offset_timecode("10:00:00:00", 137, 25) == "10:00:05:12"
    assert offset_timecode("00:00:59;29", 1, NTSC) == "00:01:00;02"


@pytest.mark.parametrize(("value", "frame"), [
    ("10:00:05:12", 137), ("10:00:00:00", 0), ("10:01:00:00", 1500),
    ("12.5", 313), (12.5, 313),  # 312.5 frames: half a frame rounds up
    (12, 300), ("12", 300), ("0", 0), (0, 0), (" 7.04 ", 176), ("7.", 175), (".5", 13),
    (0.1, 3), ("0.02", 1), ("0.019", 0),
])
def test_points_to_frames(value, frame):
    assert point_to_frame(value, 25, "10:00:00:00") == frame


@pytest.mark.parametrize("value", [
    "-1", -1, -0.5, "-10:00:00:00", "1e3", "12,5", "twelve", None, [], {}, True, float("nan"),
    float("inf"), "10:00:05:25", "10:00:05", "0x10",
])
def test_bad_points_are_invalid_timecodes(value):
    with pytest.raises(CutRequestError) as raised:
        point_to_frame(value, 25, "10:00:00:00")
    assert raised.value.code == "invalid_timecode"


def test_points_after_midnight_on_a_late_master():
    assert point_to_frame("00:00:05:00", 25, "23:59:50:00") == 15 * 25


def test_drop_frame_master_reads_colons_as_drop_frame_and_ndf_refuses_semicolons():
    assert point_to_frame("01:01:00;02", NTSC, "01:00:00;00") == 1800
    assert point_to_frame("01:01:00:02", NTSC, "01:00:00;00") == 1800
    with pytest.raises(CutRequestError) as raised:
        point_to_frame("01:01:00;02", NTSC, "01:00:00:00")
    assert "non-drop-frame" in raised.value.details["reason"]


def test_resolve_cut_by_timecode():
    cut = resolve_cut("10:00:05:12", "10:00:15:00", MASTER)
    assert (cut.first_frame, cut.end_frame_exclusive) == (137, 375)
    assert (cut.in_tc, cut.out_tc, cut.last_tc) == ("10:00:05:12", "10:00:15:00", "10:00:14:24")
    assert cut.duration_s == pytest.approx(238 / 25)
    assert cut.frames == 238


def test_resolve_cut_by_seconds_and_to_the_very_end():
    cut = resolve_cut("50", 60.0, MASTER)
    assert (cut.first_frame, cut.end_frame_exclusive, cut.out_tc) == (1250, 1500, "10:01:00:00")
    assert cut.duration_s == 10.0


def test_resolve_cut_drop_frame():
    facts = Facts(NTSC, "01:00:00;00", 3 * 1800)
    cut = resolve_cut("01:00:59;29", "01:01:01;02", facts)
    assert (cut.first_frame, cut.end_frame_exclusive) == (1799, 1830)
    assert (cut.in_tc, cut.out_tc) == ("01:00:59;29", "01:01:01;02")


@pytest.mark.parametrize(("in_", "out", "code", "details"), [
    ("09:59:59:24", "10:00:10:00", "out_of_range", {"field": "in",
                                                     "reason": "before the start of the video"}),
    ("10:00:10:00", "10:01:00:01", "out_of_range", {"field": "out",
                                                     "reason": "past the end of the video"}),
    ("10:01:00:00", "10:01:02:00", "out_of_range", {"field": "in"}),
    ("61", "62", "out_of_range", {"field": "in"}),
    ("10", "60.1", "out_of_range", {"field": "out"}),
    ("10:00:10:00", "10:00:05:00", "reversed_range", {"in_tc": "10:00:10:00"}),
    ("10", "10", "reversed_range", {}),
    ("10", "10.96", "cut_too_short", {"minimum_s": 1.0}),
    ("10:00:10:00", "10:00:10:24", "cut_too_short", {}),
    ("10:00:10:xx", "10:00:12:00", "invalid_timecode", {"field": "in"}),
    ("10:00:10:00", "10:00:12:25", "invalid_timecode", {"field": "out"}),
    ("-3", "10", "invalid_timecode", {"field": "in", "reason": "must not be negative"}),
])
def test_resolve_cut_errors(in_, out, code, details):
    with pytest.raises(CutRequestError) as raised:
        resolve_cut(in_, out, MASTER)
    assert raised.value.code == code
    assert details.items() <= raised.value.details.items()


def test_out_of_range_says_what_the_range_is():
    with pytest.raises(CutRequestError) as raised:
        resolve_cut("10:00:10:00", "11:00:00:00", MASTER)
    assert raised.value.details["start_tc"] == "10:00:00:00"
    assert raised.value.details["end_tc"] == "10:01:00:00"
    assert raised.value.details["duration_s"] == 60.0


def test_exactly_one_second_is_long_enough():
    assert resolve_cut("10:00:10:00", "10:00:11:00", MASTER).frames == 25
    ntsc = Facts(NTSC, "00:00:00:00", 600)
    with pytest.raises(CutRequestError):
        resolve_cut(0, "00:00:00:29", ntsc)  # 29 frames = 0.968 s
    assert resolve_cut(0, "00:00:01:00", ntsc).frames == 30


def test_maximum_duration_is_configurable():
    assert resolve_cut("0", "60", MASTER).duration_s == 60.0  # default: the whole video
    with pytest.raises(CutRequestError) as raised:
        resolve_cut("0", "30.04", MASTER, max_duration_s=30)
    assert raised.value.code == "cut_too_long"
    assert raised.value.details == {"duration_s": 30.04, "maximum_s": 30}
    assert resolve_cut("0", "30", MASTER, max_duration_s=30).frames == 750


def test_errors_are_value_errors_with_code_and_details():
    error = CutRequestError("reversed_range", {"in": "2", "out": "1"})
    assert isinstance(error, ValueError)
    assert (error.code, error.details) == ("reversed_range", {"in": "2", "out": "1"})
    assert "reversed_range" in str(error)


@given(st.integers(min_value=0, max_value=1499), st.integers(min_value=1, max_value=1500))
def test_any_valid_pair_of_labels_resolves_to_those_frames(first, end):
    in_tc = offset_timecode("10:00:00:00", first, 25)
    out_tc = offset_timecode("10:00:00:00", end, 25)
    try:
        cut = resolve_cut(in_tc, out_tc, MASTER)
    except CutRequestError as exc:
        assert exc.code in ("reversed_range", "cut_too_short")
        assert end - first < 25
    else:
        assert (cut.first_frame, cut.end_frame_exclusive) == (first, end)
        assert (cut.in_tc, cut.out_tc) == (in_tc, out_tc)
