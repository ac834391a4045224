"""The transcoder's use cases. Each takes plain values and returns plain values (JSON-ready
dicts); the nameko entrypoint (entrypoint.py) only forwards calls here, and the tests call this
directly.

- `record_video`: the projection of the catalog's `video.ingested.v1` (once per event: the
  inbox), and the video's preview job queued in the same transaction.
- `request`: a download (a whole rendition or a cut). One job per distinct request (its
  `cache_key`): asking again answers the same job, served from cache once it is ready.
- Jobs travel as `job.queued.v1` events on `transcoder.events`, written to the outbox in the
  same transaction as the job row; the service consumes them itself (a durable queue with
  retries and a dead-letter queue, acked only after `run_job` returned, so a worker that dies
  mid-job has its job delivered again and `run_job` starts it over).
- `run_job` does the work with the media toolkit outside any transaction (no I/O while holding
  SQLite's write lock), saving progress in short transactions, and records the outcome with
  its events (`rendition.ready.v1`/`rendition.failed.v1`, `cut.ready.v1`/`cut.failed.v1`).
- `evict` drops the least recently used ready cuts beyond the cache's size.
- `requeue_stuck` (a timer) queues again what would otherwise wait for ever: a queued job no
  worker took within `job_requeue_seconds` (its message parked, purged or lost), a running job
  whose run's lease lapsed. An identical request for such a job does the same at once.
"""

import hashlib
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.shared import mediainfo
from services.shared.cloudevents import event_type_of
from services.shared.config import env, env_float, env_int, var_dir
from services.shared.db import transaction
from services.shared.errors import ServiceError
from services.shared.failures import is_transient
from services.shared.outbox import Outbox

from .media import cuts, renditions
from .media.run import TranscodeError
from .media.timecode import CutRange, CutRequestError, as_rate, offset_timecode, resolve_cut
from .models import Download, Job, Video, inbox

log = logging.getLogger(__name__)

GiB = 1024 ** 3
DOWNLOADABLE = ("xdcam-hd422", "h264-1080p", "proxy", "original")
ACCURACIES = ("fast", "frame")
PREVIEW = "preview"  # the rendition name of a preview job (poster, storyboard, proxy, hls)
JOB_QUEUED = "job.queued.v1"
PROGRESS_EVERY_S = 0.5
# Failures that making the job again will not cure: recorded at once, never retried.
MEDIA_FAILURES = (TranscodeError, mediainfo.MediaError, CutRequestError, ValueError)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    EVICTED = "evicted"


class JobHeld(Exception):
    """Another run of this job holds its live lease: this copy of the message should come
    back in about `seconds_left`."""

    def __init__(self, job_id: str, seconds_left: float):
        super().__init__(f"job {job_id} is being run by another worker")
        self.seconds_left = seconds_left


class LeaseLost(Exception):
    """This run's lease lapsed and another run took the job over: stop, record nothing."""


class Outcome:
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    READY = "ready"
    FAILED = "failed"
    RETRY = "retry"
    SKIPPED = "skipped"  # a redelivered message for a job that is already finished


@dataclass(frozen=True)
class TranscoderSettings:
    """`media_root`: MEDIA_ROOT (shared with the catalog and the gateway); every path stored or
    emitted is relative to it. `cut_cache_max_bytes`: CUT_CACHE_MAX_BYTES (default 20 GiB).
    `job_lease_seconds`: JOB_LEASE_SECONDS, how long a running job stays its run's without a
    renewal (renewed every third of it). `job_requeue_seconds`: JOB_REQUEUE_SECONDS (15 min),
    how long a queued job may wait for a worker before its message is taken for gone and a new
    one is queued (a duplicate costs nothing: the job is skipped once finished).
    `jobs_per_account`: JOBS_PER_ACCOUNT (5), how many jobs one account may have queued or
    running at once (more: `too_many_jobs`, retry after JOBS_RETRY_AFTER_SECONDS, 30);
    `cut_max_seconds`: CUT_MAX_SECONDS (1800), the longest cut (longer: `cut_too_long`, the
    whole rendition is there for that)."""
    media_root: Path
    cut_cache_max_bytes: int = 20 * GiB
    storyboard_count: int = 10
    job_lease_seconds: float = 60.0
    job_requeue_seconds: float = 900.0
    jobs_per_account: int = 5
    jobs_retry_after_seconds: int = 30
    cut_max_seconds: float = 1800.0

    @classmethod
    def from_env(cls) -> "TranscoderSettings":
        return cls(media_root=Path(env("MEDIA_ROOT") or var_dir() / "media").absolute(),
                   cut_cache_max_bytes=env_int("CUT_CACHE_MAX_BYTES", 20 * GiB),
                   storyboard_count=env_int("STORYBOARD_COUNT", 10),
                   # renewed every third: below 3 s it would be a busy loop on the database
                   job_lease_seconds=max(3, env_int("JOB_LEASE_SECONDS", 60)),
                   job_requeue_seconds=max(1, env_int("JOB_REQUEUE_SECONDS", 900)),
                   jobs_per_account=max(1, env_int("JOBS_PER_ACCOUNT", 5)),
                   jobs_retry_after_seconds=max(1, env_int("JOBS_RETRY_AFTER_SECONDS", 30)),
                   cut_max_seconds=env_float("CUT_MAX_SECONDS", 1800.0))


