"""The media path on the real system, through the front door (nginx) as clients reach it:

1. 64 downloads of a master held open at 20 KB/s while /healthz and /api/v1/news still answer
   (the gateway only authorises; nginx moves the bytes);
2. the same bytes from a plain download, from aria2c's eight ranged connections and from curl
   resuming half a file; HEAD, If-Range with a stale validator;
3. an embargoed item's previews: 404 for the public and for a journalist, 200 for an editor,
   public with no restart once the embargo is over; the events say nothing that fetches them
   before;
4. nginx's internal locations are out of reach, path tricks are 404;
5. the client address behind the front door is the real one: two clients are limited apart,
   and a forged X-Forwarded-For changes nothing;
6. nginx's access log follows a download by the request id the gateway gave.

One system per database backend serves the module."""

from __future__ import annotations

import hashlib
import http.client
import json
import statistics
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests

from services.shared.media_layout import INGEST
from services.transcoder.media.sample import make_master
from tests.journeys import (
    bearer,
    editor,
    error_code,
    ingest,
    publish,
    request_download,
    signed_in,
)
from tests.support.databases import BACKENDS
from tests.support.system import running_system

pytestmark = [pytest.mark.integration, pytest.mark.slow_media]

SLOW_DOWNLOADS = 64
PROBES = 40
RATE_LIMIT = 3
EMBARGO_SECONDS = 25
PREVIEWS = ("poster.jpg", "storyboard.jpg", "proxy.mp4", "hls/index.m3u8")


def item(title: str, embargo_until: str | None = None) -> dict:
    body = {"translations": {"en": {"title": title, "summary": f"{title}.",
                                    "body": f"{title}, said the minister."}}}
    if embargo_until:
        body["embargo_until"] = embargo_until
    return body


