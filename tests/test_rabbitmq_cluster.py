"""The system on a three-node RabbitMQ cluster, as production runs it (issue 10, point 17):
quorum queues (the vhost's default type, as deploy/k8s sets it), every process given all three
addresses, and the node that leads the queues stopped in the middle of 50 registrations and a
transcoder job. Every code issued is mailed exactly once, the job is done, no process dies, and
work begun after the stop flows through the two nodes left.

The cluster (tests/support/rabbit_cluster.py) is Debian's RabbitMQ started three times beside
the machine's broker, which is not touched. ~60 s in all, most of it the cluster's start."""

from __future__ import annotations

import collections
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.shared.sealed import Sealer
from services.transcoder.media.sample import make_master
from tests.journeys import register
from tests.support.rabbit_cluster import RabbitCluster
from tests.support.smtp import find_code
from tests.support.system import NewsreelSystem

pytestmark = [pytest.mark.integration, pytest.mark.slow_media]

REGISTRATIONS = 50
AFTER_STOP = 5              # registrations begun once the node is gone
HANDLER_QUEUE = "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued"
JOB_QUEUE = "evt-transcoder-job.queued.v1--transcoder.run_job"


@pytest.fixture(scope="module")
def cluster():
    with RabbitCluster() as cluster:
        yield cluster


@pytest.fixture
def system(cluster, tmp_path, smtp):
    system = NewsreelSystem(backend="postgres", tmp_path=tmp_path, smtp=smtp, broker=cluster,
                            transcoder=True, env={
                                "AUTH_RATE_LIMITS": "register_ip=1000/3600",
                                "RETRY_DELAYS_MS": "200,400,800"})
    try:
        system.start()
        yield system
    finally:
        system.close()


def register_as_a_client_would(system, email: str, tries: list) -> None:
    """A registration, tried again while the gateway answers 503 (a node gone under it): a
    client cannot know whether the first try reached auth, so a second code may go out; each
    code must still be mailed exactly once."""
    while True:
        try:
            register(system, email)
            return
        except AssertionError as refused:
            tries.append((email, str(refused)[:200]))
            if "503" not in str(refused) and "service_unavailable" not in str(refused):
                raise
            if len(tries) > REGISTRATIONS:
                raise
            time.sleep(0.5)


def issued_codes(system, tap) -> collections.Counter:
    """(address, code) of every verification code auth issued (each event once, by its id,
    however many times the relay published it)."""
    sealer = Sealer(system.env["CODE_ENCRYPTION_KEY"])
    events = {m.json()["id"]: m.json() for m in tap.of_type("verification_code.issued.v1")}
    return collections.Counter(
        (opened["email"], opened["code"])
        for opened in (sealer.open(e["data"]["sealed"]) for e in events.values()))


def mailed_codes(system, addresses: set[str]) -> collections.Counter:
    return collections.Counter((rcpt, find_code(m)) for m in system.smtp.messages
                               for rcpt in m.envelope_to if rcpt in addresses)


