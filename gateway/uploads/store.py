"""Resumable uploads of masters, kept on the media volume itself (plain Python: no Flask).

Every gateway replica shares MEDIA_ROOT, so an upload's state lives there too, beside its bytes,
and survives a restart of any process:

    ingest/.uploads/<id>.json   who, how long, how far (the offset committed), until when
    ingest/.uploads/<id>.part   the bytes received so far (hidden: never served, never ingested)
    ingest/uploads/<id>/<name>  the master, once complete, checksummed and probed

A chunk is appended under an exclusive lock of the upload, checked against its checksum when
the client sent one, written to disk (fsync) and only then counted: the `.part` file may hold
more than the committed offset after a crash, never less, and the next chunk starts by cutting
it back. The last chunk makes the upload complete: the file is probed (a file that is not media
is refused and deleted, nothing left behind), then renamed into place."""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from services.shared.media_layout import UPLOAD_ID_PATTERN, UPLOADS, UPLOADS_IN_PROGRESS

UPLOAD_ID = re.compile(UPLOAD_ID_PATTERN)
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# tus's checksum extension: sha1 is the one every server must take (a check against damage on
# the way, not a security measure); sha256 is what we recommend.
CHECKSUM_ALGORITHMS = {"sha256": hashlib.sha256,
                       "sha1": lambda: hashlib.sha1(usedforsecurity=False)}
COPY_BLOCK = 1 << 20
MAX_METADATA = 4096


class NotMedia(Exception):
    """What the probe raises for a file that is not a master it can read (why, in words)."""


class ProbeUnavailable(Exception):
    """What the probe raises when it could not look (not installed, killed, timed out): the
    file is kept, complete, and a later request finishes it."""


class UploadError(Exception):
    """A refusal, with the error table's code and its details."""

    def __init__(self, code: str, **details):
        super().__init__(code, details)
        self.code = code
        self.details = details


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 500 * 10**9  # the largest master
    max_in_progress: int = 3  # unfinished uploads per editor
    expiry: timedelta = timedelta(hours=24)  # an untouched unfinished upload is then deleted
    disk_reserve: int = 2 * 1024**3  # what the volume keeps free, beyond uploads in progress


@dataclass
class Upload:
    id: str
    owner: str
    length: int
    offset: int
    filename: str
    metadata: dict[str, str]
    created_at: str
    expires_at: str | None
    master_path: str | None = None  # relative to MEDIA_ROOT, once complete

    @property
    def complete(self) -> bool:
        return self.master_path is not None

    def expired(self, now: datetime) -> bool:
        return (not self.complete and self.expires_at is not None
                and datetime.fromisoformat(self.expires_at) <= now)


def parse_metadata(header: str | None) -> dict[str, str]:
    """tus `Upload-Metadata`: `key base64value,key2 base64value2` (a key may have no value)."""
    if not header:
        return {}
    if len(header) > MAX_METADATA:
        raise UploadError("invalid_request", field="Upload-Metadata", reason="too_long")
    found = {}
    for pair in header.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key or not re.fullmatch(r"[!-~]+", key):  # (a repeated key: the last wins)
            raise UploadError("invalid_request", field="Upload-Metadata", reason="malformed")
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode(
                "utf-8", "replace") if value.strip() else ""
        except binascii.Error:
            raise UploadError("invalid_request", field="Upload-Metadata",
                              reason="not_base64") from None
    return found


def format_metadata(metadata: dict[str, str]) -> str:
    """`parse_metadata`'s inverse, for HEAD answers."""
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}".rstrip()
                    for key, value in metadata.items())


