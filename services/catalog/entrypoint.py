"""The nameko edge of the catalog service: RPC methods that forward to Catalog, the handlers of
the transcoder's rendition events, and the timer that announces items whose embargo ended."""

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.shared.cloudevents import event_type_of
from services.shared.config import database_url, env_int
from services.shared.consumer import Delivery, reliable_handler
from services.shared.db import Database
from services.shared.errors import service_rpc
from services.shared.metrics import EVENTS_CONSUMED
from services.shared.observed import Observed
from services.shared.outbox import OutboxRelay

from .models import outbox
from .service import Catalog, CatalogSettings


def _catalog_database_url() -> str:
    return database_url("catalog")


# How often the timer looks for items whose embargo has ended (an announcement is at most this
# late).
EMBARGO_CHECK_SECONDS = env_int("EMBARGO_CHECK_SECONDS", 15)


class CatalogParts(DependencyProvider):
    """What Catalog needs besides a session, built once per process from the environment (the
    one wiring place)."""

    def setup(self):
        self.parts = {"outbox": outbox, "settings": CatalogSettings.from_env()}

    def get_dependency(self, worker_ctx):
        return self.parts


class CatalogService(Observed):
    name = "catalog"

    db = Database(_catalog_database_url)
    parts = CatalogParts()
    delivery = Delivery()
    relay = OutboxRelay(outbox, _catalog_database_url)

    @property
    def catalog(self) -> Catalog:
        return Catalog(self.db, **self.parts)

    @service_rpc
    def ping(self):
        return "pong"

    # -- readers ------------------------------------------------------------------------------

    @service_rpc
    def list_news(self, q=None, lang=None, page=1, per_page=20, include_unpublished=False):
        return self.catalog.list_news(q, lang, page, per_page,
                                      include_unpublished=include_unpublished)

    @service_rpc
    def get_news(self, id_or_slug, lang=None, include_unpublished=False):
        return self.catalog.get_news(id_or_slug, lang, include_unpublished)

    @service_rpc
    def get_video(self, video_id, include_unpublished=False):
        return self.catalog.get_video(video_id, include_unpublished)

    @service_rpc
    def video_access(self, video_id):
        return self.catalog.video_access(video_id)

    # -- editors ------------------------------------------------------------------------------

    @service_rpc
    def create_news(self, translations, embargo_until=None):
        return self.catalog.create_news(translations, embargo_until)

    @service_rpc
    def update_news(self, news_id, translations, embargo_until=None):
        return self.catalog.update_news(news_id, translations, embargo_until)

    @service_rpc
    def publish_news(self, news_id, published_at=None):
        return self.catalog.publish_news(news_id, published_at)

    @service_rpc
    def reorder_videos(self, news_id, video_ids):
        return self.catalog.reorder_videos(news_id, video_ids)

    @service_rpc
    def ingest_video(self, news_id, master_path, shotlist=None):
        return self.catalog.ingest_video(news_id, master_path, shotlist)

    @service_rpc
    def set_shotlist(self, video_id, shotlist):
        return self.catalog.set_shotlist(video_id, shotlist)

    # -- events and time ----------------------------------------------------------------------

    def _record(self, event):
        outcome = self.catalog.record_rendition(event, f"{self.name}.{event_type_of(event)}")
        EVENTS_CONSUMED.labels(self.name, event_type_of(event), outcome).inc()
        return outcome

    @reliable_handler("transcoder", "rendition.ready.v1")
    def on_rendition_ready(self, event):
        return self._record(event)

    @reliable_handler("transcoder", "rendition.failed.v1")
    def on_rendition_failed(self, event):
        return self._record(event)

    @timer(interval=EMBARGO_CHECK_SECONDS, eager=True)
    def release_embargoes(self):
        return self.catalog.release_embargoes()
