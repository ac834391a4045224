"""A whole rendition asked of the running service, beside the bare ffmpeg command, same run.

    .venv/bin/python -m bench.service_rendition [--seconds 30] [--rendition h264-1080p]
                                                [--backend sqlite] [--poll 0.5]

The system runs as in the tests (gateway, catalog, the transcoder's api and worker, RabbitMQ,
SQLite or PostgreSQL). A journalist asks for a rendition of a published video through the API
and polls its status every half second (the portal's pace); the clock runs from the request to
the answer that carries the link, and the job's own row says how long the worker spent. The
baseline is the bare ffmpeg command of the same graph on the same master. The master's tone is
already at -23 LUFS, so the service's graph is that very command, and the overhead is what the
service adds: the RPC and the queue, the loudness
measurement it makes to learn that no normalisation is needed (also timed alone), the progress
parsing, the probe of the output before the rename, the database and the events."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import ffmpeg
import sqlalchemy

from services.shared.mediainfo import ffmpeg_binary, probe
from services.transcoder.media import renditions
from services.transcoder.media.sample import make_master
from tests.journeys import editor, ingest, request_download, signed_in, until_ready
from tests.support.system import running_system

ITEM = {"translations": {"en": {"title": "Benchmark", "summary": "A benchmark.",
                                "body": "A benchmark."}}}


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def job_seconds(system, job_id: str) -> float:
    """How long the worker spent on the job, by its own row (started → finished)."""
    engine = sqlalchemy.create_engine(system.database_urls["transcoder"])
    try:
        with engine.connect() as connection:
            started, finished = connection.execute(sqlalchemy.text(
                "SELECT started_at, finished_at FROM jobs WHERE id = :id"), {"id": job_id}).one()
    finally:
        engine.dispose()
    as_time = lambda value: value if isinstance(value, datetime) else \
        datetime.fromisoformat(value)  # noqa: E731 - SQLite hands back text
    return (as_time(finished) - as_time(started)).total_seconds()


def through_the_service(args, master: Path, tmp: Path) -> tuple[float, float]:
    """(request → link, the worker's time on the job)."""
    with running_system(tmp, backend=args.backend, transcoder=True) as system:
        tap = system.tap()
        edith = editor(system)
        reader = signed_in(system, "reader@example.org", "en")
        print("ingesting (the previews are made first)…", flush=True)
        item, video = ingest(system, edith, tap, ITEM, master, master.name, timeout=900)
        published = system.api("POST", f"/api/v1/news/{item['id']}/publish",
                               headers={"Authorization": f"Bearer {edith}"})
        assert published.status_code == 200, published.text
        print(f"asking the service for {args.rendition}…", flush=True)
        started = time.perf_counter()
        answer = until_ready(system, reader, request_download(
            system, reader, video["id"], rendition=args.rendition), timeout=1800,
            interval=args.poll)
        return time.perf_counter() - started, job_seconds(system, answer["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="the master's length")
    parser.add_argument("--rendition", default="h264-1080p",
                        choices=["xdcam-hd422", "h264-1080p", "proxy"])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--poll", type=float, default=0.5,
                        help="seconds between two status requests (the portal's: 0.5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        master = work / "bench-master.mov"
        print(f"making a {args.seconds}-s 1080p25 master…", flush=True)
        make_master(master, args.seconds, tone_dbfs=-23.0)
        facts = probe(master)

        extension = renditions.rendition(args.rendition).extension
        graph = renditions.build_rendition(args.rendition, str(master),
                                           str(work / f"bare{extension}"), facts)
        command = ffmpeg.compile(graph, cmd=ffmpeg_binary(), overwrite_output=True)
        # the baseline before and after the service's run (the mean), so that neither gets
        # the warmer page cache alone
        first = timed(lambda: subprocess.run(command, check=True, capture_output=True))
        service, in_worker = through_the_service(args, master, work / "system")
        second = timed(lambda: subprocess.run(command, check=True, capture_output=True))
        bare = (first + second) / 2
        measuring = timed(lambda: renditions.measure_loudness(master, facts))

    print(f"\n{args.rendition} of a {args.seconds}-s 1080p25 master ({args.backend})")
    print(f"{'bare ffmpeg command (baseline, mean of 2)':46} {bare:8.2f} s  1.00x"
          f"   ({first:.2f} s before, {second:.2f} s after)")
    print(f"{'through the service: request → link':46} {service:8.2f} s "
          f"{service / bare:5.2f}x")
    print(f"{'  of which the job in the worker':46} {in_worker:8.2f} s "
          f"{in_worker / bare:5.2f}x")
    print(f"{'  the loudness measurement, alone':46} {measuring:8.2f} s "
          f"{measuring / bare:5.2f}x")


if __name__ == "__main__":
    main()
