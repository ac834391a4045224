"""Editors upload masters from anywhere: /api/v1/uploads speaks tus 1.0 (https://tus.io: core,
creation, termination, expiration, checksum with sha256), so any tus client works (tuspy,
tus-js-client, Uppy) and resumes after a cut, a reload or a restart of any of our processes.

    OPTIONS /api/v1/uploads            what this server supports
    POST    /api/v1/uploads            a new upload (Upload-Length, Upload-Metadata: filename)
    HEAD    /api/v1/uploads/<id>       how far it is (Upload-Offset)
    PATCH   /api/v1/uploads/<id>       the next chunk, at Upload-Offset
    DELETE  /api/v1/uploads/<id>       give it up
    GET     /api/v1/uploads/<id>       the same as HEAD, as JSON

Then `POST /api/v1/videos` with its `upload_id` adds the master to a news item. Editors only,
each seeing only their own uploads; every request with the editor's bearer token or portal
session. The front door reads each chunk whole to disk before the gateway sees it (nginx's
request buffering), so a slow link holds no gateway thread; a chunk is at most
UPLOAD_CHUNK_MAX_BYTES (64 MiB). Where the bytes live and how a chunk is committed:
store.py."""

import logging
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from services.shared import mediainfo

from .. import schemas
from ..errors import ApiError
from ..operations import EDITOR, Session, operation
from ..rpc import current_rpc
from ..sessions import request_credentials
from .store import (
    CHECKSUM_ALGORITHMS,
    NotMedia,
    ProbeUnavailable,
    Upload,
    UploadError,
    UploadLimits,
    UploadStore,
    format_metadata,
    parse_checksum,
    parse_metadata,
)

log = logging.getLogger(__name__)

uploads = Blueprint("uploads", __name__, url_prefix="/api/v1")

TAG = "uploads"
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration,checksum"
CHUNK_TYPE = "application/offset+octet-stream"
UPLOAD_ID = schemas.UPLOAD_ID
MAX_INTEGER = 2**63 - 1  # what a header's number may be (tus: a 64-bit offset)
INTEGER = {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER}
TUS_RESUMABLE = {"schema": {"type": "string", "const": TUS_VERSION}, "required": True,
                 "description": "The tus version the client speaks: 1.0.0 (else 412)."}
OFFSET_HEADER = {"schema": INTEGER, "description": "Bytes received so far."}
EXPIRES_HEADER = {"schema": {"type": "string"},
                  "description": "When an unfinished upload is deleted if nothing more comes "
                                 "(an HTTP date)."}
