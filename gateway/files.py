"""/files/<token>: the downloads (broadcast renditions, cuts, masters), through signed links.

A link is `<PUBLIC_BASE_URL>/files/<token>`, the token an itsdangerous
`URLSafeTimedSerializer(DOWNLOAD_LINK_KEYS, salt="download")` of `{path, account_id, filename}`
(signed with the ring's newest key, read with any: a rotation keeps issued links working;
services/shared/signing_keys.py): the gateway issues it (api/downloads.py) for a file the
transcoder made, to one account, and it works `DOWNLOAD_LINK_SECONDS` (default 3600).
Fetching it needs that account's session (bearer or cookie, like the API):

    tampered or not a token   404 not_found       (the same answer as a file that is not there)
    expired                   410 link_expired    (ask the API again: a new link)
    no session                401 unauthorized
    another account's session 403 forbidden

The path is checked again when the file is served, as media.py does for the previews: relative
to MEDIA_ROOT, only below `renditions/`, `cuts/` or `ingest/` (the gateway signs an `ingest/`
path only for the `original` rendition, the master), nothing hidden, no `..`, never through a
symbolic link below those folders (the real path must be the named one, and nginx follows no
link either), a regular file; anything else is 404. Then nginx sends it (media.handover):
`Range` (206), `If-Range`, `HEAD`, `ETag`/`Last-Modified`, at the client's pace without holding
a gateway thread. The answer carries `Content-Disposition: attachment` with a filename that
says what the file is: `<news slug>_<rendition>[_<in>-<out>].<ext>`, timecodes written
`10h00m05s12` (ASCII only)."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from flask import Blueprint, current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from services.shared.media_layout import CUTS, INGEST, RENDITIONS, SERVED_FOLDERS, is_hidden

from .errors import ApiError, error_response
from .media import handover, is_regular_file, real_path_below
from .rpc import current_rpc
from .sessions import request_credentials

files = Blueprint("files", __name__)

SALT = "download"
# What a served file is, by its folder (for nginx's log and metrics).
KIND_OF_FOLDER = {RENDITIONS: "rendition", CUTS: "cut", INGEST: "original"}
MEDIA_TYPES = {
    ".mxf": "application/mxf",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
}
NOT_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
TIMECODE_PARTS = re.compile(r"^(\d{2})[:;.,](\d{2})[:;.,](\d{2})[:;.,](\d{2,3})$")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["DOWNLOAD_LINK_KEYS"].oldest_first,
                                  salt=SALT)


def _link_seconds() -> int:
    return int(current_app.config.get("DOWNLOAD_LINK_SECONDS", 3600))


# -- names ---------------------------------------------------------------------------------

def timecode_for_filename(timecode: str) -> str:
    """`10:00:05:12` → `10h00m05s12`; anything else made ASCII-safe."""
    match = TIMECODE_PARTS.match(timecode or "")
    if match:
        hours, minutes, seconds, frames = match.groups()
        return f"{hours}h{minutes}m{seconds}s{frames}"
    return NOT_FILENAME.sub("-", timecode or "").strip("-.")


def download_filename(slug: str, rendition: str, in_tc: str | None, out_tc: str | None,
                      path: str) -> str:
    """`<slug>_<rendition>[_<in>-<out>].<ext>`, ASCII letters, digits, `.`, `_` and `-`."""
    parts = [NOT_FILENAME.sub("-", slug or "video").strip("-.")[:120] or "video",
             NOT_FILENAME.sub("-", rendition).strip("-.") or "file"]
    if in_tc and out_tc:
        parts.append(f"{timecode_for_filename(in_tc)}-{timecode_for_filename(out_tc)}")
    extension = NOT_FILENAME.sub("", PurePosixPath(path).suffix.lower())
    return "_".join(parts) + extension


# -- paths ---------------------------------------------------------------------------------

def is_servable_path(subpath: Any) -> bool:
    """The shape rule alone: relative, in a served folder, no `..`, nothing hidden."""
    if not isinstance(subpath, str) or not subpath or "\\" in subpath or "\x00" in subpath:
        return False
    parts = subpath.split("/")
    return (len(parts) >= 2 and parts[0] in SERVED_FOLDERS
            and all(part and part not in (".", "..") for part in parts)
            and not is_hidden(subpath))


def servable_file(subpath: Any) -> str | None:
    """The real path of the file `subpath` (relative to MEDIA_ROOT) names, or None when it names
    nothing that may be downloaded."""
    if not is_servable_path(subpath):
        return None
    return real_path_below(subpath, subpath.partition("/")[0])


# -- links ---------------------------------------------------------------------------------

def issue_link(path: str, account_id: str, filename: str) -> tuple[str, str]:
    """A signed link to `path` for `account_id`: (url, expires_at as RFC 3339)."""
    token = _serializer().dumps({"path": path, "account_id": account_id, "filename": filename})
    expires_at = datetime.now(UTC) + timedelta(seconds=_link_seconds())
    url = f"{current_app.config['PUBLIC_BASE_URL']}/files/{token}"
    return url, expires_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def read_link(token: str) -> dict:
    """The link's contents; ApiError link_expired (410) or not_found (404)."""
    try:
        data = _serializer().loads(token, max_age=_link_seconds())
    except SignatureExpired:
        raise ApiError("link_expired") from None
    except BadSignature:
        raise ApiError("not_found") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in
                                             ("path", "account_id", "filename")):
        raise ApiError("not_found")
    return data


@files.get("/files/<token>")
def download(token: str):
    link = read_link(token)
    credentials = request_credentials()  # a GET: no CSRF question, 401 without a session
    account = current_rpc().call("auth", "authenticate", token=credentials.token)
    if account.get("id") != link["account_id"]:
        raise ApiError("forbidden")
    path = servable_file(link["path"])
    if path is None or not is_regular_file(path):
        return error_response("not_found")
    suffix = PurePosixPath(path).suffix.lower()
    response = handover(link["path"], MEDIA_TYPES.get(suffix, "application/octet-stream"),
                        KIND_OF_FOLDER[link["path"].partition("/")[0]])
    # Only ASCII letters, digits, `.`, `_` and `-`: nothing to escape inside the quotes.
    filename = NOT_FILENAME.sub("-", link["filename"]).strip(".") or "download"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A personal file: never kept by a shared cache (security.py keeps `no-store`).
    return response
