"""Requests, the job queue in the outbox, the cache and eviction (no ffmpeg: the toolkit is a
fake that counts its calls)."""

import dataclasses
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from services.shared.errors import ServiceError
from services.transcoder.media.run import TranscodeError
from services.transcoder.models import Job, outbox
from services.transcoder.service import JobHeld, Outcome, Toolkit, Transcoder, cache_key

from .conftest import CONSUMER, NOW, events, ingested_event


@dataclass
class FakeCut:
    path: str
    in_tc: str
    out_tc: str
    method: str
    duration_s: float


def queued(session_factory) -> list[dict]:
    """The queue messages for download jobs (the video's preview job left out)."""
    return [e for e in events(session_factory, "job.queued.v1")
            if e["data"]["kind"] != "preview"]


class CountingToolkit:
    """A toolkit whose cut writes a few bytes and says it widened the cut to whole seconds."""

    def __init__(self):
        self.calls = []

    def cut(self, source, range_, dest, *, accuracy, rendition_name, on_progress):
        self.calls.append(("cut", rendition_name, accuracy, range_.first_frame))
        on_progress(50.0)
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(b"x" * 100)
        return FakeCut(str(dest), range_.in_tc[:-2] + "00", range_.out_tc, "copy",
                       range_.duration_s)

    def make_rendition(self, name, master, dest, **kwargs):
        self.calls.append(("rendition", name))
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(b"r" * 1000)

    def __getattr__(self, name):
        raise AssertionError(f"toolkit.{name} was not expected")


def test_a_request_creates_a_job_and_queues_it_in_the_same_transaction(
        transcoder, session_factory, video_id):
    answer = transcoder.request(video_id, "proxy", "10:00:01:05", "10:00:03:00", "fast",
                                account_id="acc-1")
    assert answer["status"] == "queued" and answer["progress"] == 0
    assert answer["rendition"] == "proxy" and answer["accuracy"] == "fast"
    assert (answer["requested_in_tc"], answer["requested_out_tc"]) == ("10:00:01:05",
                                                                       "10:00:03:00")
    assert answer["in_tc"] is None and answer["error"] is None
    [message] = queued(session_factory)
    assert "transcoder" in message["source"]
    assert message["data"] == {"job_id": answer["id"], "kind": "cut", "video_id": video_id,
                              "rendition": "proxy"}
    with session_factory() as session:
        job = session.get(Job, answer["id"])
        assert (job.in_frame, job.out_frame) == (30, 75)
        assert job.cache_key == cache_key(video_id, "proxy", 30, 75, "fast")


def test_the_same_request_answers_the_same_job_without_a_second_message(
        transcoder, session_factory, video_id):
    first = transcoder.request(video_id, "proxy", "10:00:01:05", "10:00:03:00", "fast")
    # the same frames said in seconds are the same request
    again = transcoder.request(video_id, "proxy", "1.2", 3, "fast")
    assert again["id"] == first["id"]
    other = transcoder.request(video_id, "proxy", "10:00:01:05", "10:00:03:00", "frame")
    assert other["id"] != first["id"]
    whole = transcoder.request(video_id, "h264-1080p")
    assert whole["kind"] == "rendition" and whole["in_tc"] is None
    assert transcoder.request(video_id, "h264-1080p")["id"] == whole["id"]
    assert len(queued(session_factory)) == 3


