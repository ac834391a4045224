"""The portal's sample content: the real news pages in the seed folder, in French (from the
page) and English (english.py), published at their own dates, each with a video when a master
is given for it.

    load_samples(session, media_root)                          # the news items
    load_samples(session, media_root, masters={"000_…": path}) # and a video for each

Idempotent, keyed on the seed file's name: a second run creates nothing, and only attaches a
video to an item that has none yet. It goes through the service layer, so the events
(`news.published.v1`, `video.ingested.v1`) are written to the outbox and leave through the
running service's relay."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.shared import mediainfo
from services.shared.config import env
from services.shared.db import transaction

from ..models import News, outbox
from ..service import Catalog, CatalogSettings, utcnow
from .english import ENGLISH
from .seeds import SampleArticle, read_seeds, seeds_dir

SOURCE_PREFIX = "seed:"
# Articles carry a day, not a time: they are published at noon UTC on that day.
PUBLICATION_TIME = time(12, 0, tzinfo=UTC)


def translations_of(article: SampleArticle) -> dict:
    versions = {"fr": {"title": article.title, "summary": article.summary,
                       "body": article.body}}
    english = ENGLISH.get(article.name)
    if english:
        versions["en"] = {"title": english["title"], "summary": english["summary"],
                          "body": [{"type": "paragraph", "text": text}
                                   for text in english["body"]]}
    return versions


def _master_for(masters: dict | None, name: str):
    if not masters:
        return None
    return masters.get(name) or masters.get(f"{name}.txt")


def load_samples(session: Session, media_root: Path | str,
                 masters: dict[str, str | Path] | None = None,
                 seeds: Path | str | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 probe: Callable = mediainfo.probe,
                 today: date | None = None) -> list[dict]:
    """Creates the sample items that are not there yet; returns one line per seed:
    `{seed, news_id, slug, created, video_id}` (`video_id` when a video was attached now)."""
    settings = CatalogSettings(
        media_root=Path(media_root).absolute(),
        public_base_url=env("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        media_base_url=env("MEDIA_BASE_URL"))
    catalog = Catalog(session, outbox, settings, probe=probe, clock=clock)
    articles = read_seeds(Path(seeds) if seeds else seeds_dir(), today=today)
    report = []
    for article in articles:
        source = SOURCE_PREFIX + article.name
        with transaction(session):
            existing = session.execute(
                select(News.id, News.status).where(News.source == source)).first()
            has_video = bool(existing) and bool(session.get(News, existing.id).videos)
        created = existing is None
        if created:
            news_id = catalog.create_news(translations_of(article), source=source)["id"]
        else:
            news_id = existing.id
        master = _master_for(masters, article.name)
        video_id = None
        if master is not None and not has_video:
            video_id = catalog.ingest_video(news_id, str(master))["id"]
        # published after the video is attached: the announcement names it
        if created or existing.status != "published":
            moment = datetime.combine(article.date, PUBLICATION_TIME)
            catalog.publish_news(news_id, published_at=min(moment, clock()))
        document = catalog.get_news(news_id, "fr", include_unpublished=True)
        report.append({"seed": article.name, "news_id": news_id, "slug": document["slug"],
                       "created": created, "video_id": video_id})
    return report
