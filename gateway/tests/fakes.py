"""A stand-in for the services behind the gateway: it records every call and answers like the
auth and catalog services would (the catalog's answers have the real shapes, internals
included), or with whatever a test scripts (a value, a real ServiceError, or a
ServiceUnavailable)."""

import copy
from typing import Any

from gateway.rpc import ServiceUnavailable
from gateway.terms import TERMS_VERSION
from services.shared.errors import ServiceError

GOOD_TOKEN = "good-session-token"
OTHER_TOKEN = "other-session-token"
UNVERIFIED_TOKEN = "unverified-session-token"
EDITOR_TOKEN = "editor-session-token"
EXPIRES_AT = "2099-01-01T00:00:00Z"
ACCOUNT = {
    "id": "7f0c6a1e-0d5b-4a43-9a4e-1c2f7b9e8d10",
    "email": "claire.martin@example.org",
    "full_name": "Claire Martin",
    "organisation": "Le Quotidien",
    "language": "fr",
    "newsletter": False,
    "verified": True,
    "roles": [],
    "terms_version": TERMS_VERSION,
    "terms_accepted_at": "2026-11-21T09:15:00Z",
}
PUBLIC_ACCOUNT = {name: ACCOUNT[name] for name in
                  ("email", "full_name", "organisation", "language", "newsletter", "verified",
                   "terms_version", "terms_accepted_at")}
EDITOR_ACCOUNT = {**ACCOUNT, "id": "0b7d3c51-5f7e-4c59-a1f4-3f5d2b9e7a21",
                  "email": "paul.editor@example.org", "full_name": "Paul Editor",
                  "organisation": "Newsreel", "roles": ["editor"]}
OTHER_ACCOUNT = {**ACCOUNT, "id": "5a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                 "email": "jan.peeters@example.org", "full_name": "Jan Peeters",
                 "organisation": "De Krant"}
UNVERIFIED_ACCOUNT = {**ACCOUNT, "id": "6b2e3d4c-5f6a-4b7c-9d8e-0f1a2b3c4d5e",
                      "email": "new.comer@example.org", "verified": False}
OTHER_EDITOR_TOKEN = "other-editor-session-token"
OTHER_EDITOR_ACCOUNT = {**EDITOR_ACCOUNT, "id": "1c8e4d62-6a8f-4d6a-b2a5-4a6e3cae8b32",
                        "email": "rita.editor@example.org", "full_name": "Rita Editor"}
SESSIONS = {GOOD_TOKEN: ACCOUNT, EDITOR_TOKEN: EDITOR_ACCOUNT, OTHER_TOKEN: OTHER_ACCOUNT,
            UNVERIFIED_TOKEN: UNVERIFIED_ACCOUNT, OTHER_EDITOR_TOKEN: OTHER_EDITOR_ACCOUNT}


def _authenticate(token: str) -> dict:
    if token not in SESSIONS:
        raise ServiceError("unauthorized")
    return copy.deepcopy(SESSIONS[token])


def _set_newsletter(token: str, subscribed: bool) -> dict:
    return {**_authenticate(token), "newsletter": subscribed}


def _session(**_: Any) -> dict:
    return {"token": GOOD_TOKEN, "expires_at": EXPIRES_AT, "account": dict(ACCOUNT)}