def test_a_ready_cut_is_served_from_cache_without_running_anything(
        make_transcoder, session_factory, video_id, media_root, clock):
    toolkit = CountingToolkit()
    transcoder = make_transcoder(toolkit)
    asked = transcoder.request(video_id, "proxy", "10:00:01:05", "10:00:03:00", "fast")
    # the proxy file is missing: the job makes it first (a dependency), then cuts it
    assert transcoder.run_job(asked["id"]) == Outcome.READY
    assert [c[0] for c in toolkit.calls] == ["rendition", "cut"]
    calls = len(toolkit.calls)

    done = transcoder.job(asked["id"])
    assert done["status"] == "ready" and done["progress"] == 100
    assert (done["in_tc"], done["out_tc"]) == ("10:00:01:00", "10:00:03:00")
    assert done["path"] == f"cuts/{video_id}/{cache_key(video_id, 'proxy', 30, 75, 'fast')}.mp4"
    assert (media_root / done["path"]).is_file()

    clock.advance(minutes=5)
    cached = transcoder.request(video_id, "proxy", "10:00:01:05", "10:00:03:00", "fast")
    assert cached["id"] == asked["id"] and cached["status"] == "ready"
    assert cached["path"] == done["path"]
    # a redelivered queue message does not run it again either
    assert transcoder.run_job(asked["id"]) == Outcome.SKIPPED
    # the whole proxy made as a dependency is cached as a job of its own
    whole = transcoder.request(video_id, "proxy")
    assert whole["status"] == "ready" and whole["path"] == f"renditions/{video_id}/proxy.mp4"
    assert len(toolkit.calls) == calls
    assert len(queued(session_factory)) == 1
    with session_factory() as session:
        assert session.get(Job, asked["id"]).last_access == clock.now

    [ready] = events(session_factory, "cut.ready.v1")
    assert ready["data"] == {
        "job_id": asked["id"], "video_id": video_id, "rendition": "proxy",
        "requested_in_tc": "10:00:01:05", "requested_out_tc": "10:00:03:00",
        "in_tc": "10:00:01:00", "out_tc": "10:00:03:00", "accuracy": "fast",
        "method": "copy", "path": done["path"], "size_bytes": 100}
    [rendition] = events(session_factory, "rendition.ready.v1")
    assert rendition["data"]["rendition"] == "proxy"
    assert rendition["data"]["path"] == f"renditions/{video_id}/proxy.mp4"
    assert rendition["data"]["size_bytes"] == 1000


@pytest.mark.parametrize(("args", "code", "detail"), [
    (("proxy", "10:00:01:00", "10:00:09:00"), "out_of_range", {"field": "out"}),
    (("proxy", "10:00:03:00", "10:00:01:00"), "reversed_range", {}),
    (("proxy", "ten o'clock", "10:00:01:00"), "invalid_timecode", {"field": "in"}),
    (("proxy", "10:00:01:99", "10:00:02:00"), "invalid_timecode", {"field": "in"}),
    (("proxy", "10:00:01:00", None), "invalid_timecode", {"field": "out"}),
    (("proxy", "10:00:01:00", "10:00:01:05"), "cut_too_short", {}),
    (("webm", "10:00:01:00", "10:00:03:00"), "invalid_rendition", {}),
    (("proxy", "10:00:01:00", "10:00:03:00", "slow"), "invalid_accuracy", {}),
])
def test_bad_requests_are_refused_with_a_code(transcoder, session_factory, video_id, args,
                                              code, detail):
    with pytest.raises(ServiceError) as raised:
        transcoder.request(video_id, *args)
    assert raised.value.code == code
    assert detail.items() <= raised.value.details.items()
    assert queued(session_factory) == []


def test_an_unknown_video_or_job_is_not_found(transcoder, video_id):
    with pytest.raises(ServiceError) as raised:
        transcoder.request("no-such-video", "proxy")
    assert (raised.value.code, raised.value.details) == ("not_found", {"resource": "video"})
    with pytest.raises(ServiceError) as raised:
        transcoder.job("no-such-job")
    assert raised.value.code == "not_found"


def test_the_original_is_the_master_itself(transcoder, session_factory, video_id):
    answer = transcoder.request(video_id, "original")
    assert answer["status"] == "ready" and answer["id"] is None
    assert answer["path"] == "ingest/clip.mov"
    assert queued(session_factory) == []


