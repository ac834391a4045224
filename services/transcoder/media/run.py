"""Running an ffmpeg-python graph: progress, a timeout, the stderr tail, and atomic outputs.

    def build(tmp):                      # the graph, written to the temporary name it is given
        return ffmpeg.input(master)["v:0"].output(tmp, **options)

    transcode(build, "/media/r/abc.mxf", duration=60.0, on_progress=print, timeout=600)

ffmpeg writes `.abc.tmp-<hex>.mxf` next to the destination (same extension, so the muxer is
still chosen from it); the file is renamed to `abc.mxf` only after ffmpeg exited 0 and the
output probes as valid. On any failure (non-zero exit, timeout, a killed ffmpeg, an exception
in `on_progress`, an invalid output) the temporary file is deleted and `TranscodeError` is raised
with the tail of ffmpeg's stderr: nothing half-written is ever visible under the final name.

The process is started with ffmpeg-python's `run_async` (`subprocess.Popen`); progress
(`-progress pipe:1 -nostats`) is read line by line and stderr is drained by a second thread. In
an eventlet-patched process both are green, so other green threads keep running.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from services.shared.mediainfo import MediaError, MediaFacts, ffmpeg_binary, probe

STDERR_TAIL_LINES = 40

ProgressCallback = Callable[[float], None]


class TranscodeError(RuntimeError):
    """ffmpeg failed (or its output is not valid media). `stderr_tail` holds its last words."""

    def __init__(self, message: str, *, stderr_tail: str = "", returncode: int | None = None,
                 command: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.stderr_tail = stderr_tail
        self.returncode = returncode
        self.command = command or []

    def __str__(self) -> str:
        if self.stderr_tail:
            return f"{self.message}\n--- ffmpeg stderr (tail) ---\n{self.stderr_tail}"
        return self.message


def command_line(graph) -> list[str]:
    """The argv ffmpeg-python would run for `graph` (for logs and tests)."""
    return graph.compile(cmd=ffmpeg_binary(), overwrite_output=True)


class _Progress:
    """Turns `-progress` key=value lines into a monotonic percentage."""

    def __init__(self, duration: float | None, callback: ProgressCallback | None):
        self.duration = duration if duration and duration > 0 else None
        self.callback = callback
        self.last = -1.0

    def report(self, percent: float) -> None:
        percent = max(0.0, min(100.0, percent))
        if self.callback is not None and percent > self.last:
            self.last = percent
            self.callback(percent)

    def line(self, text: str) -> None:
        key, _, value = text.strip().partition("=")
        if key == "out_time_us" and self.duration:
            with contextlib.suppress(ValueError):
                microseconds = int(value)
                if microseconds >= 0:
                    # 99.9 at most until ffmpeg says `progress=end` and exits 0.
                    self.report(min(99.9, microseconds / 1e6 / self.duration * 100.0))


def run_graph(graph, *, duration: float | None = None, on_progress: ProgressCallback | None = None,
              timeout: float | None = None, loglevel: str = "warning",
              tail_lines: int = STDERR_TAIL_LINES) -> str:
    """Run `graph` (an ffmpeg-python output stream); return the tail of stderr.

    `duration` (seconds of output expected) turns `out_time_us` into `on_progress(percent)`,
    monotonic, ending at exactly 100.0 on success. An exception raised by `on_progress` kills
    ffmpeg and propagates (that is how a caller cancels). Raises `TranscodeError`.
    """
    graph = graph.global_args("-hide_banner", "-nostdin", "-loglevel", loglevel,
                              "-progress", "pipe:1", "-nostats")
    command = command_line(graph)
    progress = _Progress(duration, on_progress)
    tail: deque[str] = deque(maxlen=tail_lines)
    try:
        process = graph.run_async(cmd=ffmpeg_binary(), pipe_stdout=True, pipe_stderr=True,
                                  overwrite_output=True)
    except OSError as exc:
        raise TranscodeError(f"cannot start ffmpeg: {exc}", command=command) from None

    def drain_stderr() -> None:
        for raw in iter(process.stderr.readline, b""):
            tail.append(raw.decode("utf-8", "replace").rstrip())

    reader = threading.Thread(target=drain_stderr, name="ffmpeg-stderr", daemon=True)
    reader.start()
    timed_out = threading.Event()

    def kill_on_timeout() -> None:
        timed_out.set()
        with contextlib.suppress(OSError):
            process.kill()

    timer = threading.Timer(timeout, kill_on_timeout) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    ended = False
    try:
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            if line.strip() == "progress=end":
                ended = True
            progress.line(line)
        returncode = process.wait()
    except BaseException:
        with contextlib.suppress(OSError):
            process.kill()
        process.wait()
        raise
    finally:
        if timer is not None:
            timer.cancel()
        reader.join(timeout=5)
        for pipe in (process.stdout, process.stderr):
            with contextlib.suppress(OSError):
                pipe.close()
    stderr_tail = "\n".join(tail)
    if timed_out.is_set():
        raise TranscodeError(f"ffmpeg timed out after {timeout:g} s", stderr_tail=stderr_tail,
                             returncode=returncode, command=command)
    if returncode != 0:
        raise TranscodeError(f"ffmpeg exited with status {returncode}", stderr_tail=stderr_tail,
                             returncode=returncode, command=command)
    if ended or duration:
        progress.report(100.0)
    return stderr_tail


def temporary_path(dest: str | os.PathLike) -> Path:
    """`/m/abc.mxf` → `/m/.abc.tmp-3f9a1c2e.mxf` (same directory, same extension)."""
    dest = Path(dest)
    return dest.with_name(f".{dest.stem}.tmp-{secrets.token_hex(4)}{dest.suffix}")


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


Check = Callable[[MediaFacts], None]


def valid_media(path: str | os.PathLike, check: Check | None = None) -> MediaFacts:
    """Probe an output; raise TranscodeError if it is not valid media or `check` says no."""
    try:
        facts = probe(path)
    except MediaError as exc:
        raise TranscodeError(f"ffmpeg's output is not valid media: {exc}") from None
    if check is not None:
        check(facts)
    return facts


def transcode(build: Callable[..., object], dest: str | os.PathLike | Iterable, *,
              duration: float | None = None, on_progress: ProgressCallback | None = None,
              timeout: float | None = None, check: Check | None = None,
              validate: bool = True) -> list[Path]:
    """Build a graph for temporary output names, run it, validate, and rename atomically.

    `dest` is one path or several (one ffmpeg run writing several files, e.g. renditions from
    one decode); `build` receives the temporary paths (str) in the same order. Returns the final
    paths. `check(facts)` may raise TranscodeError to refuse an output.
    """
    dests = [Path(dest)] if isinstance(dest, str | os.PathLike) else [Path(d) for d in dest]
    temps = [temporary_path(d) for d in dests]
    for folder in {d.parent for d in dests}:
        folder.mkdir(parents=True, exist_ok=True)
    try:
        graph = build(*(str(t) for t in temps))
        run_graph(graph, duration=duration, on_progress=on_progress, timeout=timeout)
        for temp in temps:
            if not temp.is_file() or temp.stat().st_size == 0:
                raise TranscodeError(f"ffmpeg wrote no output to {temp.name}")
            if validate:
                valid_media(temp, check)
        for temp, final in zip(temps, dests, strict=True):
            os.replace(temp, final)
    except BaseException:
        for temp in temps:
            _unlink(temp)
        raise
    return dests


def transcode_to_directory(build: Callable[[str], object], dest_dir: str | os.PathLike, *,
                           duration: float | None = None,
                           on_progress: ProgressCallback | None = None,
                           timeout: float | None = None,
                           check: Callable[[Path], None] | None = None) -> Path:
    """Like `transcode` for an output that is a directory (HLS: a playlist and segments).

    ffmpeg writes into `.name.tmp-<hex>/`; the directory takes the final name only when
    complete (a previous version is moved aside first and removed after)."""
    dest_dir = Path(dest_dir)
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    temp = dest_dir.with_name(f".{dest_dir.name}.tmp-{secrets.token_hex(4)}")
    temp.mkdir()
    old = None
    try:
        run_graph(build(str(temp)), duration=duration, on_progress=on_progress, timeout=timeout)
        if check is not None:
            check(temp)
        if dest_dir.exists():
            old = dest_dir.with_name(f".{dest_dir.name}.old-{secrets.token_hex(4)}")
            os.replace(dest_dir, old)
        os.replace(temp, dest_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        if old is not None and not dest_dir.exists():
            os.replace(old, dest_dir)
            old = None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dest_dir


def copy_atomically(source: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """A plain file copy under the same all-or-nothing rule (the `original` rendition)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary_path(dest)
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, dest)
    except BaseException:
        _unlink(temp)
        raise
    return dest


def ffmpeg_version(timeout: float = 10.0) -> str:
    """The first line of `ffmpeg -version` (for health checks and logs)."""
    done = subprocess.run([ffmpeg_binary(), "-hide_banner", "-version"],  # noqa: S603
                          capture_output=True, timeout=timeout, check=False)
    return done.stdout.decode("utf-8", "replace").splitlines()[0] if done.stdout else ""
