"""A dependency away for longer than the whole retry ladder loses and sticks nothing: the work
waits for it, then is done once.

The system's databases live on a PostgreSQL server of this test's own (tests/support/pgserver),
really stopped (`pg_ctl stop -m fast`: sessions ended, connections refused) and started again;
the machine's shared PostgreSQL is not touched."""

import collections
import json
from pathlib import Path

import pika
import pytest

from services.transcoder.media.sample import make_master
from tests.journeys import register
from tests.support.pgserver import PostgresServer
from tests.support.system import NewsreelSystem

pytestmark = pytest.mark.integration

CODE_QUEUE = "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued"
JOB_QUEUE = "evt-transcoder-job.queued.v1--transcoder.run_job"
LADDER = (200, 400, 800)      # the retry ladder, shortened: 1.4 s in all


def parked(system) -> dict[str, int]:
    """Every dead-letter queue of the system's vhost and its exact depth (AMQP, not the
    management API's figures, which lag)."""
    names = [name for name in system.vhost.queues() if name.endswith(".dlq")]
    connection = pika.BlockingConnection(pika.URLParameters(system.vhost.amqp_uri))
    try:
        channel = connection.channel()
        return {name: channel.queue_declare(name, passive=True).method.message_count
                for name in names}
    finally:
        connection.close()


@pytest.fixture
def postgres():
    with PostgresServer() as server:
        yield server


@pytest.fixture
def system(tmp_path, smtp, postgres):
    system = NewsreelSystem(backend="postgres", postgres=postgres, tmp_path=tmp_path,
                            smtp=smtp, transcoder=True, env={
                                "RETRY_DELAYS_MS": ",".join(map(str, LADDER)),
                                "AUTH_RATE_LIMITS": "register_ip=1000/3600"})
    try:
        system.start()
        yield system
    finally:
        system.close()


def test_postgresql_stopped_longer_than_the_retry_ladder_then_started_loses_nothing(
        system, postgres, tmp_path):
    system.stop("mailer")
    system.stop("transcoder-worker")
    addresses = [f"outage{n}@example.org" for n in range(5)]
    for address in addresses:
        register(system, address)
    # a video, whose preview job (poster, storyboard, proxy, HLS) waits for a worker
    make_master(Path(system.env["MEDIA_ROOT"]) / "ingest" / "outage.mov", 2, size=(160, 90),
                rate=25)
    (tmp_path / "item.json").write_text(json.dumps({"translations": {"en": {
        "title": "Outage", "summary": "A database outage.", "body": "It came back."}}}))
    item = system.run_python("-m", "services.catalog.cli", "create-news", "--from-json",
                             str(tmp_path / "item.json"))
    assert item.returncode == 0, item.stderr
    video = system.run_python("-m", "services.catalog.cli", "ingest",
                              str(Path(system.env["MEDIA_ROOT"]) / "ingest" / "outage.mov"),
                              "--news", json.loads(item.stdout)["id"])
    assert video.returncode == 0, video.stderr
    system.vhost.wait_for_queue(CODE_QUEUE, lambda q: q.messages == 5, timeout=60)
    system.vhost.wait_for_queue(JOB_QUEUE, lambda q: q.messages == 1, timeout=60)

    postgres.stop()
    system.start("mailer")                   # they start without their database
    system.start("transcoder-worker")

    def waited_past_the_ladder():
        if any(parked(system).values()):
            return True                      # what the old code did: the assertion says so
        mailer = system.metric("mailer", "newsreel_messages_retried_total",
                               failure="transient")
        worker = system.metric("transcoder-worker", "newsreel_messages_retried_total",
                               failure="transient")
        # every message has gone round more times than the ladder has steps
        return mailer >= 5 * (len(LADDER) + 2) and worker >= len(LADDER) + 2
    system.wait_until(waited_past_the_ladder, timeout=120,
                      message="the handlers never met the outage")
    assert not any(parked(system).values()), parked(system)

    postgres.start()
    mails = system.smtp.wait_for(lambda m: any(a in m.envelope_to for a in addresses),
                                 count=5, timeout=120)
    system.wait_until(lambda: system.metric("transcoder-worker", "newsreel_jobs_total",
                                            kind="preview", outcome="ready") == 1,
                      timeout=120, message="the preview job was never done")
    system.vhost.wait_for_queue(CODE_QUEUE, lambda q: q.messages == 0, timeout=60)
    system.vhost.wait_for_queue(JOB_QUEUE, lambda q: q.messages == 0, timeout=60)
    system.wait_until(lambda: system.metric("mailer", "newsreel_outbox_backlog") == 0)

    per_address = collections.Counter(r for m in system.smtp.messages for r in m.envelope_to
                                      if r in addresses)
    assert per_address == collections.Counter(addresses)     # every mail once
    assert len(mails) == 5
    assert system.metric("transcoder-worker", "newsreel_jobs_total", outcome="failed") == 0
    assert system.metric("mailer", "newsreel_mails_total", outcome="failed") == 0
    assert not any(parked(system).values()), parked(system)