def test_ingest_records_the_video_once_and_queues_its_preview_job(transcoder, session_factory):
    event = ingested_event()
    assert transcoder.record_video(event, CONSUMER) == Outcome.RECORDED
    assert transcoder.record_video(event, CONSUMER) == Outcome.DUPLICATE
    [message] = events(session_factory, "job.queued.v1")
    assert message["data"]["kind"] == "preview"
    assert message["data"]["video_id"] == event["data"]["video_id"]
    assert transcoder.job(message["data"]["job_id"])["status"] == "queued"


def test_a_failure_that_is_not_the_medias_is_retried_then_recorded(
        make_transcoder, session_factory, video_id, media_root):
    class Broken(CountingToolkit):
        def make_rendition(self, *args, **kwargs):
            raise OSError("disk full")

    transcoder = make_transcoder(Broken())
    asked = transcoder.request(video_id, "xdcam-hd422")
    with pytest.raises(OSError):
        transcoder.run_job(asked["id"], last_attempt=False)
    assert transcoder.job(asked["id"])["status"] == "queued"
    assert transcoder.run_job(asked["id"], last_attempt=True) == Outcome.FAILED
    failed = transcoder.job(asked["id"])
    assert failed["status"] == "failed" and "disk full" in failed["error"]
    with session_factory() as session:
        assert session.get(Job, asked["id"]).attempts == 2
    [event] = events(session_factory, "rendition.failed.v1")
    assert event["data"]["rendition"] == "xdcam-hd422" and "disk full" in event["data"]["error"]
    # asking again after a failure queues it again
    again = transcoder.request(video_id, "xdcam-hd422")
    assert again["id"] == asked["id"] and again["status"] == "queued"
    assert len(queued(session_factory)) == 2


def test_eviction_drops_the_least_recently_used_ready_cuts_only(
        make_transcoder, session_factory, video_id, media_root, clock):
    toolkit = CountingToolkit()
    transcoder = make_transcoder(toolkit)
    ids = []
    for second in (0, 1, 2):  # three ready cuts of 100 bytes, made one minute apart
        asked = transcoder.request(video_id, "proxy", second, second + 1.5, "fast")
        transcoder.run_job(asked["id"])
        ids.append(asked["id"])
        clock.advance(minutes=1)
    running = transcoder.request(video_id, "proxy", 0, 2, "frame")  # queued: never evicted
    clock.advance(minutes=1)
    transcoder.request(video_id, "proxy", 0, 1.5, "fast")  # the oldest is used again
    paths = {i: media_root / transcoder.job(i)["path"] for i in ids}

    assert transcoder.evict(max_bytes=300)["evicted"] == 0
    result = transcoder.evict(max_bytes=150)
    assert result == {"evicted": 2, "freed_bytes": 200, "total_bytes": 100}
    assert [transcoder.job(i)["status"] for i in ids] == ["ready", "evicted", "evicted"]
    assert [paths[i].exists() for i in ids] == [True, False, False]
    assert transcoder.job(running["id"])["status"] == "queued"
    # the whole proxy (made as a dependency) is never evicted
    assert (media_root / "renditions" / video_id / "proxy.mp4").is_file()
    assert transcoder.request(video_id, "proxy")["status"] == "ready"
    # asking for an evicted cut makes it again
    calls = len(toolkit.calls)
    again = transcoder.request(video_id, "proxy", 1, 2.5, "fast")
    assert again["id"] == ids[1] and again["status"] == "queued"
    assert transcoder.run_job(again["id"]) == Outcome.READY
    assert len(toolkit.calls) == calls + 1 and paths[ids[1]].is_file()


def test_the_real_toolkit_is_the_default():
    assert Toolkit().cut.__module__ == "services.transcoder.media.cuts"


def _running(session_factory, job_id, lease_until, owner="an-earlier-run"):
    """The job as a run that took it left it: running, 40 %, leased until `lease_until`."""
    with session_factory() as session, session.begin():
        job = session.get(Job, job_id)
        job.status, job.progress, job.attempts = "running", 40, 1
        job.lease_owner, job.lease_until = owner, lease_until


