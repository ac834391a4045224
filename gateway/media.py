"""/media/<path>: the preview files the catalog links (`poster_url`, `preview_url`, `hls_url`,
`storyboard_url` are `<PUBLIC_BASE_URL>/media/<path relative to MEDIA_ROOT>` unless
MEDIA_BASE_URL points elsewhere), read-only, with Range requests for the player.

The transcoder writes a video's previews beside its broadcast renditions, in
`MEDIA_ROOT/renditions/<video id>/`: `poster.jpg`, `storyboard.jpg`, `proxy.mp4`,
`hls/index.m3u8` and `hls/segment_NNNN.ts` next to `h264-1080p.mp4` and `xdcam-hd422.mxf`. A
folder cannot tell them apart, so these names are the rule (PREVIEW_FILE): nothing else is
served. Never the masters (`ingest/`), never a broadcast rendition or a cut (downloaded through
signed links), never a hidden or half-written file, never through a symbolic link below
`renditions/` (the real path must be the named one, and the file is opened without following a
link). Anything else is a JSON 404, the same whether the file exists or not.

A preview file is written once, atomically, and never rewritten in place: it may be cached for a
year, by browsers and by shared caches."""

import os
import re
import stat
from pathlib import Path

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.security import safe_join
from werkzeug.wsgi import wrap_file

from .errors import error_response
from .security import allow_caching

media = Blueprint("media", __name__)

RENDITIONS = "renditions"
PREVIEW_FILE = re.compile(
    r"renditions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/"
    r"(poster\.jpg|storyboard\.jpg|proxy\.mp4|hls/index\.m3u8|hls/segment_[0-9]{1,6}\.ts)")
MEDIA_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
}
IMMUTABLE = "public, max-age=31536000, immutable"
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO planted in the folder must not hang a thread


def preview_file(subpath: str) -> str | None:
    """The real path of the preview file `subpath` names (relative to MEDIA_ROOT), or None when
    it names nothing that may be served."""
    if PREVIEW_FILE.fullmatch(subpath) is None:
        return None  # `..`, absolute, hidden, another name, another folder: not a preview
    root = str(current_app.config["MEDIA_ROOT"])
    joined = safe_join(root, subpath)
    if joined is None:
        return None
    # MEDIA_ROOT and its renditions/ folder may be links to another volume; below, nothing may
    # lead elsewhere than where the path says.
    expected = os.path.join(os.path.realpath(os.path.join(root, RENDITIONS)),
                            subpath.removeprefix(RENDITIONS + "/"))
    real = os.path.realpath(joined)
    return real if real == expected else None


def open_media(path: str) -> int:
    """Opens a checked path, never through a symbolic link (if one was swapped in since)."""
    return os.open(path, OPEN_FLAGS)


def open_regular_file(path: str) -> tuple[int, os.stat_result] | None:
    """The open descriptor and its stat for a regular file at `path` (no link followed), or
    None for anything else: gone (evicted), a link, a folder, a FIFO, unreadable."""
    try:
        fd = open_media(path)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            return fd, info
    except OSError:
        pass
    os.close(fd)
    return None


def file_response(fd: int, info: os.stat_result, mimetype: str) -> Response:
    file = os.fdopen(fd, "rb")
    response = Response(wrap_file(request.environ, file), mimetype=mimetype,
                        direct_passthrough=True)
    response.content_length = info.st_size
    response.last_modified = info.st_mtime
    response.set_etag(f"{info.st_ino:x}-{info.st_size:x}-{info.st_mtime_ns:x}")
    try:
        return response.make_conditional(request.environ, accept_ranges=True,
                                         complete_length=info.st_size)
    except RequestedRangeNotSatisfiable:
        file.close()
        raise


@media.get("/media/<path:subpath>", merge_slashes=False)
def preview(subpath: str):
    path = preview_file(subpath)
    if path is None:
        return error_response("not_found")
    opened = open_regular_file(path)
    if opened is None:
        return error_response("not_found")
    response = file_response(*opened, MEDIA_TYPES[Path(subpath).suffix])
    allow_caching(IMMUTABLE)
    return response
