"""The downloads log: record_download, list_downloads (filters, paging) on SQLite and
PostgreSQL, and the CLI that prints it, run as a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.shared.errors import ServiceError

ROOT = Path(__file__).resolve().parents[3]
VIDEO_A = "11111111-1111-4111-8111-111111111111"
VIDEO_B = "22222222-2222-4222-8222-222222222222"


def record(transcoder, video_id=VIDEO_A, account_id="acc-1", **extra):
    values = {"job_id": "job-1", "account_id": account_id, "email": "claire@example.org",
              "organisation": "Le Quotidien", "video_id": video_id, "rendition": "h264-1080p",
              "in_tc": "10:00:01:00", "out_tc": "10:00:03:00", "accuracy": "fast", **extra}
    return transcoder.record_download(**values)


def test_a_download_is_recorded_with_who_and_what(transcoder):
    row = record(transcoder)
    assert row["id"] and row["created_at"] == "2026-11-21T12:00:00Z"
    assert {k: row[k] for k in ("account_id", "email", "organisation", "video_id", "rendition",
                                "in_tc", "out_tc", "accuracy", "job_id")} == {
        "account_id": "acc-1", "email": "claire@example.org", "organisation": "Le Quotidien",
        "video_id": VIDEO_A, "rendition": "h264-1080p", "in_tc": "10:00:01:00",
        "out_tc": "10:00:03:00", "accuracy": "fast", "job_id": "job-1"}


def test_the_original_has_no_job(transcoder):
    row = record(transcoder, job_id=None, rendition="original", in_tc=None, out_tc=None,
                 accuracy=None)
    assert row["job_id"] is None and row["rendition"] == "original"


def test_a_download_without_account_is_refused(transcoder):
    with pytest.raises(ServiceError) as error:
        record(transcoder, account_id=None)
    assert error.value.code == "invalid_request"


def test_listing_filters_and_pages_newest_first(transcoder, clock):
    first = record(transcoder)
    clock.advance(hours=1)
    second = record(transcoder, video_id=VIDEO_B, account_id="acc-2")
    clock.advance(hours=1)
    third = record(transcoder)

    every = transcoder.list_downloads()
    assert [i["id"] for i in every["items"]] == [third["id"], second["id"], first["id"]]
    assert every["total"] == 3
    assert [i["id"] for i in transcoder.list_downloads(video_id=VIDEO_A)["items"]] == [
        third["id"], first["id"]]
    assert [i["id"] for i in transcoder.list_downloads(account_id="acc-2")["items"]] == [
        second["id"]]
    since = transcoder.list_downloads(since="2026-11-21T12:30:00Z")
    assert [i["id"] for i in since["items"]] == [third["id"], second["id"]]
    paged = transcoder.list_downloads(page=2, per_page=2)
    assert [i["id"] for i in paged["items"]] == [first["id"]] and paged["total"] == 3


def test_listing_refuses_a_since_that_is_not_a_time(transcoder):
    with pytest.raises(ServiceError) as error:
        transcoder.list_downloads(since="yesterday")
    assert error.value.code == "invalid_request"


def run_cli(url, *args):
    env = {**os.environ, "TRANSCODER_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "services.transcoder.cli", "downloads", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_prints_json_lines(transcoder, service_database_url, clock):
    record(transcoder)
    clock.advance(hours=1)
    record(transcoder, video_id=VIDEO_B, account_id="acc-2")

    done = run_cli(service_database_url)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["video_id"] for line in lines] == [VIDEO_B, VIDEO_A]

    done = run_cli(service_database_url, "--video", VIDEO_A)
    assert [json.loads(line)["video_id"] for line in done.stdout.splitlines()] == [VIDEO_A]
    done = run_cli(service_database_url, "--since", "2026-11-21T12:30:00+00:00")
    assert [json.loads(line)["account_id"] for line in done.stdout.splitlines()] == ["acc-2"]


def test_the_cli_says_a_bad_since(transcoder, service_database_url):
    done = run_cli(service_database_url, "--since", "nope")
    assert done.returncode == 2 and "invalid_request" in done.stderr
