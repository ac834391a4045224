"""Jobs run with the real toolkit on tiny media (a 4-s 320x180 master, GOPs of 1 s)."""

import dataclasses
import shutil

import pytest

from services.shared.mediainfo import probe
from services.transcoder.media.sample import make_master
from services.transcoder.service import Outcome, Toolkit

from .conftest import CONSUMER, events, ingested_event

pytestmark = pytest.mark.slow_media


def _ready_cut(session_factory, job_id):
    [event] = [e for e in events(session_factory, "cut.ready.v1")
               if e["data"]["job_id"] == job_id]
    return event["data"]


def test_a_fast_and_a_frame_cut_of_the_proxy(transcoder, session_factory, with_proxy,
                                             media_root):
    video_id = with_proxy
    fast = transcoder.request(video_id, "proxy", "10:00:01:05", "10:00:02:20", "fast")
    frame = transcoder.request(video_id, "proxy", "10:00:01:05", "10:00:02:20", "frame")
    seen = []
    assert transcoder.run_job(fast["id"], on_progress=seen.append) == Outcome.READY
    assert transcoder.run_job(frame["id"]) == Outcome.READY

    fast_data = _ready_cut(session_factory, fast["id"])
    # a fast cut is widened to whole GOPs (1 s) and says so
    assert (fast_data["in_tc"], fast_data["out_tc"]) == ("10:00:01:00", "10:00:03:00")
    assert (fast_data["requested_in_tc"], fast_data["requested_out_tc"]) == (
        "10:00:01:05", "10:00:02:20")
    assert fast_data["method"] == "copy" and fast_data["accuracy"] == "fast"
    frame_data = _ready_cut(session_factory, frame["id"])
    assert (frame_data["in_tc"], frame_data["out_tc"]) == ("10:00:01:05", "10:00:02:20")
    assert frame_data["accuracy"] == "frame"
    for data, frames in ((fast_data, 50), (frame_data, 40)):
        path = media_root / data["path"]
        assert data["path"].startswith(f"cuts/{video_id}/") and path.suffix == ".mp4"
        assert path.stat().st_size == data["size_bytes"]
        assert abs(probe(path).frame_count - frames) <= 1
    done = transcoder.job(fast["id"])
    assert done["status"] == "ready" and done["in_tc"] == "10:00:01:00"
    assert seen == sorted(seen) and max(seen) <= 99   # 100 is for the job once it is ready
    # no whole rendition was made: the proxy was there already
    assert events(session_factory, "rendition.ready.v1") == []


def test_an_interrupted_job_leaves_no_file_and_runs_again_from_the_start(
        make_transcoder, session_factory, with_proxy, media_root):
    real = Toolkit()

    def crashing_cut(*args, on_progress, **kwargs):
        def progress(percent):
            raise RuntimeError("worker killed")
        return real.cut(*args, on_progress=progress, **kwargs)

    crashing = make_transcoder(dataclasses.replace(real, cut=crashing_cut))
    asked = crashing.request(with_proxy, "proxy", "10:00:00:10", "10:00:02:15", "frame")
    with pytest.raises(RuntimeError):
        crashing.run_job(asked["id"], last_attempt=False)
    folder = media_root / "cuts" / with_proxy
    assert not folder.exists() or list(folder.iterdir()) == []  # neither final nor temp file
    assert crashing.job(asked["id"])["status"] == "queued"
    assert events(session_factory, "cut.ready.v1") == []

    transcoder = make_transcoder()
    assert transcoder.run_job(asked["id"]) == Outcome.READY
    done = transcoder.job(asked["id"])
    assert done["status"] == "ready" and (media_root / done["path"]).is_file()
    assert [p.name for p in folder.iterdir()] == [done["path"].rsplit("/", 1)[1]]


def test_a_cut_of_a_rendition_not_made_yet_makes_it_first(transcoder, session_factory,
                                                          real_video, media_root):
    asked = transcoder.request(real_video, "proxy", 1, 2.5, "fast")
    assert transcoder.run_job(asked["id"]) == Outcome.READY
    [rendition] = events(session_factory, "rendition.ready.v1")
    assert rendition["data"]["path"] == f"renditions/{real_video}/proxy.mp4"
    assert (media_root / rendition["data"]["path"]).is_file()
    assert _ready_cut(session_factory, asked["id"])["in_tc"] == "10:00:01:00"


def test_the_preview_job_of_an_ingested_video(transcoder, session_factory, media_root,
                                              session_media):
    shutil.copyfile(session_media["master"], media_root / "ingest" / "clip.mov")
    event = ingested_event()
    video_id = event["data"]["video_id"]
    transcoder.record_video(event, CONSUMER)
    [message] = events(session_factory, "job.queued.v1")
    assert transcoder.run_job(message["data"]["job_id"]) == Outcome.READY
    ready = {e["data"]["rendition"]: e["data"] for e in events(session_factory,
                                                                "rendition.ready.v1")}
    assert sorted(ready) == ["hls", "poster", "proxy", "storyboard"]
    for name, data in ready.items():
        assert data["video_id"] == video_id and data["size_bytes"] > 0, name
        assert (media_root / data["path"]).is_file(), name
        assert data["path"].startswith(f"renditions/{video_id}/")
    assert ready["hls"]["path"].endswith("hls/index.m3u8")
    assert len(ready["storyboard"]["times"]) == 4
    # the proxy it made is cached: a download of it runs nothing
    assert transcoder.request(video_id, "proxy")["status"] == "ready"


def test_a_whole_broadcast_rendition_of_a_master_that_needs_normalising(
        transcoder, session_factory, media_root, tmp_path):
    """H.264 1080p made alone from a -30 LUFS master (loudnorm, then the stereo AAC): the
    toolkit once failed here with "Cannot select channel layout" (fixed in renditions.py)."""
    make_master(media_root / "ingest" / "quiet.mov", 1.2, size=(320, 180), rate=25,
                start_tc="10:00:00:00", tone_dbfs=-30.0)
    event = ingested_event(master_path="ingest/quiet.mov", seconds=1.2)
    transcoder.record_video(event, CONSUMER)
    video_id = event["data"]["video_id"]
    asked = transcoder.request(video_id, "h264-1080p")
    assert transcoder.run_job(asked["id"]) == Outcome.READY, transcoder.job(asked["id"])
    [ready] = events(session_factory, "rendition.ready.v1")
    assert ready["data"]["path"] == f"renditions/{video_id}/h264-1080p.mp4"
    facts = probe(media_root / ready["data"]["path"])
    assert (facts.width, facts.height, facts.audio_channels) == (1920, 1080, 2)