def safe_filename(name: str | None) -> str:
    """ASCII letters, digits, `.`, `_` and `-` (accents dropped, not the letters); never
    hidden, never empty; a long name keeps its extension."""
    base = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    folded = "".join(c for c in unicodedata.normalize("NFKD", base)
                     if not unicodedata.combining(c))
    cleaned = SAFE_NAME.sub("-", folded).strip(".-")
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or len(extension) > 10:
        stem, extension = cleaned, ""
    stem = stem[:120 - len(extension) - 1].rstrip(".-") or "master"
    return f"{stem}.{extension}" if extension else stem


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """tus `Upload-Checksum`: `<algorithm> <base64 digest>`."""
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise UploadError("unsupported_checksum", algorithm=algorithm[:20])
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise UploadError("invalid_request", field="Upload-Checksum",
                          reason="not_base64") from None
    return algorithm, digest


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class UploadStore:
    def __init__(self, media_root: Path, limits: UploadLimits,
                 probe: Callable[[Path], object], clock: Callable[[], datetime]):
        """`probe` raises NotMedia for a file that is not media, ProbeUnavailable when it
        cannot tell."""
        self.media_root = Path(media_root)
        self.limits = limits
        self.probe = probe
        self.clock = clock

    @property
    def folder(self) -> Path:
        return self.media_root / UPLOADS_IN_PROGRESS

    def _info(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.json"

    def _part(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.part"

    # -- reading --------------------------------------------------------------------------

    def get(self, upload_id: str) -> Upload | None:
        """The upload, or None when there is none by that id (or it expired: then it is
        deleted)."""
        if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
            return None
        try:
            upload = Upload(**json.loads(self._info(upload_id).read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if upload.expired(self.clock()):
            self._expire(upload_id)
            return None
        return upload

    def _expire(self, upload_id: str) -> bool:
        """Deletes an expired unfinished upload, unless a request holds it right now (then
        the next look does)."""
        try:
            with self._exclusive(self.folder / f"{upload_id}.lock"):
                self._remove(upload_id)
        except UploadError:
            return False
        return True

    def uploads(self) -> Iterator[Upload]:
        if not self.folder.is_dir():
            return
        for info in self.folder.glob("*.json"):
            upload = self.get(info.stem)
            if upload is not None:
                yield upload

    # -- the protocol ---------------------------------------------------------------------

    def create(self, owner: str, length: int, metadata: dict[str, str]) -> Upload:
        if length > self.limits.max_bytes:
            raise UploadError("upload_too_large", max_bytes=self.limits.max_bytes)
        self.folder.mkdir(parents=True, exist_ok=True)
        # One creation at a time (every replica shares the folder): the count per editor
        # cannot be raced past.
        with self._exclusive(self.folder / ".create.lock", blocking=True):
            return self._create(owner, length, metadata)

    def _create(self, owner: str, length: int, metadata: dict[str, str]) -> Upload:
        mine = [u for u in self.uploads() if not u.complete and u.owner == owner]
        if len(mine) >= self.limits.max_in_progress:
            raise UploadError("too_many_uploads", maximum=self.limits.max_in_progress)
        # The room this editor's uploads still need; another editor's declared sizes do not
        # count (one could otherwise keep everyone out), each chunk is checked as it comes.
        promised = sum(u.length - u.offset for u in mine)
        if shutil.disk_usage(self.folder).free < length + promised + self.limits.disk_reserve:
            raise UploadError("insufficient_storage")
        now = self.clock()
        upload = Upload(id=uuid.uuid4().hex, owner=owner, length=length, offset=0,
                        filename=safe_filename(metadata.get("filename")),
                        metadata=metadata, created_at=_iso(now),
                        expires_at=_iso(now + self.limits.expiry))
        self._part(upload.id).touch(mode=0o640, exist_ok=False)
        self._save(upload)
        if length == 0:
            return self._finish(upload)
        return upload

    def append(self, upload_id: str, owner: str, offset: int, body: BinaryIO, size: int,
               checksum: tuple[str, bytes] | None = None) -> Upload:
        """Adds `size` bytes read from `body` at `offset` (which must be where the upload is)."""
        with self._locked(upload_id):
            upload = self._owned(upload_id, owner)
            if upload.complete or offset != upload.offset:
                raise UploadError("upload_offset_mismatch", offset=upload.offset)
            if offset + size > upload.length:
                raise UploadError("invalid_request", field="Content-Length",
                                  reason="past_the_end")
            if shutil.disk_usage(self.folder).free < size + self.limits.disk_reserve:
                raise UploadError("insufficient_storage")
            digest = CHECKSUM_ALGORITHMS[checksum[0]]() if checksum else None
            try:
                self._write(upload, body, size, checksum, digest)
            except FileNotFoundError:  # expired and swept meanwhile
                raise UploadError("not_found", resource="upload") from None
            except OSError as error:
                if error.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise UploadError("insufficient_storage") from None
                raise
            upload.offset += size
            if size:  # an empty chunk keeps nothing alive
                upload.expires_at = _iso(self.clock() + self.limits.expiry)
            self._save(upload)
            if upload.offset == upload.length:
                return self._finish(upload)
            return upload

    def _write(self, upload: Upload, body: BinaryIO, size: int,
               checksum: tuple[str, bytes] | None, digest) -> None:
        """The chunk into the `.part` file at the committed offset, synced; nothing of it
        kept when it is short or does not match its checksum."""
        with open(self._part(upload.id), "r+b") as part:
            part.truncate(upload.offset)  # what a crash left past the committed offset
            part.seek(upload.offset)
            received = _copy(body, part, size, digest)
            if received != size:
                part.truncate(upload.offset)
                raise UploadError("invalid_request", field="Content-Length",
                                  reason="body_shorter")
            if digest is not None and digest.digest() != checksum[1]:
                part.truncate(upload.offset)  # refused, and not kept
                raise UploadError("checksum_mismatch")
            part.flush()
            os.fsync(part.fileno())

    def delete(self, upload_id: str, owner: str) -> None:
        with self._locked(upload_id):
            upload = self._owned(upload_id, owner)
            if upload.complete:
                raise UploadError("upload_offset_mismatch", offset=upload.offset)
            self._remove(upload_id)

    def sweep(self) -> list[str]:
        """Deletes the unfinished uploads whose expiry has passed (and stray files)."""
        removed = []
        if not self.folder.is_dir():
            return removed
        now = self.clock()
        for path in self.folder.iterdir():
            upload_id = path.name.split(".", 1)[0]
            if not UPLOAD_ID.fullmatch(upload_id):
                continue
            try:
                upload = Upload(**json.loads(self._info(upload_id).read_text()))
            except (OSError, ValueError, TypeError):
                upload = None
            if upload is None and path.suffix == ".part" and _older_than(path, now,
                                                                         self.limits.expiry):
                path.unlink(missing_ok=True)  # a creation that died before its info
                removed.append(upload_id)
            elif upload is not None and path.suffix == ".json" and upload.expired(now):
                if self._expire(upload_id):
                    removed.append(upload_id)
            elif upload is None and path.suffix == ".lock" and _older_than(path, now,
                                                                          self.limits.expiry):
                path.unlink(missing_ok=True)  # the lock of an upload long gone
        return removed

    # -- helpers --------------------------------------------------------------------------

    def _owned(self, upload_id: str, owner: str) -> Upload:
        upload = self.get(upload_id)
        if upload is None or upload.owner != owner:  # another's: as if there were none
            raise UploadError("not_found", resource="upload")
        return upload

    def _finish(self, upload: Upload) -> Upload:
        part = self._part(upload.id)
        try:
            self.probe(part)
        except NotMedia as error:
            self._remove(upload.id)
            raise UploadError("invalid_media", reason=str(error).replace(
                str(part), upload.filename)[:300]) from None
        except ProbeUnavailable:
            # nothing is known of the file: keep it; an empty PATCH at its end tries again
            raise UploadError("service_unavailable") from None
        relative = f"{UPLOADS}/{upload.id}/{upload.filename}"
        target = self.media_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        upload.master_path = relative
        upload.expires_at = None
        self._save(upload)
        return upload

    def _save(self, upload: Upload) -> None:
        info = self._info(upload.id)
        partial = info.with_name(f"{upload.id}.json.tmp")
        partial.write_text(json.dumps(asdict(upload)))
        os.replace(partial, info)

    def _remove(self, upload_id: str) -> None:
        for path in (self._part(upload_id), self._info(upload_id)):
            path.unlink(missing_ok=True)

    @contextmanager
    def _locked(self, upload_id: str) -> Iterator[None]:
        """One request at a time on an upload, across threads, processes and replicas that
        share the volume; another one meanwhile is told to come back (423)."""
        if not UPLOAD_ID.fullmatch(upload_id or ""):
            raise UploadError("not_found", resource="upload")
        if not self._info(upload_id).exists():
            raise UploadError("not_found", resource="upload")
        with self._exclusive(self.folder / f"{upload_id}.lock"):
            yield

    @staticmethod
    @contextmanager
    def _exclusive(path: Path, blocking: bool = False) -> Iterator[None]:
        """An flock on `path` (the file stays: removing a lock file someone waits on would
        let two holders in); UploadError upload_locked when busy and not `blocking`."""
        with open(path, "a") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EACCES):
                    raise UploadError("upload_locked") from None
                raise
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _copy(source: BinaryIO, target: BinaryIO, size: int, digest) -> int:
    copied = 0
    while copied < size:
        block = source.read(min(COPY_BLOCK, size - copied))
        if not block:
            break
        target.write(block)
        if digest is not None:
            digest.update(block)
        copied += len(block)
    return copied


def _older_than(path: Path, now: datetime, age: timedelta) -> bool:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC) + age <= now
    except OSError:
        return False
