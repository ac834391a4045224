"""The catalog's use cases. Each takes plain values and returns plain values (JSON-ready dicts);
the nameko entrypoint (entrypoint.py) and the command line (cli.py) only forward calls here, and
the tests call this directly.

Every change and the event that announces it are written in one transaction (the outbox):
`news.published.v1` once, when a published item becomes public (at publication, or when its
embargo ends: `release_embargoes`, run by a timer), and `video.ingested.v1` when a master was
probed and stored. Rendition events from the transcoder are applied once each (the inbox)."""

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from services.shared import media_layout, mediainfo
from services.shared.cloudevents import event_type_of
from services.shared.config import env, var_dir
from services.shared.db import transaction
from services.shared.errors import ServiceError
from services.shared.outbox import Outbox

from . import domain, search
from .domain import Invalid, InvalidShotlist, Status, Timeline
from .models import News, Rendition, Translation, Video, inbox

log = logging.getLogger(__name__)

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CatalogSettings:
    """Where media live and how the portal is reached.

    `media_root`: MEDIA_ROOT, shared with the transcoder; masters are ingested only from its
    `ingest/` folder and every path the catalog stores or emits is relative to it.
    `public_base_url`: the portal (`<it>/news/<slug>` is an item's page).
    `media_base_url`: where the portal serves the preview renditions (poster, storyboard, proxy,
    HLS) from MEDIA_ROOT: `<it>/<path relative to MEDIA_ROOT>`."""
    media_root: Path
    public_base_url: str = "http://127.0.0.1:8000"
    media_base_url: str | None = None

    @property
    def ingest_dir(self) -> Path:
        return self.media_root / media_layout.INGEST

    @property
    def media_url_base(self) -> str:
        return (self.media_base_url or f"{self.public_base_url}/media").rstrip("/")

    @classmethod
    def from_env(cls) -> "CatalogSettings":
        media_root = Path(env("MEDIA_ROOT") or var_dir() / "media").absolute()
        return cls(media_root=media_root,
                   public_base_url=env("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
                   media_base_url=env("MEDIA_BASE_URL"))


class Outcome:
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNKNOWN_VIDEO = "unknown_video"


class Catalog:
    """The use cases, on one worker's database session."""

    def __init__(self, session: Session, outbox: Outbox, settings: CatalogSettings,
                 probe: Callable[[Path], mediainfo.MediaFacts] = mediainfo.probe,
                 clock: Callable[[], datetime] = utcnow):
        self.session = session
        self.outbox = outbox
        self.settings = settings
        self.probe = probe
        self.clock = clock

    # -- reading ------------------------------------------------------------------------------

    def list_news(self, q: str | None = None, lang: str | None = None, page=1,
                  per_page=DEFAULT_PER_PAGE, now=None, include_unpublished: bool = False
                  ) -> dict:
        """Published items past their embargo, newest first, each in `lang` when it has that
        version (else the other); `q` searches titles, summaries and bodies in both
        languages. With `include_unpublished` (editors): every item, drafts and embargoed
        ones too, the most recently created first."""
        now = self._now(now)
        lang = _checked(domain.clean_language, lang)
        page, per_page = _page(page, per_page)
        if q is not None and not isinstance(q, str):
            raise ServiceError("invalid_request", {"field": "q", "reason": "not_text"})
        with self._unit() as session:
            if include_unpublished:
                visible = select(News.id)
                order = (News.created_at.desc(), News.id)
            else:
                visible = select(News.id).where(News.status == Status.PUBLISHED,
                                                News.released_at <= now)
                order = (News.released_at.desc(), News.id)
            matching = search.matching_news_ids(session, q) if q else None
            if matching is not None:
                visible = visible.where(News.id.in_(matching))
            total = session.execute(
                select(func.count()).select_from(visible.subquery())).scalar_one()
            items = session.execute(
                select(News).where(News.id.in_(visible)).order_by(*order)
                .offset((page - 1) * per_page).limit(per_page)
                .options(*_news_loading())).scalars().all()
            return {"items": [self._news_summary(item, lang) for item in items],
                    "page": page, "per_page": per_page, "total": total}

    def get_news(self, id_or_slug: str, lang: str | None = None,
                 include_unpublished: bool = False, now=None) -> dict:
        """One item by id (in `lang`, else its other version) or by slug (the version that slug
        names). Drafts and embargoed items are found only with `include_unpublished`
        (editors)."""
        now = self._now(now)
        lang = _checked(domain.clean_language, lang)
        with self._unit() as session:
            item, slug_language = self._find_news(session, id_or_slug)
            if item is None or not (include_unpublished or self._public(item, now)):
                raise ServiceError("not_found", {"resource": "news"})
            return self._news_document(item, slug_language or lang)

    def get_video(self, video_id: str, include_unpublished: bool = False, now=None) -> dict:
        """A video's facts, shotlist and renditions. The video of a draft or embargoed item is
        found only with `include_unpublished` (editors): neither listed nor downloadable."""
        now = self._now(now)
        with self._unit() as session:
            video = self._video(session, video_id)
            if not (include_unpublished or self._public(video.news, now)):
                raise ServiceError("not_found", {"resource": "video"})
            return self._video_document(video, len(video.news.videos))

    def video_access(self, video_id: str, now=None) -> dict:
        """Whether anyone may have a video's preview files: its item is public (published,
        past its embargo). The gateway asks before it serves one; the previews of other items
        are the editors' only. 404 for a video that does not exist."""
        now = self._now(now)
        with self._unit() as session:
            video = self._video(session, video_id)
            return {"video_id": video.id, "public": self._public(video.news, now)}

    # -- editing ------------------------------------------------------------------------------

    def create_news(self, translations: dict, embargo_until=None,
                    source: str | None = None) -> dict:
        """A draft: `translations` is `{"fr": {title, summary, body}, "en": {...}}` (one or
        both); `body` is a list of blocks or plain text (paragraphs split on blank lines)."""
        now = self.clock()
        versions = _checked(domain.clean_translations, translations)
        embargo = _checked(domain.parse_time, embargo_until, "embargo_until")
        with self._unit() as session:
            item = News(id=str(uuid.uuid4()), status=Status.DRAFT, embargo_until=embargo,
                        source=source, created_at=now, updated_at=now)
            session.add(item)
            for language, version in versions.items():
                item.translations.append(self._new_translation(session, language, version))
                session.flush()  # the next slug sees this one
            return self._news_document(item, None)

    def update_news(self, news_id: str, translations: dict, embargo_until=None) -> dict:
        """Replaces the item's versions and embargo (PUT): a language left out is removed. A
        draft's slug follows its title; a published item keeps its slugs (links were sent).
        Ending or moving the embargo of a published item that is not public yet takes effect
        now (it is announced at once if that makes it public)."""
        now = self.clock()
        versions = _checked(domain.clean_translations, translations)
        embargo = _checked(domain.parse_time, embargo_until, "embargo_until")
        with self._unit() as session:
            item = self._news_for_update(session, news_id)
            published = item.status == Status.PUBLISHED
            if published:
                problems = domain.publish_problems(versions)
                if problems:
                    first = problems[0]
                    raise ServiceError("invalid_request", {
                        "field": f"translations.{first['language']}.{first['field']}",
                        "reason": first["reason"]})
            current = {t.language: t for t in item.translations}
            for language, translation in current.items():
                if language not in versions:
                    item.translations.remove(translation)
            session.flush()
            for language, version in versions.items():
                translation = current.get(language)
                if translation is None:
                    item.translations.append(self._new_translation(session, language, version))
                else:
                    if translation.title != version["title"] and not published:
                        translation.slug = self._free_slug(session, version["title"],
                                                           translation.id)
                    translation.title = version["title"]
                    translation.summary = version["summary"]
                    translation.body = version["body"]
                    translation.body_text = domain.body_text(version["body"])
                session.flush()
            if published and self._public(item, now):
                if embargo is not None and embargo > now and embargo != item.embargo_until:
                    raise ServiceError("invalid_request", {"field": "embargo_until",
                                                           "reason": "already_released"})
            else:
                item.embargo_until = embargo
                if published:
                    item.released_at = domain.release_time(item.published_at, embargo)
            item.updated_at = now
            self._announce_if_public(session, item, now)
            return self._news_document(item, None)

    def publish_news(self, news_id: str, published_at=None) -> dict:
        """Publishes a draft (again: nothing happens). `published_at` backdates it (imports of
        older news); by default it is now. An item without embargo is public at once and
        announced (`news.published.v1`); an embargoed one is announced when its embargo ends."""
        now = self.clock()
        moment = _checked(domain.parse_time, published_at, "published_at") or now
        if moment > now:
            raise ServiceError("invalid_request", {"field": "published_at",
                                                   "reason": "in_the_future"})
        with self._unit() as session:
            item = self._news_for_update(session, news_id)
            if item.status != Status.PUBLISHED:
                versions = {t.language: {"title": t.title, "summary": t.summary, "body": t.body}
                            for t in item.translations}
                problems = domain.publish_problems(versions)
                if problems:
                    first = problems[0]
                    raise ServiceError("not_publishable", {
                        "language": first["language"], "field": first["field"],
                        "reason": first["reason"]})
                item.status = Status.PUBLISHED
                item.published_at = moment
                item.released_at = domain.release_time(moment, item.embargo_until)
                item.updated_at = now
                self._announce_if_public(session, item, now)
            return self._news_document(item, None)

    def release_embargoes(self, now=None) -> list[str]:
        """Announces the published items whose embargo has ended since (the timer's work).
        Several replicas may run it at once: each item is locked, then announced once."""
        now = self._now(now)
        with self._unit() as session:
            due = session.execute(
                select(News).where(News.status == Status.PUBLISHED,
                                   News.announced_at.is_(None), News.released_at <= now)
                .order_by(News.released_at).limit(100)
                .with_for_update(skip_locked=True)).scalars().all()
            return [item.id for item in due if self._announce_if_public(session, item, now)]

    def reorder_videos(self, news_id: str, video_ids: list[str]) -> dict:
        """A new programme order: the item's videos, each once."""
        now = self.clock()
        with self._unit() as session:
            item = self._news_for_update(session, news_id)
            order = _checked(domain.reorder, [v.id for v in item.videos], video_ids)
            by_id = {video.id: video for video in item.videos}
            for position, video_id in enumerate(order, start=1):
                by_id[video_id].position = position
                by_id[video_id].updated_at = now
            session.flush()
            session.expire(item, ["videos"])
            return self._news_document(item, None)

    # -- videos -------------------------------------------------------------------------------

    def ingest_video(self, news_id: str, master_path: str, shotlist=None) -> dict:
        """Adds a video at the end of the item's programme from a master in the ingest folder
        (MEDIA_ROOT/ingest; `master_path` absolute, or relative to that folder): probes it,
        stores its facts and `shotlist`, and emits `video.ingested.v1` with the master's path
        relative to MEDIA_ROOT for the transcoder."""
        master = self._allowed_master(master_path)
        with self._unit() as session:
            if session.get(News, news_id) is None:
                raise ServiceError("not_found", {"resource": "news"})
        relative = Path(media_layout.INGEST) / master.relative_to(
            self.settings.ingest_dir.resolve())
        try:
            facts = self.probe(master)  # outside any transaction: it runs ffprobe
        except mediainfo.MediaError as error:
            # in the words of the ingest folder: the server's own paths stay on the server
            reason = str(error).replace(str(master), relative.as_posix())
            raise ServiceError("invalid_media", {"reason": reason[:500]}) from None
        timeline = _timeline_of(facts)
        rows = _shotlist_or_error(shotlist, timeline)
        now = self.clock()
        with self._unit() as session:
            item = self._news_for_update(session, news_id)
            video = Video(
                id=str(uuid.uuid4()), news_id=item.id, position=len(item.videos) + 1,
                master_path=relative.as_posix(), duration=float(facts.duration),
                frame_rate=domain.format_frame_rate(timeline.frame_rate),
                width=int(facts.width), height=int(facts.height),
                start_timecode=timeline.start_timecode,
                audio_channels=int(facts.audio_channels or 0),
                audio_streams=int(facts.audio_streams or 0), video_codec=facts.video_codec,
                pixel_format=facts.pixel_format, field_order=facts.field_order,
                container=facts.container, size_bytes=int(facts.size_bytes),
                frame_count=facts.frame_count, shotlist=rows, created_at=now, updated_at=now)
            session.add(video)
            item.updated_at = now
            session.flush()
            self.outbox.add(session, "video.ingested.v1", {
                "video_id": video.id, "news_id": item.id, "master_path": video.master_path,
                "duration": video.duration, "frame_rate": video.frame_rate,
                "width": video.width, "height": video.height,
                "start_timecode": video.start_timecode,
                "audio_channels": video.audio_channels, "audio_streams": video.audio_streams,
                "video_codec": video.video_codec, "pixel_format": video.pixel_format,
                "field_order": video.field_order, "container": video.container,
                "size_bytes": video.size_bytes, "frame_count": video.frame_count,
                "ingested_at": _iso(now),
            }, subject=video.id)
            session.expire(item, ["videos"])
            return self._video_document(video, len(item.videos))

    def set_shotlist(self, video_id: str, shotlist) -> dict:
        """Replaces a video's shotlist, checked against the video."""
        now = self.clock()
        with self._unit() as session:
            video = self._video(session, video_id, for_update=True)
            video.shotlist = _shotlist_or_error(shotlist, _timeline_of(video))
            video.updated_at = now
            session.flush()
            return self._video_document(video, len(video.news.videos))

    def record_rendition(self, event: dict, consumer: str) -> str:
        """Applies a transcoder event (`rendition.ready.v1` or `rendition.failed.v1`) once: a
        redelivered event is dropped, an older one never overwrites a newer one, one about an
        unknown video is dropped (and logged). A malformed event raises: after its retries it
        is parked in the dead-letter queue for an operator."""
        kind = event_type_of(event)
        if kind not in ("rendition.ready.v1", "rendition.failed.v1"):
            raise ValueError(f"not a rendition event: {kind}")
        data = event["data"]
        name = domain.clean_rendition_name(data.get("rendition"))
        if not isinstance(data.get("video_id"), str):
            raise ValueError("a rendition event without a video_id")
        event_time = domain.parse_time(event.get("time"), "time") or self.clock()
        ready = kind == "rendition.ready.v1"
        with self._unit() as session:
            if inbox.seen(session, consumer, event["id"]):
                return Outcome.DUPLICATE
            inbox.remember(session, consumer, event["id"])
            video = session.get(Video, data["video_id"], with_for_update=True)
            if video is None:
                log.warning("rendition event %s for an unknown video %s: dropped",
                            event["id"], data.get("video_id"))
                return Outcome.UNKNOWN_VIDEO
            rendition = session.get(Rendition, (video.id, name))
            if rendition is not None and not domain.rendition_event_applies(
                    rendition.event_time, event_time):
                return Outcome.STALE
            if rendition is None:
                rendition = Rendition(video_id=video.id, name=name)
                video.renditions.append(rendition)
            rendition.status = "ready" if ready else "failed"
            rendition.path = self._media_relative(data.get("path")) if ready else None
            size = data.get("size_bytes") if ready else None
            rendition.size_bytes = int(size) if size is not None else None
            rendition.error = None if ready else str(data.get("error") or "unknown")[:4000]
            rendition.details = {key: value for key, value in data.items() if key not in
                                 ("video_id", "rendition", "path", "size_bytes", "error")}
            rendition.event_id = event["id"]
            rendition.event_time = event_time
            rendition.updated_at = self.clock()
        return Outcome.RECORDED

    # -- helpers: finding ---------------------------------------------------------------------

    @contextmanager
    def _unit(self) -> Iterator[Session]:
        """One transaction on the worker's session, reading fresh rows: a session that lives
        across several use cases (the command line, a test) must not answer from objects it
        loaded before."""
        with transaction(self.session) as session:
            session.expire_all()
            yield session

    def _now(self, now) -> datetime:
        return _checked(domain.parse_time, now, "now") or self.clock()

    @staticmethod
    def _public(item: News, now: datetime) -> bool:
        return domain.is_public(item.status, item.released_at, now)

    @staticmethod
    def _find_news(session, id_or_slug) -> tuple[News | None, str | None]:
        if not isinstance(id_or_slug, str) or not id_or_slug:
            return None, None
        item = session.get(News, id_or_slug)
        if item is not None:
            return item, None
        translation = session.execute(select(Translation).where(
            Translation.slug == id_or_slug)).scalar_one_or_none()
        if translation is None:
            return None, None
        return translation.news, translation.language

    @staticmethod
    def _news_for_update(session, news_id) -> News:
        item = session.get(News, news_id, with_for_update=True) \
            if isinstance(news_id, str) else None
        if item is None:
            raise ServiceError("not_found", {"resource": "news"})
        return item

    @staticmethod
    def _video(session, video_id, for_update=False) -> Video:
        video = session.get(Video, video_id, with_for_update=for_update) \
            if isinstance(video_id, str) else None
        if video is None:
            raise ServiceError("not_found", {"resource": "video"})
        return video

    # -- helpers: editing ---------------------------------------------------------------------

    def _new_translation(self, session, language: str, version: dict) -> Translation:
        return Translation(language=language, slug=self._free_slug(session, version["title"]),
                           title=version["title"], summary=version["summary"],
                           body=version["body"], body_text=domain.body_text(version["body"]))

    @staticmethod
    def _free_slug(session, title: str, own_id: int | None = None) -> str:
        def taken(slug: str) -> bool:
            query = select(Translation.id).where(Translation.slug == slug)
            if own_id is not None:
                query = query.where(Translation.id != own_id)
            return session.execute(query).first() is not None

        return domain.unique_slug(domain.slugify(title), taken)

    def _announce_if_public(self, session, item: News, now: datetime) -> bool:
        """Writes `news.published.v1` if the item just became public and was never announced.
        The caller holds the item's row lock, so two workers cannot both announce it."""
        if item.announced_at is not None or not self._public(item, now):
            return False
        item.announced_at = now
        session.flush()
        videos = sorted(item.videos, key=lambda v: v.position)
        self.outbox.add(session, "news.published.v1", {
            "news_id": item.id,
            "published_at": _iso(item.released_at),
            "languages": [t.language for t in _ordered(item.translations)],
            "translations": [{"language": t.language, "slug": t.slug, "title": t.title,
                              "summary": t.summary, "url": self._news_url(t.slug)}
                             for t in _ordered(item.translations)],
            "video_ids": [video.id for video in videos],
            "poster_url": self._poster_url(videos[0]) if videos else None,
        }, subject=item.id)
        return True

    def _allowed_master(self, master_path) -> Path:
        """The master's real path, if it lies in the ingest folder: no `..`, nothing outside
        (absolute or through a symbolic link), an existing regular file."""
        if not isinstance(master_path, str) or not master_path.strip() or "\x00" in master_path:
            raise ServiceError("invalid_request", {"field": "master_path", "reason": "missing"})
        given = Path(master_path.strip())
        if ".." in given.parts:
            raise ServiceError("path_not_allowed", {"reason": "parent_reference"})
        root = self.settings.ingest_dir
        real_root = root.resolve()
        candidate = Path(os.path.normpath(given if given.is_absolute() else root / given))
        if not (candidate.is_relative_to(root) or candidate.is_relative_to(real_root)):
            raise ServiceError("path_not_allowed", {"reason": "outside_ingest"})
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            raise ServiceError("invalid_request", {"field": "master_path",
                                                   "reason": "not_found"}) from None
        if not real.is_relative_to(real_root):
            raise ServiceError("path_not_allowed", {"reason": "link_outside_ingest"})
        if media_layout.is_hidden(real.relative_to(real_root).as_posix()):
            # work in progress (an upload not finished): never a master
            raise ServiceError("path_not_allowed", {"reason": "hidden"})
        if not real.is_file():
            raise ServiceError("invalid_request", {"field": "master_path",
                                                   "reason": "not_a_file"})
        return real

    def _media_relative(self, path) -> str | None:
        """A path the transcoder gave, relative to MEDIA_ROOT (as the contract says; an
        absolute one under MEDIA_ROOT is made relative)."""
        if not path:
            return None
        path = Path(str(path))
        if path.is_absolute():
            for root in (self.settings.media_root, self.settings.media_root.resolve()):
                if path.is_relative_to(root):
                    return path.relative_to(root).as_posix()
            return None
        return None if ".." in path.parts else path.as_posix()

    # -- helpers: answers ---------------------------------------------------------------------

    def _news_url(self, slug: str) -> str:
        return f"{self.settings.public_base_url}/news/{slug}"

    def _media_url(self, path: str | None) -> str | None:
        return f"{self.settings.media_url_base}/{quote(path)}" if path else None

    def _ready(self, video: Video, name: str) -> Rendition | None:
        for rendition in video.renditions:
            if rendition.name == name and rendition.status == "ready" and rendition.path:
                return rendition
        return None

    def _rendition_url(self, video: Video, name: str) -> str | None:
        rendition = self._ready(video, name)
        return self._media_url(rendition.path) if rendition else None

    def _poster_url(self, video: Video) -> str | None:
        return self._rendition_url(video, "poster")

    def _preview_url(self, video: Video) -> str | None:
        """What the player plays: the proxy MP4 (plays everywhere), else the HLS stream."""
        return self._rendition_url(video, "proxy") or self._rendition_url(video, "hls")

    def _video_summary(self, video: Video, total: int) -> dict:
        return {
            "id": video.id, "position": video.position,
            "programme": domain.programme_label(video.position, total),
            "duration": video.duration, "frame_rate": video.frame_rate,
            "start_timecode": video.start_timecode, "width": video.width,
            "height": video.height, "poster_url": self._poster_url(video),
            "preview_url": self._preview_url(video),
        }

    def _video_document(self, video: Video, total: int) -> dict:
        timeline = _timeline_of(video)
        renditions = [{
            "name": "original", "status": "ready", "path": video.master_path,
            "size_bytes": video.size_bytes, "url": None, "error": None, "details": {},
            "updated_at": _iso(video.created_at),
        }]
        for rendition in sorted(video.renditions, key=lambda r: r.name):
            public = rendition.name in domain.PREVIEW_RENDITIONS and rendition.status == "ready"
            renditions.append({
                "name": rendition.name, "status": rendition.status, "path": rendition.path,
                "size_bytes": rendition.size_bytes,
                "url": self._media_url(rendition.path) if public else None,
                "error": rendition.error, "details": rendition.details or {},
                "updated_at": _iso(rendition.updated_at),
            })
        return {
            **self._video_summary(video, total),
            "news_id": video.news_id, "master_path": video.master_path,
            "end_timecode": timeline.end_timecode,
            "audio_channels": video.audio_channels, "audio_streams": video.audio_streams,
            "video_codec": video.video_codec, "pixel_format": video.pixel_format,
            "field_order": video.field_order, "container": video.container,
            "size_bytes": video.size_bytes, "frame_count": video.frame_count,
            "shotlist": domain.shotlist_with_offsets(video.shotlist or [], timeline),
            "renditions": renditions,
            "hls_url": self._rendition_url(video, "hls"),
            "storyboard_url": self._rendition_url(video, "storyboard"),
            "ingested_at": _iso(video.created_at),
        }

    def _translation_links(self, item: News) -> list[dict]:
        return [{"language": t.language, "slug": t.slug, "title": t.title,
                 "summary": t.summary, "url": self._news_url(t.slug)}
                for t in _ordered(item.translations)]

    def _news_summary(self, item: News, lang: str | None) -> dict:
        translations = {t.language: t for t in item.translations}
        shown = translations[domain.pick_language(translations, lang)]
        videos = sorted(item.videos, key=lambda v: v.position)
        return {
            "id": item.id, "status": item.status, "slug": shown.slug,
            "language": shown.language,
            "languages": [t.language for t in _ordered(item.translations)],
            "title": shown.title, "summary": shown.summary,
            "published_at": _iso(item.released_at), "url": self._news_url(shown.slug),
            "poster_url": self._poster_url(videos[0]) if videos else None,
            "videos": [self._video_summary(video, len(videos)) for video in videos],
        }

    def _news_document(self, item: News, lang: str | None) -> dict:
        translations = {t.language: t for t in item.translations}
        shown = translations[domain.pick_language(translations, lang)]
        return {
            **self._news_summary(item, shown.language),
            "body": shown.body,
            "embargo_until": _iso(item.embargo_until),
            "translations": self._translation_links(item),
            "created_at": _iso(item.created_at), "updated_at": _iso(item.updated_at),
        }


# -- module helpers ----------------------------------------------------------------------------

def _news_loading():
    return (selectinload(News.translations),
            selectinload(News.videos).selectinload(Video.renditions))


def _ordered(translations) -> list[Translation]:
    return sorted(translations, key=lambda t: domain.LANGUAGES.index(t.language))


def _checked(rule, *args):
    """Runs a domain rule; its refusal becomes `invalid_request` with the field and reason."""
    try:
        return rule(*args)
    except Invalid as invalid:
        raise ServiceError("invalid_request", {"field": invalid.field,
                                               "reason": invalid.reason}) from None


def _page(page, per_page) -> tuple[int, int]:
    try:
        page = int(page if page is not None else 1)
    except (TypeError, ValueError):
        raise ServiceError("invalid_request", {"field": "page", "reason": "not_a_number"}) \
            from None
    try:
        per_page = int(per_page if per_page is not None else DEFAULT_PER_PAGE)
    except (TypeError, ValueError):
        raise ServiceError("invalid_request", {"field": "per_page", "reason": "not_a_number"}) \
            from None
    if page < 1:
        raise ServiceError("invalid_request", {"field": "page", "reason": "out_of_range"})
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ServiceError("invalid_request", {"field": "per_page", "reason": "out_of_range"})
    return page, per_page


def _timeline_of(facts) -> Timeline:
    """The timecode clock of a probed master or a stored video."""
    try:
        rate = domain.parse_frame_rate(facts.frame_rate)
        duration = float(facts.duration)
        if not duration > 0 or not int(facts.width) > 0 or not int(facts.height) > 0:
            raise Invalid("duration", "empty")
        timeline = Timeline(rate, facts.start_timecode or "00:00:00:00", duration)
        timeline.start_frame  # noqa: B018 - a start timecode we cannot read is refused here
    except (Invalid, TypeError, ValueError) as error:
        raise ServiceError("invalid_media", {"reason": f"no usable video: {error}"}) from None
    return timeline


def _shotlist_or_error(shotlist, timeline: Timeline) -> list[dict]:
    try:
        return domain.clean_shotlist(shotlist, timeline)
    except InvalidShotlist as invalid:
        first = invalid.problems[0]
        where = "shotlist" if first["index"] is None else f"shotlist[{first['index']}]"
        field = f"{where}.{first['field']}" if first["field"] else where
        raise ServiceError("invalid_shotlist", {
            "field": field, "reason": first["reason"],
            "end_timecode": timeline.end_timecode, "problems": invalid.problems}) from None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
