"""A small process supervisor for running the whole system on one machine (./scripts/run).

It starts every process in PROCESSES, prefixes each output line with the process's name, restarts
a process that exits with a growing back-off (1 s, 2 s, 4 s ... 30 s), and prints a table of states
at start and on every change. Ctrl-C or SIGTERM stops everything: SIGTERM to each process group,
up to 20 s of grace, then SIGKILL for whatever is left.

Standard library only (and the repository's stdlib-only signing_keys). Run it through
./scripts/run, which sets up the environment first.
"""

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.shared import signing_keys  # noqa: E402  (the repository on the path first)

PORT = int(os.environ.get("PORT", "8000"))
GATEWAY_PORT = int(os.environ.get("GATEWAY_PORT", "8001"))
STATUS_PORT = int(os.environ.get("FRONTDOOR_STATUS_PORT", "9106"))
LOG_METRICS_PORT = int(os.environ.get("FRONTDOOR_LOG_METRICS_PORT", "9107"))
NGINX_METRICS_PORT = int(os.environ.get("FRONTDOOR_NGINX_METRICS_PORT", "9113"))

# The production settings (gateway/gunicorn_conf.py: gthread, one RPC proxy per thread, JSON
# logs), on the loopback only, behind the front door (nginx) that clients reach on PORT.
GUNICORN = (f".venv/bin/gunicorn -c python:gateway.gunicorn_conf --bind 127.0.0.1:{GATEWAY_PORT}"
            " gateway.wsgi:app")

# One line per process: name, command (run from the repository root), environment additions, and
# the port to show (checked to be free before starting). Adding a service is adding a line.
PROCESSES = [
    # name      command                               env additions             port
    ("auth",    ".venv/bin/python -m services.auth",   {"METRICS_PORT": "9101"}, 9101),
    ("mailer",  ".venv/bin/python -m services.mailer", {"METRICS_PORT": "9102"}, 9102),
    ("catalog", ".venv/bin/python -m services.catalog", {"METRICS_PORT": "9103"}, 9103),
    # RPC and the job consumer apart: a long transcode never delays an answer
    ("transcoder-api", ".venv/bin/python -m services.transcoder api",
     {"METRICS_PORT": "9104"}, 9104),
    ("transcoder-worker", ".venv/bin/python -m services.transcoder worker",
     {"METRICS_PORT": "9105"}, 9105),
    # the gateway believes the one proxy in front of it about the client's address
    ("gateway", GUNICORN,                     {"TRUSTED_PROXY_COUNT": "1"},     GATEWAY_PORT),
    # nginx: the front door on PORT; its status port has nginx's counters and the gateway's
    # /metrics; mtail and prometheus-nginx-exporter turn nginx's traffic into metrics
    ("frontdoor", ".venv/bin/python -m gateway.frontdoor run",
     {"FRONTDOOR_LOG_METRICS_PORT": str(LOG_METRICS_PORT),
      "FRONTDOOR_NGINX_METRICS_PORT": str(NGINX_METRICS_PORT)},                PORT),
]
# Ports a process opens besides the one shown (checked to be free before starting too).
OTHER_PORTS = [(STATUS_PORT, "frontdoor status"), (LOG_METRICS_PORT, "frontdoor mtail"),
               (NGINX_METRICS_PORT, "frontdoor nginx exporter")]

STOP_GRACE = 20          # seconds between SIGTERM and SIGKILL when stopping
BACKOFF_MAX = 30         # seconds, the longest wait before a restart
STABLE_AFTER = 60        # seconds of uptime after which the back-off starts again from 1 s
COLOURS = [36, 33, 35, 32, 34, 91, 96, 93]  # ANSI foreground colours, one per process


def process_env(name: str, environ) -> dict[str, str]:
    """The environment for process `name`: of the signing keys, only those it holds (the mailer
    its unsubscribe keys, the gateway all; the others none), as in the Kubernetes manifests."""
    held = signing_keys.HELD_BY.get(name, ())
    return {key: value for key, value in environ.items()
            if key not in signing_keys.ALL or key in held}


