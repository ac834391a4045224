"""Downloads, for verified accounts: a broadcast rendition, the proxy or the master, whole or
cut between two points (transcoder service), delivered through a signed link (files.py).

- The catalog is the gate: a video it does not show (its item is a draft or under embargo)
  is 404 here too, for the request and for every later look at the job.
- The transcoder makes the file (or finds it in its cache: the same cut asked before is ready
  at once). Ready: 200 with the link; else 202 with where to ask (`status_url`).
- A download is recorded (transcoder `record_download`: who, what, when) each time a link is
  issued, i.e. with every answer that carries a `url`, not when the file is fetched; editors
  list them (`GET /api/v1/downloads`): the usage terms require credit.
- A cut the cache dropped (`evicted`) is asked again transparently when its status is read.
- Why a job failed stays with the transcoder (paths, ffmpeg's words): the answer says it in a
  sentence."""

import logging
from typing import Any

from flask import Blueprint, jsonify
from flask_babel import gettext as _

from services.shared.errors import ServiceError

from .. import schemas
from ..errors import ApiError
from ..files import download_filename, is_servable_path, issue_link
from ..i18n import current_language
from ..operations import EDITOR, Session, operation
from ..rpc import current_rpc

log = logging.getLogger(__name__)

downloads = Blueprint("downloads", __name__, url_prefix="/api/v1")

TAG = "downloads"
READY = "ready"
EVICTED = "evicted"
FAILED = "failed"
CUT_ERRORS = ("invalid_timecode", "out_of_range", "reversed_range", "cut_too_short",
              "cut_too_long", "invalid_rendition", "invalid_accuracy")
JOB_ID = {**schemas.UUID, "description": "A download's id (its job)."}


def call(service: str, method: str, **kwargs) -> Any:
    return current_rpc().call(service, method, **kwargs)


def verified(session: Session) -> dict:
    if not session.account.get("verified"):
        raise ApiError("not_verified")
    return session.account


def public_video(video_id: str) -> dict:
    """The catalog's video, 404 when it is not public (a draft's, an embargoed item's)."""
    return call("catalog", "get_video", video_id=video_id)


def news_slug(video: dict) -> str:
    if not video.get("news_id"):
        return "video"
    try:
        news = call("catalog", "get_news", id_or_slug=video["news_id"], lang=current_language())
    except ServiceError:
        return "video"
    return news.get("slug") or "video"


def status_url(job_id: str) -> str:
    return f"/api/v1/downloads/{job_id}"


def link_for(job: dict, video: dict, account: dict) -> dict:
    """A ready job's link, recorded as issued to `account`."""
    path = job.get("path")
    # A file of the served folders; the master (ingest/) only ever for `original` (a cut of
    # the original is in cuts/).
    if not is_servable_path(path) or (path.startswith("ingest/")
                                      and job.get("rendition") != "original"):
        log.error("the transcoder answered a path that cannot be linked: %r (%s)", path,
                  job.get("rendition"))
        raise ApiError("internal_error")
    filename = download_filename(news_slug(video), job["rendition"], job.get("in_tc"),
                                 job.get("out_tc"), path)
    url, expires_at = issue_link(path, account["id"], filename)
    call("transcoder", "record_download", job_id=job.get("id"), account_id=account["id"],
         email=account.get("email"), organisation=account.get("organisation"),
         video_id=video["id"], rendition=job["rendition"], in_tc=job.get("in_tc"),
         out_tc=job.get("out_tc"), accuracy=job.get("accuracy"))
    return {"url": url, "expires_at": expires_at, "filename": filename}


