"""The nameko edge forwards to Transcoder (worker_factory: no broker), and the process modes
have the entrypoints they should."""

from datetime import UTC, datetime, timedelta

import pytest
from nameko.containers import ServiceContainer
from nameko.testing.services import worker_factory

from services.shared.consumer import Later
from services.transcoder.entrypoint import (
    JOB_QUEUE_LENGTH,
    JOBS,
    TranscoderApi,
    TranscoderService,
    TranscoderWorker,
)
from services.transcoder.models import Job, outbox
from services.transcoder.service import Outcome

from .conftest import events, ingested_event


def _service(cls, session_factory, settings, is_last=False, redelivered=False):
    service = worker_factory(cls, db=session_factory(),
                             parts={"outbox": outbox, "settings": settings})
    service.delivery.is_last = is_last
    service.delivery.redelivered = redelivered
    return service


def test_ingest_then_the_queued_job_through_the_entrypoints(session_factory, settings):
    service = _service(TranscoderService, session_factory, settings)
    event = ingested_event()
    assert service.on_video_ingested(event) == Outcome.RECORDED
    [message] = events(session_factory, "job.queued.v1")
    asked = service.request_download(event["data"]["video_id"], "proxy", in_="10:00:01:00",
                                     out="10:00:02:00", accuracy="frame", account_id="a")
    assert service.get_job(asked["id"])["status"] == "queued"
    # the master file is missing: a media failure, recorded at once (no retry)
    before = JOBS.labels("preview", Outcome.FAILED)._value.get()
    assert service.run_job(message) == Outcome.FAILED
    assert JOBS.labels("preview", Outcome.FAILED)._value.get() == before + 1
    assert {e["data"]["rendition"] for e in events(session_factory, "rendition.failed.v1")} == {
        "poster", "storyboard", "proxy", "hls"}
    assert service.run_job(message) == Outcome.SKIPPED  # a redelivery


def test_a_job_held_by_another_run_sends_its_message_back_for_later(session_factory,
                                                                   settings):
    service = _service(TranscoderWorker, session_factory, settings)
    event = ingested_event()
    _service(TranscoderApi, session_factory, settings).on_video_ingested(event)
    [message] = events(session_factory, "job.queued.v1")
    with session_factory() as session, session.begin():    # a live run holds it
        job = session.get(Job, message["data"]["job_id"])
        job.status, job.lease_owner = "running", "another-run"
        job.lease_until = datetime.now(UTC) + timedelta(seconds=50)
    with pytest.raises(Later) as later:
        service.run_job(message)
    assert 45 < later.value.seconds < 51


def test_the_job_queue_length_is_counted_when_a_job_is_queued_and_by_the_timer(
        session_factory, settings):
    api = _service(TranscoderApi, session_factory, settings)
    event = ingested_event()
    api.on_video_ingested(event)                          # its preview job: queued
    api.count_queued_jobs()
    assert JOB_QUEUE_LENGTH._value.get() == 1
    api.request_download(event["data"]["video_id"], "proxy", in_=1, out=2, accuracy="fast")
    assert JOB_QUEUE_LENGTH._value.get() == 2


def test_downloads_are_recorded_and_listed_through_the_entrypoints(session_factory,
                                                                     settings):
    service = _service(TranscoderApi, session_factory, settings)
    row = service.record_download(None, "acc", "a@example.org", "Org", "vid", "original")
    assert row["job_id"] is None and row["rendition"] == "original"
    listed = service.list_downloads(video_id="vid")
    assert [item["id"] for item in listed["items"]] == [row["id"]] and listed["total"] == 1


def test_the_process_modes():
    def names(cls):
        container = ServiceContainer(cls, {"AMQP_URI": "memory://"})
        return sorted(e.method_name for e in container.entrypoints)

    assert names(TranscoderWorker) == ["run_job"]
    assert names(TranscoderApi) == ["count_queued_jobs", "evict_cuts", "get_job",
                                    "list_downloads", "on_video_ingested", "ping",
                                    "record_download", "request_download",
                                    "requeue_stuck_jobs"]
    assert names(TranscoderService) == sorted(names(TranscoderWorker) + names(TranscoderApi))
    assert TranscoderWorker.name == TranscoderApi.name == TranscoderService.name == "transcoder"
