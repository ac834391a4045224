"""How long a refused code takes for an address with an account and for one without (issue
10, point 3): 200 tries each, interleaved, through the front door of the real system. The two
distributions must overlap: the time must not tell which addresses have accounts.

    .venv/bin/python -m bench.code_refusal_timing [--tries 200] [--backend sqlite]

Printed: percentiles of each, the difference of the medians, and the share of one's tries
that fall inside the other's 10th-90th percentile band. The baseline is the unknown address
itself (what an attacker compares against)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from services.auth.limits import DEFAULT_LIMITS
from tests.journeys import PASSWORD, register
from tests.support.smtp import SmtpCapture
from tests.support.system import NewsreelSystem

UNLIMITED = ",".join(f"{name}=100000000/60" for name in DEFAULT_LIMITS)
WRONG = "000000"


def timed(system, path: str, body: dict) -> float:
    started = time.perf_counter()
    answer = system.api("POST", path, json=body)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_code", \
        answer.text
    return elapsed * 1000


def percentiles(values: list[float]) -> dict[int, float]:
    cuts = statistics.quantiles(values, n=100)
    return {p: cuts[p - 1] for p in (10, 50, 90, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, SmtpCapture() as smtp, \
            NewsreelSystem(backend=args.backend, tmp_path=tmp, smtp=smtp,
                           env={"AUTH_RATE_LIMITS": UNLIMITED}) as system:
        system.start()
        # one address per try on both sides: a guard locks after 5 wrong codes, and a locked
        # address answers without checking (alike for both kinds, but not what is measured)
        for n in range(args.tries):
            register(system, f"known{n}@example.org")
        checks = {
            "verify": ("/api/v1/accounts/verify", {"password": PASSWORD}),
            "reset": ("/api/v1/password-resets/verify", {}),
        }
        for name, (path, extra) in checks.items():
            known, unknown = [], []
            for n in range(args.tries):
                known.append(timed(system, path, {"email": f"known{n}@example.org",
                                                  "code": WRONG, **extra}))
                unknown.append(timed(system, path, {"email": f"nobody{n}@example.org",
                                                    "code": WRONG, **extra}))
            report(name, known, unknown)


def report(name: str, known: list[float], unknown: list[float]) -> None:
    k, u = percentiles(known), percentiles(unknown)
    inside = sum(u[10] <= value <= u[90] for value in known) / len(known)
    print(f"{name}: {len(known)} tries each, ms   p10    p50    p90    p99")
    print(f"  address with an account    {k[10]:6.1f} {k[50]:6.1f} {k[90]:6.1f} {k[99]:6.1f}")
    print(f"  address without (baseline) {u[10]:6.1f} {u[50]:6.1f} {u[90]:6.1f} {u[99]:6.1f}")
    print(f"  medians differ by {k[50] - u[50]:+.1f} ms (ratio {k[50] / u[50]:.3f}); "
          f"{inside:.0%} of the known address's tries fall in the other's p10-p90 band")


if __name__ == "__main__":
    main()
