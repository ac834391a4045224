"""An editor uploads a master from afar with a real tus client (tuspy), through the front door
(nginx buffering each chunk), on the real system (SQLite and PostgreSQL):

- the uploading process is killed at about half; the gateway and nginx are restarted; a new
  process resumes where the upload stopped; the master's sha256 is the file's, it is ingested
  by its upload_id and its renditions are made;
- a tampered chunk (its checksum does not match) is refused and not kept;
- a journalist cannot upload (403); a text file renamed .mov is refused once complete, and
  nothing is left in the ingest folder;
- a chunk larger than the front door takes is refused as JSON."""

from __future__ import annotations

import base64
import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from services.shared.media_layout import INGEST, UPLOADS_IN_PROGRESS
from services.transcoder.media.sample import make_master
from tests.journeys import PREVIEWS, bearer, editor, signed_in
from tests.support.databases import BACKENDS
from tests.support.processes import REPO_ROOT
from tests.support.system import running_system

pytestmark = [pytest.mark.integration, pytest.mark.slow_media]

CHUNK = 128 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
ITEM = {"translations": {"en": {"title": "Uploaded from Kyiv", "summary": "A field report.",
                                "body": "The video team filed this from the field."}}}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tus_upload(system, token: str, path: Path, url_file: Path, pause: float = 0.0):
    """The tus client, as a process of its own (tests/support/tus_client.py)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.tus_client", str(path),
         "--endpoint", f"{system.url}/api/v1/uploads", "--token", token,
         "--url-file", str(url_file), "--chunk-size", str(CHUNK), "--pause", str(pause)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def ingest_folder_files(system) -> list[str]:
    ingest = Path(system.env["MEDIA_ROOT"]) / INGEST
    return sorted(str(p.relative_to(ingest)) for p in ingest.rglob("*")
                  if p.is_file() and p.suffix != ".lock")  # (empty, kept on purpose)


@pytest.fixture(scope="module", params=BACKENDS)
def studio(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"uploads-{request.param}")
    master = folder / "kyiv-report.mov"
    make_master(master, 4, size=(640, 360), rate=25, title="Kyiv")
    with running_system(folder / "system", backend=request.param, transcoder=True,
                        env={"UPLOAD_CHUNK_MAX_BYTES": str(4 * CHUNK)}) as system:
        yield system, master, folder, editor(system)


def test_an_upload_killed_half_way_resumes_after_restarts_and_is_ingested(studio):
    system, master, folder, edith = studio
    url_file = folder / "upload-url"
    size = master.stat().st_size
    assert size > 6 * CHUNK, "the master must take several chunks"
    first = tus_upload(system, edith, master, url_file, pause=0.2)
    offset = 0
    for line in first.stdout:
        if line.startswith("offset ") and int(line.split()[1]) >= size // 2:
            offset = int(line.split()[1])
            break
    first.send_signal(signal.SIGKILL)  # the editor's laptop dies
    first.wait(10)
    assert size // 2 <= offset < size
    upload_url = url_file.read_text().strip()
    upload_id = upload_url.rsplit("/", 1)[1]
    progress = system.api("HEAD", f"/api/v1/uploads/{upload_id}", headers={**TUS,
                                                                            **bearer(edith)})
    assert int(progress.headers["Upload-Offset"]) >= offset

    # the whole front of the house restarts meanwhile
    system.restart("frontdoor")
    system.restart("gateway")

    second = tus_upload(system, edith, master, url_file)
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 0, output
    resumed_from = int(output.splitlines()[0].split()[1])
    assert resumed_from >= offset  # went on from where it was, not from 0
    assert output.splitlines()[-1] == f"done {upload_url}"

    state = system.api("GET", f"/api/v1/uploads/{upload_id}", headers={**TUS, **bearer(edith)})
    assert state.json()["complete"] is True and state.json()["offset"] == size
    placed = Path(system.env["MEDIA_ROOT"]) / INGEST / "uploads" / upload_id / master.name
    assert sha256(placed) == sha256(master)
    # what came in since the front door's restart is counted for operators, as uploads
    # (mtail, from nginx's log lines; its counters start again with it, as Prometheus expects)
    system.wait_until(lambda: system.metric(
        "frontdoor", "newsreel_frontdoor_received_bytes_total", kind="upload")
        >= size - resumed_from, timeout=10)
    assert not list((Path(system.env["MEDIA_ROOT"]) / UPLOADS_IN_PROGRESS).glob("*.part"))

    tap = system.tap()
    item = system.api("POST", "/api/v1/news", json=ITEM, headers=bearer(edith)).json()
    video = system.api("POST", "/api/v1/videos", headers=bearer(edith),
                       json={"news_id": item["id"], "upload_id": upload_id})
    assert video.status_code == 201, video.text
    assert video.json()["master_path"] == f"{INGEST}/uploads/{upload_id}/{master.name}"
    assert video.json()["size_bytes"] == size
    ready = tap.wait_for(lambda m: m.routing_key == "rendition.ready.v1"
                         and m.json()["data"]["video_id"] == video.json()["id"],
                         count=len(PREVIEWS), timeout=180)
    assert {m.json()["data"]["rendition"] for m in ready} == PREVIEWS


def test_a_tampered_chunk_is_refused_and_not_kept(studio):
    system, master, _, edith = studio
    headers = {**TUS, **bearer(edith)}
    data = master.read_bytes()
    created = system.api("POST", "/api/v1/uploads", headers={
        **headers, "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    url = f"{system.url}{created.headers['Location']}"

    def send(offset: int, chunk: bytes, checksum_of: bytes) -> requests.Response:
        digest = base64.b64encode(hashlib.sha256(checksum_of).digest()).decode()
        return requests.patch(url, data=chunk, timeout=30, headers={
            **headers, "Upload-Offset": str(offset), "Upload-Checksum": f"sha256 {digest}",
            "Content-Type": "application/offset+octet-stream", "Accept-Language": "en"})

    assert send(0, data[:CHUNK], data[:CHUNK]).status_code == 204
    tampered = bytearray(data[CHUNK:2 * CHUNK])
    tampered[1234] ^= 0x55
    refused = send(CHUNK, bytes(tampered), data[CHUNK:2 * CHUNK])
    assert refused.status_code == 460
    assert refused.json()["error"]["code"] == "checksum_mismatch"
    assert requests.head(url, headers=headers, timeout=10).headers["Upload-Offset"] == \
        str(CHUNK)
    part = Path(system.env["MEDIA_ROOT"]) / UPLOADS_IN_PROGRESS / f"{created.json()['id']}.part"
    assert part.read_bytes() == data[:CHUNK]
    assert requests.delete(url, headers=headers, timeout=10).status_code == 204


def test_a_chunk_larger_than_the_front_door_takes_is_refused_as_json(studio):
    system, _, _, edith = studio
    headers = {**TUS, **bearer(edith)}
    created = system.api("POST", "/api/v1/uploads", headers={
        **headers, "Upload-Length": str(8 * CHUNK)})
    url = f"{system.url}{created.headers['Location']}"
    refused = requests.patch(url, data=b"\0" * (4 * CHUNK + 1), timeout=30, headers={
        **headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
        "Accept-Language": "en"})
    assert refused.status_code == 413
    assert refused.json()["error"] == {
        "code": "payload_too_large", "limit_bytes": 4 * CHUNK,
        "message": "The request body is too large: 512 KiB at most."}
    assert requests.head(url, headers=headers, timeout=10).headers["Upload-Offset"] == "0"
    assert requests.delete(url, headers=headers, timeout=10).status_code == 204


def test_journalists_cannot_upload_and_a_text_file_leaves_nothing(studio, tmp_path):
    system, _, _, edith = studio
    ana = signed_in(system, "ana@example.org", "en")
    refused = system.api("POST", "/api/v1/uploads", headers={
        **TUS, **bearer(ana), "Upload-Length": "1000"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    # nobody's body is read before the front door knows an editor sends it
    for headers, status, code in ((bearer(ana), 403, "forbidden"), ({}, 401, "unauthorized")):
        stranger = system.api("PATCH", f"/api/v1/uploads/{'0' * 32}", data=b"x" * (CHUNK * 4),
                              headers={**TUS, **headers, "Upload-Offset": "0",
                                       "Content-Type": "application/offset+octet-stream"})
        assert (stranger.status_code, stranger.json()["error"]["code"]) == (status, code)

    before = ingest_folder_files(system)
    notes = tmp_path / "notes.mov"
    notes.write_text("Minutes of the press conference, not a video.\n" * 4000)
    upload = tus_upload(system, edith, notes, tmp_path / "notes-url")
    output = upload.communicate(timeout=60)[0]
    assert upload.returncode == 1, output
    assert output.splitlines()[-1].startswith("error 422 "), output
    assert "invalid_media" in output
    assert ingest_folder_files(system) == before