def test_the_node_leading_the_queues_stopped_mid_work_loses_and_duplicates_nothing(
        cluster, system, tmp_path):
    assert cluster.running_nodes() == {n.name for n in cluster.nodes}
    assert system.env["AMQP_URI"].count(";") == 2           # every client has the three
    tap = system.tap(["auth.events"])

    # the handlers' queues are quorum queues, replicated on the three nodes
    queues = system.vhost.queues()
    handler_queues = {n: q for n, q in queues.items() if n.startswith("evt-")}
    assert HANDLER_QUEUE in handler_queues and JOB_QUEUE in handler_queues, sorted(queues)
    for name, queue in handler_queues.items():
        assert queue["type"] == "quorum", (name, queue["type"])
        assert len(queue["members"]) == 3, (name, queue["members"])
    leaders = system.vhost.leaders()
    victim = cluster.node(max(leaders, key=lambda node: len(leaders[node])))
    assert victim is not system.vhost.harness_node, (
        "the queues' leader is the node the harness's taps use; they would break with it")

    # 50 registrations, three at a time, and a video whose preview job waits for the worker
    addresses = [f"cluster{n}@example.org" for n in range(REGISTRATIONS)]
    retried: list = []
    answered = []
    lock = threading.Lock()

    def one(address):
        register_as_a_client_would(system, address, retried)
        with lock:
            answered.append(address)

    pool = ThreadPoolExecutor(3)
    futures = [pool.submit(one, a) for a in addresses]
    master = Path(system.env["MEDIA_ROOT"]) / "ingest" / "cluster.mov"
    make_master(master, 2, size=(160, 90), rate=25)
    (tmp_path / "item.json").write_text(json.dumps({"translations": {"en": {
        "title": "Cluster", "summary": "A broker node stops.", "body": "Work goes on."}}}))
    item = system.run_python("-m", "services.catalog.cli", "create-news", "--from-json",
                             str(tmp_path / "item.json"))
    assert item.returncode == 0, item.stderr
    video = system.run_python("-m", "services.catalog.cli", "ingest", str(master),
                              "--news", json.loads(item.stdout)["id"])
    assert video.returncode == 0, video.stderr

    # in the middle: some registrations answered, others not yet begun
    system.wait_until(lambda: len(answered) >= REGISTRATIONS // 3, timeout=120,
                      message="registrations did not flow before the stop")
    assert len(answered) < REGISTRATIONS
    cluster.stop_node(victim)
    stopped_at = len(answered)

    for future in futures:
        future.result(timeout=300)
    pool.shutdown()
    # work begun after the stop
    later = [f"after{n}@example.org" for n in range(AFTER_STOP)]
    for address in later:
        register_as_a_client_would(system, address, retried)

    everyone = set(addresses) | set(later)
    system.wait_until(lambda: {a for a, _ in mailed_codes(system, everyone)} == everyone,
                      timeout=120, message="not every registration got its code mail")
    system.wait_until(lambda: system.metric("transcoder-worker", "newsreel_jobs_total",
                                            kind="preview", outcome="ready") >= 1,
                      timeout=180, message="the preview job was never done")
    for service in ("auth", "mailer", "catalog", "transcoder", "transcoder-worker"):
        # every relay got its events out through a surviving node
        system.wait_until(lambda s=service: system.metric(s, "newsreel_outbox_backlog") == 0,
                          timeout=60, message=f"{service}'s outbox never emptied")

    issued = issued_codes(system, tap)
    mailed = mailed_codes(system, everyone)
    assert mailed == issued, {"mailed, not issued": mailed - issued,
                              "issued, not mailed": issued - mailed}
    assert max(mailed.values()) == 1                       # no code mailed twice
    assert system.metric("transcoder-worker", "newsreel_jobs_total", kind="preview",
                         outcome="ready") == 1
    assert system.metric("mailer", "newsreel_mails_total", outcome="failed") == 0
    # every process still runs (close() fails the test on any that exited by itself), and
    # every one is connected to the nodes left
    assert all(p.running for p in system.processes.values()), system
    survivors = {n.name for n in cluster.nodes if n is not victim}
    assert cluster.running_nodes() == survivors

    def consumed_on_survivors():
        """Every handler queue and every RPC queue has its consumer again, the RPC queues
        declared anew on a surviving node."""
        now = system.vhost.queues()
        rpc = [q for n, q in now.items() if n.startswith("rpc-")]
        return (all(now[n].get("consumers", 0) >= 1 for n in handler_queues)
                and {q["name"] for q in rpc} == {"rpc-auth", "rpc-catalog", "rpc-transcoder"}
                and all(q.get("consumers", 0) >= 1 and q["node"] in survivors for q in rpc))
    system.wait_until(consumed_on_survivors, timeout=30,
                      message=f"consumers missing: {system.vhost.queues()}")
    assert all(c["node"] in survivors for c in system.vhost.connections())
    print(f"stopped {victim.name} after {stopped_at} registrations answered; "
          f"leaders before: { {k: len(v) for k, v in leaders.items()} }; "
          f"retried: {len(retried)}: {retried[:5]}; cluster start {cluster.timings}")
