"""Small measuring tools shared by the benchmarks: percentiles, a closed-loop HTTP load."""

from __future__ import annotations

import statistics
import threading
import time

import requests


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
    return f"n={len(values)} p50={p50:.1f} ms p99={p99:.1f} ms " \
        f"mean={statistics.fmean(values) * 1000:.1f} ms"


def closed_loop(url: str, *, method: str = "GET", json=None, headers=None, clients: int = 8,
                seconds: float = 10.0, expect: int = 200) -> tuple[float, list[float]]:
    """`clients` threads each send the next request when the last one answered, for `seconds`.
    Returns (requests per second, latencies)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client():
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = session.request(method, url, json=json, headers=headers, timeout=30)
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == expect:
                        latencies.append(elapsed)
                    else:
                        errors.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} unexpected answers, first: {errors[0]}")
    return len(latencies) / (time.perf_counter() - started), latencies
