"""Downloads: POST /api/v1/videos/<id>/downloads and GET /api/v1/downloads/<id> (the catalog
as the gate, the transcoder's answers and errors, the link issued and recorded), and the signed
links under /files/ (whose session, expiry, tampering, the path rule, Range, the filename)."""

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from gateway.app import create_app
from services.shared.errors import ServiceError

from .conftest import PUBLIC_BASE_URL
from .fakes import (
    ACCOUNT,
    CUT_PATH,
    EDITOR_TOKEN,
    GOOD_TOKEN,
    JOB_ID,
    OTHER_TOKEN,
    READY_JOB,
    SLUG,
    UNVERIFIED_TOKEN,
    VIDEO,
    VIDEO_ID,
)

CONTENT = b"a cut"
BEARER = {"Authorization": f"Bearer {GOOD_TOKEN}"}
OTHER = {"Authorization": f"Bearer {OTHER_TOKEN}"}
DOWNLOADS = f"/api/v1/videos/{VIDEO_ID}/downloads"
CUT = {"rendition": "h264-1080p", "in": "10:00:00:10", "out": 1.6}


@pytest.fixture
def media_root(tmp_path):
    root = tmp_path / "media"
    (root / "cuts" / VIDEO_ID).mkdir(parents=True)
    (root / CUT_PATH).write_bytes(CONTENT)
    (root / "ingest" / "2025" / "12").mkdir(parents=True)
    (root / VIDEO["master_path"]).write_bytes(b"master")
    (tmp_path / "secret.mp4").write_bytes(b"not yours")
    return root


@pytest.fixture
def app(rpc, media_root):
    return create_app(rpc=rpc, config={
        "TESTING": True, "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "TRUSTED_PROXY_COUNT": 0,
        "MEDIA_ROOT": media_root})


def files_path(url: str) -> str:
    assert url.startswith(PUBLIC_BASE_URL + "/files/")
    return url.removeprefix(PUBLIC_BASE_URL)


def signed(app, payload) -> str:
    return "/files/" + URLSafeTimedSerializer(app.config["DOWNLOAD_LINK_KEYS"].current,
                                              salt="download").dumps(payload)


def ready(rpc):
    rpc.answer("transcoder.request_download", dict(READY_JOB))


# -- asking for a download ---------------------------------------------------------------------

