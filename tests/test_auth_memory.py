"""Issue 10, point 7: argon2id takes 64 MiB for each hash in flight. Fifty logins at once
(as several gateways would send them) keep the auth process inside the pod's memory limit
and crash nothing: hashes beyond AUTH_HASHES_IN_FLIGHT wait their turn."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from services.auth.limits import DEFAULT_LIMITS
from tests.journeys import PASSWORD, login, signed_in

pytestmark = pytest.mark.integration

PARALLEL = 50
UNLIMITED = ",".join(f"{name}=100000/60" for name in DEFAULT_LIMITS)


AUTH_MANIFEST = Path(__file__).parents[1] / "deploy" / "k8s" / "base" / "auth.yaml"
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def auth_memory_limit_bytes() -> int:
    """The memory limit of the auth container, as the Kubernetes manifest sets it."""
    for doc in yaml.safe_load_all(AUTH_MANIFEST.read_text()):
        if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"] == "auth":
            [container] = [c for c in doc["spec"]["template"]["spec"]["containers"]
                           if c["name"] == "auth"]
            value = str(container["resources"]["limits"]["memory"])
            return int(value[:-2]) * UNITS[value[-2:]]
    raise AssertionError(f"no auth Deployment in {AUTH_MANIFEST}")


def peak_rss_bytes(pid: int) -> int:
    """The most memory the process has held at once (VmHWM), whatever it holds now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


def test_fifty_parallel_logins_stay_inside_the_auth_pods_memory_limit(system_factory):
    limit = auth_memory_limit_bytes()
    # the gateway lets 50 requests through at once, as several replicas of it would
    system = system_factory(env={"AUTH_RATE_LIMITS": UNLIMITED},
                            overrides={"gateway": {"RPC_POOL_SIZE": str(PARALLEL)}})
    email = "crowd@example.org"
    signed_in(system, email)
    auth_pid = system.processes["auth"].pid

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(lambda _: login(system, email, PASSWORD), range(PARALLEL)))

    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= PARALLEL // 2, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] and \
                answer.json()["error"]["code"] == "service_unavailable"
    assert system.processes["auth"].running and system.processes["auth"].pid == auth_pid
    peak = peak_rss_bytes(auth_pid)
    assert peak < limit, f"auth peaked at {peak / 2**20:.0f} MiB, limit {limit / 2**20:.0f} MiB"
