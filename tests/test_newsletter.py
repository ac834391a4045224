"""The newsletter across services: auth's opt-in reaches the mailer's subscriber list, a
published news item (the catalog's `news.published.v1`, published here as the catalog does)
is mailed to subscribers only, in their language, and the one-click link unsubscribes."""

import json

import pytest
import requests

from services.shared import cloudevents
from tests.journeys import bearer, signed_in
from tests.support.smtp import sent_to

pytestmark = pytest.mark.integration


def published(title_fr, title_en):
    return cloudevents.envelope("catalog", "news.published.v1", {
        "news_id": "n-1", "published_at": "2025-12-03T10:00:00Z", "languages": ["fr", "en"],
        "video_ids": [], "poster_url": None, "translations": [
            {"language": "fr", "slug": "fr-1", "title": title_fr, "summary": "Résumé.",
             "url": "http://127.0.0.1/news/fr-1"},
            {"language": "en", "slug": "en-1", "title": title_en, "summary": "Summary.",
             "url": "http://127.0.0.1/news/en-1"}]})


def publish(system, event):
    system.vhost.publish("catalog.events", "news.published.v1", json.dumps(event),
                         content_type=cloudevents.CONTENT_TYPE, message_id=event["id"])


def test_subscribers_get_the_news_in_their_language_and_can_leave_in_one_click(system_factory):
    system = system_factory()
    tap = system.tap(["auth.events"])
    anne = signed_in(system, "anne@example.org", "fr")
    bill = signed_in(system, "bill@example.org", "en")
    signed_in(system, "carl@example.org", "en")            # never subscribes
    for token in (anne, bill):
        assert system.api("PUT", "/api/v1/me/newsletter", json={"subscribed": True},
                          headers=bearer(token)).status_code == 200
    tap.wait_for("newsletter.subscription_changed.v1", count=2)
    system.wait_until(lambda: system.metric(
        "mailer", "newsreel_events_consumed_total",
        event_type="newsletter.subscription_changed.v1") == 2)

    publish(system, published("Les ministres se réunissent", "Ministers meet"))
    [to_anne] = system.smtp.wait_for(lambda m: "réunissent" in m["Subject"])
    [to_bill] = system.smtp.wait_for(lambda m: "Ministers meet" in m["Subject"])
    assert to_anne.envelope_to == ("anne@example.org",)
    assert to_bill.envelope_to == ("bill@example.org",)
    system.smtp.assert_nothing_sent(lambda m: "carl@example.org" in m.envelope_to
                                    and "Ministers" in m["Subject"], within=1.0)

    link = to_bill["List-Unsubscribe"].strip("<>")
    assert to_bill["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert requests.get(link, timeout=10).status_code == 200      # only asks
    assert system.api("GET", "/api/v1/me", headers=bearer(bill)).json()["newsletter"] is True
    one_click = requests.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert one_click.status_code == 204
    assert system.api("GET", "/api/v1/me", headers=bearer(bill)).json()["newsletter"] is False
    tap.wait_for("newsletter.subscription_changed.v1", count=3)
    system.wait_until(lambda: system.metric(
        "mailer", "newsreel_events_consumed_total",
        event_type="newsletter.subscription_changed.v1") == 3)

    publish(system, published("Deuxième réunion", "Second meeting"))
    system.smtp.wait_for(lambda m: "Deuxième" in m["Subject"])
    system.smtp.assert_nothing_sent(lambda m: "Second meeting" in m["Subject"], within=1.5)
    to_bill_in_all = [m for m in system.smtp.messages if sent_to("bill@example.org")(m)]
    assert len(to_bill_in_all) == 2            # the code, the first news: not the second