# what auth.list_sessions answers: the asking session first (and a field auth might add one
# day, that the gateway must not pass on)
SESSION_LIST = [
    {"id": "3f2a9c1d5e7b4a60", "current": True, "created_at": "2026-12-01T08:00:00Z",
     "last_seen_at": "2026-12-04T09:12:00Z", "expires_at": "2026-12-08T08:00:00Z",
     "client_ip": "198.51.100.7",
     "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "token_hash": "not-for-the-client"},
    {"id": "8b1e0f4c2d6a9e37", "current": False, "created_at": "2026-11-30T18:00:00Z",
     "last_seen_at": "2026-12-03T19:45:00Z", "expires_at": "2026-12-07T18:00:00Z",
     "client_ip": "2001:db8::7", "user_agent": None},
]


AUTH_ANSWERS = {
    "register": None,
    "resend_verification": None,
    "verify_account": _session,
    "login": _session,
    "logout": None,
    "authenticate": _authenticate,
    "set_newsletter": _set_newsletter,
    "request_password_reset": None,
    "verify_password_reset": {"reset_token": "reset-token", "expires_at": EXPIRES_AT},
    "complete_password_reset": None,
    "list_sessions": lambda **_: copy.deepcopy(SESSION_LIST),
    "end_other_sessions": 2,
    "change_password": None,
}


# -- the catalog ---------------------------------------------------------------------------------

NEWS_ID = "5ea9d10e-2c02-4e9f-b1bf-b3ec509b469c"
VIDEO_ID = "9f1c2b7e-4d3a-4e5f-8a6b-1c2d3e4f5a6b"
MEDIA = "http://127.0.0.1:8000/media/renditions/" + VIDEO_ID
PAGE_URL = "http://127.0.0.1:8000/news/"
VIDEO_SUMMARY = {
    "id": VIDEO_ID, "position": 1, "programme": "1/1", "duration": 2.0, "frame_rate": "25/1",
    "start_timecode": "10:00:00:00", "width": 1920, "height": 1080,
    "poster_url": f"{MEDIA}/poster.jpg", "preview_url": f"{MEDIA}/proxy.mp4",
}
SLUG = "a-bruxelles-les-ministres-des-affaires-etrangeres-des-pays-de-l-otan-se-sont"
NEWS_SUMMARY = {
    "id": NEWS_ID, "status": "published", "slug": SLUG,
    "language": "fr", "languages": ["fr", "en"],
    "title": "À Bruxelles, les ministres des Affaires étrangères des pays de l'OTAN se sont "
             "réunis",
    "summary": "Les ministres des Affaires étrangères des pays de l'OTAN se sont réunis à "
               "Bruxelles le mercredi 3 décembre 2025.",
    "published_at": "2025-12-03T12:00:00Z",
    "url": PAGE_URL + SLUG,
    "poster_url": f"{MEDIA}/poster.jpg", "videos": [VIDEO_SUMMARY],
}
NEWS_ITEM = {
    **NEWS_SUMMARY,
    "body": [{"type": "paragraph", "text": "Les ministres ont fait le point."},
             {"type": "quote", "text": "« Nous restons unis »", "attribution": "Mark Rutte"}],
    "embargo_until": None,
    "translations": [
        {"language": "fr", "slug": NEWS_SUMMARY["slug"], "title": NEWS_SUMMARY["title"],
         "summary": NEWS_SUMMARY["summary"], "url": NEWS_SUMMARY["url"]},
        {"language": "en",
         "slug": "nato-foreign-ministers-take-stock-between-the-hague-and-ankara-summits",
         "title": "NATO Foreign Ministers take stock between The Hague and Ankara summits",
         "summary": "NATO Foreign Ministers met in Brussels on Wednesday 3 December 2025.",
         "url": PAGE_URL + "nato-foreign-ministers-take-stock-between-the-hague-and-ankara-"
                           "summits"}],
    "created_at": "2025-12-03T11:00:00Z", "updated_at": "2025-12-03T12:00:00Z",
}
DRAFT = {**NEWS_ITEM, "status": "draft", "published_at": None, "poster_url": None,
         "videos": [], "embargo_until": "2099-01-01T09:00:00Z"}
VIDEO = {
    **VIDEO_SUMMARY, "news_id": NEWS_ID, "master_path": "ingest/2025/12/rutte.mov",
    "end_timecode": "10:00:02:00", "audio_channels": 2, "audio_streams": 1,
    "video_codec": "prores", "pixel_format": "yuv422p10le", "field_order": "progressive",
    "container": "mov,mp4,m4a,3gp,3g2,mj2", "size_bytes": 12_345_678, "frame_count": 50,
    "shotlist": [
        {"in_tc": "10:00:00:00", "out_tc": "10:00:01:00", "kind": "shot",
         "description": {"fr": "Arrivée des ministres", "en": "Ministers arrive"},
         "in_seconds": 0.0, "out_seconds": 1.0},
        {"in_tc": "10:00:01:00", "out_tc": "10:00:02:00", "kind": "soundbite",
         "description": {"fr": "Déclaration", "en": "Statement"}, "speaker": "Mark Rutte",
         "in_seconds": 1.0, "out_seconds": 2.0}],
    "renditions": [
        {"name": "original", "status": "ready", "path": "ingest/2025/12/rutte.mov",
         "size_bytes": 12_345_678, "url": None, "error": None, "details": {},
         "updated_at": "2025-12-03T11:00:00Z"},
        {"name": "h264-1080p", "status": "failed", "path": None, "size_bytes": None,
         "url": None, "error": "ffmpeg exited with 1: /srv/media/renditions/x.mp4",
         "details": {}, "updated_at": "2025-12-03T11:05:00Z"},
        {"name": "poster", "status": "ready", "path": f"renditions/{VIDEO_ID}/poster.jpg",
         "size_bytes": 20_000, "url": f"{MEDIA}/poster.jpg", "error": None,
         "details": {"width": 1920}, "updated_at": "2025-12-03T11:01:00Z"}],
    "hls_url": f"{MEDIA}/hls/index.m3u8", "storyboard_url": None,
    "ingested_at": "2025-12-03T11:00:00Z",
}


def _page(page: int = 1, per_page: int = 20, **_: Any) -> dict:
    return {"items": [copy.deepcopy(NEWS_SUMMARY)], "page": page, "per_page": per_page,
            "total": 1}


CATALOG_ANSWERS = {
    "list_news": _page,
    "get_news": lambda **_: copy.deepcopy(NEWS_ITEM),
    "get_video": lambda **_: copy.deepcopy(VIDEO),
    "create_news": lambda **_: copy.deepcopy(DRAFT),
    "update_news": lambda **_: copy.deepcopy(DRAFT),
    "publish_news": lambda **_: copy.deepcopy(NEWS_ITEM),
    "ingest_video": lambda **_: copy.deepcopy(VIDEO),
    "video_access": lambda video_id, **_: {"video_id": video_id, "public": True},
}

# -- the transcoder ------------------------------------------------------------------------------

JOB_ID = "3c9e2d4f-8a1b-4c5d-9e6f-7a8b9c0d1e2f"
CUT_PATH = f"cuts/{VIDEO_ID}/0123456789abcdef.mp4"
JOB = {
    "id": JOB_ID, "kind": "cut", "video_id": VIDEO_ID, "status": "queued", "progress": 0,
    "rendition": "h264-1080p", "in_tc": None, "out_tc": None,
    "requested_in_tc": "10:00:00:10", "requested_out_tc": "10:00:01:15", "accuracy": "fast",
    "method": None, "path": None, "size_bytes": None, "error": None, "finished_at": None,
}
READY_JOB = {**JOB, "status": "ready", "progress": 100, "in_tc": "10:00:00:00",
             "out_tc": "10:00:01:15", "method": "copy", "path": CUT_PATH, "size_bytes": 1000,
             "finished_at": "2025-12-03T12:00:00Z"}


def _recorded(**kwargs: Any) -> dict:
    return {"id": "d0d0d0d0-0000-4000-8000-000000000000", **kwargs,
            "created_at": "2025-12-03T12:00:00Z"}


def _download_log(page: int = 1, per_page: int = 50, **_: Any) -> dict:
    record = _recorded(job_id=JOB_ID, account_id=ACCOUNT["id"], email=ACCOUNT["email"],
                       organisation=ACCOUNT["organisation"], video_id=VIDEO_ID,
                       rendition="h264-1080p", in_tc="10:00:00:10", out_tc="10:00:01:15",
                       accuracy="frame")
    return {"items": [record], "page": page, "per_page": per_page, "total": 1}


TRANSCODER_ANSWERS = {
    "request_download": lambda **_: copy.deepcopy(JOB),
    "get_job": lambda **_: copy.deepcopy(READY_JOB),
    "record_download": _recorded,
    "list_downloads": _download_log,
}
ANSWERS = {"auth": AUTH_ANSWERS, "catalog": CATALOG_ANSWERS, "transcoder": TRANSCODER_ANSWERS}


class FakeRpc:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.scripted: dict[str, Any] = {}
        self.ping_error: Exception | None = None
        self.pings: list[str] = []

    def answer(self, call: str, answer: Any) -> None:
        """`call` is "service.method"; `answer` a value, an exception to raise, or a callable
        given the call's keyword arguments."""
        self.scripted[call] = answer

    def call(self, service: str, method: str, **kwargs: Any) -> Any:
        name = f"{service}.{method}"
        self.calls.append((name, kwargs))
        if name in self.scripted:
            answer = self.scripted[name]
        elif method in ANSWERS.get(service, {}):
            answer = ANSWERS[service][method]
        else:
            raise ServiceUnavailable(service, "not running")
        if isinstance(answer, BaseException):
            raise answer
        return answer(**kwargs) if callable(answer) else answer

    def ping(self, service: str) -> None:
        self.pings.append(service)
        if self.ping_error is not None:
            raise self.ping_error

    @property
    def methods_called(self) -> list[str]:
        return [name for name, _ in self.calls]