@dataclass(frozen=True)
class Toolkit:
    """The media functions the jobs call (injected, so a test can count or break them)."""
    make_rendition: Callable = renditions.make_rendition
    make_poster: Callable = renditions.make_poster
    make_storyboard: Callable = renditions.make_storyboard
    make_hls: Callable = renditions.make_hls
    cut: Callable = cuts.cut
    probe: Callable = mediainfo.probe


@dataclass
class _Throttle:
    """Progress saved at most every PROGRESS_EVERY_S, mapped into [low, high] of the job.
    Raises `LeaseLost` as soon as `lost()` says the run no longer holds its job: that stops
    ffmpeg (an exception from the progress callback kills it)."""
    save: Callable[[int], None]
    lost: Callable[[], bool] = lambda: False
    low: float = 0.0
    high: float = 100.0
    last_saved: float = field(default=0.0)
    last_value: int = -1

    def span(self, low: float, high: float) -> "_Throttle":
        self.low, self.high = low, high
        self(0.0)
        return self

    def __call__(self, percent: float) -> None:
        if self.lost():
            raise LeaseLost("another run took this job over")
        value = int(self.low + (self.high - self.low) * max(0.0, min(100.0, percent)) / 100)
        now = time.monotonic()
        if value > self.last_value and now - self.last_saved >= PROGRESS_EVERY_S:
            self.last_saved, self.last_value = now, value
            self.save(value)


def cache_key(video_id: str, rendition: str, in_frame: int | None, out_frame: int | None,
              accuracy: str | None) -> str:
    text = f"{video_id}|{rendition}|{in_frame}|{out_frame}|{accuracy}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