def job_answer(job: dict, video: dict, account: dict) -> dict:
    answer = {name: job.get(name) for name in (
        "id", "status", "progress", "rendition", "in_tc", "out_tc", "requested_in_tc",
        "requested_out_tc", "accuracy")}
    answer["progress"] = max(0, min(100, int(job.get("progress") or 0)))
    answer.update(url=None, expires_at=None, filename=None, size_bytes=None, error=None,
                  status_url=status_url(job["id"]) if job.get("id") else None)
    if job.get("status") == READY:
        answer.update(link_for(job, video, account), size_bytes=job.get("size_bytes"))
    elif job.get("status") == FAILED:
        answer["error"] = _("This file could not be made. Try again later, or choose another "
                            "rendition.")
    return answer


@operation(downloads, "POST", "/videos/<id>/downloads", tag=TAG, authenticated=True,
           summary="Download a video: a rendition, whole or cut",
           path={"id": schemas.VIDEO_ID}, body=schemas.DOWNLOAD_REQUEST,
           response=schemas.DOWNLOAD,
           other_responses={202: ("Being made: ask status_url how it goes.",
                                  schemas.DOWNLOAD_PENDING)},
           errors=("not_found", "not_verified", "too_many_jobs", *CUT_ERRORS))
def request_download(id: str, body: dict, session: Session):
    """For verified accounts (403 `not_verified` otherwise), for a public video (404
    otherwise). Without `in` and `out` the whole rendition; with both, the cut [in, out): a
    timecode on the video's clock or seconds from its start. `accuracy` fast (default) cuts on
    whole GOPs, so the file may start a little before `in` and end a little after `out`
    (`in_tc`/`out_tc` say where); frame cuts to the frame.

    A file that is ready (made before: cuts are cached) is answered 200 with its `url`, a
    signed link that works for this account only until `expires_at`; the download is
    recorded when this link is issued. Otherwise 202 with `status_url`."""
    account = verified(session)
    video = public_video(id)
    job = call("transcoder", "request_download", video_id=id, rendition=body["rendition"],
               in_=body.get("in"), out=body.get("out"),
               accuracy=body.get("accuracy", "fast"), account_id=account["id"])
    if job.get("status") == READY:
        return jsonify(job_answer(job, video, account)), 200
    answer = {"id": job["id"], "status": job["status"], "status_url": status_url(job["id"]),
              "progress": max(0, min(100, int(job.get("progress") or 0)))}
    return jsonify(answer), 202


@operation(downloads, "GET", "/downloads/<id>", tag=TAG, authenticated=True,
           summary="How a download goes", path={"id": JOB_ID}, response=schemas.DOWNLOAD,
           errors=("not_found", "not_verified"))
def get_download(id: str, session: Session):
    """`status` queued, running, ready (with a new `url` and its `expires_at`, the download
    recorded) or failed (`error` says so); `progress` 0-99 while it is made, 100 once ready.
    A cut the cache dropped since is asked for again (its status is then queued)."""
    account = verified(session)
    job = call("transcoder", "get_job", job_id=id)
    if job.get("kind") == "preview":  # the previews' own work: not a download
        raise ApiError("not_found")
    video = public_video(job["video_id"])
    if job.get("status") == EVICTED:
        job = call("transcoder", "request_download", video_id=job["video_id"],
                   rendition=job["rendition"], in_=job.get("requested_in_tc"),
                   out=job.get("requested_out_tc"), accuracy=job.get("accuracy") or "fast",
                   account_id=account["id"])
    return jsonify(job_answer(job, video, account))


@operation(downloads, "GET", "/downloads", tag=TAG, role=EDITOR,
           summary="Who took what: the download log", query=schemas.DOWNLOAD_LOG_QUERY,
           response=schemas.DOWNLOAD_LOG)
def list_downloads(query: dict, session: Session):
    """Every link issued (account, e-mail, organisation, video, rendition, in/out), newest
    first; editors only. Filter by `video_id`, `account_id`, `since`."""
    return jsonify(call("transcoder", "list_downloads", video_id=query.get("video_id"),
                        account_id=query.get("account_id"), since=query.get("since"),
                        page=query["page"], per_page=query["per_page"]))