def test_an_unverified_account_may_not_download(client, rpc):
    response = client.post(DOWNLOADS, json=CUT,
                           headers={"Authorization": f"Bearer {UNVERIFIED_TOKEN}"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "not_verified"
    assert not [c for c in rpc.methods_called if c.startswith(("transcoder.", "catalog."))]


def test_without_a_session_it_is_401(client):
    assert client.post(DOWNLOADS, json=CUT).status_code == 401


def test_a_video_that_is_not_public_is_404_and_nothing_is_made(client, rpc):
    rpc.answer("catalog.get_video", ServiceError("not_found", {"resource": "video"}))
    response = client.post(DOWNLOADS, json=CUT, headers=BEARER)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert not [c for c in rpc.methods_called if c.startswith("transcoder.")]


def test_a_job_being_made_is_202_with_where_to_ask(client, rpc):
    response = client.post(DOWNLOADS, json={**CUT, "accuracy": "frame"}, headers=BEARER)
    assert response.status_code == 202
    assert response.json == {"id": JOB_ID, "status": "queued",
                             "status_url": f"/api/v1/downloads/{JOB_ID}", "progress": 0}
    kwargs = dict(rpc.calls)["transcoder.request_download"]
    assert kwargs == {"video_id": VIDEO_ID, "rendition": "h264-1080p", "in_": "10:00:00:10",
                      "out": 1.6, "accuracy": "frame", "account_id": ACCOUNT["id"]}
    assert "transcoder.record_download" not in rpc.methods_called


def test_accuracy_defaults_to_fast_and_a_whole_rendition_has_no_points(client, rpc):
    client.post(DOWNLOADS, json={"rendition": "xdcam-hd422"}, headers=BEARER)
    kwargs = dict(rpc.calls)["transcoder.request_download"]
    assert (kwargs["in_"], kwargs["out"], kwargs["accuracy"]) == (None, None, "fast")


@pytest.mark.parametrize("body", [{"rendition": "4k"}, {}, {"rendition": "proxy", "x": 1},
                                  {"rendition": "proxy", "accuracy": "slow"},
                                  {"rendition": "proxy", "in": ""},
                                  {"rendition": "proxy", "in": -1}])
def test_a_malformed_request_is_400_before_any_rpc(client, rpc, body):
    response = client.post(DOWNLOADS, json=body, headers=BEARER)
    assert response.status_code == 400
    assert "transcoder.request_download" not in rpc.methods_called


def test_a_ready_file_is_200_with_a_link_that_works_and_is_recorded(client, rpc):
    ready(rpc)
    response = client.post(DOWNLOADS, json=CUT, headers=BEARER)
    assert response.status_code == 200
    body = response.json
    assert body["id"] == JOB_ID and body["status"] == "ready" and body["progress"] == 100
    assert (body["in_tc"], body["out_tc"]) == ("10:00:00:00", "10:00:01:15")
    assert body["expires_at"].endswith("Z")
    assert body["filename"] == f"{SLUG}_h264-1080p_10h00m00s00-10h00m01s15.mp4"
    recorded = dict(rpc.calls)["transcoder.record_download"]
    assert recorded == {"job_id": JOB_ID, "account_id": ACCOUNT["id"],
                        "email": ACCOUNT["email"], "organisation": ACCOUNT["organisation"],
                        "video_id": VIDEO_ID, "rendition": "h264-1080p",
                        "in_tc": "10:00:00:00", "out_tc": "10:00:01:15", "accuracy": "fast"}

    file = client.get(files_path(body["url"]), headers=BEARER)
    assert file.status_code == 200
    assert file.headers["X-Accel-Redirect"] == f"/_internal/media/{CUT_PATH}"
    assert file.mimetype == "video/mp4"
    assert file.headers["Content-Disposition"] == (
        f'attachment; filename="{SLUG}_h264-1080p_10h00m00s00-10h00m01s15.mp4"')
    assert file.headers["Cache-Control"] == "no-store"


def test_the_original_is_the_master_with_no_job(client, rpc):
    rpc.answer("transcoder.request_download", {
        "id": None, "kind": "original", "video_id": VIDEO_ID, "status": "ready",
        "progress": 100, "rendition": "original", "in_tc": None, "out_tc": None,
        "requested_in_tc": None, "requested_out_tc": None, "accuracy": None, "method": None,
        "path": VIDEO["master_path"], "size_bytes": 6, "error": None})
    response = client.post(DOWNLOADS, json={"rendition": "original"}, headers=BEARER)
    assert response.status_code == 200
    assert response.json["id"] is None and response.json["filename"] == f"{SLUG}_original.mov"
    assert dict(rpc.calls)["transcoder.record_download"]["job_id"] is None
    file = client.get(files_path(response.json["url"]), headers=BEARER)
    assert file.status_code == 200
    assert file.headers["X-Accel-Redirect"] == "/_internal/media/" + VIDEO["master_path"]


def test_a_master_is_never_linked_for_another_rendition(client, rpc):
    rpc.answer("transcoder.request_download", {**READY_JOB, "path": VIDEO["master_path"]})
    assert client.post(DOWNLOADS, json=CUT, headers=BEARER).status_code == 500
    assert "transcoder.record_download" not in rpc.methods_called


def test_a_cut_of_the_original_is_linked_from_the_cuts(client, rpc):
    rpc.answer("transcoder.request_download", {**READY_JOB, "rendition": "original"})
    response = client.post(DOWNLOADS, json={**CUT, "rendition": "original"}, headers=BEARER)
    assert response.status_code == 200
    assert response.json["filename"] == f"{SLUG}_original_10h00m00s00-10h00m01s15.mp4"


def test_a_ready_job_without_a_file_is_not_linked(client, rpc):
    rpc.answer("transcoder.request_download", {**READY_JOB, "path": None})
    assert client.post(DOWNLOADS, json=CUT, headers=BEARER).status_code == 500
    assert "transcoder.record_download" not in rpc.methods_called


CUT_ERRORS = [
    ("invalid_timecode", {"field": "in", "value": "10:00:61:00", "reason": "x"},
     "Le point d'entrée (10:00:61:00) est illisible",
     "The in point (10:00:61:00) cannot be read", {"field": "in", "value": "10:00:61:00"}),
    ("out_of_range", {"field": "out", "value": "11:00:00:00", "reason": "past the end",
                      "start_tc": "10:00:00:00", "end_tc": "10:00:02:00", "duration_s": "2.0"},
     "Le point de sortie est hors de la vidéo, qui va de 10:00:00:00 à 10:00:02:00.",
     "The out point is outside the video, which runs from 10:00:00:00 to 10:00:02:00.",
     {"field": "out", "start_tc": "10:00:00:00", "end_tc": "10:00:02:00"}),
    ("reversed_range", {"in": "2", "out": "1", "in_tc": "10:00:02:00", "out_tc": "10:00:01:00"},
     "Le point de sortie (10:00:01:00) doit venir après le point d'entrée (10:00:02:00).",
     "The out point (10:00:01:00) must come after the in point (10:00:02:00).",
     {"in_tc": "10:00:02:00", "out_tc": "10:00:01:00"}),
    ("cut_too_short", {"duration_s": "0.04", "minimum_s": "0.5"},
     "Cet extrait est trop court : 0.5 secondes au moins.",
     "This cut is too short: 0.5 seconds at least.", {"minimum_s": 0.5}),
    ("cut_too_long", {"duration_s": "7200.0", "maximum_s": "3600"},
     "Cet extrait est trop long : 3600 secondes au plus.",
     "This cut is too long: 3600 seconds at most.", {"maximum_s": 3600.0}),
    ("invalid_rendition", {"rendition": "poster", "allowed": ["proxy"]},
     "Cette version ne peut pas être téléchargée", "This rendition cannot be downloaded",
     {"allowed": ["proxy"]}),
    ("invalid_accuracy", {"accuracy": "x", "allowed": ["fast", "frame"]},
     "La précision d'un extrait", "The accuracy of a cut", {"allowed": ["fast", "frame"]}),
]


@pytest.mark.parametrize(("code", "details", "french", "english", "shown"), CUT_ERRORS,
                         ids=[error[0] for error in CUT_ERRORS])
def test_each_cut_error_is_400_in_french_and_english(client, rpc, code, details, french,
                                                     english, shown):
    rpc.answer("transcoder.request_download", ServiceError(code, details))
    for lang, message in (("fr", french), ("en", english)):
        response = client.post(f"{DOWNLOADS}?lang={lang}", json=CUT, headers=BEARER)
        assert response.status_code == 400
        error = response.json["error"]
        assert error["code"] == code
        assert error["message"].startswith(message), error["message"]
        for name, value in shown.items():
            assert error[name] == value


# -- how it goes -------------------------------------------------------------------------------

def test_a_ready_job_answers_a_new_link(client, rpc):
    response = client.get(f"/api/v1/downloads/{JOB_ID}", headers=BEARER)
    assert response.status_code == 200
    assert response.json["status"] == "ready" and response.json["url"]
    assert response.json["error"] is None
    assert "transcoder.record_download" in rpc.methods_called
    file = client.get(files_path(response.json["url"]), headers=BEARER)
    assert file.headers["X-Accel-Redirect"] == f"/_internal/media/{CUT_PATH}"


def test_a_queued_job_has_no_link(client, rpc):
    rpc.answer("transcoder.get_job", {**READY_JOB, "status": "running", "progress": 40,
                                      "path": None})
    body = client.get(f"/api/v1/downloads/{JOB_ID}", headers=BEARER).json
    assert (body["status"], body["progress"], body["url"], body["expires_at"]) == (
        "running", 40, None, None)
    assert "transcoder.record_download" not in rpc.methods_called


def test_a_failed_job_says_so_without_the_transcoders_words(client, rpc):
    rpc.answer("transcoder.get_job", {**READY_JOB, "status": "failed", "path": None,
                                      "error": "ffmpeg exited with 1: /srv/media/cuts/x"})
    body = client.get(f"/api/v1/downloads/{JOB_ID}?lang=en", headers=BEARER).json
    assert body["status"] == "failed" and "/srv" not in body["error"]
    assert body["error"].startswith("This file could not be made")


def test_an_evicted_cut_is_asked_for_again(client, rpc):
    rpc.answer("transcoder.get_job", {**READY_JOB, "status": "evicted", "path": None})
    body = client.get(f"/api/v1/downloads/{JOB_ID}", headers=BEARER).json
    assert body["status"] == "queued"
    kwargs = dict(rpc.calls)["transcoder.request_download"]
    assert (kwargs["in_"], kwargs["out"], kwargs["rendition"]) == (
        "10:00:00:10", "10:00:01:15", "h264-1080p")


def test_a_job_of_a_video_no_longer_public_is_404(client, rpc):
    rpc.answer("catalog.get_video", ServiceError("not_found", {"resource": "video"}))
    assert client.get(f"/api/v1/downloads/{JOB_ID}", headers=BEARER).status_code == 404


def test_a_preview_job_is_not_a_download(client, rpc):
    rpc.answer("transcoder.get_job", {**READY_JOB, "kind": "preview", "rendition": "preview"})
    assert client.get(f"/api/v1/downloads/{JOB_ID}", headers=BEARER).status_code == 404


def test_the_link_lasts_download_link_seconds(app, client, link, monkeypatch):
    app.config["DOWNLOAD_LINK_SECONDS"] = 60
    later = TimestampSigner.get_timestamp(None) + 61
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert client.get(link, headers=BEARER).status_code == 410


def test_an_unknown_job_is_404(client, rpc):
    rpc.answer("transcoder.get_job", ServiceError("not_found", {"resource": "job"}))
    assert client.get(f"/api/v1/downloads/{JOB_ID}", headers=BEARER).status_code == 404
    assert client.get("/api/v1/downloads/not-a-uuid", headers=BEARER).status_code == 404


# -- the signed links --------------------------------------------------------------------------

@pytest.fixture
def link(client, rpc) -> str:
    ready(rpc)
    return files_path(client.post(DOWNLOADS, json=CUT, headers=BEARER).json["url"])


def test_a_link_needs_a_session(client, link):
    response = client.get(link)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_link_works_with_the_session_cookie(client, link):
    client.set_cookie("__Host-newsreel_session", GOOD_TOKEN)
    assert client.get(link).status_code == 200


def test_a_link_is_only_for_its_account(client, link):
    response = client.get(link, headers=OTHER)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_an_expired_link_is_410(client, link, monkeypatch):
    later = TimestampSigner.get_timestamp(None) + 3601
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    for lang, start in (("fr", "Ce lien de téléchargement a expiré"),
                        ("en", "This download link has expired")):
        response = client.get(f"{link}?lang={lang}", headers=BEARER)
        assert response.status_code == 410
        assert response.json["error"]["code"] == "link_expired"
        assert response.json["error"]["message"].startswith(start)


def test_a_link_works_until_it_expires(client, link, monkeypatch):
    later = TimestampSigner.get_timestamp(None) + 3500
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert client.get(link, headers=BEARER).status_code == 200


def test_a_tampered_link_is_404(client, link):
    token = link.removeprefix("/files/")
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for path in (f"/files/{tampered}", "/files/nothing", f"/files/{token[::-1]}"):
        response = client.get(path, headers=BEARER)
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found"


def test_a_link_signed_with_another_key_is_404(client):
    token = URLSafeTimedSerializer("another-key", salt="download").dumps(
        {"path": CUT_PATH, "account_id": ACCOUNT["id"], "filename": "x.mp4"})
    assert client.get(f"/files/{token}", headers=BEARER).status_code == 404


@pytest.mark.parametrize("path", [
    f"cuts/{VIDEO_ID}/../../../secret.mp4", "../secret.mp4", "/etc/passwd",
    f"cuts/{VIDEO_ID}/./0123456789abcdef.mp4", "previews/x.mp4", "cuts", "",
    f"cuts/{VIDEO_ID}/.hidden.mp4", f"cuts\\{VIDEO_ID}\\0123456789abcdef.mp4"])
def test_a_signed_path_outside_the_served_folders_is_refused(app, client, path):
    url = signed(app, {"path": path, "account_id": ACCOUNT["id"], "filename": "x.mp4"})
    assert client.get(url, headers=BEARER).status_code == 404


def test_a_symbolic_link_below_the_folders_is_refused(app, client, media_root, tmp_path):
    (media_root / "cuts" / VIDEO_ID / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    url = signed(app, {"path": f"cuts/{VIDEO_ID}/link.mp4", "account_id": ACCOUNT["id"],
                       "filename": "x.mp4"})
    assert client.get(url, headers=BEARER).status_code == 404


def test_an_evicted_file_is_404(client, link, media_root):
    (media_root / CUT_PATH).unlink()
    assert client.get(link, headers=BEARER).status_code == 404


def test_a_link_hands_the_file_to_nginx_with_what_describes_it(client, link):
    response = client.get(link, headers=BEARER)
    assert response.status_code == 200 and response.data == b""  # nginx sends the bytes
    assert response.headers["X-Accel-Redirect"] == f"/_internal/media/{CUT_PATH}"
    assert response.headers["X-Newsreel-Kind"] == "cut"
    assert response.mimetype == "video/mp4"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    assert response.headers["Cache-Control"] == "no-store"  # a personal file


@pytest.mark.parametrize(("path", "kind"), [
    (VIDEO["master_path"], "original"), (CUT_PATH, "cut")])
def test_the_kind_of_file_is_named_for_nginxs_log(app, client, path, kind):
    url = signed(app, {"path": path, "account_id": ACCOUNT["id"], "filename": "x.mov"})
    assert client.get(url, headers=BEARER).headers["X-Newsreel-Kind"] == kind


def test_the_filename_is_ascii_and_safe(app, client):
    url = signed(app, {"path": CUT_PATH, "account_id": ACCOUNT["id"],
                       "filename": 'é"; x=1\r\n.mp4'})
    disposition = client.get(url, headers=BEARER).headers["Content-Disposition"]
    assert disposition == 'attachment; filename="-x-1-.mp4"'


def test_the_document_says_both_answers_and_the_cut_errors(client):
    operation = client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/videos/{id}/downloads"]["post"]
    assert {"200", "202", "400", "401", "403", "404"} <= set(operation["responses"])
    for code in ("invalid_timecode", "out_of_range", "reversed_range", "cut_too_short",
                 "cut_too_long", "not_verified"):
        assert code in str(operation["responses"])


# -- the editors' download log -----------------------------------------------------------------

LOG = {"items": [{
    "id": "5b0e5f0e-1111-4a4a-9c9c-0123456789ab", "job_id": JOB_ID,
    "account_id": ACCOUNT["id"], "email": ACCOUNT["email"], "organisation": "Le Quotidien",
    "video_id": VIDEO_ID, "rendition": "h264-1080p", "in_tc": "10:00:00:10",
    "out_tc": "10:00:01:15", "accuracy": "frame", "created_at": "2026-11-21T12:00:00Z"}],
    "page": 2, "per_page": 10, "total": 11}


def test_editors_list_who_took_what(client, rpc):
    rpc.answer("transcoder.list_downloads", LOG)
    response = client.get(f"/api/v1/downloads?video_id={VIDEO_ID}&since=2026-11-01T00:00:00Z"
                          "&page=2&per_page=10",
                          headers={"Authorization": f"Bearer {EDITOR_TOKEN}"})
    assert response.status_code == 200, response.json
    assert response.json == LOG
    assert rpc.calls[-1] == ("transcoder.list_downloads", {
        "video_id": VIDEO_ID, "account_id": None, "since": "2026-11-01T00:00:00Z",
        "page": 2, "per_page": 10})


@pytest.mark.parametrize("query", ["since=yesterday", "per_page=501", "video_id=../x"])
def test_the_download_log_refuses_bad_filters(client, rpc, query):
    response = client.get(f"/api/v1/downloads?{query}",
                          headers={"Authorization": f"Bearer {EDITOR_TOKEN}"})
    assert response.status_code == 400
    assert "transcoder.list_downloads" not in rpc.methods_called


def test_the_download_log_is_for_editors_only(client, rpc):
    response = client.get("/api/v1/downloads", headers=BEARER)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert client.get("/api/v1/downloads").status_code == 401
    assert "transcoder.list_downloads" not in rpc.methods_called
