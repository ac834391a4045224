"""The nameko edge of the transcoder: RPC methods that forward to Transcoder, the handler of the
catalog's `video.ingested.v1`, the consumer of its own job queue (`job.queued.v1`) and the
timer that keeps the cut cache under its size.

Three service classes share one name, "transcoder" (so the queues are the same whichever runs):
- `TranscoderApi`: RPC, ingest handler, eviction timer — short work, many workers;
- `TranscoderWorker`: the job consumer — one job at a time per process (MAX_WORKERS=1: nameko's
  prefetch is max_workers, so a process holds only the message it works on and the queue's
  length is what is waiting, which KEDA scales on);
- `TranscoderService`: both in one process (one machine). With MAX_WORKERS=1 its RPC waits
  behind a running job: run `worker` and `api` as two processes where that matters."""

import time

from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter, Gauge, Histogram

from services.shared.cloudevents import event_type_of
from services.shared.config import database_url, env_int
from services.shared.consumer import Delivery, Later, reliable_handler
from services.shared.db import Database
from services.shared.errors import service_rpc
from services.shared.metrics import EVENTS_CONSUMED
from services.shared.observed import Observed
from services.shared.outbox import OutboxRelay

from .models import outbox
from .service import JobHeld, Outcome, Transcoder, TranscoderSettings

JOBS = Counter("newsreel_jobs_total", "Transcoder jobs run, by kind and outcome.",
               ["kind", "outcome"])
JOB_SECONDS = Histogram("newsreel_job_seconds", "Time spent running a transcoder job.", ["kind"],
                        buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600))
JOBS_IN_PROGRESS = Gauge("newsreel_jobs_in_progress", "Transcoder jobs running now.")
JOB_QUEUE_LENGTH = Gauge("newsreel_job_queue_length",
                         "Transcoder jobs waiting for a worker (queued), as the api process "
                         "last counted them.")
JOBS_REQUEUED = Counter("newsreel_jobs_requeued_total",
                        "Stuck jobs queued again by the sweeper: queued with no worker taking "
                        "them (their message parked or gone), or running under a lapsed lease.")

# How often the timer trims the cut cache, how often the api counts the waiting jobs, and how
# often it looks for stuck jobs.
EVICT_CHECK_SECONDS = env_int("EVICT_CHECK_SECONDS", 300)
QUEUE_GAUGE_SECONDS = env_int("QUEUE_GAUGE_SECONDS", 15)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 60)


def _transcoder_database_url() -> str:
    return database_url("transcoder")


class TranscoderParts(DependencyProvider):
    """What Transcoder needs besides a session, built once per process from the environment
    (the one wiring place)."""

    def setup(self):
        self.parts = {"outbox": outbox, "settings": TranscoderSettings.from_env()}

    def get_dependency(self, worker_ctx):
        return self.parts


class _Base(Observed):
    name = "transcoder"

    db = Database(_transcoder_database_url)
    parts = TranscoderParts()
    delivery = Delivery()
    relay = OutboxRelay(outbox, _transcoder_database_url)

    @property
    def transcoder(self) -> Transcoder:
        return Transcoder(self.db, **self.parts)


class _Api:
    @service_rpc
    def ping(self):
        return "pong"

    @service_rpc
    def request_download(self, video_id, rendition, in_=None, out=None, accuracy="fast",
                         account_id=None):
        transcoder = self.transcoder
        job = transcoder.request(video_id, rendition, in_, out, accuracy,
                                 account_id=account_id)
        if job.get("status") == "queued":
            JOB_QUEUE_LENGTH.set(transcoder.queued_jobs())
        return job

    @service_rpc
    def get_job(self, job_id):
        return self.transcoder.job(job_id)

    @service_rpc
    def record_download(self, job_id, account_id, email, organisation, video_id, rendition,
                        in_tc=None, out_tc=None, accuracy=None):
        return self.transcoder.record_download(job_id, account_id, email, organisation,
                                               video_id, rendition, in_tc, out_tc, accuracy)

    @service_rpc
    def list_downloads(self, video_id=None, account_id=None, since=None, page=1, per_page=50):
        return self.transcoder.list_downloads(video_id, account_id, since, page, per_page)

    @reliable_handler("catalog", "video.ingested.v1")
    def on_video_ingested(self, event):
        outcome = self.transcoder.record_video(event, f"{self.name}.{event_type_of(event)}")
        EVENTS_CONSUMED.labels(self.name, event_type_of(event), outcome).inc()
        return outcome

    @timer(interval=QUEUE_GAUGE_SECONDS, eager=True)
    def count_queued_jobs(self):
        JOB_QUEUE_LENGTH.set(self.transcoder.queued_jobs())

    @timer(interval=JOB_SWEEP_SECONDS, eager=True)
    def requeue_stuck_jobs(self):
        requeued = self.transcoder.requeue_stuck()
        JOBS_REQUEUED.inc(requeued)
        return requeued

    @timer(interval=EVICT_CHECK_SECONDS, eager=False)
    def evict_cuts(self):
        transcoder = self.transcoder
        transcoder.sweep_temporaries()
        return transcoder.evict()


class _Worker:
    @reliable_handler("transcoder", "job.queued.v1")
    def run_job(self, event):
        """Acked only when this returns: a worker that dies mid-job has the message delivered
        again (and the job starts over). A second copy of the message while the job runs
        elsewhere comes back later. A failure that is not the media's is raised for a retry;
        on the last delivery it is recorded as the job's failure."""
        kind = event["data"].get("kind", "unknown")
        started = time.monotonic()
        JOBS_IN_PROGRESS.inc()
        try:
            outcome = self.transcoder.run_job(event["data"]["job_id"],
                                              last_attempt=self.delivery.is_last,
                                              redelivered=self.delivery.redelivered)
        except JobHeld as held:
            raise Later(held.seconds_left, str(held)) from None
        except Exception:
            JOBS.labels(kind, Outcome.RETRY).inc()
            raise
        finally:
            JOBS_IN_PROGRESS.dec()
        if outcome != Outcome.SKIPPED:
            JOB_SECONDS.labels(kind).observe(time.monotonic() - started)
        JOBS.labels(kind, outcome).inc()
        EVENTS_CONSUMED.labels(self.name, event_type_of(event), outcome).inc()
        return outcome


class TranscoderApi(_Base, _Api):
    pass


class TranscoderWorker(_Base, _Worker):
    pass


class TranscoderService(_Base, _Api, _Worker):
    pass