def exit_text(code: int) -> str:
    """exited(1), or exited(SIGTERM) for a process ended by a signal (Popen reports -signum)."""
    if code < 0:
        try:
            return f"exited({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exited({code})"


def use_colour() -> bool:
    wanted = not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    return wanted and sys.stdout.isatty()


class Proc:
    def __init__(self, index: int, name: str, command: str, env: dict, port: int | None):
        self.name, self.command, self.env, self.port = name, command, env, port
        self.colour = COLOURS[index % len(COLOURS)]
        self.popen: subprocess.Popen | None = None
        self.state = "starting"
        self.started_at = 0.0
        self.failures = 0            # consecutive quick exits, drives the back-off
        self.restart_at = 0.0


class Supervisor:
    def __init__(self, table):
        self.procs = [Proc(i, *row) for i, row in enumerate(table)]
        self.width = max(len(p.name) for p in self.procs)
        self.colour = use_colour()
        self.out_lock = threading.Lock()
        self.stop_requested = 0      # count of stop signals: the second one skips the grace period

    # --- output -------------------------------------------------------------------------------

    def emit(self, text: str) -> None:
        with self.out_lock:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except (OSError, ValueError):
                # Our output is gone (`| head` ended, the terminal closed): nobody is watching,
                # so stop everything cleanly rather than die half-way and leave orphans.
                self.stop_requested = max(self.stop_requested, 1)

    def say(self, text: str) -> None:
        self.emit(f"{'devrun':<{self.width}} | {text}\n")

    def prefix(self, proc: Proc) -> str:
        label = f"{proc.name:<{self.width}} | "
        return f"\033[{proc.colour}m{label}\033[0m" if self.colour else label

    def pump(self, proc: Proc, stream) -> None:
        """Copies one child's output line by line, each line prefixed with the child's name."""
        prefix = self.prefix(proc)
        for raw in iter(stream.readline, b""):
            self.emit(prefix + raw.decode("utf-8", "replace").rstrip("\r\n") + "\n")
        stream.close()

    def show_table(self) -> None:
        rows = [("name", "pid", "state", "port")]
        for p in self.procs:
            pid = str(p.popen.pid) if p.popen else "-"
            rows.append((p.name, pid, p.state, str(p.port or "-")))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                 for r in rows]
        rule = "-" * max(len(line) for line in lines)
        self.emit("\n".join(["", rule, *lines, rule, ""]) + "\n")

    # --- processes ----------------------------------------------------------------------------

    def spawn(self, proc: Proc) -> None:
        env = {**process_env(proc.name, os.environ), "PYTHONUNBUFFERED": "1", **proc.env}
        try:
            # A session of its own makes the child a process group leader: signalling the group
            # reaches its own children too (gunicorn's workers), and the terminal's Ctrl-C
            # reaches only us, so that we decide the order of the shutdown.
            proc.popen = subprocess.Popen(  # noqa: S603 (commands come from the table above)
                shlex.split(proc.command), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self.say(f"cannot start {proc.name}: {exc}")
            proc.popen = None
            self.schedule_restart(proc, 127, uptime=0.0)
            return
        proc.state = "running"
        proc.started_at = time.monotonic()
        threading.Thread(target=self.pump, args=(proc, proc.popen.stdout), daemon=True).start()

    def schedule_restart(self, proc: Proc, code: int, uptime: float) -> None:
        if uptime >= STABLE_AFTER:
            proc.failures = 0
        delay = min(BACKOFF_MAX, 2 ** proc.failures)
        proc.failures += 1
        proc.restart_at = time.monotonic() + delay
        proc.state = f"{exit_text(code)}, restarting in {delay}s"

    @staticmethod
    def leader_exited(proc: Proc) -> bool:
        """True when the child has exited. It is left a zombie (not reaped) on purpose: while it
        exists its pid cannot be reused, so signalling its process group is always safe."""
        try:
            return os.waitid(os.P_PID, proc.popen.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    @staticmethod
    def signal_group(proc: Proc, sig: int) -> bool:
        """Signals the child's process group; False when nothing of it is left."""
        try:
            os.killpg(proc.popen.pid, sig)
            return True
        except ProcessLookupError:
            return False

    def reap(self, proc: Proc) -> int:
        """Kills what is left of an exited child's group (its orphans), then collects its code."""
        self.signal_group(proc, signal.SIGKILL)
        code = proc.popen.wait()
        proc.popen = None
        return code

    def check_ports(self) -> None:
        busy = []
        ports = [(p.port, p.name) for p in self.procs if p.port is not None]
        for port, name in ports + OTHER_PORTS:
            with socket.socket() as sock:
                # SO_REUSEADDR ignores sockets in TIME_WAIT from a previous run, not listeners.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("0.0.0.0", port))  # noqa: S104 (a test bind, closed at once)
                except OSError:
                    busy.append(f"{port} ({name})")
        if busy:
            sys.exit(f"devrun: port(s) already in use: {', '.join(busy)}. Is the system already "
                     "running? Stop it, or set PORT=..., GATEWAY_PORT=... or "
                     "FRONTDOOR_STATUS_PORT=... to other ports.")

    def gateway_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=0.5):
                return True
        except OSError:
            return False

    def banner(self) -> None:
        outbox = os.environ.get("MAIL_OUTBOX_DIR", "var/mail-outbox")
        mail = (f"mail goes to SMTP ({os.environ['SMTP_URL'].split('@')[-1]})"
                if os.environ.get("SMTP_URL") else
                f"mails: http://127.0.0.1:{PORT}/dev/mail (.eml files in {outbox})")
        self.emit(f"\n  Newsreel is up:  http://127.0.0.1:{PORT}\n  {mail}\n"
                  "  Ctrl-C stops everything.\n\n")

    # --- main loop ----------------------------------------------------------------------------

    def request_stop(self, signum, _frame) -> None:
        self.stop_requested += 1

    def run(self) -> int:
        self.check_ports()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.request_stop)
        try:
            self.supervise()
        finally:
            # Whatever happens here (even a bug in this file), the children are not left behind.
            self.shutdown()
        return 0

    def supervise(self) -> None:
        for p in self.procs:
            self.spawn(p)
        self.show_table()
        banner_shown = False
        while not self.stop_requested:
            changed = False
            now = time.monotonic()
            for p in self.procs:
                if p.popen is not None and self.leader_exited(p):
                    self.schedule_restart(p, self.reap(p), uptime=now - p.started_at)
                    changed = True
                elif p.popen is None and now >= p.restart_at:
                    self.spawn(p)
                    changed = True
            if changed:
                self.show_table()
            if not banner_shown and self.gateway_answers():
                self.banner()
                banner_shown = True
            time.sleep(0.2)

    def shutdown(self) -> None:
        self.say(f"stopping: SIGTERM to every process, SIGKILL after {STOP_GRACE}s "
                 "(Ctrl-C again to kill at once)")
        live = [p for p in self.procs if p.popen is not None]
        for p in live:
            self.signal_group(p, signal.SIGTERM)
            p.state = "stopping"
        for p in self.procs:
            if p.popen is None:
                p.state = "stopped"
        self.show_table()
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and self.stop_requested < 2:
            if all(self.leader_exited(p) for p in live):
                break
            time.sleep(0.1)
        for p in live:
            if not self.leader_exited(p):
                self.say(f"{p.name} is still running: SIGKILL")
            # reap() also kills what is left of the group: a worker that outlived its master.
            p.state = exit_text(self.reap(p))
        if live:
            self.show_table()
        self.say("all stopped")


def main(table=PROCESSES) -> int:
    return Supervisor(table).run()


if __name__ == "__main__":
    sys.exit(main())
