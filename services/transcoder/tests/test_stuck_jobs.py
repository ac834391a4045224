"""No job stays `queued` or `running` for ever: a job whose queue message is gone (parked,
purged, lost with a broker volume) or whose run's lease lapsed is queued again, by the sweeper
or by the next identical request; an outage never turns into a failed job."""

from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from services.transcoder.models import Job
from services.transcoder.service import Outcome

from .conftest import NOW, events
from .test_service import CountingToolkit

REQUEUE = timedelta(seconds=900)   # TranscoderSettings' default job_requeue_seconds


def messages(session_factory, job_id):
    return [e for e in events(session_factory, "job.queued.v1") if e["data"]["job_id"] == job_id]


def test_a_queued_job_whose_message_is_gone_is_queued_again_by_the_sweeper(
        make_transcoder, session_factory, video_id, clock):
    transcoder = make_transcoder(CountingToolkit())
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    assert len(messages(session_factory, asked["id"])) == 1
    clock.advance(seconds=REQUEUE.total_seconds() - 1)   # in the queue: a worker may come
    assert transcoder.requeue_stuck() == 0
    clock.advance(seconds=2)                          # no worker took it: its message is gone
    assert transcoder.requeue_stuck() == 2            # it, and the video's preview job
    assert len(messages(session_factory, asked["id"])) == 2
    assert transcoder.requeue_stuck() == 0            # once per interval, not on every sweep
    assert transcoder.run_job(asked["id"]) == Outcome.READY
    # the first message, if it was only late after all, finds the job done
    assert transcoder.run_job(asked["id"]) == Outcome.SKIPPED


def test_a_running_job_whose_lease_lapsed_is_queued_again(make_transcoder, session_factory,
                                                          video_id, clock):
    transcoder = make_transcoder(CountingToolkit())
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    with session_factory() as session, session.begin():
        job = session.get(Job, asked["id"])   # a run took it, then its worker stalled for good
        job.status, job.lease_owner, job.lease_until = "running", "hung-run", NOW
    clock.advance(seconds=1)
    assert transcoder.requeue_stuck() == 1
    with session_factory() as session:
        job = session.get(Job, asked["id"])
        assert (job.status, job.lease_owner) == ("queued", None)
    assert len(messages(session_factory, asked["id"])) == 2


def test_an_identical_request_for_a_stuck_job_unsticks_it(make_transcoder, session_factory,
                                                          video_id, clock):
    transcoder = make_transcoder(CountingToolkit())
    first = transcoder.request(video_id, "proxy", 1, 3, "fast", account_id="a")
    clock.advance(seconds=REQUEUE.total_seconds() + 1)
    again = transcoder.request(video_id, "proxy", 1, 3, "fast", account_id="b")
    assert again["id"] == first["id"] and again["status"] == "queued"
    assert len(messages(session_factory, first["id"])) == 2
    # not stuck: a second identical request shares the job and adds no message
    transcoder.request(video_id, "proxy", 1, 3, "fast", account_id="c")
    assert len(messages(session_factory, first["id"])) == 2


def test_an_outage_on_the_last_attempt_leaves_the_job_queued_not_failed(
        make_transcoder, session_factory, video_id):
    class DatabaseAway(CountingToolkit):
        def make_rendition(self, *args, **kwargs):
            # a real "connection refused" from the driver, as when PostgreSQL is stopped
            create_engine("postgresql+psycopg2://x@127.0.0.1:1/x").connect()

    transcoder = make_transcoder(DatabaseAway())
    asked = transcoder.request(video_id, "xdcam-hd422")
    with pytest.raises(OperationalError):
        transcoder.run_job(asked["id"], last_attempt=True)
    job = transcoder.job(asked["id"])
    assert job["status"] == "queued" and job["error"] is None
    assert events(session_factory, "rendition.failed.v1") == []
