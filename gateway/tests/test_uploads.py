"""Resumable uploads (tus 1.0) through the gateway, with the fake services and a real media
volume: creation, chunks and offsets, checksums, termination, expiry, what a crash leaves,
the limits, who may upload, a file that is not media, and ingest by `upload_id`."""

import base64
import dataclasses
import fcntl
import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.app import create_app
from services.transcoder.media.sample import make_master

from .conftest import PUBLIC_BASE_URL
from .fakes import EDITOR_TOKEN, GOOD_TOKEN, NEWS_ID, OTHER_EDITOR_TOKEN

TUS = {"Tus-Resumable": "1.0.0"}
EDITOR = {**TUS, "Authorization": f"Bearer {EDITOR_TOKEN}"}
OTHER_EDITOR = {**TUS, "Authorization": f"Bearer {OTHER_EDITOR_TOKEN}"}
JOURNALIST = {**TUS, "Authorization": f"Bearer {GOOD_TOKEN}"}
CHUNK = "application/offset+octet-stream"


@pytest.fixture(scope="module")
def master(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("master") / "clip.mov"
    make_master(path, 1, size=(160, 90), rate=25)
    return path.read_bytes()


@pytest.fixture
def media_root(tmp_path) -> Path:
    root = tmp_path / "media"
    (root / "ingest").mkdir(parents=True)
    return root


@pytest.fixture
def app(rpc, media_root):
    return create_app(rpc=rpc, config={
        "TESTING": True, "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "TRUSTED_PROXY_COUNT": 0,
        "MEDIA_ROOT": media_root, "UPLOAD_DISK_RESERVE_BYTES": 0})


def metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                    for key, value in values.items())


def create(client, length: int, headers=EDITOR, filename: str = "rutte statement.mov"):
    return client.post("/api/v1/uploads", headers={
        **headers, "Upload-Length": str(length), "Upload-Metadata": metadata(
            filename=filename, filetype="video/quicktime")})


def patch(client, url: str, offset: int, data: bytes, headers=EDITOR, **extra):
    return client.patch(url, data=data, headers={
        **headers, "Upload-Offset": str(offset), "Content-Type": CHUNK, **extra})


def offset_of(client, url: str, headers=EDITOR) -> int:
    response = client.head(url, headers=headers)
    assert response.status_code == 200, response.status_code
    return int(response.headers["Upload-Offset"])


