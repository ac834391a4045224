"""Gateway login throughput beside a bare Flask endpoint on the same server (gunicorn gthread,
1 worker x 8 threads, same machine), and beside an authenticated read (`GET /api/v1/me`, one RPC).

    .venv/bin/python -m bench.login_throughput [--seconds 10] [--clients 8] [--backend sqlite]

A login is mostly argon2id (64 MiB, t=3): the ratio shows what a deliberately slow hash costs;
`/me` shows the gateway's own overhead (validation, one RPC round trip, JSON)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.load import closed_loop, summary
from tests.journeys import PASSWORD, latest_code, register, verify
from tests.support.processes import ServiceProcess, free_port, http_ok
from tests.support.smtp import SmtpCapture
from tests.support.system import REPO_ROOT, NewsreelSystem

GUNICORN = [str(Path(sys.executable).with_name("gunicorn")), "--worker-class", "gthread",
            "--workers", "1", "--threads", "8"]
# One client logging in over and over: auth's per-client and per-(address, client) login
# limits (services/auth/limits.py's names) would soon answer 429 instead of hashing.
UNLIMITED = ("login_ip=100000000/60,login_email_ip=100000000/60,register_ip=100000/60,"
             "register_email_ip=100000/60")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, SmtpCapture() as smtp, \
            NewsreelSystem(backend=args.backend, tmp_path=tmp, smtp=smtp,
                           env={"AUTH_RATE_LIMITS": UNLIMITED}) as system:
        port = free_port()
        bare = ServiceProcess("bare-flask", [*GUNICORN, "--bind", f"127.0.0.1:{port}",
                                             "bench.bare_app:app"],
                              env=None, cwd=REPO_ROOT, log_dir=Path(tmp) / "logs")
        bare.start()
        bare.wait_ready(http_ok(f"http://127.0.0.1:{port}/ping"), 30)
        system.start()
        register(system, "bench@example.org")
        token = verify(system, "bench@example.org",
                       latest_code(system, "bench@example.org")).json()["token"]

        runs = {
            "bare Flask GET /ping": closed_loop(
                f"http://127.0.0.1:{port}/ping", clients=args.clients, seconds=args.seconds),
            "gateway GET /api/v1/me": closed_loop(
                f"{system.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                clients=args.clients, seconds=args.seconds),
            "gateway POST /api/v1/sessions": closed_loop(
                f"{system.url}/api/v1/sessions", method="POST",
                json={"email": "bench@example.org", "password": PASSWORD},
                clients=args.clients, seconds=args.seconds),
        }
        bare.stop()

    baseline = runs["bare Flask GET /ping"][0]
    print(f"\n{args.clients} clients, {args.seconds:.0f} s each, database {args.backend}")
    for name, (rate, latencies) in runs.items():
        print(f"{name:32} {rate:8.1f} req/s  {summary(latencies)}  "
              f"ratio to bare Flask {rate / baseline:.3f}")


if __name__ == "__main__":
    main()
