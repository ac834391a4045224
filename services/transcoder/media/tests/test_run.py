"""Running ffmpeg: progress, errors with the stderr tail, timeouts, atomic outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import ffmpeg
import pytest

from services.shared.mediainfo import MediaError, probe
from services.transcoder.media.run import (
    TranscodeError,
    _Progress,
    run_graph,
    temporary_path,
    transcode,
    transcode_to_directory,
)

REPO = Path(__file__).resolve().parents[4]


def tiny_encode(seconds: float = 2.0, realtime: bool = False, **output):
    def build(tmp: str):
        options = {"re": None} if realtime else {}
        source = ffmpeg.input(f"testsrc2=size=160x90:rate=25:duration={seconds}", f="lavfi",
                              **options)
        return source["v:0"].output(tmp, **{"c:v": "libx264", "preset": "ultrafast",
                                            **output})
    return build


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".parts-" in p.name)


def test_temporary_names_keep_the_extension_and_the_directory(tmp_path):
    temp = temporary_path(tmp_path / "abc.mxf")
    assert temp.parent == tmp_path and temp.suffix == ".mxf"
    assert temp.name.startswith(".abc.tmp-")


def test_progress_lines_give_a_monotonic_percentage():
    seen = []
    progress = _Progress(10.0, seen.append)
    for line in ["frame=1", "out_time_us=N/A", "out_time_us=1000000", "out_time_us=500000",
                 "out_time_us=5000000", "progress=continue", "out_time_us=12000000"]:
        progress.line(line)
    assert seen == [10.0, 50.0, 99.9]


@pytest.mark.slow_media
def test_progress_reaches_100_and_never_goes_back(tmp_path):
    seen: list[float] = []
    [path] = transcode(tiny_encode(4.0), tmp_path / "p.mp4", duration=4.0,
                       on_progress=seen.append)
    assert seen[-1] == 100.0 and seen == sorted(seen) and len(seen) >= 2
    assert all(0.0 <= p <= 100.0 for p in seen)
    assert probe(path).frame_count == 100
    assert leftovers(tmp_path) == []


@pytest.mark.slow_media
def test_nothing_is_visible_under_the_final_name_while_ffmpeg_writes(tmp_path):
    dest = tmp_path / "w.mp4"
    observed = []

    def watch(percent: float) -> None:
        observed.append((dest.exists(), leftovers(tmp_path)))

    transcode(tiny_encode(2.0, realtime=True), dest, duration=2.0, on_progress=watch)
    during = observed[:-1]
    assert during and all(not exists and len(temps) == 1 for exists, temps in during)
    assert dest.exists() and leftovers(tmp_path) == []


@pytest.mark.slow_media
def test_a_failing_ffmpeg_leaves_nothing_and_says_why(tmp_path):
    dest = tmp_path / "bad.mp4"
    with pytest.raises(TranscodeError) as raised:
        transcode(tiny_encode(**{"c:v": "no_such_encoder"}), dest, duration=2.0)
    assert raised.value.returncode not in (0, None)
    assert "no_such_encoder" in raised.value.stderr_tail
    assert "no_such_encoder" in str(raised.value)
    assert not dest.exists() and leftovers(tmp_path) == []


@pytest.mark.slow_media
def test_a_killed_ffmpeg_leaves_nothing(tmp_path):
    dest = tmp_path / "slow.mp4"
    with pytest.raises(TranscodeError, match="timed out after 1 s"):
        transcode(tiny_encode(10.0, realtime=True), dest, duration=10.0, timeout=1)
    assert not dest.exists() and leftovers(tmp_path) == []


@pytest.mark.slow_media
def test_an_exception_in_the_progress_callback_cancels(tmp_path):
    dest = tmp_path / "cancelled.mp4"

    def cancel(percent: float) -> None:
        if percent > 5:
            raise KeyboardInterrupt  # any exception: the caller's way to stop a job

    with pytest.raises(KeyboardInterrupt):
        transcode(tiny_encode(10.0, realtime=True), dest, duration=10.0, on_progress=cancel)
    assert not dest.exists() and leftovers(tmp_path) == []


@pytest.mark.slow_media
def test_an_invalid_output_is_refused(tmp_path):
    dest = tmp_path / "wrong.mp4"

    def refuse(facts):
        raise TranscodeError(f"{facts.frame_count} frames is not what I asked for")

    with pytest.raises(TranscodeError, match="is not what I asked for"):
        transcode(tiny_encode(1.0), dest, check=refuse)
    assert not dest.exists() and leftovers(tmp_path) == []


@pytest.mark.slow_media
def test_a_directory_output_appears_whole_or_not_at_all(tmp_path):
    def build(folder: str):
        return (ffmpeg.input("testsrc2=size=160x90:rate=25:duration=2", f="lavfi")["v:0"]
                .output(f"{folder}/frame_%02d.png", **{"frames:v": 3}))

    folder = transcode_to_directory(build, tmp_path / "frames")
    assert sorted(p.name for p in folder.iterdir()) == ["frame_01.png", "frame_02.png",
                                                        "frame_03.png"]

    def broken(folder: str):
        return build(folder).global_args("-no_such_option")

    with pytest.raises(TranscodeError):
        transcode_to_directory(broken, tmp_path / "frames")
    assert len(list((tmp_path / "frames").iterdir())) == 3  # the previous version survives
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


@pytest.mark.slow_media
def test_run_graph_returns_the_stderr_tail():
    graph = (ffmpeg.input("sine=duration=1", f="lavfi")["a:0"]
             .filter("volumedetect").output("-", f="null"))
    tail = run_graph(graph, loglevel="info")
    assert "mean_volume" in tail


def test_probe_refuses_what_is_not_a_video(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    with pytest.raises(MediaError):
        probe(text)


@pytest.mark.slow_media
def test_usable_from_an_eventlet_patched_process(tmp_path):
    """ffmpeg runs while other green threads keep running (the transcoder is a nameko
    service: eventlet monkey-patches everything)."""
    script = textwrap.dedent(f"""
        import eventlet
        eventlet.monkey_patch()
        import json, time
        import ffmpeg
        from services.transcoder.media.run import transcode
        ticks = []
        def ticker():
            while True:
                ticks.append(time.monotonic())
                eventlet.sleep(0.02)
        eventlet.spawn(ticker)
        eventlet.sleep(0.05)
        start = time.monotonic()
        seen = []
        def build(tmp):
            return (ffmpeg.input("testsrc2=size=160x90:rate=25:duration=1.5", f="lavfi", re=None)
                    ["v:0"].output(tmp, **{{"c:v": "libx264", "preset": "ultrafast"}}))
        transcode(build, {str(tmp_path / 'green.mp4')!r}, duration=1.5, on_progress=seen.append)
        end = time.monotonic()
        during = [t for t in ticks if start < t < end]
        print(json.dumps({{"ticks": len(during), "seconds": end - start, "last": seen[-1]}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["last"] == 100.0
    # about 50 ticks a second if nothing blocks the hub; a blocked hub gives ~1
    assert result["ticks"] >= 20 * result["seconds"], result