def files_below(folder: Path) -> list[str]:
    """Every file but the empty lock files (kept on purpose: see store._exclusive)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.suffix != ".lock")


def test_the_server_says_what_it_supports(client):
    response = client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation", "termination", "expiration", "checksum"}
    assert int(response.headers["Tus-Max-Size"]) == 500 * 10**9
    assert set(response.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha256", "sha1"}


def test_another_protocol_version_is_412(client):
    response = client.post("/api/v1/uploads", headers={
        "Authorization": f"Bearer {EDITOR_TOKEN}", "Upload-Length": "10"})
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.json["error"]["code"] == "tus_version_unsupported"


def test_an_upload_in_chunks_becomes_a_master_in_the_ingest_folder(client, media_root, master):
    created = create(client, len(master))
    assert created.status_code == 201, created.json
    url = created.headers["Location"]
    assert url == f"/api/v1/uploads/{created.json['id']}" and created.json["offset"] == 0
    assert created.headers["Upload-Expires"].endswith(" GMT")
    assert files_below(media_root / "ingest") == [
        f".uploads/{created.json['id']}.json", f".uploads/{created.json['id']}.part"]

    head = client.head(url, headers=EDITOR)
    assert head.headers["Upload-Length"] == str(len(master))
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Upload-Metadata"] == metadata(filename="rutte statement.mov",
                                                       filetype="video/quicktime")
    half = len(master) // 2
    first = patch(client, url, 0, master[:half])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == str(half)
    assert offset_of(client, url) == half
    assert not (media_root / "ingest" / "uploads").exists()  # nothing in place before the end
    last = patch(client, url, half, master[half:])
    assert last.status_code == 204 and last.headers["Upload-Offset"] == str(len(master))
    assert "Upload-Expires" not in last.headers  # a master now, kept

    placed = media_root / "ingest" / "uploads" / created.json["id"] / "rutte-statement.mov"
    assert placed.read_bytes() == master
    assert not list((media_root / "ingest" / ".uploads").glob("*.part"))
    state = client.get(url, headers=EDITOR).json
    assert state["complete"] is True and state["offset"] == len(master)


def test_a_chunk_at_the_wrong_offset_is_409_and_changes_nothing(client, master):
    url = create(client, len(master)).headers["Location"]
    patch(client, url, 0, master[:100])
    for wrong in (0, 50, 200):
        response = patch(client, url, wrong, master[wrong:wrong + 100])
        assert response.status_code == 409
        assert (response.json["error"]["code"], response.json["error"]["offset"]) == (
            "upload_offset_mismatch", 100)
    assert offset_of(client, url) == 100


def test_a_chunk_must_be_sent_as_offset_octet_stream(client, master):
    url = create(client, len(master)).headers["Location"]
    response = client.patch(url, data=master[:10], headers={
        **EDITOR, "Upload-Offset": "0", "Content-Type": "application/json"})
    assert response.status_code == 415
    assert response.json["error"]["code"] == "invalid_upload_content_type"


@pytest.mark.parametrize("algorithm", ["sha256", "sha1"])
def test_a_checksummed_chunk_is_kept_and_a_tampered_one_is_not(client, media_root, master,
                                                             algorithm):
    url = create(client, len(master)).headers["Location"]
    chunk = master[:1000]

    def checksum(data: bytes) -> str:
        digest = hashlib.new(algorithm, data).digest()
        return f"{algorithm} {base64.b64encode(digest).decode()}"

    assert patch(client, url, 0, chunk, **{"Upload-Checksum": checksum(chunk)}).status_code \
        == 204
    tampered = bytearray(master[1000:2000])
    tampered[10] ^= 0xFF
    refused = patch(client, url, 1000, bytes(tampered),
                    **{"Upload-Checksum": checksum(master[1000:2000])})
    assert refused.status_code == 460
    assert refused.json["error"]["code"] == "checksum_mismatch"
    assert offset_of(client, url) == 1000
    part = next((media_root / "ingest" / ".uploads").glob("*.part"))
    assert part.read_bytes() == chunk  # the tampered bytes were not kept


def test_an_unknown_checksum_algorithm_is_400(client, master):
    url = create(client, len(master)).headers["Location"]
    response = patch(client, url, 0, master[:10], **{"Upload-Checksum": "md5 AAAA"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "unsupported_checksum"
    assert offset_of(client, url) == 0


def test_bytes_past_the_committed_offset_after_a_crash_are_cut_back(client, media_root,
                                                                   master):
    url = create(client, len(master)).headers["Location"]
    patch(client, url, 0, master[:500])
    part = next((media_root / "ingest" / ".uploads").glob("*.part"))
    with open(part, "ab") as leftover:  # a worker died in the middle of the next chunk
        leftover.write(b"garbage from a chunk never confirmed")
    assert offset_of(client, url) == 500
    assert patch(client, url, 500, master[500:510]).status_code == 204
    assert part.read_bytes() == master[:510]  # the leftover is gone, not just overwritten
    assert patch(client, url, 510, master[510:]).status_code == 204
    [placed] = (media_root / "ingest" / "uploads").rglob("*.mov")
    assert placed.read_bytes() == master


def test_a_second_request_on_a_busy_upload_is_told_to_come_back(client, media_root, master):
    url = create(client, len(master)).headers["Location"]
    upload_id = url.rsplit("/", 1)[1]
    with open(media_root / "ingest" / ".uploads" / f"{upload_id}.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        busy = patch(client, url, 0, master[:100])
    assert busy.status_code == 423 and busy.json["error"]["code"] == "upload_locked"
    assert patch(client, url, 0, master[:100]).status_code == 204


def test_a_file_that_is_not_media_is_refused_and_nothing_is_left(client, media_root):
    text = b"Minutes of the meeting, not a video.\n" * 30
    url = create(client, len(text), filename="minutes.mov").headers["Location"]
    assert patch(client, url, 0, text[:500]).status_code == 204
    refused = patch(client, url, 500, text[500:], headers={**EDITOR, "Accept-Language": "en"})
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "invalid_media"
    assert "minutes.mov" in refused.json["error"]["reason"]
    assert str(media_root) not in refused.json["error"]["reason"]
    assert files_below(media_root / "ingest") == []
    assert client.head(url, headers=EDITOR).status_code == 404


def test_giving_an_upload_up_deletes_it(client, media_root, master):
    url = create(client, len(master)).headers["Location"]
    patch(client, url, 0, master[:100])
    assert client.delete(url, headers=EDITOR).status_code == 204
    assert files_below(media_root / "ingest") == []
    assert client.head(url, headers=EDITOR).status_code == 404
    done = create(client, len(master)).headers["Location"]
    patch(client, done, 0, master)
    assert client.delete(done, headers=EDITOR).status_code == 409  # a master now


def test_an_abandoned_upload_expires_and_is_swept(app, client, media_root, master):
    url = create(client, len(master)).headers["Location"]
    patch(client, url, 0, master[:100])
    store = app.extensions["uploads"]
    now = store.clock()
    store.clock = lambda: now + timedelta(hours=23)
    assert offset_of(client, url) == 100  # not yet
    assert store.sweep() == []
    store.clock = lambda: now + timedelta(hours=24, seconds=1)
    assert store.sweep() == [url.rsplit("/", 1)[1]]
    assert files_below(media_root / "ingest") == []
    assert client.head(url, headers=EDITOR).status_code == 404


def test_journalists_cannot_upload_and_editors_see_only_their_own(client, master):
    refused = create(client, len(master), headers=JOURNALIST)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "1"}) \
        .status_code == 401
    url = create(client, len(master)).headers["Location"]
    for method in ("head", "get", "delete"):
        assert getattr(client, method)(url, headers=OTHER_EDITOR).status_code == 404
    assert patch(client, url, 0, master[:10], headers=OTHER_EDITOR).status_code == 404
    assert patch(client, url, 0, master[:10], headers=JOURNALIST).status_code == 403
    assert offset_of(client, url) == 0


def test_the_limits_size_uploads_in_progress_and_room(app, client, master):
    too_large = create(client, 500 * 10**9 + 1)
    assert too_large.status_code == 413
    assert too_large.json["error"]["code"] == "upload_too_large"
    for _ in range(3):
        assert create(client, len(master)).status_code == 201
    busy = create(client, len(master))
    assert busy.status_code == 429 and busy.json["error"]["code"] == "too_many_uploads"
    assert create(client, len(master), headers=OTHER_EDITOR).status_code == 201  # per editor
    app.extensions["uploads"].limits = type(app.extensions["uploads"].limits)(
        disk_reserve=10**18)
    full = create(client, 10, headers=OTHER_EDITOR)
    assert full.status_code == 507 and full.json["error"]["code"] == "insufficient_storage"


def test_a_chunk_past_the_chunk_limit_is_413(app, client, master):
    app.config["UPLOAD_CHUNK_MAX_BYTES"] = 1000
    url = create(client, len(master)).headers["Location"]
    response = patch(client, url, 0, master[:1001])
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert offset_of(client, url) == 0


def test_a_complete_upload_is_ingested_by_its_id(client, rpc, master):
    created = create(client, len(master))
    url, upload_id = created.headers["Location"], created.json["id"]
    patch(client, url, 0, master[:100])
    early = client.post("/api/v1/videos", json={"news_id": NEWS_ID, "upload_id": upload_id},
                        headers=EDITOR)
    assert early.status_code == 409 and early.json["error"]["code"] == "upload_not_complete"
    patch(client, url, 100, master[100:])
    others = client.post("/api/v1/videos", json={"news_id": NEWS_ID, "upload_id": upload_id},
                         headers=OTHER_EDITOR)
    assert others.status_code == 404
    ingested = client.post("/api/v1/videos", json={"news_id": NEWS_ID, "upload_id": upload_id},
                           headers=EDITOR)
    assert ingested.status_code == 201, ingested.json
    assert rpc.calls[-1] == ("catalog.ingest_video", {
        "news_id": NEWS_ID, "master_path": f"uploads/{upload_id}/rutte-statement.mov",
        "shotlist": None})
    both = client.post("/api/v1/videos", headers=EDITOR, json={
        "news_id": NEWS_ID, "upload_id": upload_id, "master_path": "x.mov"})
    neither = client.post("/api/v1/videos", headers=EDITOR, json={"news_id": NEWS_ID})
    assert both.status_code == neither.status_code == 400


def test_a_probe_that_cannot_run_keeps_the_upload_for_a_retry(app, client, media_root,
                                                             master):
    from gateway.uploads.store import ProbeUnavailable

    store = app.extensions["uploads"]
    working = store.probe

    def killed(path):
        raise ProbeUnavailable("ffprobe was stopped by signal 9")

    store.probe = killed
    url = create(client, len(master)).headers["Location"]
    failed = patch(client, url, 0, master)
    assert failed.status_code == 503  # not the file's fault: nothing is thrown away
    assert offset_of(client, url) == len(master)
    assert client.get(url, headers=EDITOR).json["complete"] is False
    store.probe = working
    retried = patch(client, url, len(master), b"")  # the end again: it is finished now
    assert retried.status_code == 204
    [placed] = (media_root / "ingest" / "uploads").rglob("*.mov")
    assert placed.read_bytes() == master


def test_an_empty_chunk_does_not_keep_an_upload_alive(app, client, master):
    url = create(client, len(master)).headers["Location"]
    before = client.head(url, headers=EDITOR).headers["Upload-Expires"]
    store = app.extensions["uploads"]
    now = store.clock()
    store.clock = lambda: now + timedelta(hours=1)
    assert patch(client, url, 0, b"").status_code == 204
    assert client.head(url, headers=EDITOR).headers["Upload-Expires"] == before


def test_uploads_in_progress_are_counted_under_a_lock_and_per_editor(app, master):
    def one(_):
        return create(app.test_client(), len(master)).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(one, range(12)))
    assert statuses.count(201) == 3 and statuses.count(429) == 9
    # the room an editor's declared sizes take counts against that editor, not the others
    client = app.test_client()
    store = app.extensions["uploads"]
    store.limits = dataclasses.replace(store.limits, max_bytes=10**15)
    free = shutil.disk_usage(app.config["MEDIA_ROOT"]).free
    assert create(client, free - 10**7, headers=OTHER_EDITOR).status_code == 201
    assert create(client, 2 * 10**7, headers=OTHER_EDITOR).status_code == 507
    assert create(client, len(master), headers=EDITOR).status_code == 429  # still 3 of them
    store.limits = dataclasses.replace(store.limits, max_in_progress=4)
    assert create(client, len(master), headers=EDITOR).status_code == 201


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"Authorization": "Bearer dead"}, 401),
    ({"Authorization": f"Bearer {GOOD_TOKEN}"}, 403),
    ({"Authorization": f"Bearer {EDITOR_TOKEN}"}, 204)])
def test_the_front_door_asks_who_may_send_an_upload_before_reading_it(client, headers, status):
    assert client.get("/_frontdoor/auth/editor", headers=headers).status_code == status