def test_a_second_copy_of_the_message_comes_back_while_a_run_holds_the_lease(
        make_transcoder, session_factory, video_id):
    toolkit = CountingToolkit()
    transcoder = make_transcoder(toolkit)
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    _running(session_factory, asked["id"], NOW + timedelta(seconds=45))
    with pytest.raises(JobHeld) as held:
        transcoder.run_job(asked["id"])
    assert held.value.seconds_left == 45
    assert toolkit.calls == []
    with session_factory() as session:
        job = session.get(Job, asked["id"])
        assert (job.status, job.progress, job.attempts, job.lease_owner) == (
            "running", 40, 1, "an-earlier-run")


@pytest.mark.parametrize("case", ["no lease", "lease lapsed", "message redelivered"])
def test_a_job_whose_run_died_starts_over(make_transcoder, session_factory, video_id, clock,
                                          case):
    toolkit = CountingToolkit()
    transcoder = make_transcoder(toolkit)
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    _running(session_factory, asked["id"],
             None if case == "no lease" else NOW + timedelta(seconds=45))
    if case == "lease lapsed":    # its worker hung, or died with the message in another's hands
        clock.advance(seconds=46)
    # "message redelivered": the broker hands back the message its dead worker never acked
    assert transcoder.run_job(asked["id"], redelivered=case == "message redelivered") == \
        Outcome.READY
    assert [c[0] for c in toolkit.calls] == ["rendition", "cut"]  # the proxy, then the cut
    with session_factory() as session:
        job = session.get(Job, asked["id"])
        assert (job.status, job.progress, job.attempts) == ("ready", 100, 2)
        assert job.lease_owner is None and job.lease_until is None
    assert len(events(session_factory, "cut.ready.v1")) == 1


def test_a_run_that_lost_its_lease_records_nothing(make_transcoder, session_factory, video_id):
    class OvertakenToolkit(CountingToolkit):
        def cut(self, *args, **kwargs):  # meanwhile, another run took the job over
            _running(session_factory, asked["id"], NOW + timedelta(seconds=60), "a-newer-run")
            return super().cut(*args, **kwargs)

    transcoder = make_transcoder(OvertakenToolkit())
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    assert transcoder.run_job(asked["id"]) == Outcome.SKIPPED
    with session_factory() as session:
        job = session.get(Job, asked["id"])
        assert (job.status, job.lease_owner, job.progress) == ("running", "a-newer-run", 40)
    assert events(session_factory, "cut.ready.v1") == []


def test_a_run_stops_at_once_when_a_renewal_finds_its_job_taken(session_factory, settings,
                                                               clock, video_id):
    lease = 0.3
    calls = []

    class TakenOverToolkit(CountingToolkit):
        def cut(self, source, range_, dest, *, accuracy, rendition_name, on_progress):
            _running(session_factory, asked["id"], NOW + timedelta(seconds=60), "a-newer-run")
            time.sleep(lease)                    # a renewal comes and finds the job taken
            for percent in (10, 20, 30):         # ffmpeg's progress: the run stops at once
                calls.append(percent)
                on_progress(percent)
            raise AssertionError("the run went on without its lease")

    transcoder = Transcoder(session_factory(), outbox,
                            dataclasses.replace(settings, job_lease_seconds=lease),
                            toolkit=TakenOverToolkit(), clock=clock)
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    assert transcoder.run_job(asked["id"]) == Outcome.SKIPPED
    assert calls == [10]
    with session_factory() as session:
        assert session.get(Job, asked["id"]).lease_owner == "a-newer-run"
    assert events(session_factory, "cut.ready.v1") == []


def test_the_lease_is_renewed_while_the_work_runs(session_factory, settings, clock, video_id):
    lease = 0.3
    renewed = []

    class SlowToolkit(CountingToolkit):
        def cut(self, source, range_, dest, **kwargs):  # a long stretch without progress
            clock.advance(seconds=100)
            time.sleep(lease)                            # one renewal every lease / 3
            with session_factory() as session:
                renewed.append(session.get(Job, asked["id"]).lease_until)
            return super().cut(source, range_, dest, **kwargs)

    transcoder = Transcoder(session_factory(), outbox,
                            dataclasses.replace(settings, job_lease_seconds=lease),
                            toolkit=SlowToolkit(), clock=clock)
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    assert transcoder.run_job(asked["id"]) == Outcome.READY
    assert renewed == [NOW + timedelta(seconds=100 + lease)]


