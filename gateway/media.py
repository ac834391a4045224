"""/media/<path>: the preview files the catalog links (`poster_url`, `preview_url`, `hls_url`,
`storyboard_url` are `<PUBLIC_BASE_URL>/media/<path relative to MEDIA_ROOT>` unless
MEDIA_BASE_URL points elsewhere), and the hand-over of every media file to nginx.

The gateway decides, nginx serves: once a file may be sent, the gateway answers an empty 200
with `X-Accel-Redirect` (the front door's internal location of the file's folder), the media
type, and the caching it allows; nginx sends the bytes (Range, If-Range, HEAD, ETag and
Last-Modified), so no gateway thread waits on a client (gateway/frontdoor/).

The transcoder writes a video's previews beside its broadcast renditions, in
`MEDIA_ROOT/renditions/<video id>/`: `poster.jpg`, `storyboard.jpg`, `proxy.mp4`,
`hls/index.m3u8` and `hls/segment_NNNN.ts` next to `h264-1080p.mp4` and `xdcam-hd422.mxf`. A
folder cannot tell them apart, so these names are the rule (PREVIEW_FILE): nothing else is
served here. Never the masters (`ingest/`), never a broadcast rendition or a cut (downloaded
through signed links), never a hidden or half-written file, never through a symbolic link below
`renditions/`. Anything else is a JSON 404, the same whether the file exists or not.

Embargo holds for every file: the previews of a video whose item is not public (a draft, or
under embargo) are an editor's only; everyone else gets that same 404. The catalog says whether
an item is public (`video_access`); its answer is kept PREVIEW_ACCESS_SECONDS (5 s by default),
so an item becomes visible within seconds of its embargo's end, with no restart. A public
preview may be cached PREVIEW_MAX_AGE_SECONDS (60 s) by anyone: short, because an item can
still be withdrawn; an editor's look at an unreleased one is `private, no-store`."""

import os
import re
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, current_app

from services.shared.errors import ServiceError
from services.shared.media_layout import RENDITIONS

from .errors import ApiError, error_response
from .frontdoor import INTERNAL_PREFIX, KIND_HEADER
from .operations import EDITOR
from .rpc import current_rpc
from .security import allow_caching
from .sessions import request_credentials

media = Blueprint("media", __name__)

PREVIEW_FILE = re.compile(
    RENDITIONS + r"/(?P<video_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
    r"(poster\.jpg|storyboard\.jpg|proxy\.mp4|hls/index\.m3u8|hls/segment_[0-9]{1,6}\.ts)")
MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
}
PRIVATE = "private, no-store"


def real_path_below(subpath: str, folder: str) -> str | None:
    """The real path of `subpath` (relative to MEDIA_ROOT, already checked for its shape: no
    `..`, nothing hidden) if it lies where it says, below `folder`: MEDIA_ROOT and the folder
    may be links to another volume, but nothing below them may lead elsewhere."""
    root = str(current_app.config["MEDIA_ROOT"])
    expected = os.path.join(os.path.realpath(os.path.join(root, folder)),
                            subpath.removeprefix(folder + "/"))
    real = os.path.realpath(os.path.join(root, subpath))
    return real if real == expected else None


def is_regular_file(path: str) -> bool:
    """A regular file, not a link to one, a folder or a FIFO (gone, evicted: False)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def handover(subpath: str, mimetype: str, kind: str) -> Response:
    """The answer that has nginx send MEDIA_ROOT/`subpath` (checked by the caller) as
    `mimetype`; `kind` (rendition, cut, original, preview) names it in nginx's log."""
    response = Response(status=200, mimetype=mimetype)
    response.headers["X-Accel-Redirect"] = INTERNAL_PREFIX + quote(subpath)
    response.headers[KIND_HEADER] = kind
    return response


# -- who may see an item's previews ------------------------------------------------------------

class AccessCache:
    """The catalog's word on whether a video is public, kept `seconds`: an HLS player asks for
    a segment every few seconds, and each would otherwise cost an RPC."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._known: dict[str, tuple[bool | None, float]] = {}
        self._lock = threading.Lock()

    def access(self, video_id: str, ask: Callable[[str], bool | None]) -> bool | None:
        now = self.clock()
        with self._lock:
            known = self._known.get(video_id)
        if known is not None and known[1] > now:
            return known[0]
        answer = ask(video_id)
        with self._lock:
            if len(self._known) > 10_000:  # many videos seen: start again rather than grow
                self._known.clear()
            self._known[video_id] = (answer, now + self.seconds)
        return answer


UNKNOWN = None  # the catalog has no such video: nobody gets its files


def _catalog_access(video_id: str) -> bool | None:
    """True: public; False: an editor's only; UNKNOWN: no such video."""
    try:
        answer = current_rpc().call("catalog", "video_access", video_id=video_id)
    except ServiceError as error:
        if error.code == "not_found":
            return UNKNOWN
        raise
    return bool(answer.get("public"))


def _is_editor() -> bool:
    try:
        credentials = request_credentials()
    except ApiError:
        return False
    try:
        account = current_rpc().call("auth", "authenticate", token=credentials.token)
    except ServiceError:  # a session that ended: not an editor's look
        return False
    return EDITOR in (account.get("roles") or [])


def preview_caching(video_id: str) -> str | None:
    """The Cache-Control this request may have the preview with, or None when it may not have
    it at all (the same 404 as a file that is not there)."""
    cache: AccessCache = current_app.extensions["preview_access"]
    access = cache.access(video_id, _catalog_access)
    if access is UNKNOWN:
        return None
    if access:
        return f"public, max-age={current_app.config['PREVIEW_MAX_AGE_SECONDS']}"
    return PRIVATE if _is_editor() else None


def preview_file(subpath: str) -> str | None:
    """The real path of the preview file `subpath` names (relative to MEDIA_ROOT), or None when
    it names nothing that may be served: `..`, absolute, hidden, another name or folder, a
    link out of where it says."""
    if PREVIEW_FILE.fullmatch(subpath) is None:
        return None
    return real_path_below(subpath, RENDITIONS)


@media.get("/media/<path:subpath>", merge_slashes=False)
def preview(subpath: str):
    path = preview_file(subpath)
    # (a file that is not there costs no question to the catalog)
    if path is None or not is_regular_file(path):
        return error_response("not_found")
    caching = preview_caching(PREVIEW_FILE.fullmatch(subpath)["video_id"])
    if caching is None:
        return error_response("not_found")
    allow_caching(caching)
    return handover(subpath, MEDIA_TYPES[Path(subpath).suffix], "preview")


def init_app(app) -> None:
    app.extensions["preview_access"] = AccessCache(app.config["PREVIEW_ACCESS_SECONDS"])
    app.register_blueprint(media)
