"""Services as real OS processes: start, wait until ready, stop, crash, restart.

Each process runs in its own session (process group), so a SIGKILL reaches its children too (a
gunicorn master and its workers die together, as in a real crash). Output goes to
`<log_dir>/<name>.log`. Every process started during a test is remembered so that conftest.py can
print the tail of its log when the test fails, and an `atexit` hook kills any process that a
crashed fixture left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

_lock = threading.Lock()
_live: set[ServiceProcess] = set()       # running now: the atexit safety net kills these
_this_test: list[ServiceProcess] = []    # started since the current test began
_ports_handed_out: set[int] = set()


def _listening_ports() -> range:
    """Where servers started by this test process listen: below the kernel's ephemeral range
    (a port taken from that range can be handed to an outgoing connection before the server
    binds it: nginx then fails with "Address already in use"), in a slice of its own per
    pytest-xdist worker (two workers never pick the same port)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    slices = 8
    if low < 10000 + 100 * slices:  # an ephemeral range that leaves no room below it
        return range(low, 65536)
    index = int(worker) % slices if worker.isdigit() else 0
    width = (low - 10000) // slices
    return range(10000 + index * width, 10000 + (index + 1) * width)


_next_port: list[int] = []


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on now, never the same one twice in this test run."""
    ports = _listening_ports()
    with _lock:
        if not _next_port:  # a start of its own for each run: two runs at once rarely meet
            _next_port.append(ports.start + (os.getpid() * 7919) % len(ports))
        for _ in range(len(ports)):
            port = _next_port[0]
            _next_port[0] = port + 1 if port + 1 < ports.stop else ports.start
            if port in _ports_handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
            _ports_handed_out.add(port)
            return port
    raise RuntimeError("no free TCP port found")


# --- ready checks: callables returning True when the thing is ready --------------------------

def http_ok(url: str, timeout: float = 2.0) -> Callable[[], bool]:
    """Ready when `GET url` answers 200."""

    def check() -> bool:
        try:
            return requests.get(url, timeout=timeout).status_code == 200
        except requests.RequestException:
            return False

    check.__doc__ = f"GET {url} answers 200"
    return check


def port_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    """Ready when something accepts TCP connections on host:port."""

    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False

    check.__doc__ = f"{host}:{port} accepts connections"
    return check


def all_of(*checks: Callable[[], bool]) -> Callable[[], bool]:
    def check() -> bool:
        return all(c() for c in checks)

    check.__doc__ = " and ".join(c.__doc__ or repr(c) for c in checks)
    return check


def _describe(argv: Sequence[str]) -> str:
    def short(arg: str) -> str:
        arg = arg.replace("\n", "⏎")
        return shlex.quote(arg if len(arg) <= 100 else arg[:100] + "…")

    return " ".join(short(str(arg)) for arg in argv)


class ServiceNotReady(AssertionError):
    pass


class ServiceProcess:
    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, log_dir: str | os.PathLike | None = None):
        self.name = name
        self.argv = list(argv)
        self.env = dict(os.environ if env is None else env)
        self.cwd = Path(cwd) if cwd is not None else REPO_ROOT
        self.log_dir = Path(log_dir) if log_dir is not None else self.cwd / "var" / "test-logs"
        self.log_path = self.log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self.starts = 0
        self.log_offset = 0          # where this start's output begins in the log
        self._terminated = False     # SIGTERM already sent to this run
        self._exit_expected = False  # the harness stopped/killed it, or a test waited for it
        self.unexpected_exits: list[int] = []   # exit codes of earlier runs that died alone

    def __repr__(self) -> str:
        state = "not started" if self.popen is None else (
            f"pid {self.pid}" if self.running else f"exited {self.returncode}")
        return f"<ServiceProcess {self.name} {state}>"

    # --- state ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    @property
    def returncode(self) -> int | None:
        """None while running (or never started); the exit code, or -signal, once it ended."""
        return None if self.popen is None else self.popen.poll()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def died_unexpectedly(self) -> bool:
        """The current run ended by itself, and no test said it expected that."""
        return (self.popen is not None and self.popen.poll() is not None
                and not self._exit_expected)

    def expect_exit(self) -> None:
        """Tells the harness that this run ending by itself is what the test wants."""
        self._exit_expected = True

    # --- life cycle ----------------------------------------------------------------------
    def start(self, extra_env: Mapping[str, str] | None = None) -> ServiceProcess:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        env = {**self.env, **(extra_env or {})}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.died_unexpectedly:
            self.unexpected_exits.append(self.returncode)
        self.starts += 1
        self._terminated = False
        self._exit_expected = False
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts} of {self.name}: {_describe(self.argv)} "
                      f"at {time.strftime('%H:%M:%S')} =====\n".encode())
            log.flush()
            self.log_offset = log.tell()   # this run's output starts after the header
            self.popen = subprocess.Popen(
                self.argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        with _lock:
            _live.add(self)
            if self not in _this_test:
                _this_test.append(self)
        return self

    def wait_ready(self, check: Callable[[], bool], timeout: float = 60.0,
                   interval: float = 0.1) -> ServiceProcess:
        """Polls `check` until it returns True; fails at once if the process exits meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise ServiceNotReady(
                    f"{self.name} exited with {self.returncode} before it was ready "
                    f"({check.__doc__ or check}).\n--- {self.log_path} ---\n{self.tail()}")
            if check():
                return self
            if time.monotonic() > deadline:
                raise ServiceNotReady(
                    f"{self.name} not ready after {timeout:.0f} s ({check.__doc__ or check})."
                    f"\n--- {self.log_path} ---\n{self.tail()}")
            time.sleep(interval)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Waits for the process to end by itself (e.g. an injected fault); returns its code."""
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        self._exit_expected = True
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still running after {timeout} s\n{self.tail()}") from None

    def terminate(self) -> None:
        """Sends SIGTERM without waiting (to stop several processes at once, then `stop()`)."""
        if self.popen is not None and self.popen.poll() is None and not self._terminated:
            self._terminated = True
            self._exit_expected = True
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL to the whole group after `timeout` seconds."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._log_note(f"did not stop within {timeout} s of SIGTERM: SIGKILL")
        self._kill_group()
        return self._reap()

    def kill(self) -> int | None:
        """SIGKILL to the process and its children: a crash, with no chance to clean up."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self._exit_expected = True
        self._kill_group()
        return self._reap()

    def restart(self, extra_env: Mapping[str, str] | None = None,
                timeout: float = 20.0) -> ServiceProcess:
        self.stop(timeout)
        return self.start(extra_env)

    # --- logs ----------------------------------------------------------------------------
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_since_start(self) -> str:
        """The output of the current (or last) run only."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_says(self, text: str) -> Callable[[], bool]:
        """Ready check: this run's output contains `text`."""

        def check() -> bool:
            return text in self.log_since_start()

        check.__doc__ = f"{self.name}'s log says {text!r}"
        return check

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        """Waits until this run's output contains `text`."""
        deadline = time.monotonic() + timeout
        while text not in self.log_since_start():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}'s log never said {text!r} in {timeout} s\n{self.tail()}")
            time.sleep(0.1)

    # --- internals -----------------------------------------------------------------------
    def _kill_group(self) -> None:
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            # the group is gone (or only the leader's zombie is left)
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()

    def _reap(self) -> int | None:
        assert self.popen is not None
        try:
            code = self.popen.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL always ends it
            code = None
        with _lock:
            was_live = self in _live
            _live.discard(self)
        if was_live:
            self._log_note(f"ended with {code}")
        return code

    def _log_note(self, text: str) -> None:
        with contextlib.suppress(OSError), open(self.log_path, "a") as log:
            log.write(f"===== harness: {self.name} {text} at {time.strftime('%H:%M:%S')} =====\n")


def begin_test() -> None:
    """Called by conftest.py before each test: forget the processes of the previous one."""
    with _lock:
        _this_test.clear()


def processes_of_this_test() -> list[ServiceProcess]:
    with _lock:
        return list(_this_test)


def kill_all() -> None:
    """Safety net: SIGKILL every process still running (atexit, or a broken fixture)."""
    with _lock:
        live = list(_live)
    for process in live:
        with contextlib.suppress(Exception):
            process.kill()


atexit.register(kill_all)