def big_master(path: Path, seconds: int = 4) -> Path:
    """A master of about 12 MB made in a second (720p Motion JPEG at its best quality, which
    compresses little): large enough for eight ranged connections, and for slow downloads
    that stay open."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size=1280x720:rate=25:duration={seconds}", "-f", "lavfi", "-i",
         f"anoisesrc=sample_rate=48000:duration={seconds}", "-ac", "2",
         "-c:v", "mjpeg", "-q:v", "1", "-pix_fmt", "yuvj420p", "-c:a", "pcm_s24le",
         "-timecode", "10:00:00:00", str(path)], check=True, timeout=60)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module", params=BACKENDS)
def door(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"media-path-{request.param}")
    master = big_master(folder / "master.mov")
    small = folder / "small.mov"  # its previews are made in a moment
    make_master(small, 1, size=(160, 90), rate=25)
    with running_system(folder / "system", backend=request.param, transcoder=True,
                        env={"AUTH_RATE_LIMITS": f"resend_ip={RATE_LIMIT}/3600"}) as system:
        tap = system.tap()
        room = SimpleNamespace(system=system, tap=tap, master=master)
        room.edith = editor(system)
        room.ana = signed_in(system, "ana@example.org", "en")
        room.item, room.video = ingest(system, room.edith, tap, item("Ministers meet"), master,
                                       "clip.mov")
        publish(system, room.edith, room.item)
        answer = request_download(system, room.ana, room.video["id"], rendition="original")
        assert answer.status_code == 200, answer.text
        room.link = answer.json()["url"]
        # under embargo: it must end while the module runs, after the first test looked
        room.embargo_ends = datetime.now(UTC) + timedelta(seconds=EMBARGO_SECONDS)
        room.secret_item, room.secret_video = ingest(
            system, room.edith, tap, item("Summit communiqué", room.embargo_ends.isoformat()),
            small, "secret.mov")
        publish(system, room.edith, room.secret_item)
        yield room


def preview_urls(system, video_id: str) -> list[str]:
    base = f"{system.url}/media/renditions/{video_id}/"
    return [base + name for name in PREVIEWS] + [base + "hls/segment_0000.ts"]


# -- 3. embargo (first: the embargo must still hold) ------------------------------------------

def test_an_embargoed_items_previews_are_the_editors_only(door):
    system, video_id = door.system, door.secret_video["id"]
    assert datetime.now(UTC) < door.embargo_ends - timedelta(seconds=10), \
        "the embargoed item's ingest took nearly as long as its embargo: raise EMBARGO_SECONDS"
    for url in preview_urls(system, video_id):
        for headers in ({}, bearer(door.ana)):
            refused = requests.get(url, headers={**headers, "Accept-Language": "en"},
                                   timeout=10)
            assert refused.status_code == 404, url
            assert refused.json()["error"] == {"code": "not_found",
                                               "message": "There is nothing at this address."}
            assert refused.headers["Cache-Control"] == "no-store"
        seen = requests.get(url, headers=bearer(door.edith), timeout=10)
        assert seen.status_code == 200 and seen.content, url
        assert seen.headers["Cache-Control"] == "private, no-store"
    # what other teams read: rendition events name files by path only, and those paths are
    # the same 404 as anything else until the item is public
    events = [m.json()["data"] for m in door.tap.messages
              if m.routing_key == "rendition.ready.v1"
              and m.json()["data"]["video_id"] == video_id]
    assert {event["rendition"] for event in events} >= {"poster", "proxy", "hls", "storyboard"}
    for event in events:
        assert not any(isinstance(value, str) and "://" in value for value in event.values())
        assert system.api("GET", f"/media/{event['path']}").status_code == 404


# -- 1. slow clients hold no gateway thread ---------------------------------------------------

def timings(system, path: str, count: int) -> list[float]:
    spent = []
    for _ in range(count):
        started = time.perf_counter()
        response = system.api("GET", path, timeout=10)
        spent.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:200]
    return spent


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def test_sixty_four_slow_downloads_leave_the_api_answering(door):
    system = door.system
    idle = {path: p95(timings(system, path, PROBES)) for path in ("/healthz", "/api/v1/news")}
    downloads = [subprocess.Popen(
        ["curl", "-sS", "--limit-rate", "20k", "-H", f"Authorization: Bearer {door.ana}",
         "-o", "/dev/null", door.link], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(SLOW_DOWNLOADS)]
    try:
        time.sleep(2)  # every download under way
        assert all(d.poll() is None for d in downloads), "a slow download ended early"
        loaded = {path: p95(timings(system, path, PROBES))
                  for path in ("/healthz", "/api/v1/news")}
        assert all(d.poll() is None for d in downloads), "the downloads were not held open"
        # operators see them: nginx's connections writing are the transfers in progress
        assert system.metric("frontdoor-nginx", "nginx_connections_writing") >= SLOW_DOWNLOADS
    finally:
        for download in downloads:
            download.kill()
            download.wait()
    for path in idle:
        # 3x the idle p95, with 50 ms of slack for a 2-core machine's scheduler
        assert loaded[path] <= max(3 * idle[path], idle[path] + 0.05), (path, idle, loaded)


# -- 2. bytes, ranges and resumption ----------------------------------------------------------

def test_plain_ranged_and_resumed_downloads_give_the_same_bytes(door, tmp_path):
    system, want = door.system, sha256(door.master)
    auth = f"Authorization: Bearer {door.ana}"
    plain = tmp_path / "plain.mov"
    subprocess.run(["curl", "-sSf", "-H", auth, "-o", str(plain), door.link], check=True,
                   timeout=60)
    assert sha256(plain) == want

    # (each connection held to 512 KB/s: on the loopback the first one would otherwise have
    # the whole file before the others start)
    subprocess.run(["aria2c", "-q", "-x", "8", "-s", "8", "--min-split-size=1M",
                    "--max-download-limit=512K",
                    "--allow-overwrite=true", "--header", auth, "-d", str(tmp_path),
                    "-o", "aria2.mov", door.link], check=True, timeout=60)
    assert sha256(tmp_path / "aria2.mov") == want
    ranged = [line for line in access_log(system)
              if line["kind"] == "original" and line["status"] == 206]
    assert len(ranged) >= 4, "aria2c did not download in ranged parts"

    # counted by kind for Prometheus (mtail, from nginx's log lines)
    size = door.master.stat().st_size
    system.wait_until(lambda: system.metric(
        "frontdoor", "newsreel_frontdoor_sent_bytes_total", kind="original") >= 2 * size
        and system.metric("frontdoor", "newsreel_frontdoor_requests_total", kind="original",
                          status="206") >= 4, timeout=10,
        message="mtail did not count the plain and the ranged downloads")

    half = door.master.stat().st_size // 2
    resumed = tmp_path / "resumed.mov"
    subprocess.run(["curl", "-sSf", "-H", auth, "-r", f"0-{half - 1}", "-o", str(resumed),
                    door.link], check=True, timeout=60)
    assert resumed.stat().st_size == half
    subprocess.run(["curl", "-sSf", "-H", auth, "-C", "-", "-o", str(resumed), door.link],
                   check=True, timeout=60)
    assert sha256(resumed) == want


def test_head_etag_and_if_range(door):
    headers = bearer(door.ana)
    size = door.master.stat().st_size
    head = requests.head(door.link, headers=headers, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == size
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["Content-Disposition"].startswith('attachment; filename="ministers-meet')
    etag, modified = head.headers["ETag"], head.headers["Last-Modified"]

    same = requests.get(door.link, headers={**headers, "Range": "bytes=0-99",
                                            "If-Range": etag}, timeout=10)
    assert same.status_code == 206 and len(same.content) == 100
    assert same.headers["Content-Range"] == f"bytes 0-99/{size}"
    stale = requests.get(door.link, headers={**headers, "Range": "bytes=0-99",
                                             "If-Range": '"an-older-version"'}, timeout=30)
    assert stale.status_code == 200 and len(stale.content) == size  # the whole file
    cached = requests.get(door.link, headers={**headers, "If-None-Match": etag}, timeout=10)
    assert cached.status_code == 304
    assert modified
    past = requests.get(door.link, headers={**headers, "Range": f"bytes={size + 10}-",
                                            "Accept-Language": "en"}, timeout=10)
    assert past.status_code == 416
    assert past.json()["error"] == {"code": "range_not_satisfiable",
                                    "message": "The requested range is outside the file."}


def test_a_link_is_refused_as_before_behind_the_front_door(door):
    system = door.system
    assert requests.get(door.link, timeout=10).status_code == 401
    other = signed_in(system, "otto@example.org", "en")
    assert requests.get(door.link, headers=bearer(other), timeout=10).status_code == 403
    tampered = door.link[:-3] + ("AAA" if not door.link.endswith("AAA") else "BBB")
    refused = requests.get(tampered, headers=bearer(door.ana), timeout=10)
    assert refused.status_code == 404 and error_code(refused) == "not_found"


# -- 4. the internal locations and path tricks ------------------------------------------------

def raw_get(system, path: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    """A request with the path exactly as written (requests would clean `..` itself)."""
    url = urlsplit(system.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def test_the_internal_locations_and_path_tricks_are_404(door):
    system, video_id = door.system, door.video["id"]
    master = door.video["master_path"]
    token = door.link.rsplit("/", 1)[1]
    auth = bearer(door.ana)
    for path in [
        f"/_internal/media/{master}",
        f"/_internal/media/renditions/{video_id}/poster.jpg",
        "/_internal/media/",
        f"/files/%2e%2e/_internal/media/{master}",
        f"/media/renditions/{video_id}/%2e%2e/%2e%2e/{INGEST}/e2e/clip.mov",
        f"/media/renditions/{video_id}/..%2f..%2f{INGEST}%2fe2e%2fclip.mov",
        f"/media/{master}",
        f"/files/{token}/..%2f..%2f_internal%2fmedia%2f{master}",
        f"/files/{token}%2f..%2f..%2f{master}",
        "/_frontdoor/errors/not_found",
        "/metrics",
    ]:
        status, body, headers = raw_get(system, path, auth)
        assert status == 404, path
        assert headers.get("Content-Type") == "application/json", (path, body[:200])
        assert json.loads(body)["error"]["code"] == "not_found", (path, body[:200])
        assert b"FFmpeg" not in body and len(body) < 2000, path


# -- 5. who the client is ---------------------------------------------------------------------

def from_address(system, source: str, path: str, body: dict,
                 headers: dict | None = None) -> int:
    url = urlsplit(system.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10,
                                            source_address=(source, 0))
    try:
        connection.request("POST", path, body=json.dumps(body),
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_two_clients_are_limited_apart_and_a_forged_address_changes_nothing(door):
    system = door.system
    resend = "/api/v1/accounts/verify/resend"

    def ask(source: str, number: int, forged: str | None = None) -> int:
        headers = {"X-Forwarded-For": forged, "X-Real-IP": forged} if forged else {}
        return from_address(system, source, resend,
                            {"email": f"nobody{number}@example.org"}, headers)

    assert [ask("127.0.0.2", n) for n in range(RATE_LIMIT)] == [202] * RATE_LIMIT
    assert ask("127.0.0.2", 10) == 429
    # the header a client writes itself is not believed: still the same client
    assert ask("127.0.0.2", 11, forged="203.0.113.9") == 429
    assert ask("127.0.0.2", 12, forged="127.0.0.3") == 429
    # another client has its own count
    assert ask("127.0.0.3", 20) == 202
    lines = [json.loads(line) for line in
             system.processes["gateway"].log_path.read_text().splitlines()
             if line.startswith("{") and resend in line]
    assert {line["client_ip"] for line in lines} == {"127.0.0.2", "127.0.0.3"}


# -- 6. following a download ------------------------------------------------------------------

def access_log(system) -> list[dict]:
    path = Path(system.env["NGINX_PREFIX"]) / "access.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_front_doors_log_follows_a_download_by_its_request_id(door):
    system = door.system
    answer = request_download(system, door.ana, door.video["id"], rendition="original")
    api_id = answer.headers["X-Request-Id"]
    fetched = requests.get(answer.json()["url"], headers={
        **bearer(door.ana), "X-Request-Id": "journalist-trace-0001"}, timeout=30)
    assert fetched.status_code == 200
    assert fetched.headers["X-Request-Id"] == "journalist-trace-0001"

    def logged():
        lines = {line["request_id"]: line for line in access_log(system)}
        return lines if {api_id, "journalist-trace-0001"} <= set(lines) else None
    lines = system.wait_until(logged, timeout=10)
    download = lines["journalist-trace-0001"]
    assert (download["kind"], download["status"], download["path"]) == (
        "original", 200, "/files/…")  # never the token
    assert download["body_bytes_sent"] == door.master.stat().st_size
    assert download["completed"] == "OK"
    assert lines[api_id]["kind"] == "api" and lines[api_id]["path"].startswith("/api/v1/")
    gateway = [json.loads(line) for line in
               system.processes["gateway"].log_path.read_text().splitlines()
               if "journalist-trace-0001" in line]
    assert gateway and all(line["path"] == "/files/…" for line in gateway)
    token = answer.json()["url"].rsplit("/", 1)[1]
    # however the path is written, and when the gateway cannot be asked at all
    for path in (f"/%66iles/{token}", f"//files/{token}", f"/./files/{token}"):
        status, _, _ = raw_get(system, path, bearer(door.ana))
        assert status in (200, 404), path  # (the gateway reads the path as it was sent)
    system.stop("gateway")
    try:
        down = requests.get(answer.json()["url"], headers=bearer(door.ana), timeout=10)
        assert down.status_code == 503 and down.json()["error"]["code"] == "service_unavailable"
    finally:
        system.start("gateway")
    for log in (Path(system.env["NGINX_PREFIX"]) / "access.log",
                system.processes["gateway"].log_path, system.processes["frontdoor"].log_path):
        assert token not in log.read_text(), log


# -- 3, after: the embargo ends by itself -----------------------------------------------------

def test_previews_become_public_when_the_embargo_ends_with_no_restart(door):
    system, video_id = door.system, door.secret_video["id"]
    wait = (door.embargo_ends - datetime.now(UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait)
    urls = preview_urls(system, video_id)

    def public():
        return all(requests.get(url, timeout=10).status_code == 200 for url in urls)
    system.wait_until(public, timeout=20, interval=1,
                      message="the previews did not become public after the embargo")
    for url in urls:
        for headers in ({}, bearer(door.ana)):
            served = requests.get(url, headers=headers, timeout=10)
            assert served.status_code == 200 and served.content
            assert served.headers["Cache-Control"] == "public, max-age=60"
