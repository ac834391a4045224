"""Every service's /metrics, scraped as Prometheus would after some real work (an account, a
published story with a video, a download): the metrics an SRE's alerts and dashboard use are
there, with the values that work implies."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from services.transcoder.media.sample import make_master
from tests.journeys import bearer, editor, ingest, publish, signed_in, until_ready
from tests.support.system import running_system

pytestmark = [pytest.mark.integration, pytest.mark.slow_media]

STORY = {"translations": {"en": {"title": "Metrics", "summary": "Counted.", "body": "Counted."}}}
# family → the services that must expose it (a labelled metric shows its HELP and TYPE before
# its first sample: "present" means that family; a counter's family drops "_total")
EXPECTED = {
    "newsreel_entrypoint_calls": ("auth", "mailer", "catalog", "transcoder",
                                        "transcoder-worker"),
    "newsreel_entrypoint_errors": ("auth", "mailer", "catalog", "transcoder",
                                         "transcoder-worker"),
    "newsreel_entrypoint_latency_seconds": ("auth", "mailer", "catalog", "transcoder",
                                            "transcoder-worker"),
    "newsreel_events_published": ("auth", "mailer", "catalog", "transcoder",
                                        "transcoder-worker"),
    "newsreel_events_consumed": ("mailer", "catalog", "transcoder", "transcoder-worker"),
    "newsreel_outbox_backlog": ("auth", "mailer", "catalog", "transcoder", "transcoder-worker"),
    "newsreel_messages_dead_lettered": ("auth", "mailer", "catalog", "transcoder",
                                              "transcoder-worker"),
    "newsreel_job_queue_length": ("transcoder",),
    "newsreel_jobs": ("transcoder-worker",),
    "newsreel_job_seconds": ("transcoder-worker",),
    "newsreel_mails": ("mailer",),
    "newsreel_gateway_requests": ("gateway",),
    "newsreel_frontdoor_requests": ("frontdoor",),
    "newsreel_frontdoor_sent_bytes": ("frontdoor",),
    "newsreel_gateway_request_latency_seconds": ("gateway",),
}


def families(system, name: str) -> dict:
    text = requests.get(system.metrics_url(name), timeout=10).text
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(family, sample: str | None = None, **labels) -> float:
    return sum(s.value for s in family.samples
               if (sample is None or s.name == sample)
               and all(s.labels.get(k) == v for k, v in labels.items()))


def test_every_service_exposes_its_metrics_with_sensible_values(tmp_path):
    master = tmp_path / "clip.mov"
    make_master(master, 3, size=(320, 180), rate=25, tone_dbfs=-23.0)
    with running_system(tmp_path / "system", transcoder=True,
                        env={"QUEUE_GAUGE_SECONDS": "1"}) as system:
        tap = system.tap()
        edith = editor(system)
        reader = signed_in(system, "reader@example.org", "en")
        item, video = ingest(system, edith, tap, STORY, master, "clip.mov")
        publish(system, edith, item)
        asked = system.api("POST", f"/api/v1/videos/{video['id']}/downloads",
                           json={"rendition": "proxy", "in": 1, "out": 2},
                           headers=bearer(reader))
        # the api counted the job it queued before it answered…
        assert value(families(system, "transcoder")["newsreel_job_queue_length"]) >= 1
        until_ready(system, reader, asked)
        # …and its timer counts again: nothing waits now
        system.wait_until(lambda: value(families(system, "transcoder")[
            "newsreel_job_queue_length"]) == 0, timeout=15,
            message="the job queue length stayed above 0 with every job done")
        # the relays have published all they hold, and the last events were consumed
        tap.wait_for("cut.ready.v1")
        system.wait_until(lambda: all(
            value(families(system, name)["newsreel_outbox_backlog"]) == 0
            for name in ("auth", "mailer", "catalog", "transcoder", "transcoder-worker")),
            timeout=30, message="an outbox kept a backlog")

        # a journalist takes the cut and looks at the poster: the front door counts both
        cut = until_ready(system, reader, asked)
        assert requests.get(cut["url"], headers=bearer(reader), timeout=30).status_code == 200
        poster = system.api("GET", f"/api/v1/videos/{video['id']}").json()["poster_url"]
        assert requests.get(poster, timeout=10).status_code == 200

        scraped = {name: families(system, name) for name in system.services}
        for metric, services in EXPECTED.items():
            for service in services:
                assert metric in scraped[service], f"{service} has no {metric}"

        auth, mailer = scraped["auth"], scraped["mailer"]
        catalog, api = scraped["catalog"], scraped["transcoder"]
        worker, gateway = scraped["transcoder-worker"], scraped["gateway"]
        # calls, and their latency histograms counted them
        for family_of, entrypoint in ((auth, "register"), (auth, "authenticate"),
                                      (catalog, "create_news"), (api, "request_download")):
            calls = value(family_of["newsreel_entrypoint_calls"], entrypoint=entrypoint)
            assert calls >= 1, entrypoint
            assert value(family_of["newsreel_entrypoint_latency_seconds"],
                         "newsreel_entrypoint_latency_seconds_count",
                         entrypoint=entrypoint) == calls
        # events out and in
        assert value(auth["newsreel_events_published"],
                     event_type="verification_code.issued.v1") == 2  # edith's and the reader's
        assert value(catalog["newsreel_events_published"], event_type="news.published.v1") == 1
        assert value(mailer["newsreel_events_consumed"],
                     event_type="verification_code.issued.v1") == 2
        assert value(worker["newsreel_events_published"], event_type="cut.ready.v1") == 1
        # mails, jobs
        assert value(mailer["newsreel_mails"], kind="verification_code", outcome="sent") == 2
        assert value(mailer["newsreel_mails"], outcome="failed") == 0
        assert value(worker["newsreel_jobs"], kind="preview", outcome="ready") == 1
        assert value(worker["newsreel_jobs"], kind="cut", outcome="ready") == 1
        assert value(worker["newsreel_job_seconds"], "newsreel_job_seconds_count") == 2
        # nothing failed for good
        for name in ("auth", "mailer", "catalog", "transcoder", "transcoder-worker"):
            assert value(scraped[name]["newsreel_messages_dead_lettered"]) == 0, name
        # the front door: nginx's traffic by kind (mtail) and its connections (the exporter)
        # (mtail reads the log as it grows: a moment behind the requests; the poster's line
        # is the last one written)
        def counted():
            door = families(system, "frontdoor")
            seen = (value(door["newsreel_frontdoor_sent_bytes"], kind="cut") >= cut["size_bytes"]
                    and value(door["newsreel_frontdoor_requests"], kind="preview",
                              status="200") >= 1)
            return door if seen else None
        door = system.wait_until(counted, timeout=10,
                                 message="nginx's lines of the cut and the poster were not "
                                         "counted")
        assert value(door["newsreel_frontdoor_requests"], kind="api") >= 10
        assert value(door["newsreel_frontdoor_request_seconds"],
                     "newsreel_frontdoor_request_seconds_count") >= 12
        connections = families(system, "frontdoor-nginx")
        assert value(connections["nginx_connections_accepted"]) >= 12
        assert value(connections["nginx_up"]) == 1
        # the gateway counted its requests by status
        assert value(gateway["newsreel_gateway_requests"], status="201") >= 2
        assert value(gateway["newsreel_gateway_requests"]) >= 10