def test_a_request_that_lost_a_race_answers_the_winners_job(transcoder, session_factory,
                                                            video_id, monkeypatch):
    winner = transcoder.request(video_id, "proxy", 1, 3, "fast")
    real, calls = transcoder._request, []

    def losing_once(*args):  # the unique cache_key refused this worker's insert
        calls.append(args)
        if len(calls) == 1:
            raise IntegrityError("insert", {}, Exception("uq_jobs_cache_key"))
        return real(*args)

    monkeypatch.setattr(transcoder, "_request", losing_once)
    assert transcoder.request(video_id, "proxy", 1, 3, "fast")["id"] == winner["id"]
    assert len(calls) == 2 and len(queued(session_factory)) == 1


def test_what_a_killed_worker_left_half_written_is_swept_once_stale(transcoder, media_root):
    folder = media_root / "renditions" / "v1"
    (folder / ".hls.tmp-1234abcd").mkdir(parents=True)
    (folder / ".hls.tmp-1234abcd" / "segment_0000.ts").write_bytes(b"ts")
    (folder / ".h264-1080p.tmp-0badf00d.mp4").write_bytes(b"half")
    (folder / "h264-1080p.mp4").write_bytes(b"whole")
    cuts = media_root / "cuts" / "v1"
    cuts.mkdir(parents=True)
    (cuts / ".abc.tmp-00000000.mp4").write_bytes(b"being written right now")
    old = time.time() - 7200
    for path in (folder / ".hls.tmp-1234abcd" / "segment_0000.ts", folder / ".hls.tmp-1234abcd",
                 folder / ".h264-1080p.tmp-0badf00d.mp4", folder / "h264-1080p.mp4"):
        os.utime(path, (old, old))
    assert transcoder.sweep_temporaries(max_age_s=3600) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["h264-1080p.mp4"]
    assert [p.name for p in cuts.iterdir()] == [".abc.tmp-00000000.mp4"]


def test_a_ready_job_whose_file_is_gone_is_made_again(make_transcoder, session_factory,
                                                      video_id, media_root):
    transcoder = make_transcoder(CountingToolkit())
    asked = transcoder.request(video_id, "proxy", 1, 3, "fast")
    transcoder.run_job(asked["id"])
    (media_root / transcoder.job(asked["id"])["path"]).unlink()
    again = transcoder.request(video_id, "proxy", 1, 3, "fast")
    assert again["id"] == asked["id"] and again["status"] == "queued"
    assert len(queued(session_factory)) == 2


def test_a_cut_that_ffmpeg_cannot_make_is_failed_once_and_announced(
        make_transcoder, session_factory, video_id):
    class Refusing(CountingToolkit):
        def cut(self, *args, **kwargs):
            raise TranscodeError("ffmpeg exited with 1")

    transcoder = make_transcoder(Refusing())
    asked = transcoder.request(video_id, "proxy", 1, 3, "frame")
    assert transcoder.run_job(asked["id"]) == Outcome.FAILED
    assert transcoder.job(asked["id"])["status"] == "failed"
    [failed] = events(session_factory, "cut.failed.v1")
    assert failed["data"]["job_id"] == asked["id"]
    assert failed["data"]["error"] == "TranscodeError: ffmpeg exited with 1"
    assert (failed["data"]["accuracy"], failed["data"]["path"]) == ("frame", None)
    assert failed["data"]["in_tc"] is None          # nothing was delivered
    assert events(session_factory, "cut.ready.v1") == []
    assert transcoder.run_job(asked["id"]) == Outcome.SKIPPED   # a redelivery: nothing again
    assert len(events(session_factory, "cut.failed.v1")) == 1
