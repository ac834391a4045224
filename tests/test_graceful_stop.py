"""SIGTERM, as Kubernetes sends it before it stops a pod: a service stops taking work,
finishes what it holds, and exits; what it had not taken waits in its queue for the next
process. Nothing is lost, nothing is done twice (real RabbitMQ, SMTP, ffmpeg; SQLite)."""

from __future__ import annotations

import threading
import time

import pytest

from services.transcoder.media.sample import make_master
from tests.journeys import PASSWORD, bearer, editor, ingest, publish, register, signed_in
from tests.support.smtp import find_code, sent_to
from tests.support.system import running_system

pytestmark = pytest.mark.integration

JOB_QUEUE = "evt-transcoder-job.queued.v1--transcoder.run_job"
CODE_QUEUE = "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued"
STORY = {"translations": {"en": {"title": "A long briefing", "summary": "It was long.",
                                 "body": "It was long."}}}


def stop_in_background(system, name: str, timeout: float = 120.0) -> dict:
    """SIGTERM `name` and wait for its exit in a thread; the dict gets its exit code."""
    result: dict = {}

    def stop():
        result["code"] = system.stop(name, timeout=timeout)

    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    result["thread"] = thread
    return result


@pytest.mark.slow_media
def test_a_worker_stopped_during_a_job_finishes_it_and_leaves_the_next_one_queued(tmp_path):
    master = tmp_path / "long.mov"
    make_master(master, 12, size=(320, 180), rate=25, tone_dbfs=-23.0)
    with running_system(tmp_path / "system", transcoder=True) as system:
        tap = system.tap()
        edith = editor(system)
        item, video = ingest(system, edith, tap, STORY, master, "long.mov")
        publish(system, edith, item)
        reader = signed_in(system, "reader@example.org", "en")

        def ask(rendition: str) -> str:
            answer = system.api("POST", f"/api/v1/videos/{video['id']}/downloads",
                                json={"rendition": rendition}, headers=bearer(reader))
            assert answer.status_code == 202, answer.text
            return answer.json()["status_url"]

        def state(status_url: str) -> dict:
            return system.api("GET", status_url, headers=bearer(reader)).json()

        first = ask("xdcam-hd422")
        system.wait_until(lambda: state(first)["status"] == "running"
                          and state(first)["progress"] >= 10, timeout=120, interval=0.1)
        second = ask("h264-1080p")                    # waits behind the first
        stopping = stop_in_background(system, "transcoder-worker")

        stopping["thread"].join(150)
        assert stopping.get("code") == 0, "the worker did not stop by itself in time"
        # it finished the job it held…
        assert state(first)["status"] == "ready"
        # …and did not take the next one, which waits in the queue for another worker. (The
        # finished job's message may wait there too: its ack can be lost with the closing
        # connection, and it comes back; the next worker finds the job done and skips it.)
        assert state(second)["status"] == "queued"
        system.vhost.wait_for_queue(JOB_QUEUE, lambda q: q.messages_ready >= 1
                                    and q.messages_unacknowledged == 0, timeout=30)

        system.start("transcoder-worker")
        system.wait_until(lambda: state(second)["status"] == "ready", timeout=180,
                          interval=0.25, message="the queued job was not done after restart")
        assert system.metric("transcoder-worker", "newsreel_jobs_total", kind="rendition",
                             outcome="ready") == 1         # the second job, and only it
        # each made once: one event each (the relay publishes at least once: a copy of an
        # event, with the same id, may come again when a relay stops mid-batch)
        done = {e.json()["id"]: e.json()["data"]["rendition"] for e in tap.messages
                if e.routing_key == "rendition.ready.v1"
                and e.json()["data"]["video_id"] == video["id"]}
        made = list(done.values())
        assert made.count("xdcam-hd422") == 1 and made.count("h264-1080p") == 1


def test_a_mailer_stopped_during_a_mail_sends_it_once_and_leaves_the_next_one(tmp_path):
    with running_system(tmp_path / "system") as system:
        smtp = system.smtp
        smtp.hold()                                       # a slow SMTP server
        register(system, "first@example.org")
        assert smtp.waiting.wait(30), "the mailer never reached the SMTP server"
        stopping = stop_in_background(system, "mailer")
        time.sleep(1.0)
        assert system.processes["mailer"].running         # finishing the mail in hand
        register(system, "second@example.org")            # arrives while it stops
        smtp.hold(False)

        stopping["thread"].join(60)
        assert stopping.get("code") == 0
        [first] = smtp.wait_for(sent_to("first@example.org"), timeout=10)
        assert len([m for m in smtp.messages if sent_to("first@example.org")(m)]) == 1
        system.vhost.wait_for_queue(CODE_QUEUE, lambda q: q.messages_ready >= 1, timeout=30)

        system.start("mailer")
        [second] = smtp.wait_for(sent_to("second@example.org"), timeout=30)
        smtp.assert_nothing_sent(lambda m: m is not first and sent_to("first@example.org")(m),
                                 within=3)
        # and the codes work
        for address, mail in (("first@example.org", first), ("second@example.org", second)):
            verified = system.api("POST", "/api/v1/accounts/verify",
                                  json={"email": address, "code": find_code(mail),
                                        "password": PASSWORD})
            assert verified.status_code == 200, verified.text
        assert system.api("POST", "/api/v1/sessions", json={
            "email": "second@example.org", "password": PASSWORD}).status_code == 200