# tus metadata: comma-separated `key base64value` pairs (a key has no space nor comma)
_BASE64 = "([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_PAIR = f"[\\x21-\\x2B\\x2D-\\x7E]+( {_BASE64})?"
METADATA_PATTERN = f"^{_PAIR}(,{_PAIR})*$"
UPLOAD_STATE = {
    "type": "object", "title": "Upload",
    "properties": {
        "id": {"type": "string"}, "url": {"type": "string"},
        "offset": {"type": "integer"}, "length": {"type": "integer"},
        "filename": {"type": "string"}, "complete": {"type": "boolean"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": ["id", "url", "offset", "length", "filename", "complete", "expires_at"],
}
UPLOAD_ERRORS = ("not_found", "tus_version_unsupported", "upload_locked")


def store() -> UploadStore:
    return current_app.extensions["uploads"]


def upload_url(upload_id: str) -> str:
    # relative: every tus client resolves it against the address it used
    return f"/api/v1/uploads/{upload_id}"


def expires_header(upload: Upload) -> dict:
    if upload.expires_at is None:
        return {}
    moment = datetime.fromisoformat(upload.expires_at)
    return {"Upload-Expires": format_datetime(moment.astimezone(UTC), usegmt=True)}


def state(upload: Upload) -> dict:
    return {"id": upload.id, "url": upload_url(upload.id), "offset": upload.offset,
            "length": upload.length, "filename": upload.filename,
            "complete": upload.complete, "expires_at": upload.expires_at}


def header_integer(name: str, required: bool = True) -> int | None:
    value = request.headers.get(name)
    if value is None:
        if required:
            raise ApiError("invalid_request", field=name, reason="missing")
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19 \
            or int(value) > MAX_INTEGER:
        raise ApiError("invalid_request", field=name, reason="not_a_number")
    return int(value)


def refused(error: UploadError) -> ApiError:
    return ApiError(error.code, **error.details)


def owned(upload_id: str, session: Session) -> Upload:
    upload = store().get(upload_id)
    if upload is None or upload.owner != session.account["id"]:
        raise ApiError("not_found", resource="upload")
    return upload


@uploads.before_request
def speaks_tus():
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise ApiError("tus_version_unsupported")


@uploads.after_request
def tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    if request.method == "OPTIONS" or response.status_code == 412:
        response.headers["Tus-Version"] = TUS_VERSION
    return response


@operation(uploads, "OPTIONS", "/uploads", tag=TAG, status=204,
           summary="What this tus server supports",
           response_headers={
               "Tus-Version": {"schema": {"type": "string"}},
               "Tus-Extension": {"schema": {"type": "string"}},
               "Tus-Max-Size": {"schema": INTEGER},
               "Tus-Checksum-Algorithm": {"schema": {"type": "string"}}})
def upload_options():
    """The tus versions, extensions, largest file and checksum algorithms."""
    return Response(status=204, headers={
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(store().limits.max_bytes),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS)})


@operation(uploads, "POST", "/uploads", tag=TAG, status=201, role=EDITOR,
           summary="Start a resumable upload of a master (tus creation)",
           response=UPLOAD_STATE,
           headers={"Tus-Resumable": TUS_RESUMABLE,
                    "Upload-Length": {"schema": INTEGER, "required": True,
                                      "description": "The file's size in bytes."},
                    "Upload-Metadata": {"schema": {"type": "string", "maxLength": 4096,
                                                   "pattern": METADATA_PATTERN},
                                        "description": "tus metadata: `filename <base64>` "
                                                       "names the master."}},
           response_headers={"Location": {"schema": {"type": "string"},
                                          "description": "The upload's URL."},
                             "Upload-Expires": EXPIRES_HEADER},
           errors=(*UPLOAD_ERRORS, "invalid_request", "upload_too_large", "too_many_uploads",
                   "insufficient_storage", "invalid_media"))
def create_upload(session: Session):
    """Editors only. The file's size is given at once (Upload-Length; at most Tus-Max-Size):
    the room it needs is checked now, and an editor has at most a few uploads in progress.
    Then PATCH the bytes to the URL in `Location`."""
    if "Upload-Defer-Length" in request.headers:
        raise ApiError("invalid_request", field="Upload-Defer-Length", reason="unsupported")
    length = header_integer("Upload-Length")
    try:
        metadata = parse_metadata(request.headers.get("Upload-Metadata"))
        upload = store().create(session.account["id"], length, metadata)
    except UploadError as error:
        raise refused(error) from None
    log.info("upload %s started: %d bytes", upload.id, upload.length,
             extra={"upload_id": upload.id, "account_id": upload.owner})
    response = jsonify(state(upload))
    response.status_code = 201
    response.headers.update({"Location": upload_url(upload.id), **expires_header(upload)})
    return response


@operation(uploads, "HEAD", "/uploads/<id>", tag=TAG, role=EDITOR, path={"id": UPLOAD_ID},
           summary="How far an upload is (tus)",
           headers={"Tus-Resumable": TUS_RESUMABLE},
           response_headers={"Upload-Offset": OFFSET_HEADER,
                             "Upload-Length": {"schema": INTEGER},
                             "Upload-Expires": EXPIRES_HEADER},
           errors=UPLOAD_ERRORS)
def upload_offset(id: str, session: Session):
    """Upload-Offset says where the next chunk starts; 404 for an upload that is not this
    editor's or has expired."""
    upload = owned(id, session)
    headers = {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length),
               **expires_header(upload)}
    if upload.metadata:
        headers["Upload-Metadata"] = format_metadata(upload.metadata)
    return Response(status=200, headers=headers)


@operation(uploads, "GET", "/uploads/<id>", tag=TAG, role=EDITOR, path={"id": UPLOAD_ID},
           summary="An upload, as JSON", response=UPLOAD_STATE,
           headers={"Tus-Resumable": TUS_RESUMABLE}, errors=UPLOAD_ERRORS)
def get_upload(id: str, session: Session):
    """Where it is, and whether it is complete (then its `id` is what POST /api/v1/videos
    takes as `upload_id`)."""
    return jsonify(state(owned(id, session)))


@operation(uploads, "PATCH", "/uploads/<id>", tag=TAG, status=204, role=EDITOR,
           path={"id": UPLOAD_ID}, summary="The next chunk of an upload (tus)",
           raw_body={"media_type": CHUNK_TYPE,
                     "description": "The bytes from Upload-Offset on; at most "
                                    "UPLOAD_CHUNK_MAX_BYTES (64 MiB by default)."},
           headers={"Tus-Resumable": TUS_RESUMABLE,
                    "Upload-Offset": {**OFFSET_HEADER, "required": True,
                                      "description": "Where this chunk starts: where the "
                                                     "upload is (409 otherwise)."},
                    "Upload-Checksum": {
                        "schema": {"type": "string", "pattern": f"^sha(256|1) (?=.){_BASE64}$"},
                        "description": "`sha256 <base64 digest>` (or sha1) of this chunk: a "
                                       "chunk that does not match is refused (460) and not "
                                       "kept."}},
           response_headers={"Upload-Offset": OFFSET_HEADER, "Upload-Expires": EXPIRES_HEADER},
           errors=(*UPLOAD_ERRORS, "invalid_request", "invalid_upload_content_type",
                   "upload_offset_mismatch", "checksum_mismatch", "unsupported_checksum",
                   "payload_too_large", "insufficient_storage", "invalid_media",
                   "service_unavailable"))
