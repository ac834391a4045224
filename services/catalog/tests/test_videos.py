"""Videos: ingest of a real master (probed by ffprobe), the ingest folder's walls, shotlists,
the programme, and the transcoder's rendition events, on SQLite and PostgreSQL."""

import os
from datetime import timedelta

import pytest

from services.catalog.models import outbox
from services.catalog.service import Catalog, Outcome
from services.catalog.tests.conftest import BASE_URL, NOW, events, item
from services.shared import cloudevents, mediainfo
from services.shared.errors import ServiceError

SHOTLIST = [
    {"in_tc": "10:00:00:00", "out_tc": "10:00:01:00", "kind": "shot",
     "description": {"fr": "Arrivée des ministres", "en": "Ministers arrive"}},
    {"in_tc": "10:00:01:00", "out_tc": "10:00:02:00", "kind": "soundbite",
     "description": {"fr": "Déclaration", "en": "Statement"}, "speaker": "Mark Rutte"},
]


def error_of(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def news_id(catalog):
    return catalog.create_news(item("Réunion des ministres", "Ministers meet"))["id"]


def rendition_event(video_id, name, ready=True, seconds=0, **data):
    kind = "rendition.ready.v1" if ready else "rendition.failed.v1"
    payload = {"video_id": video_id, "rendition": name}
    if ready:
        payload |= {"path": f"renditions/{video_id}/{name}.bin", "size_bytes": 1234}
    else:
        payload["error"] = "ffmpeg exited with 1"
    return cloudevents.envelope("transcoder", kind, payload | data,
                                time=NOW + timedelta(seconds=seconds))


# -- ingest ----------------------------------------------------------------------------------------

def test_ingest_stores_the_probed_facts_and_announces_them(catalog, session_factory, news_id,
                                                           master):
    video = catalog.ingest_video(news_id, "clip.mov", SHOTLIST)
    assert video["news_id"] == news_id and video["programme"] == "1/1"
    assert (video["duration"], video["frame_rate"], video["width"], video["height"]) == (
        2.0, "25/1", 160, 90)
    assert (video["start_timecode"], video["end_timecode"]) == ("10:00:00:00", "10:00:02:00")
    assert (video["audio_channels"], video["audio_streams"]) == (2, 1)
    assert video["video_codec"] == "h264" and video["frame_count"] == 50
    assert video["size_bytes"] == master.stat().st_size
    assert video["master_path"] == "ingest/clip.mov"
    assert [(s["kind"], s["in_seconds"], s["out_seconds"]) for s in video["shotlist"]] == [
        ("shot", 0.0, 1.0), ("soundbite", 1.0, 2.0)]
    [event] = events(session_factory)
    assert event["type"] == "newsreel.catalog.video.ingested.v1"
    assert event["subject"] == video["id"]
    data = event["data"]
    assert {key: data[key] for key in ("video_id", "news_id", "master_path", "duration",
                                       "frame_rate", "width", "height", "start_timecode",
                                       "audio_channels", "video_codec")} == {
        "video_id": video["id"], "news_id": news_id, "master_path": "ingest/clip.mov",
        "duration": 2.0, "frame_rate": "25/1", "width": 160, "height": 90,
        "start_timecode": "10:00:00:00", "audio_channels": 2, "video_codec": "h264"}
    assert not os.path.isabs(data["master_path"])


def test_an_absolute_path_inside_the_ingest_folder_is_accepted(catalog, news_id, master):
    os.makedirs(master.parent / "2026" / "11")
    nested = master.parent / "2026" / "11" / "clip.mov"
    master.rename(nested)
    video = catalog.ingest_video(news_id, str(nested))
    assert video["master_path"] == "ingest/2026/11/clip.mov"


def test_paths_outside_the_ingest_folder_are_refused(catalog, session_factory, news_id,
                                                     master, media_root, tmp_path):
    outside = tmp_path / "secret.mov"
    outside.write_bytes(master.read_bytes())
    (media_root / "masters").mkdir()
    beside = media_root / "masters" / "other.mov"
    beside.write_bytes(master.read_bytes())
    (media_root / "ingest" / "escape.mov").symlink_to(outside)
    (media_root / "ingest" / "link-dir").symlink_to(tmp_path)
    (media_root / "ingest" / ".uploads").mkdir()  # uploads in progress: half-written
    (media_root / "ingest" / ".uploads" / "part").write_bytes(master.read_bytes())
    (media_root / "ingest" / "to-part.mov").symlink_to(media_root / "ingest" / ".uploads" / "part")
    for path, reason in [
        (".uploads/part", "hidden"),
        ("to-part.mov", "hidden"),
        ("../masters/other.mov", "parent_reference"),
        ("sub/../../masters/other.mov", "parent_reference"),
        (f"{media_root}/ingest/../masters/other.mov", "parent_reference"),
        (str(outside), "outside_ingest"),
        (str(beside), "outside_ingest"),
        ("/etc/passwd", "outside_ingest"),
        ("escape.mov", "link_outside_ingest"),
        ("link-dir/secret.mov", "link_outside_ingest"),
    ]:
        error = error_of(catalog.ingest_video, news_id, path)
        assert (error.code, error.details) == ("path_not_allowed", {"reason": reason}), path
    assert events(session_factory) == []
    assert catalog.get_news(news_id, include_unpublished=True)["videos"] == []


def test_a_missing_file_or_a_folder_is_not_a_master(catalog, news_id, media_root):
    (media_root / "ingest" / "folder").mkdir()
    assert error_of(catalog.ingest_video, news_id, "nothing.mov").details == {
        "field": "master_path", "reason": "not_found"}
    assert error_of(catalog.ingest_video, news_id, "folder").details == {
        "field": "master_path", "reason": "not_a_file"}
    assert error_of(catalog.ingest_video, news_id, "").details["reason"] == "missing"


def test_a_file_that_is_not_a_video_is_invalid_media(catalog, session_factory, news_id,
                                                     media_root):
    (media_root / "ingest" / "notes.mov").write_text("not a movie")
    error = error_of(catalog.ingest_video, news_id, "notes.mov")
    assert error.code == "invalid_media"
    assert str(media_root) not in error.details["reason"]  # no server path in the answer
    assert events(session_factory) == []


def test_ingest_into_an_unknown_item(catalog, master):
    assert error_of(catalog.ingest_video, "no-such-item", "clip.mov").code == "not_found"


def test_a_shotlist_beyond_the_master_is_refused_at_ingest(catalog, session_factory, news_id,
                                                           master):
    too_long = [{**SHOTLIST[1], "out_tc": "10:00:02:01"}]
    error = error_of(catalog.ingest_video, news_id, "clip.mov", too_long)
    assert error.code == "invalid_shotlist"
    assert (error.details["field"], error.details["reason"]) == ("shotlist[0].out_tc",
                                                                 "after_end")
    assert error.details["end_timecode"] == "10:00:02:00"
    assert events(session_factory) == []


def test_set_shotlist_replaces_it_after_checking(catalog, news_id, master):
    video = catalog.ingest_video(news_id, "clip.mov")
    assert video["shotlist"] == []
    updated = catalog.set_shotlist(video["id"], SHOTLIST[:1])
    assert [s["description"]["en"] for s in updated["shotlist"]] == ["Ministers arrive"]
    early = [{**SHOTLIST[0], "in_tc": "09:59:59:00"}]
    error = error_of(catalog.set_shotlist, video["id"], early)
    assert (error.code, error.details["reason"]) == ("invalid_shotlist", "before_start")
    again = catalog.get_video(video["id"], include_unpublished=True)
    assert again["shotlist"] == updated["shotlist"]
    assert error_of(catalog.set_shotlist, "no-such-video", []).code == "not_found"


# -- the programme ---------------------------------------------------------------------------------

def test_the_programme_is_the_items_videos_in_order(catalog, session_factory, news_id, master):
    first = catalog.ingest_video(news_id, "clip.mov")
    second = catalog.ingest_video(news_id, "clip.mov")
    news = catalog.get_news(news_id, include_unpublished=True)
    assert [(v["id"], v["programme"]) for v in news["videos"]] == [
        (first["id"], "1/2"), (second["id"], "2/2")]
    reordered = catalog.reorder_videos(news_id, [second["id"], first["id"]])
    assert [v["id"] for v in reordered["videos"]] == [second["id"], first["id"]]
    error = error_of(catalog.reorder_videos, news_id, [first["id"]])
    assert error.details == {"field": "video_ids", "reason": "not_the_same_videos"}
    catalog.publish_news(news_id)
    [published] = events(session_factory, "news.published.v1")
    assert published["data"]["video_ids"] == [second["id"], first["id"]]


def test_a_video_is_hidden_with_its_item(catalog, clock, news_id, master):
    video = catalog.ingest_video(news_id, "clip.mov")
    assert error_of(catalog.get_video, video["id"]).code == "not_found"  # a draft's
    assert catalog.video_access(video["id"]) == {"video_id": video["id"], "public": False}
    catalog.update_news(news_id, item("Réunion des ministres"),
                        embargo_until=(NOW + timedelta(hours=1)).isoformat())
    catalog.publish_news(news_id)
    assert error_of(catalog.get_video, video["id"]).code == "not_found"  # embargoed
    assert catalog.video_access(video["id"])["public"] is False
    clock.advance(hours=1)
    assert catalog.get_video(video["id"])["id"] == video["id"]
    assert catalog.video_access(video["id"])["public"] is True  # no timer needed
    assert error_of(catalog.get_video, "no-such-video").code == "not_found"
    assert error_of(catalog.video_access, "no-such-video").code == "not_found"


# -- renditions --------------------------------------------------------------------------------

@pytest.fixture
def video(catalog, news_id, master):
    video = catalog.ingest_video(news_id, "clip.mov")
    catalog.publish_news(news_id)
    return video


def record(catalog, event):
    return catalog.record_rendition(event, "catalog.test")


def test_ready_renditions_give_the_player_and_poster_urls(catalog, video):
    for name in ("poster", "proxy", "hls", "xdcam-hd422"):
        assert record(catalog, rendition_event(video["id"], name)) == Outcome.RECORDED
    answer = catalog.get_video(video["id"])
    media = f"{BASE_URL}/media/renditions/{video['id']}"
    assert answer["poster_url"] == f"{media}/poster.bin"
    assert answer["preview_url"] == f"{media}/proxy.bin"
    assert answer["hls_url"] == f"{media}/hls.bin"
    by_name = {r["name"]: r for r in answer["renditions"]}
    assert set(by_name) == {"original", "poster", "proxy", "hls", "xdcam-hd422"}
    assert by_name["xdcam-hd422"]["status"] == "ready"
    assert by_name["xdcam-hd422"]["url"] is None  # downloaded through signed links only
    assert by_name["original"]["path"] == "ingest/clip.mov"
    listed = catalog.list_news()["items"][0]
    assert listed["poster_url"] == answer["poster_url"]
    assert listed["videos"][0]["preview_url"] == answer["preview_url"]


def test_a_rendition_event_is_applied_once(catalog, session_factory, video):
    event = rendition_event(video["id"], "proxy", width=640)
    assert record(catalog, event) == Outcome.RECORDED
    assert record(catalog, event) == Outcome.DUPLICATE
    [proxy] = [r for r in catalog.get_video(video["id"])["renditions"] if r["name"] == "proxy"]
    assert proxy["details"] == {"width": 640} and proxy["size_bytes"] == 1234
    assert events(session_factory, "rendition.ready.v1") == []  # the catalog emits nothing


def test_a_failure_is_recorded_and_an_older_event_never_wins(catalog, video):
    assert record(catalog, rendition_event(video["id"], "h264-1080p", ready=False,
                                           seconds=10)) == Outcome.RECORDED
    failed = catalog.get_video(video["id"])["renditions"]
    assert [(r["name"], r["status"], r["error"]) for r in failed if r["name"] != "original"] \
        == [("h264-1080p", "failed", "ffmpeg exited with 1")]
    # a ready from before the failure arrives late: it does not overwrite it
    assert record(catalog, rendition_event(video["id"], "h264-1080p",
                                           seconds=5)) == Outcome.STALE
    # a later retry that succeeded does
    assert record(catalog, rendition_event(video["id"], "h264-1080p",
                                           seconds=20)) == Outcome.RECORDED
    [h264] = [r for r in catalog.get_video(video["id"])["renditions"]
              if r["name"] == "h264-1080p"]
    assert (h264["status"], h264["error"]) == ("ready", None)


def test_an_event_for_an_unknown_video_is_dropped_and_a_malformed_one_raises(catalog, video):
    assert record(catalog, rendition_event("no-such-video", "proxy")) == Outcome.UNKNOWN_VIDEO
    with pytest.raises(ValueError):
        record(catalog, rendition_event(video["id"], "../../etc"))
    with pytest.raises(ValueError):
        record(catalog, cloudevents.envelope("transcoder", "rendition.ready.v1",
                                             {"rendition": "proxy"}))


def test_an_absolute_rendition_path_under_media_root_is_made_relative(catalog, video,
                                                                      media_root):
    absolute = str(media_root / "renditions" / "poster.jpg")
    record(catalog, rendition_event(video["id"], "poster", path=absolute))
    assert catalog.get_video(video["id"])["poster_url"] == \
        f"{BASE_URL}/media/renditions/poster.jpg"


def test_the_probe_runs_outside_any_transaction(session_factory, settings, news_id, master,
                                                clock):
    """ffprobe may take a while: no database lock may be held meanwhile (SQLite would stall
    every other writer)."""
    seen = []

    def probe(path):
        seen.append(session.in_transaction())
        return mediainfo.probe(path)

    session = session_factory()
    Catalog(session, outbox, settings, probe=probe, clock=clock).ingest_video(news_id,
                                                                             "clip.mov")
    assert seen == [False]
