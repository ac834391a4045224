"""A journalist's downloads, end to end, on the real system (auth, mailer, catalog, the
transcoder's api and worker processes, the gateway; RabbitMQ, aiosmtpd, real ffmpeg; SQLite and
PostgreSQL):

1. an editor ingests a master and publishes its item: the previews are made, the item is
   listed and found in both languages, subscribers (only they) get it by mail, and a
   journalist downloads every rendition whole; ffprobe finds in each what the renditions
   table of ARCHITECTURE.md promises; editors see who took what;
2. a fast and a frame cut of the same range: what each really covers (durations, first
   frames, timecodes), and the same request again answered from the cache;
3. a worker killed in the middle of a job: nothing partial is ever offered, and the job is
   done after the restart;
4. bad requests (timecodes past the end, reversed, garbage; unknown renditions; links that
   are another's, expired, tampered; paths that climb) are refused with clear 4xx answers.

One system per database backend serves the module: media is dear on two cores."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from services.shared.mediainfo import probe
from services.transcoder.media.inspection import closest, ffprobe_json, gray_frames
from services.transcoder.media.renditions import RENDITIONS
from services.transcoder.media.sample import make_master
from services.transcoder.media.timecode import timecode_to_frames
from tests.journeys import (
    PREVIEWS,
    as_user,
    bearer,
    editor,
    error_code,
    ingest,
    publish,
    request_download,
    signed_in,
    subscribe,
    until_ready,
)
from tests.support.databases import BACKENDS
from tests.support.smtp import sent_to
from tests.support.system import running_system

pytestmark = [pytest.mark.integration, pytest.mark.slow_media]

RATE = Fraction(25)
START = "10:00:00:00"
ITEM = {"translations": {
    "fr": {"title": "Les ministres inaugurent le viaduc de Kerbriant",
           "summary": "Le viaduc de Kerbriant relie désormais les deux rives.",
           "body": "Les ministres ont inauguré le viaduc.\n\n« Un ouvrage attendu »"},
    "en": {"title": "Ministers open the Kerbriant viaduct",
           "summary": "The Kerbriant viaduct now links both banks.",
           "body": "Ministers opened the viaduct.\n\n“A long-awaited structure”"}}}
SHOTLIST = [
    {"in_tc": "10:00:00:00", "out_tc": "10:00:02:00", "kind": "shot",
     "description": {"fr": "Vue générale du viaduc", "en": "Wide shot of the viaduct"}},
    {"in_tc": "10:00:02:00", "out_tc": "10:00:04:00", "kind": "soundbite",
     "description": {"fr": "Déclaration", "en": "Statement"}, "speaker": "The Minister"}]
WHOLE = ("xdcam-hd422", "h264-1080p", "proxy", "original")


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> SimpleNamespace:
    """Made once for both backends: the journey's master (4 s of 1080p25 with a -30 dBFS tone,
    so the broadcast renditions have loudness work to do) and a longer, small one whose
    XDCAM rendition lasts long enough to kill a worker in the middle of it."""
    folder = tmp_path_factory.mktemp("masters")
    hd, long = folder / "viaduct.mov", folder / "long.mov"
    return SimpleNamespace(
        hd=hd, hd_facts=make_master(hd, 4, size=(1920, 1080), rate=25, start_tc=START,
                                    title="Kerbriant", tone_dbfs=-30.0),
        long=long, long_facts=make_master(long, 12, size=(320, 180), rate=25, start_tc=START,
                                          tone_dbfs=-30.0))


@pytest.fixture(scope="module", params=BACKENDS)
def newsroom(request, tmp_path_factory, masters):
    """A running system where an editor has ingested the journey's master into a new item
    (waiting for its previews) and published it; three journalists, two subscribed."""
    with running_system(tmp_path_factory.mktemp(f"newsroom-{request.param}"),
                        backend=request.param, transcoder=True) as system:
        tap = system.tap()
        room = SimpleNamespace(system=system, tap=tap, masters=masters)
        room.edith = editor(system)
        room.ana = signed_in(system, "ana@example.org", "fr")
        room.ben = signed_in(system, "ben@example.org", "en")
        room.carl = signed_in(system, "carl@example.org", "en")
        subscribe(system, room.ana)
        subscribe(system, room.ben)
        room.item, room.video = ingest(system, room.edith, tap, ITEM, masters.hd,
                                       "viaduct.mov", shotlist=SHOTLIST)
        publish(system, room.edith, room.item)
        yield room


def fetch(token: str, url: str, dest: Path) -> requests.Response:
    response = requests.get(url, headers=bearer(token), timeout=60)
    assert response.status_code == 200, response.text[:300]
    dest.write_bytes(response.content)
    return response


def frames(timecode: str) -> int:
    """Frames from the start of the master."""
    return timecode_to_frames(timecode, RATE) - timecode_to_frames(START, RATE)


def assert_matches_the_table(name: str, path: Path, master) -> None:
    """Codec, picture size, rate, length, audio format and container as ARCHITECTURE.md's
    renditions table says (the table is `RENDITIONS`; its own test holds it to the text)."""
    spec, facts = RENDITIONS[name], probe(path)
    streams = ffprobe_json("-show_streams", "-show_format", str(path))
    [video] = [s for s in streams["streams"] if s["codec_type"] == "video"]
    audio = [s for s in streams["streams"] if s["codec_type"] == "audio"]
    assert (video["codec_name"], video["pix_fmt"]) == (spec.video_codec, spec.pixel_format)
    assert (facts.width, facts.height) == (spec.width, spec.height), name
    assert (facts.frame_rate, facts.frame_count) == (master.frame_rate, master.frame_count)
    assert facts.start_timecode == master.start_timecode
    assert {a["codec_name"] for a in audio} == {spec.audio_codec}
    assert {a["sample_rate"] for a in audio} == {"48000"}
    if spec.audio_layout == "mono-tracks":
        assert [a["channels"] for a in audio] == [1] * master.audio_channels
    else:
        assert [a["channels"] for a in audio] == [2]
    assert spec.muxer in streams["format"]["format_name"].split(",")
    if name == "xdcam-hd422":
        assert video["profile"] == "4:2:2"
        # MXF OP1a
        assert streams["format"]["tags"]["operational_pattern_ul"].startswith(
            "060e2b34.04010101.0d010201.0101")


# -- 1. ingest → previews → publish → found, mailed, downloaded whole --------------------------

def test_a_published_item_is_listed_found_and_mailed_to_subscribers_only(newsroom):
    system, item, video = newsroom.system, newsroom.item, newsroom.video
    assert video["duration"] == 4.0 and video["start_timecode"] == START

    french = system.api("GET", "/api/v1/news").json()
    english = system.api("GET", "/api/v1/news?lang=en").json()
    assert [i["title"] for i in french["items"]] == [ITEM["translations"]["fr"]["title"]]
    assert [i["title"] for i in english["items"]] == [ITEM["translations"]["en"]["title"]]
    for query, lang in (("inaugurent", "fr"), ("viaduc", "fr"), ("viaduct open", "en"),
                        ("banks", "en")):
        found = system.api("GET", "/api/v1/news", params={"q": query, "lang": lang}).json()
        assert [i["id"] for i in found["items"]] == [item["id"]], query
    assert system.api("GET", "/api/v1/news", params={"q": "aqueduct"}).json()["total"] == 0

    # the catalog shows what the transcoder made; the player's files are served
    public = system.api("GET", f"/api/v1/videos/{video['id']}").json()
    assert {r["name"] for r in public["renditions"]} >= PREVIEWS
    assert english["items"][0]["poster_url"] == public["poster_url"]
    for url in (public["poster_url"], public["preview_url"]):
        assert requests.get(url, timeout=10).status_code == 200
    [hls] = [r for r in public["renditions"] if r["name"] == "hls"]
    assert hls["url"].endswith("/index.m3u8")
    playlist = requests.get(hls["url"], timeout=10)
    assert playlist.status_code == 200 and "#EXTM3U" in playlist.text
    segment = next(line for line in playlist.text.splitlines() if line and line[0] != "#")
    assert requests.get(hls["url"].rsplit("/", 1)[0] + "/" + segment,
                        timeout=10).status_code == 200

    # the newsletter: each subscriber once, in their language; nobody else
    [to_ana] = system.smtp.wait_for(lambda m: sent_to("ana@example.org")(m)
                                    and "Kerbriant" in m["Subject"], timeout=60)
    [to_ben] = system.smtp.wait_for(lambda m: sent_to("ben@example.org")(m)
                                    and "Kerbriant" in m["Subject"], timeout=60)
    assert to_ana["Subject"].startswith(
        "Nouvelle actualité : Les ministres inaugurent le viaduc de Kerbriant")
    assert to_ben["Subject"].startswith("New story: Ministers open the Kerbriant viaduct")
    assert to_ben["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    newsroom.tap.wait_for(lambda m: m.routing_key == "mail.sent.v1"
                          and m.json()["data"].get("kind") == "newsletter", count=2, timeout=30)
    time.sleep(1)
    newsletters = [m for m in system.smtp.messages if "Kerbriant" in m["Subject"]]
    assert sorted(rcpt for m in newsletters for rcpt in m.envelope_to) == [
        "ana@example.org", "ben@example.org"]


def test_every_rendition_downloads_whole_as_the_table_says(newsroom, tmp_path):
    system, video, ben = newsroom.system, newsroom.video, newsroom.ben
    master = newsroom.masters.hd_facts
    files = {}
    for name in WHOLE:
        answer = until_ready(system, ben, request_download(system, ben, video["id"],
                                                           rendition=name))
        assert answer["rendition"] == name and answer["url"].startswith(f"{system.url}/files/")
        assert answer["filename"].startswith("ministers-open-the-kerbriant-viaduct_" + name)
        dest = tmp_path / answer["filename"]
        response = fetch(ben, answer["url"], dest)
        assert response.headers["Content-Disposition"] == \
            f'attachment; filename="{answer["filename"]}"'
        assert int(response.headers["Content-Length"]) == dest.stat().st_size
        files[name] = dest

    assert files["original"].read_bytes() == newsroom.masters.hd.read_bytes()
    for name in ("xdcam-hd422", "h264-1080p", "proxy"):
        assert_matches_the_table(name, files[name], master)
    assert files["xdcam-hd422"].suffix == ".mxf" and files["h264-1080p"].suffix == ".mp4"

    # a Range request, as a resuming download manager makes
    again = until_ready(system, ben, request_download(system, ben, video["id"],
                                                      rendition="h264-1080p"))
    part = requests.get(again["url"], headers={**bearer(ben), "Range": "bytes=100-1099"},
                        timeout=30)
    assert part.status_code == 206
    assert part.content == files["h264-1080p"].read_bytes()[100:1100]

    # editors see who took what (journalists do not)
    log = system.api("GET", f"/api/v1/downloads?video_id={video['id']}",
                     headers=bearer(newsroom.edith))
    assert log.status_code == 200, log.text
    mine = [d for d in log.json()["items"] if d["email"] == "ben@example.org"]
    # every link issued, the second h264-1080p one included
    assert sorted(d["rendition"] for d in mine) == sorted([*WHOLE, "h264-1080p"])
    assert {d["organisation"] for d in mine} == {"Example News"}
    assert system.api("GET", "/api/v1/downloads", headers=bearer(ben)).status_code == 403
    listed = system.run_python("-m", "services.transcoder.cli", "downloads",
                               "--video", video["id"])
    assert listed.returncode == 0, listed.stderr
    assert "ben@example.org" in listed.stdout


# -- 2. a fast and a frame cut of the same range -----------------------------------------------

def test_fast_and_frame_cuts_of_the_same_range_then_the_cache(newsroom, tmp_path):
    system, video, ana = newsroom.system, newsroom.video, newsroom.ana
    master = newsroom.masters.hd
    wanted = {"rendition": "h264-1080p", "in": "10:00:01:05", "out": "10:00:02:20"}
    master_frames = gray_frames(str(master))
    cuts = {}
    for accuracy in ("fast", "frame"):
        answer = until_ready(system, ana, request_download(
            system, ana, video["id"], lang="fr", accuracy=accuracy, **wanted), lang="fr")
        assert (answer["requested_in_tc"], answer["requested_out_tc"]) == (
            wanted["in"], wanted["out"])
        dest = tmp_path / answer["filename"]
        fetch(ana, answer["url"], dest)
        cuts[accuracy] = (answer, dest)

    # fast: whole GOPs of one second around the range, and the answer says which
    fast = cuts["fast"][0]
    assert (fast["in_tc"], fast["out_tc"]) == ("10:00:01:00", "10:00:03:00")
    # frame: exactly what was asked
    frame = cuts["frame"][0]
    assert (frame["in_tc"], frame["out_tc"]) == (wanted["in"], wanted["out"])
    assert frame["filename"] == \
        "les-ministres-inaugurent-le-viaduc-de-kerbriant_h264-1080p_10h00m01s05-10h00m02s20.mp4"

    for answer, path in cuts.values():
        facts = probe(path)
        first, end = frames(answer["in_tc"]), frames(answer["out_tc"])
        assert facts.frame_count == end - first
        assert facts.duration == pytest.approx((end - first) / 25, abs=0.03)
        assert facts.start_timecode == answer["in_tc"]
        pictures = gray_frames(str(path))
        # the first and last pictures are the master's at in and out - 1
        assert closest(pictures[0], master_frames)[0] == first
        assert closest(pictures[-1], master_frames)[0] == end - 1
        assert (facts.width, facts.height) == (1920, 1080)

    cut_events = newsroom.tap.wait_for(lambda m: m.routing_key == "cut.ready.v1"
                                       and m.json()["data"]["video_id"] == video["id"], count=2)
    assert {(e.json()["data"]["accuracy"], e.json()["data"]["in_tc"]) for e in cut_events} >= {
        ("fast", "10:00:01:00"), ("frame", "10:00:01:05")}

    # the same requests again, from another account and in seconds: from the cache at once
    jobs_run = system.metric("transcoder-worker", "newsreel_jobs_total")
    for accuracy, (first_answer, path) in cuts.items():
        again = request_download(system, newsroom.ben, video["id"], accuracy=accuracy,
                                 rendition="h264-1080p", **{"in": 1.2, "out": 2.8})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first_answer["id"]
        assert again.json()["size_bytes"] == path.stat().st_size
    assert system.metric("transcoder-worker", "newsreel_jobs_total") == jobs_run


# -- 4. bad requests ---------------------------------------------------------------------------

@pytest.mark.parametrize(("cut", "code"), [
    ({"in": "10:00:03:10", "out": "10:00:05:00"}, "out_of_range"),     # past the end (4 s)
    ({"in": "09:59:59:00", "out": "10:00:01:00"}, "out_of_range"),     # before the start
    ({"in": 2, "out": 60}, "out_of_range"),
    ({"in": "10:00:02:00", "out": "10:00:01:00"}, "reversed_range"),
    ({"in": "10:00:01:00", "out": "10:00:01:00"}, "reversed_range"),
    ({"in": "10:00:01:25", "out": "10:00:02:00"}, "invalid_timecode"),  # no frame 25 at 25p
    ({"in": "10h00", "out": "10:00:02:00"}, "invalid_timecode"),
    ({"in": "10:00:01:00"}, "invalid_timecode"),                       # an in without an out
])
def test_bad_cuts_are_refused_in_the_users_language(newsroom, cut, code):
    system, video = newsroom.system, newsroom.video
    answers = {lang: request_download(system, newsroom.ben, video["id"], lang=lang,
                                      rendition="h264-1080p", **cut) for lang in ("en", "fr")}
    for answer in answers.values():
        assert answer.status_code == 400, answer.text
        assert error_code(answer) == code
    english, french = (answers[lang].json()["error"]["message"] for lang in ("en", "fr"))
    assert english and french and english != french


def test_bad_downloads_and_bad_links_are_refused(newsroom):
    system, video, ben, ana = newsroom.system, newsroom.video, newsroom.ben, newsroom.ana
    for body, code in (({"rendition": "dvcpro"}, "invalid_request"),
                       ({"rendition": "proxy", "in": 1, "out": 2, "accuracy": "exact"},
                        "invalid_request"),
                       ({"rendition": "proxy", "in": [1], "out": 2}, "invalid_request")):
        refused = request_download(system, ben, video["id"], **body)
        assert (refused.status_code, error_code(refused)) == (400, code), refused.text
    unknown = request_download(system, ben, "00000000-0000-4000-8000-000000000000",
                               rendition="proxy")
    assert (unknown.status_code, error_code(unknown)) == (404, "not_found")
    assert system.api("POST", f"/api/v1/videos/{video['id']}/downloads",
                      json={"rendition": "proxy"}).status_code == 401

    answer = until_ready(system, ben, request_download(system, ben, video["id"],
                                                       rendition="proxy"))
    link = answer["url"]
    # another account's session; no session
    other = requests.get(link, headers=bearer(ana), timeout=10)
    assert (other.status_code, error_code(other)) == (403, "forbidden")
    assert requests.get(link, timeout=10).status_code == 401
    # tampered: one character of the token changed
    token = link.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    tampered = requests.get(f"{system.url}/files/{flipped}", headers=bearer(ben), timeout=10)
    assert (tampered.status_code, error_code(tampered)) == (404, "not_found")
    # expired: the same contents, signed two hours ago (links last an hour)
    serializer = URLSafeTimedSerializer(system.env["DOWNLOAD_LINK_KEYS"], salt="download")
    contents = serializer.loads(token)
    two_hours_ago = int(time.time()) - 7200

    class Then(TimestampSigner):
        def get_timestamp(self):
            return two_hours_ago
    old = URLSafeTimedSerializer(system.env["DOWNLOAD_LINK_KEYS"], salt="download", signer=Then)
    expired = requests.get(f"{system.url}/files/{old.dumps(contents)}",
                           headers=as_user(ben, "en"), timeout=10)
    assert (expired.status_code, error_code(expired)) == (410, "link_expired")
    assert expired.json()["error"]["message"].startswith("This download link has expired")
    # paths that climb, as a URL or inside a (validly signed) link
    for path in ("/files/..%2f..%2fetc%2fpasswd", "/files/%2e%2e/%2e%2e/etc/passwd",
                 f"/api/v1/videos/..%2f..%2f{video['id']}/downloads"):
        climbed = system.api("GET" if path.startswith("/files") else "POST", path,
                             headers=bearer(ben), json={"rendition": "proxy"})
        assert climbed.status_code in (404, 405), path
        assert b"root:" not in climbed.content
    for path in ("../../../etc/passwd", "renditions/../../secrets.env",
                 f"renditions/{video['id']}/.hidden.mp4", "/etc/passwd"):
        forged = serializer.dumps({**contents, "path": path})
        refused = requests.get(f"{system.url}/files/{forged}", headers=bearer(ben), timeout=10)
        assert (refused.status_code, error_code(refused)) == (404, "not_found"), path


# -- 3. a worker killed mid-job ----------------------------------------------------------------

def test_a_worker_killed_mid_job_leaves_nothing_partial_and_the_job_is_done(newsroom, tmp_path):
    system, ben = newsroom.system, newsroom.ben
    item, video = ingest(system, newsroom.edith, newsroom.tap, {"translations": {
        "en": {"title": "A long press conference", "summary": "It was long.",
               "body": "It was long."}}}, newsroom.masters.long, "long.mov")
    assert system.api("POST", f"/api/v1/news/{item['id']}/publish",
                      headers=bearer(newsroom.edith)).status_code == 200
    folder = Path(system.env["MEDIA_ROOT"]) / "renditions" / video["id"]
    final = folder / "xdcam-hd422.mxf"

    asked = request_download(system, ben, video["id"], rendition="xdcam-hd422")
    assert asked.status_code == 202, asked.text
    status_url = asked.json()["status_url"]

    def state():
        response = system.api("GET", status_url, headers=bearer(ben))
        assert response.status_code == 200, response.text
        return response.json()

    running = system.wait_until(lambda: (s := state())["status"] == "running"
                                and s["progress"] >= 20 and s, timeout=120, interval=0.1,
                                message="the job never got going")
    assert running["progress"] < 100 and running["url"] is None
    partial = list(folder.glob(".xdcam-hd422.tmp-*.mxf"))
    assert partial and not final.exists()           # ffmpeg writes a hidden temporary name
    system.kill("transcoder-worker")

    # nothing to download while the job is not done, not even by a path that names the file
    assert state()["url"] is None and state()["status"] in ("queued", "running")
    again = request_download(system, ben, video["id"], rendition="xdcam-hd422")
    assert again.status_code == 202 and again.json()["id"] == asked.json()["id"]
    for path in (f"renditions/{video['id']}/xdcam-hd422.mxf",
                 f"renditions/{video['id']}/{partial[0].name}"):
        assert system.api("GET", f"/media/{path}").status_code == 404

    system.start("transcoder-worker")
    done = until_ready(system, ben, again, timeout=240)
    assert final.exists()
    dest = tmp_path / "long.mxf"
    fetch(ben, done["url"], dest)
    assert_matches_the_table("xdcam-hd422", dest, newsroom.masters.long_facts)
    # the restarted worker did it, from the start
    assert system.metric("transcoder-worker", "newsreel_jobs_total", kind="rendition",
                         outcome="ready") == 1
