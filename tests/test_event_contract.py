"""Issue 5, what must be shown (2): a team subscribes with the subscriber, an editor publishes
a news item on the running system, and the team receives `news.published.v1`, valid against
contract/events/news.published.v1.schema.json (real RabbitMQ, services, SMTP; SQLite)."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading

import pytest
from jsonschema import Draft202012Validator

from tests.journeys import bearer, editor
from tests.support.processes import REPO_ROOT
from tests.support.system import running_system

pytestmark = pytest.mark.integration

SCHEMA = REPO_ROOT / "contract" / "events" / "news.published.v1.schema.json"
QUEUE = "team.newsdesk"
STORY = {"translations": {
    "fr": {"title": "Le viaduc de Millau fermé par le vent",
           "summary": "Des rafales à 130 km/h ont fermé le viaduc toute la nuit.",
           "body": "Le viaduc a rouvert à six heures."},
    "en": {"title": "Wind closes the Millau viaduct",
           "summary": "Gusts of 130 km/h closed the viaduct all night.",
           "body": "The viaduct reopened at six."}}}


def lines_of(stream) -> queue.Queue:
    """The stream's lines as they come, read by a thread (a read never blocks the test)."""
    lines: queue.Queue = queue.Queue()

    def read():
        for line in stream:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_a_team_subscriber_receives_a_published_news_item_as_the_contract_says(tmp_path):
    with running_system(tmp_path / "system") as system:
        log_path = tmp_path / "subscriber.log"
        with open(log_path, "w") as log:
            subscriber = subprocess.Popen(
                [sys.executable, "-m", "subscriber", "--amqp-uri", system.vhost.amqp_uri,
                 "--queue", QUEUE, "--events", "news.published.v1", "rendition.ready.v1",
                 "--validate"],
                cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                text=True)
        try:
            received = lines_of(subscriber.stdout)
            system.vhost.wait_for_queue(QUEUE, lambda q: q.consumers == 1, timeout=30)

            edith = editor(system)
            created = system.api("POST", "/api/v1/news", json=STORY, headers=bearer(edith))
            assert created.status_code == 201, created.text
            item = created.json()
            published = system.api("POST", f"/api/v1/news/{item['id']}/publish",
                                   headers=bearer(edith))
            assert published.status_code == 200, published.text

            try:
                line = received.get(timeout=30)
            except queue.Empty:
                raise AssertionError(f"no event reached the subscriber:\n"
                                     f"{log_path.read_text()}") from None
        finally:
            subscriber.send_signal(signal.SIGTERM)
            code = subscriber.wait(timeout=20)
        assert code == 0, log_path.read_text()

    event = json.loads(line)
    assert (event["type"], event["subject"]) == ("newsreel.catalog.news.published.v1",
                                                 item["id"])
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        event)
    data = event["data"]
    assert data["news_id"] == item["id"] and data["languages"] == ["fr", "en"]
    assert [t["title"] for t in data["translations"]] == [
        "Le viaduc de Millau fermé par le vent", "Wind closes the Millau viaduct"]
    assert data["translations"][1]["url"] == f"{system.url}/news/{data['translations'][1]['slug']}"
    assert received.empty()                      # one event: nothing else was published
    assert "subscriber: stopped" in log_path.read_text()