class Transcoder:
    """The use cases, on one worker's database session."""

    def __init__(self, session: Session, outbox: Outbox, settings: TranscoderSettings,
                 toolkit: Toolkit | None = None, clock: Callable[[], datetime] = utcnow):
        self.session = session
        self.outbox = outbox
        self.settings = settings
        self.toolkit = toolkit or Toolkit()
        self.clock = clock

    # -- ingest -------------------------------------------------------------------------------

    def record_video(self, event: dict, consumer: str) -> str:
        """Applies `video.ingested.v1` once: stores the master's facts and queues the preview
        job (poster, storyboard, proxy, HLS). A malformed event raises (→ retries, then the
        dead-letter queue)."""
        if event_type_of(event) != "video.ingested.v1":
            raise ValueError(f"not a video.ingested.v1 event: {event_type_of(event)}")
        data = event["data"]
        video_id, master = data.get("video_id"), data.get("master_path")
        if not isinstance(video_id, str) or not isinstance(master, str) or \
                Path(master).is_absolute() or ".." in Path(master).parts:
            raise ValueError("video.ingested.v1 needs a video_id and a relative master_path")
        rate = as_rate(data["frame_rate"])
        frame_count = data.get("frame_count") or round(Fraction(str(data["duration"])) * rate)
        now = self.clock()
        with self._unit() as session:
            if inbox.seen(session, consumer, event["id"]):
                return Outcome.DUPLICATE
            inbox.remember(session, consumer, event["id"])
            video = session.get(Video, video_id) or Video(id=video_id, created_at=now)
            video.news_id = data.get("news_id")
            video.master_path = master
            video.duration = float(data["duration"])
            video.frame_rate = f"{rate.numerator}/{rate.denominator}"
            video.start_timecode = data.get("start_timecode") or "00:00:00:00"
            video.frame_count = int(frame_count)
            for name in ("width", "height", "audio_channels", "audio_streams", "video_codec",
                         "field_order", "container", "size_bytes"):
                setattr(video, name, data.get(name))
            video.ingested_at = _parse_time(data.get("ingested_at"))
            video.updated_at = now
            session.add(video)
            session.flush()
            self._queue(session, video, PREVIEW, None, None, None, None, kind="preview")
        return Outcome.RECORDED

    # -- requests -----------------------------------------------------------------------------

    def request(self, video_id, rendition, in_=None, out=None, accuracy="fast",
                account_id=None) -> dict:
        """A download: the whole `rendition`, or the cut [in_, out) of it (timecodes on the
        master's clock or seconds). Answers the job; the same request made before answers
        the same job (ready: served from cache, nothing is made again)."""
        try:
            return self._request(video_id, rendition, in_, out, accuracy, account_id)
        except IntegrityError:
            # the same new request made at the same moment by another worker (PostgreSQL; on
            # SQLite BEGIN IMMEDIATE serialises them): its job is there now, answer it
            return self._request(video_id, rendition, in_, out, accuracy, account_id)

    def _request(self, video_id, rendition, in_, out, accuracy, account_id) -> dict:
        if rendition not in DOWNLOADABLE:
            raise ServiceError("invalid_rendition", {"rendition": str(rendition)[:40],
                                                     "allowed": list(DOWNLOADABLE)})
        whole = in_ is None and out is None
        if not whole and accuracy not in ACCURACIES:
            raise ServiceError("invalid_accuracy", {"accuracy": str(accuracy)[:20],
                                                    "allowed": list(ACCURACIES)})
        with self._unit() as session:
            video = session.get(Video, video_id) if isinstance(video_id, str) else None
            if video is None:
                raise ServiceError("not_found", {"resource": "video"})
            if whole and rendition == "original":
                return self._original_document(video)
            if whole:
                key_args = (video.id, rendition, None, None, None)
                cut_range = None
            else:
                if in_ is None or out is None:
                    missing = "in" if in_ is None else "out"
                    raise ServiceError("invalid_timecode", {
                        "field": missing, "reason": "a cut needs both an in and an out point"})
                try:
                    cut_range = resolve_cut(in_, out, _facts_of(video),
                                            max_duration_s=self.settings.cut_max_seconds)
                except CutRequestError as error:
                    raise ServiceError(error.code, error.details) from None
                key_args = (video.id, rendition, cut_range.first_frame,
                            cut_range.end_frame_exclusive, accuracy)
            job = self._queue(session, video, rendition, cut_range,
                              accuracy if cut_range else None, account_id,
                              cache_key(*key_args), kind="cut" if cut_range else "rendition")
            return self._job_document(job)

    def queued_jobs(self) -> int:
        """How many jobs wait for a worker."""
        with self._unit() as session:
            return session.scalar(select(func.count()).select_from(Job)
                                  .where(Job.status == Status.QUEUED))

    def job(self, job_id) -> dict:
        with self._unit() as session:
            job = session.get(Job, job_id) if isinstance(job_id, str) else None
            if job is None:
                raise ServiceError("not_found", {"resource": "job"})
            return self._job_document(job)

    def _queue(self, session, video: Video, rendition: str, cut_range: CutRange | None,
               accuracy: str | None, account_id, key: str | None, *, kind: str) -> Job:
        """The job for this cache key: the existing one (ready: touched; queued or running:
        as it is; failed or evicted: queued again), else a new one; a queue message in the
        outbox whenever the job (re)enters the queue. A ready job whose file is gone (removed
        by hand, a lost volume) is made again too."""
        key = key or cache_key(video.id, rendition, None, None, None)
        now = self.clock()
        job = session.execute(select(Job).where(Job.cache_key == key)
                              .with_for_update()).scalar_one_or_none()
        if job is not None and job.status == Status.READY and job.output_path and \
                self._absolute(job.output_path).exists():
            job.last_access = now
            return job
        if job is not None and job.status in (Status.QUEUED, Status.RUNNING) and \
                not self._stuck(job, now):
            return job
        if account_id is not None:   # new work for the account (a shared job is not)
            self._check_jobs_in_hand(session, account_id)
        if job is not None and job.status in (Status.QUEUED, Status.RUNNING):
            log.warning("job %s was %s with nothing to show for it: queued again", job.id,
                        job.status)
        if job is None:
            job = Job(id=str(uuid.uuid4()), kind=kind, video_id=video.id, rendition=rendition,
                      cache_key=key, accuracy=accuracy, account_id=account_id, attempts=0,
                      created_at=now)
            if cut_range is not None:
                job.in_frame, job.out_frame = (cut_range.first_frame,
                                               cut_range.end_frame_exclusive)
                job.requested_in_tc, job.requested_out_tc = cut_range.in_tc, cut_range.out_tc
            session.add(job)
        job.status, job.progress, job.error = Status.QUEUED, 0, None
        # what an earlier run delivered no longer holds (cut.failed.v1 would repeat it)
        job.output_path = job.size_bytes = job.method = job.in_tc = job.out_tc = None
        job.started_at = job.finished_at = None
        job.last_access = now
        session.flush()
        self._enqueue(session, job, now)
        return job

    def _check_jobs_in_hand(self, session, account_id: str) -> None:
        """Refuses new work to an account that already has its bound of jobs queued or
        running (the jobs it asked for first). Two requests of one account at once cannot
        both pass it: SQLite's BEGIN IMMEDIATE serialises them; on PostgreSQL a transaction
        lock on the account does (row locks would not: there may be no row yet)."""
        limit = self.settings.jobs_per_account
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                            {"key": f"transcoder.jobs:{account_id}"})
        in_hand = session.execute(
            select(Job.id).where(Job.account_id == account_id,
                                 Job.status.in_((Status.QUEUED, Status.RUNNING)))).all()
        if len(in_hand) >= limit:
            raise ServiceError("too_many_jobs", {
                "limit": limit, "retry_after": self.settings.jobs_retry_after_seconds})

    def _enqueue(self, session, job: Job, now: datetime) -> None:
        """The job's queue message, in the outbox with the job's change. A queued job's
        `lease_until` is the time by which a worker should have taken it: past it, the
        message is taken for gone and queued again."""
        job.lease_owner, job.lease_until = None, now + self._requeue_after
        self.outbox.add(session, JOB_QUEUED, {
            "job_id": job.id, "kind": job.kind, "video_id": job.video_id,
            "rendition": job.rendition}, subject=job.id)

    @property
    def _requeue_after(self) -> timedelta:
        return timedelta(seconds=self.settings.job_requeue_seconds)

    @staticmethod
    def _stuck(job: Job, now: datetime) -> bool:
        """Queued and not taken in time (its message is parked or gone), or running under a
        lease that lapsed (its run hung or died with its message in no one's hands)."""
        return job.status in (Status.QUEUED, Status.RUNNING) and (
            job.lease_until is None or job.lease_until <= now)

    def requeue_stuck(self, limit: int = 100) -> int:
        """Queues again every stuck job (see `_stuck`), each with a new message; returns how
        many. A run still alive behind a lapsed lease finds the job no longer its own and
        stops without recording anything."""
        now = self.clock()
        with self._unit() as session:
            jobs = session.execute(
                select(Job).where(Job.status.in_((Status.QUEUED, Status.RUNNING)),
                                  (Job.lease_until.is_(None)) | (Job.lease_until <= now))
                .order_by(Job.created_at).limit(limit).with_for_update()).scalars().all()
            for job in jobs:
                log.warning("job %s stuck %s (attempt %s): queued again", job.id, job.status,
                            job.attempts)
                job.status, job.progress = Status.QUEUED, 0
                self._enqueue(session, job, now)
            return len(jobs)

    # -- running ------------------------------------------------------------------------------

    def run_job(self, job_id: str, on_progress: Callable[[int], None] | None = None,
                last_attempt: bool = True, redelivered: bool = False) -> str:
        """Does a queued job. Called for every delivery of its queue message: a job already
        finished is skipped. A job found running is either held by a live run (its lease is
        renewed: this is a second copy of the message, `JobHeld` says when to come back) or
        was interrupted: its lease lapsed, or this very message comes back `redelivered`
        because the worker that had it died before the ack; then it starts over. A media
        failure is recorded at once; any other error is raised for a retry (the job goes back
        to queued), recorded as a failure on the last one. Only the run that holds the lease
        records an outcome."""
        now = self.clock()
        owner = str(uuid.uuid4())
        with self._unit() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None:
                log.warning("job %s does not exist: message dropped", job_id)
                return Outcome.SKIPPED
            if job.status not in (Status.QUEUED, Status.RUNNING):
                return Outcome.SKIPPED
            if job.status == Status.RUNNING and not redelivered and job.lease_until and \
                    job.lease_until > now:
                raise JobHeld(job_id, (job.lease_until - now).total_seconds())
            if job.status == Status.RUNNING:
                log.warning("job %s was interrupted (attempt %s): starting it over", job_id,
                            job.attempts)
            job.status, job.progress, job.error = Status.RUNNING, 0, None
            job.attempts += 1
            job.started_at, job.finished_at = now, None
            job.lease_owner, job.lease_until = owner, now + self._lease
            video = _snapshot(session.get(Video, job.video_id))
            job = _snapshot(job)
            kind = job.kind

        def save(value: int) -> None:
            # 100 means ready: the file is checked and renamed into place after ffmpeg ends
            value = min(value, 99)
            with self._unit() as s:
                row = s.get(Job, job_id, with_for_update=True)
                if row is not None and row.status == Status.RUNNING and row.lease_owner == owner:
                    row.progress = value
            if on_progress is not None:
                on_progress(value)

        progress = _Throttle(save)
        try:
            with self._lease_kept(job_id, owner) as lost:
                progress.lost = lost.is_set
                work = {"preview": self._run_preview, "rendition": self._run_rendition,
                        "cut": self._run_cut}[kind]
                result = work(job, video, progress)
        except LeaseLost:
            log.warning("job %s was taken over by another run: this one stops", job_id)
            return Outcome.SKIPPED
        except MEDIA_FAILURES as error:
            log.warning("job %s failed: %s", job_id, error)
            return self._finish_failed(job_id, owner, _reason(error))
        except Exception as error:
            transient = is_transient(error)
            if last_attempt and not transient:   # an outage is waited out, never a failure
                log.exception("job %s failed on its last attempt", job_id)
                return self._finish_failed(job_id, owner, _reason(error))
            with self._unit() as session:
                row = session.get(Job, job_id, with_for_update=True)
                if row.lease_owner == owner:
                    row.status, row.error = Status.QUEUED, None if transient else _reason(error)
                    # its message comes back through the retry queues, well within this
                    row.lease_owner, row.lease_until = None, self.clock() + self._requeue_after
            raise
        return self._finish_ready(job_id, owner, result)

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.settings.job_lease_seconds)

    @contextmanager
    def _lease_kept(self, job_id: str, owner: str) -> Iterator[threading.Event]:
        """Renews the job's lease every third of its length while the block runs, from a
        thread of its own (a green one under eventlet) on a session of its own: the work may
        go a long time without progress to report (a loudness measurement). Yields an event
        set when a renewal finds the job no longer this run's (its lease lapsed while the
        worker stalled, or a redelivered copy of its message took it over)."""
        stop, lost = threading.Event(), threading.Event()
        engine = self.session.get_bind()

        def renew() -> None:
            while not stop.wait(self.settings.job_lease_seconds / 3):
                try:
                    with Session(engine) as session, session.begin():
                        renewed = session.execute(update(Job).where(
                            Job.id == job_id, Job.lease_owner == owner,
                            Job.status == Status.RUNNING).values(
                            lease_until=self.clock() + self._lease)).rowcount
                except Exception:  # the next renewal may work; the job must not stop for it
                    log.exception("could not renew the lease of job %s", job_id)
                    continue
                if renewed == 0:
                    lost.set()
                    return

        keeper = threading.Thread(target=renew, name=f"lease-{job_id[:8]}", daemon=True)
        keeper.start()
        try:
            yield lost
        finally:
            stop.set()
            keeper.join(self.settings.job_lease_seconds)

    # the three kinds of work: each returns what _finish_ready records

    def _run_preview(self, job: Job, video: Video, progress: _Throttle) -> dict:
        master = self._absolute(video.master_path)
        folder = self._rendition_dir(video.id)
        facts = self.toolkit.probe(master)
        events = []
        poster = self.toolkit.make_poster(master, folder / "poster.jpg", facts=facts)
        events.append(self._file_event(video, "poster", poster, {"duration": video.duration}))
        progress.span(0, 5)
        board = self.toolkit.make_storyboard(master, folder / "storyboard.jpg",
                                             count=self.settings.storyboard_count, facts=facts)
        events.append(self._file_event(video, "storyboard", board.path, {
            "duration": video.duration, "times": list(board.times),
            "frames": list(board.frames), "tile_width": board.tile_width,
            "tile_height": board.tile_height, "columns": board.columns, "rows": board.rows}))
        proxy = self._rendition_file(video.id, "proxy")
        if not proxy.is_file():
            self.toolkit.make_rendition("proxy", master, proxy, facts=facts,
                                        on_progress=progress.span(10, 90))
        events.append(self._file_event(video, "proxy", proxy, {"duration": video.duration}))
        progress.span(90, 100)
        playlist = Path(self.toolkit.make_hls(proxy, folder / "hls"))
        size = sum(p.stat().st_size for p in playlist.parent.iterdir() if p.is_file())
        events.append(self._file_event(video, "hls", playlist, {"duration": video.duration},
                                       size=size))
        return {"path": self._relative(proxy), "size_bytes": proxy.stat().st_size,
                "rendition_events": events, "made": ["proxy"]}

    def _run_rendition(self, job: Job, video: Video, progress: _Throttle) -> dict:
        path, event = self._ensure_rendition(video, job.rendition, progress.span(0, 100))
        return {"path": self._relative(path), "size_bytes": path.stat().st_size,
                "rendition_events": [event], "made": [job.rendition]}

    def _run_cut(self, job: Job, video: Video, progress: _Throttle) -> dict:
        events, made = [], []
        if job.rendition == "original":
            source = self._absolute(video.master_path)
            extension = source.suffix
        else:
            source = self._rendition_file(video.id, job.rendition)
            extension = renditions.rendition(job.rendition).extension
            if not source.is_file():
                _, event = self._ensure_rendition(video, job.rendition, progress.span(0, 80))
                events.append(event)
                made.append(job.rendition)
        rate = as_rate(video.frame_rate)
        label = lambda frame: offset_timecode(video.start_timecode, frame, rate)  # noqa: E731
        cut_range = CutRange(job.in_frame, job.out_frame, label(job.in_frame),
                             label(job.out_frame),
                             float(Fraction(job.out_frame - job.in_frame) / rate), rate)
        dest = self.settings.media_root / "cuts" / video.id / f"{job.cache_key}{extension}"
        result = self.toolkit.cut(source, cut_range, dest, accuracy=job.accuracy,
                                  rendition_name=job.rendition,
                                  on_progress=progress.span(80 if made else 0, 100))
        dest = Path(result.path)
        return {"path": self._relative(dest), "size_bytes": dest.stat().st_size,
                "in_tc": result.in_tc, "out_tc": result.out_tc, "method": result.method,
                "duration": result.duration_s, "rendition_events": events, "made": made}

    def _ensure_rendition(self, video: Video, name: str, progress) -> tuple[Path, dict]:
        """The whole rendition file (made now when missing), and its `rendition.ready.v1`."""
        path = self._rendition_file(video.id, name)
        if not path.is_file():
            self.toolkit.make_rendition(name, self._absolute(video.master_path), path,
                                        on_progress=progress)
        return path, self._file_event(video, name, path, {"duration": video.duration})

    def _file_event(self, video: Video, name: str, path, extra: dict,
                    size: int | None = None) -> dict:
        path = Path(path)
        return {"video_id": video.id, "rendition": name, "path": self._relative(path),
                "size_bytes": size if size is not None else path.stat().st_size, **extra}

    # -- outcomes -----------------------------------------------------------------------------

    def _finish_ready(self, job_id: str, owner: str, result: dict) -> str:
        now = self.clock()
        with self._unit() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if not self._still_owned(job, owner):
                return Outcome.SKIPPED
            job.status, job.progress, job.error = Status.READY, 100, None
            job.output_path, job.size_bytes = result["path"], result["size_bytes"]
            job.in_tc, job.out_tc = result.get("in_tc"), result.get("out_tc")
            job.method = result.get("method")
            job.finished_at = job.last_access = now
            job.lease_owner = job.lease_until = None
            for data in result["rendition_events"]:
                self.outbox.add(session, "rendition.ready.v1", data, subject=job.video_id)
            for name in result["made"]:  # whole renditions made: cached as jobs of their own
                if name != job.rendition or job.kind != "rendition":
                    self._record_made_rendition(session, job, name, now)
            if job.kind == "cut":
                self.outbox.add(session, "cut.ready.v1", self._cut_event(job), subject=job.id)
        return Outcome.READY

    @staticmethod
    def _still_owned(job: Job | None, owner: str) -> bool:
        """Whether this run still holds the job. A run whose lease lapsed (it stalled) may
        have been replaced by another: the other records the outcome, so the events are
        emitted once; the file this one made is the same and already in place."""
        if job is not None and job.status == Status.RUNNING and job.lease_owner == owner:
            return True
        log.warning("job %s was taken over by another run: this run's outcome is dropped",
                    job.id if job is not None else "?")
        return False

    def _record_made_rendition(self, session, job: Job, name: str, now: datetime) -> None:
        key = cache_key(job.video_id, name, None, None, None)
        row = session.execute(select(Job).where(Job.cache_key == key)
                              .with_for_update()).scalar_one_or_none()
        if row is None:
            row = Job(id=str(uuid.uuid4()), kind="rendition", video_id=job.video_id,
                      rendition=name, cache_key=key, attempts=0, created_at=now)
            session.add(row)
        elif row.status in (Status.QUEUED, Status.RUNNING):
            return  # its own message will find the file there and finish at once
        path = self._rendition_file(job.video_id, name)
        row.status, row.progress, row.error = Status.READY, 100, None
        row.output_path, row.size_bytes = self._relative(path), path.stat().st_size
        row.finished_at = row.last_access = now

    def _finish_failed(self, job_id: str, owner: str, reason: str) -> str:
        now = self.clock()
        with self._unit() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if not self._still_owned(job, owner):
                return Outcome.SKIPPED
            job.status, job.error, job.finished_at = Status.FAILED, reason, now
            job.output_path = job.size_bytes = None
            job.lease_owner = job.lease_until = None
            if job.kind == "cut":
                self.outbox.add(session, "cut.failed.v1",
                                {**self._cut_event(job), "error": reason}, subject=job.id)
            else:
                names = ["poster", "storyboard", "proxy", "hls"] if job.kind == "preview" \
                    else [job.rendition]
                for name in names:
                    self.outbox.add(session, "rendition.failed.v1", {
                        "video_id": job.video_id, "rendition": name, "error": reason,
                        "job_id": job.id}, subject=job.video_id)
        return Outcome.FAILED

    @staticmethod
    def _cut_event(job: Job) -> dict:
        return {"job_id": job.id, "video_id": job.video_id, "rendition": job.rendition,
                "requested_in_tc": job.requested_in_tc, "requested_out_tc": job.requested_out_tc,
                "in_tc": job.in_tc, "out_tc": job.out_tc, "accuracy": job.accuracy,
                "method": job.method, "path": job.output_path, "size_bytes": job.size_bytes}

    # -- cache --------------------------------------------------------------------------------

    def evict(self, max_bytes: int | None = None) -> dict:
        """Removes the least recently used ready cuts until the cuts' total is at most
        `max_bytes` (CUT_CACHE_MAX_BYTES). Whole renditions and unfinished jobs are never
        touched. An evicted job is made again when asked again."""
        limit = self.settings.cut_cache_max_bytes if max_bytes is None else max_bytes
        ready_cuts = (Job.kind == "cut", Job.status == Status.READY)
        with self._unit() as session:
            total = session.execute(select(func.coalesce(func.sum(Job.size_bytes), 0))
                                    .where(*ready_cuts)).scalar_one()
            if total <= limit:
                return {"evicted": 0, "freed_bytes": 0, "total_bytes": int(total)}
            files, freed = [], 0
            for job in session.execute(select(Job).where(*ready_cuts)
                                       .order_by(Job.last_access, Job.id)
                                       .with_for_update()).scalars():
                if total - freed <= limit:
                    break
                freed += job.size_bytes or 0
                files.append(job.output_path)
                job.status, job.output_path, job.size_bytes = Status.EVICTED, None, None
                job.progress = 0
        for path in files:  # after the commit: a row never points at a deleted file
            if path:
                self._absolute(path).unlink(missing_ok=True)
        log.info("cut cache: evicted %s cuts, %s bytes", len(files), freed)
        return {"evicted": len(files), "freed_bytes": int(freed),
                "total_bytes": int(total - freed)}

    def sweep_temporaries(self, max_age_s: float | None = None) -> int:
        """Removes what a killed worker left half-written (the toolkit's `.x.tmp-…`,
        `.x.parts-…`, `.x.old-…` beside renditions and cuts; a clean failure removes its own).
        Only entries untouched for `max_age_s` (TEMP_MAX_AGE_SECONDS, 1 h): a running ffmpeg
        keeps writing to its own, which may belong to another worker."""
        max_age_s = env_int("TEMP_MAX_AGE_SECONDS", 3600) if max_age_s is None else max_age_s
        limit = time.time() - max_age_s
        removed = 0
        for area in ("renditions", "cuts"):
            for entry in (self.settings.media_root / area).glob("*/.*"):
                if not any(mark in entry.name for mark in (".tmp-", ".parts-", ".old-")):
                    continue
                touched = [entry, *entry.iterdir()] if entry.is_dir() else [entry]
                try:
                    newest = max(p.stat().st_mtime for p in touched)
                except FileNotFoundError:
                    continue
                if newest < limit:
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                    removed += 1
        if removed:
            log.info("removed %s temporary files left by interrupted jobs", removed)
        return removed

    # -- downloads (who was given which link) --------------------------------------------------

    def record_download(self, job_id, account_id, email, organisation, video_id, rendition,
                        in_tc=None, out_tc=None, accuracy=None) -> dict:
        """Records a download link issued to an account (the gateway calls it when it answers
        a ready download with its link). `job_id` is None for the original."""
        if not isinstance(account_id, str) or not account_id or not isinstance(email, str) \
                or not isinstance(video_id, str) or not isinstance(rendition, str):
            raise ServiceError("invalid_request", {"reason": "missing"})
        with self._unit() as session:
            row = Download(id=str(uuid.uuid4()), job_id=job_id, account_id=account_id,
                           email=email[:320], organisation=(organisation or None) and
                           str(organisation)[:200], video_id=video_id, rendition=rendition[:40],
                           in_tc=in_tc, out_tc=out_tc, accuracy=accuracy,
                           created_at=self.clock())
            session.add(row)
            session.flush()
            return _download_document(row)

    def list_downloads(self, video_id=None, account_id=None, since=None, page=1,
                       per_page=50) -> dict:
        """The downloads, newest first, filtered by video, account and/or a moment (`since`:
        ISO 8601, a naive one read as UTC)."""
        page, per_page = max(1, int(page)), min(500, max(1, int(per_page)))
        query = select(Download)
        if video_id is not None:
            query = query.where(Download.video_id == video_id)
        if account_id is not None:
            query = query.where(Download.account_id == account_id)
        if since is not None:
            moment = _parse_time(since) if isinstance(since, str) else since
            if not isinstance(moment, datetime):
                raise ServiceError("invalid_request", {"field": "since", "reason": "not_a_time"})
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            query = query.where(Download.created_at >= moment)
        with self._unit() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            rows = session.scalars(query.order_by(Download.created_at.desc(), Download.id)
                                   .offset((page - 1) * per_page).limit(per_page)).all()
            return {"items": [_download_document(row) for row in rows], "page": page,
                    "per_page": per_page, "total": total}

    # -- helpers ------------------------------------------------------------------------------

    @contextmanager
    def _unit(self) -> Iterator[Session]:
        with transaction(self.session) as session:
            session.expire_all()
            yield session

    def _absolute(self, relative: str | Path) -> Path:
        return self.settings.media_root / relative

    def _relative(self, path: str | Path) -> str:
        return Path(path).relative_to(self.settings.media_root).as_posix()

    def _rendition_dir(self, video_id: str) -> Path:
        return self.settings.media_root / "renditions" / video_id

    def _rendition_file(self, video_id: str, name: str) -> Path:
        return self._rendition_dir(video_id) / f"{name}{renditions.rendition(name).extension}"

    def _original_document(self, video: Video) -> dict:
        return {"id": None, "kind": "original", "video_id": video.id, "status": Status.READY,
                "progress": 100, "rendition": "original", "in_tc": None, "out_tc": None,
                "requested_in_tc": None, "requested_out_tc": None, "accuracy": None,
                "method": None, "path": video.master_path, "size_bytes": video.size_bytes,
                "error": None}

    @staticmethod
    def _job_document(job: Job) -> dict:
        return {"id": job.id, "kind": job.kind, "video_id": job.video_id, "status": job.status,
                "progress": job.progress, "rendition": job.rendition,
                "in_tc": job.in_tc, "out_tc": job.out_tc,
                "requested_in_tc": job.requested_in_tc, "requested_out_tc": job.requested_out_tc,
                "accuracy": job.accuracy, "method": job.method,
                "path": job.output_path if job.status == Status.READY else None,
                "size_bytes": job.size_bytes if job.status == Status.READY else None,
                "error": job.error if job.status == Status.FAILED else None,
                "finished_at": _iso(job.finished_at)}


def _download_document(row: Download) -> dict:
    return {"id": row.id, "job_id": row.job_id, "account_id": row.account_id,
            "email": row.email, "organisation": row.organisation, "video_id": row.video_id,
            "rendition": row.rendition, "in_tc": row.in_tc, "out_tc": row.out_tc,
            "accuracy": row.accuracy, "created_at": _iso(row.created_at)}


def _facts_of(video: Video):
    """What resolve_cut needs, from the projection (no probe on a request)."""
    return _Facts(as_rate(video.frame_rate), video.start_timecode, video.frame_count)


@dataclass(frozen=True)
class _Facts:
    frame_rate: Fraction
    start_timecode: str
    frame_count: int


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:4000]


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _snapshot(row) -> SimpleNamespace:
    """A row's columns as plain values: the work runs across several transactions, each of
    which expires the session's objects."""
    return SimpleNamespace(**{column.key: getattr(row, column.key)
                              for column in inspect(row).mapper.column_attrs})