def append_chunk(id: str, session: Session):
    """Appends the chunk. The last one completes the upload: the file is probed (422
    `invalid_media` for a file that is not a master: it is deleted), then kept for POST
    /api/v1/videos."""
    if request.mimetype != CHUNK_TYPE:
        raise ApiError("invalid_upload_content_type")
    offset = header_integer("Upload-Offset")
    request.max_content_length = current_app.config["UPLOAD_CHUNK_MAX_BYTES"]
    size = request.content_length
    if size is None:  # the front door always says how long a body is; none: an empty one
        if "chunked" in request.headers.get("Transfer-Encoding", ""):
            raise ApiError("invalid_request", field="Content-Length", reason="missing")
        size = 0
    try:
        checksum = parse_checksum(request.headers.get("Upload-Checksum"))
        upload = store().append(id, session.account["id"], offset, request.stream, size,
                                checksum)
    except UploadError as error:
        raise refused(error) from None
    if upload.complete:
        log.info("upload %s complete: %s", upload.id, upload.master_path,
                 extra={"upload_id": upload.id, "account_id": upload.owner})
    return Response(status=204, headers={"Upload-Offset": str(upload.offset),
                                         **expires_header(upload)})


@operation(uploads, "DELETE", "/uploads/<id>", tag=TAG, status=204, role=EDITOR,
           path={"id": UPLOAD_ID}, summary="Give an upload up (tus termination)",
           headers={"Tus-Resumable": TUS_RESUMABLE},
           errors=(*UPLOAD_ERRORS, "upload_offset_mismatch"))
def delete_upload(id: str, session: Session):
    """Deletes an unfinished upload and what it received (a complete one is a master: 409)."""
    try:
        store().delete(id, session.account["id"])
    except UploadError as error:
        raise refused(error) from None
    return Response(status=204)


# What the front door asks before it reads an upload's body (nginx's auth_request): whether
# the caller is an editor. A path that is internal at the front door.
front_door_checks = Blueprint("upload_checks", __name__)


@front_door_checks.get("/_frontdoor/auth/editor")
def editor_check():
    credentials = request_credentials()  # 401 without a session
    account = current_rpc().call("auth", "authenticate", token=credentials.token)  # 401
    if EDITOR not in (account.get("roles") or []):
        raise ApiError("forbidden", role=EDITOR)
    return Response(status=204)


def master_of(upload_id: str, session: Session) -> str:
    """The path (relative to the ingest folder) of this editor's complete upload, for the
    catalog's ingest."""
    upload = owned(upload_id, session)
    if not upload.complete:
        raise ApiError("upload_not_complete")
    return upload.master_path.split("/", 1)[1]


# -- wiring -------------------------------------------------------------------------------------

def probe_master(path) -> None:
    try:
        mediainfo.probe(path)
    except mediainfo.ProbeFailed as error:
        log.error("an upload could not be probed, it is kept: %s", error)
        raise ProbeUnavailable(str(error)) from None
    except mediainfo.MediaError as error:
        raise NotMedia(str(error)) from None


def limits_from(config: dict) -> UploadLimits:
    return UploadLimits(max_bytes=config["UPLOAD_MAX_BYTES"],
                        max_in_progress=config["UPLOAD_MAX_IN_PROGRESS"],
                        expiry=timedelta(seconds=config["UPLOAD_EXPIRY_SECONDS"]),
                        disk_reserve=config["UPLOAD_DISK_RESERVE_BYTES"])


def init_app(app: Flask) -> None:
    app.extensions["uploads"] = UploadStore(
        app.config["MEDIA_ROOT"], limits_from(app.config), probe=probe_master,
        clock=lambda: datetime.now(UTC))
    app.register_blueprint(uploads)
    app.register_blueprint(front_door_checks)


def start_sweeper(app: Flask, interval: float) -> threading.Thread:
    """Deletes abandoned uploads every `interval` seconds, in the background of this process
    (every replica may: deleting twice is harmless)."""
    uploads_store: UploadStore = app.extensions["uploads"]

    def sweep_forever():
        while True:
            try:
                for upload_id in uploads_store.sweep():
                    log.info("upload %s expired: deleted", upload_id,
                             extra={"upload_id": upload_id})
            except Exception:  # a full or unmounted volume must not end the sweeper
                log.exception("sweeping expired uploads failed")
            threading.Event().wait(interval)

    thread = threading.Thread(target=sweep_forever, name="upload-sweeper", daemon=True)
    thread.start()
    return thread


