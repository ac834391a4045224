"""News through the gateway against the real catalog, auth and mailer (RabbitMQ, SMTP, SQLite
and PostgreSQL): the seed articles listed, searched, paged and read in French and English; an
editor writes and publishes an item that subscribers then get by mail; an account without the
role is refused; an embargoed item stays out of sight until its embargo ends; a video is
ingested from the ingest folder and its previews (the transcoder's part is played here, as
test_newsletter plays the catalog's) are served by /media, and nothing else is."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from services.catalog.sample.english import ENGLISH
from services.catalog.sample.seeds import read_seeds, seeds_dir
from services.shared import cloudevents
from services.transcoder.media.sample import make_master
from tests.journeys import bearer, editor, error_code, signed_in

pytestmark = pytest.mark.integration

SEEDS = read_seeds(seeds_dir())


def load_samples(system) -> None:
    result = system.run_python("-m", "services.catalog.cli", "load-samples")
    assert result.returncode == 0, result.stderr


def news(system, **params) -> dict:
    response = system.api("GET", "/api/v1/news", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def titles(page: dict) -> list[str]:
    return [item["title"] for item in page["items"]]


def test_the_seed_articles_are_listed_searched_paged_and_read(system_factory):
    system = system_factory()
    load_samples(system)

    french = news(system)
    assert french["total"] == len(SEEDS) == 5
    assert (french["page"], french["per_page"]) == (1, 20)
    dates = [item["published_at"] for item in french["items"]]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert set(titles(french)) == {seed.title for seed in SEEDS}
    assert {item["language"] for item in french["items"]} == {"fr"}

    english = news(system, lang="en")
    assert titles(english) == [ENGLISH[seed.name]["title"] for seed in
                               sorted(SEEDS, key=lambda seed: seed.date, reverse=True)]
    assert [item["id"] for item in english["items"]] == [item["id"] for item in french["items"]]
    by_header = system.api("GET", "/api/v1/news", headers={"Accept-Language": "en"}).json()
    assert titles(by_header) == titles(english)

    # search: a French word typed without its accents, an English word
    [austerity] = news(system, q="austerite")["items"]
    assert "austérité" in system.api(
        "GET", f"/api/v1/news/{austerity['slug']}").text
    [halfway] = news(system, q="halfway", lang="en")["items"]
    assert "Ankara" in halfway["title"]
    assert news(system, q="zzzzqqqq")["total"] == 0

    # pages
    pages = [news(system, page=page, per_page=2) for page in (1, 2, 3, 4)]
    assert [page["total"] for page in pages] == [5, 5, 5, 5]
    assert [len(page["items"]) for page in pages] == [2, 2, 1, 0]
    assert [item["id"] for page in pages for item in page["items"]] == \
        [item["id"] for item in french["items"]]

    # one item, by its slug in either language, with its body
    newest = french["items"][0]
    item = system.api("GET", f"/api/v1/news/{newest['slug']}").json()
    assert item["id"] == newest["id"] and item["language"] == "fr"
    assert len(item["body"]) > 2 and all(block["text"] for block in item["body"])
    [english_link] = [t for t in item["translations"] if t["language"] == "en"]
    in_english = system.api("GET", f"/api/v1/news/{english_link['slug']}").json()
    assert in_english["language"] == "en" and in_english["title"] == english_link["title"]
    by_id = system.api("GET", f"/api/v1/news/{newest['id']}?lang=en").json()
    assert by_id["title"] == english_link["title"]

    # what does not exist, and what is malformed
    missing = system.api("GET", "/api/v1/news/no-such-item?lang=en")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == \
        "This news item does not exist or is not public yet."
    video = system.api("GET", "/api/v1/videos/00000000-0000-4000-8000-000000000000")
    assert (video.status_code, error_code(video)) == (404, "not_found")
    bad = system.api("GET", "/api/v1/news?per_page=101")
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "per_page")


def test_an_editor_publishes_subscribers_are_mailed_and_embargo_holds(system_factory):
    system = system_factory()
    load_samples(system)
    edith = editor(system)
    reader = signed_in(system, "rita@example.org", language="en")
    assert system.api("PUT", "/api/v1/me/newsletter", json={"subscribed": True},
                      headers=bearer(reader)).status_code == 200

    draft = {"translations": {
        "fr": {"title": "Les ministres adoptent le plan Zephyrin",
               "summary": "Les ministres ont adopté le plan Zephyrin à Bruxelles.",
               "body": "Les ministres ont adopté le plan.\n\n« Un jour important »"},
        "en": {"title": "Ministers adopt the Zephyrin plan",
               "summary": "Ministers adopted the Zephyrin plan in Brussels.",
               "body": [{"type": "paragraph", "text": "Ministers adopted the plan."}]}}}

    # not an editor: refused, in the reader's language
    refused = system.api("POST", "/api/v1/news?lang=en", json=draft, headers=bearer(reader))
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "forbidden", "message": "This is reserved for the organisation's editors.",
        "role": "editor"}
    assert system.api("POST", "/api/v1/news", json=draft).status_code == 401

    created = system.api("POST", "/api/v1/news", json=draft, headers=bearer(edith))
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["status"] == "draft" and item["published_at"] is None
    assert item["body"] == [{"type": "paragraph", "text": "Les ministres ont adopté le plan."},
                            {"type": "quote", "text": "« Un jour important »"}]
    assert system.api("GET", f"/api/v1/news/{item['id']}").status_code == 404  # a draft
    assert news(system, q="Zephyrin")["total"] == 0

    published = system.api("POST", f"/api/v1/news/{item['id']}/publish",
                           headers=bearer(edith))
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"

    listed = news(system, lang="en")
    assert listed["total"] == 6
    assert listed["items"][0]["title"] == "Ministers adopt the Zephyrin plan"  # the newest
    assert [i["id"] for i in news(system, q="zephyrin")["items"]] == [item["id"]]
    assert system.api("GET", f"/api/v1/news/{item['slug']}").json()["title"] == \
        "Les ministres adoptent le plan Zephyrin"

    [mail] = system.smtp.wait_for(lambda m: "Zephyrin" in m["Subject"], timeout=60)
    assert mail.envelope_to == ("rita@example.org",)
    assert mail["Subject"].startswith("New story: Ministers adopt the Zephyrin plan")

    # an item cannot be published without its summary and body; the catalog says which
    bare = system.api("POST", "/api/v1/news?lang=en", headers=bearer(edith), json={
        "translations": {"en": {"title": "A title only"}}}).json()
    incomplete = system.api("POST", f"/api/v1/news/{bare['id']}/publish?lang=en",
                            headers=bearer(edith))
    assert incomplete.status_code == 409
    assert incomplete.json()["error"] == {
        "code": "not_publishable", "language": "en", "field": "summary", "reason": "missing",
        "message": "This news item cannot be published yet: its English version has no "
                   "summary."}

    # under embargo: neither found nor listed until the embargo ends
    embargo_end = datetime.now(UTC) + timedelta(seconds=8)
    embargoed = system.api("POST", "/api/v1/news", headers=bearer(edith), json={
        "translations": {"fr": {"title": "Annonce sous embargo Quirinal",
                                "summary": "Une annonce.", "body": "Le texte."}},
        "embargo_until": embargo_end.isoformat().replace("+00:00", "Z")}).json()
    assert system.api("POST", f"/api/v1/news/{embargoed['id']}/publish",
                      headers=bearer(edith)).status_code == 200
    assert system.api("GET", f"/api/v1/news/{embargoed['id']}").status_code == 404
    assert system.api("GET", f"/api/v1/news/{embargoed['slug']}").status_code == 404
    assert news(system, q="Quirinal")["total"] == 0
    assert news(system)["total"] == 6
    assert datetime.now(UTC) < embargo_end, "the checks above took too long to mean anything"

    system.wait_until(lambda: system.api(
        "GET", f"/api/v1/news/{embargoed['slug']}").status_code == 200, timeout=30,
        message="the item did not become public when its embargo ended")
    assert [i["id"] for i in news(system, q="Quirinal")["items"]] == [embargoed["id"]]
    assert news(system)["items"][0]["id"] == embargoed["id"]


def rendition_ready(system, video_id: str, name: str, path: str, content: bytes) -> None:
    """What the transcoder does when a rendition is made: the file, then the event."""
    target = Path(system.env["MEDIA_ROOT"]) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    event = cloudevents.envelope("transcoder", "rendition.ready.v1", {
        "video_id": video_id, "rendition": name, "path": path, "size_bytes": len(content)})
    system.vhost.publish("transcoder.events", "rendition.ready.v1", json.dumps(event),
                         content_type=cloudevents.CONTENT_TYPE, message_id=event["id"])


def test_an_editor_adds_a_video_whose_previews_alone_are_served(system_factory):
    system = system_factory()
    edith = editor(system)
    media_root = Path(system.env["MEDIA_ROOT"])
    # 2 s of 160x90 at 25 fps with a stereo tone, starting at 10:00:00:00
    make_master(media_root / "ingest" / "2025" / "clip.mov", 2, size=(160, 90), rate=25)
    (media_root.parent / "secret.mov").write_bytes(b"SECRET")
    item = system.api("POST", "/api/v1/news", headers=bearer(edith), json={"translations": {
        "en": {"title": "Ministers meet", "summary": "They met.", "body": "They met."}}}).json()

    # the catalog judges the path and the shotlist, the gateway says it in the user's words
    outside = system.api("POST", "/api/v1/videos?lang=en", headers=bearer(edith), json={
        "news_id": item["id"], "master_path": "../../secret.mov"})
    assert outside.status_code == 400, outside.text
    assert outside.json()["error"]["code"] == "path_not_allowed"
    too_long = system.api("POST", "/api/v1/videos?lang=en", headers=bearer(edith), json={
        "news_id": item["id"], "master_path": "2025/clip.mov", "shotlist": [
            {"in_tc": "10:00:00:00", "out_tc": "10:00:03:00", "kind": "shot",
             "description": {"en": "Too long"}}]})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"] == \
        "The shotlist is not valid: row 1 ends after the video, which ends at 10:00:02:00."
    assert too_long.json()["error"]["problems"] == [
        {"index": 0, "field": "out_tc", "reason": "after_end"}]

    ingested = system.api("POST", "/api/v1/videos", headers=bearer(edith), json={
        "news_id": item["id"], "master_path": "2025/clip.mov", "shotlist": [
            {"in_tc": "10:00:00:00", "out_tc": "10:00:01:00", "kind": "shot",
             "description": {"en": "Arrivals"}},
            {"in_tc": "10:00:01:00", "out_tc": "10:00:02:00", "kind": "soundbite",
             "description": {"en": "Statement"}, "speaker": "The Secretary General"}]})
    assert ingested.status_code == 201, ingested.text
    video = ingested.json()
    assert video["master_path"] == "ingest/2025/clip.mov"
    assert (video["duration"], video["frame_rate"], video["start_timecode"],
            video["end_timecode"], video["width"]) == (2.0, "25/1", "10:00:00:00",
                                                       "10:00:02:00", 160)
    assert [shot["kind"] for shot in video["shotlist"]] == ["shot", "soundbite"]
    # the item is a draft: its video is not public yet
    assert system.api("GET", f"/api/v1/videos/{video['id']}").status_code == 404
    assert system.api("POST", f"/api/v1/news/{item['id']}/publish",
                      headers=bearer(edith)).status_code == 200

    folder = f"renditions/{video['id']}"
    proxy = bytes(range(256)) * 40
    rendition_ready(system, video["id"], "poster", f"{folder}/poster.jpg", b"\xff\xd8\xffJPEG")
    rendition_ready(system, video["id"], "proxy", f"{folder}/proxy.mp4", proxy)
    rendition_ready(system, video["id"], "h264-1080p", f"{folder}/h264-1080p.mp4", b"SECRET")

    def with_previews():
        answer = system.api("GET", f"/api/v1/videos/{video['id']}").json()
        names = {r["name"] for r in answer.get("renditions", [])}
        return answer if {"poster", "proxy", "h264-1080p"} <= names else None

    public = system.wait_until(with_previews, timeout=30,
                               message="the catalog did not record the renditions")
    assert "master_path" not in public
    assert all("path" not in r and "error" not in r for r in public["renditions"])
    assert public["preview_url"] == f"{system.url}/media/{folder}/proxy.mp4"
    assert public["poster_url"] == f"{system.url}/media/{folder}/poster.jpg"
    listed = news(system)["items"][0]
    assert listed["id"] == item["id"] and listed["poster_url"] == public["poster_url"]

    # the player's requests, through the gateway
    played = requests.get(public["preview_url"], headers={"Range": "bytes=1000-1999"},
                          timeout=10)
    assert played.status_code == 206
    assert played.headers["Content-Range"] == f"bytes 1000-1999/{len(proxy)}"
    assert played.content == proxy[1000:2000]
    assert played.headers["Content-Type"] == "video/mp4"
    assert played.headers["Cache-Control"] == "public, max-age=60"  # public: it may be withdrawn
    poster = requests.get(public["poster_url"], timeout=10)
    assert (poster.status_code, poster.headers["Content-Type"]) == (200, "image/jpeg")

    # nothing else: the broadcast rendition beside it, the master, a way out (encoded: HTTP
    # clients remove a plain `..` themselves; the server decodes these into one)
    for path in (f"{folder}/h264-1080p.mp4", "ingest/2025/clip.mov",
                 f"{folder}/%2e%2e/%2e%2e/%2e%2e/secret.mov", "%2e%2e/secret.mov",
                 "%2Fetc%2Fpasswd"):
        refused = system.api("GET", f"/media/{path}")
        assert refused.status_code == 404, path
        assert refused.json()["error"]["code"] == "not_found"
        assert b"SECRET" not in refused.content
