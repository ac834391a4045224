"""News and videos: the published items and their videos for everyone, and the editors'
operations (write an item, publish it, add a video from the ingest folder).

Thin entrypoints, like accounts: each view turns an already validated request into one call
to the catalog service, in the request's language where the catalog takes one, and its answer
into HTTP. The catalog judges the rules (what can be published, where masters come from, what
a shotlist may say); the gateway only refuses what is malformed.

An answer carries exactly the fields its response schema lists (`documented`): the document
cannot promise less than is sent, and what the catalog keeps for editors (where the files are,
why a rendition failed) does not reach the public."""

from typing import Any

from flask import Blueprint, jsonify

from .. import schemas
from ..config import NEWS_MAX_BODY_BYTES
from ..i18n import current_language
from ..operations import EDITOR, Session, operation
from ..rpc import current_rpc
from ..uploads import master_of

news = Blueprint("news", __name__, url_prefix="/api/v1")

TAG = "news"


def catalog(method: str, **kwargs):
    return current_rpc().call("catalog", method, **kwargs)


def documented(schema: dict, value: Any) -> Any:
    """`value` with only the fields `schema` lists, at every level."""
    if isinstance(value, dict) and "properties" in schema:
        return {name: documented(schema["properties"][name], item)
                for name, item in value.items() if name in schema["properties"]}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [documented(schema["items"], item) for item in value]
    return value


def answer(schema: dict, value: Any, status: int = 200):
    return jsonify(documented(schema, value)), status


# -- for everyone ------------------------------------------------------------------------------

@operation(news, "GET", "/news", tag=TAG, summary="The published news, newest first",
           query=schemas.NEWS_QUERY, response=schemas.NEWS_PAGE)
def list_news(query: dict):
    """Each item in the request's language when it has that version (else its other one);
    `q` searches both languages."""
    return answer(schemas.NEWS_PAGE, catalog(
        "list_news", q=query.get("q") or None, lang=current_language(), page=query["page"],
        per_page=query["per_page"]))


@operation(news, "GET", "/news/<id>", tag=TAG, summary="A news item",
           path={"id": schemas.NEWS_REF}, response=schemas.NEWS_ITEM, errors=("not_found",))
def get_news(id: str):
    """The item with its body and its programme (its videos, in order); by id in the request's
    language, by slug in the language of that slug. 404 for an item that is not public (a
    draft, or under embargo)."""
    return answer(schemas.NEWS_ITEM, catalog("get_news", id_or_slug=id,
                                             lang=current_language()))


@operation(news, "GET", "/videos/<id>", tag=TAG, summary="A video",
           path={"id": schemas.VIDEO_ID}, response=schemas.VIDEO, errors=("not_found",))
def get_video(id: str):
    """Its facts (duration, frame rate, timecodes, size), its shotlist, its renditions and the
    preview URLs. 404 for the video of an item that is not public."""
    return answer(schemas.VIDEO, catalog("get_video", video_id=id))


# -- for editors -------------------------------------------------------------------------------

@operation(news, "POST", "/news", tag=TAG, status=201, summary="Write a news item (a draft)",
           body=schemas.NEWS_DRAFT, response=schemas.NEWS_ITEM, role=EDITOR,
           max_body_bytes=NEWS_MAX_BODY_BYTES)
def create_news(body: dict, session: Session):
    """A draft in French and/or English; it is public once published (and past its
    embargo)."""
    return answer(schemas.NEWS_ITEM, catalog(
        "create_news", translations=body["translations"],
        embargo_until=body.get("embargo_until")), 201)


@operation(news, "PUT", "/news/<id>", tag=TAG, summary="Rewrite a news item",
           path={"id": schemas.NEWS_ID}, body=schemas.NEWS_DRAFT, response=schemas.NEWS_ITEM,
           role=EDITOR, max_body_bytes=NEWS_MAX_BODY_BYTES, errors=("not_found",))
def update_news(id: str, body: dict, session: Session):
    """Replaces its language versions and its embargo. A draft's slugs follow its titles; a
    published item keeps its slugs (its links were sent), and every version it keeps must be
    complete."""
    return answer(schemas.NEWS_ITEM, catalog(
        "update_news", news_id=id, translations=body["translations"],
        embargo_until=body.get("embargo_until")))


@operation(news, "POST", "/news/<id>/publish", tag=TAG, summary="Publish a news item",
           path={"id": schemas.NEWS_ID}, body=schemas.PUBLICATION, body_required=False,
           response=schemas.NEWS_ITEM, role=EDITOR, errors=("not_found", "not_publishable"))
def publish_news(id: str, body: dict, session: Session):
    """Every version needs a title, a summary and a text. Without embargo the item is public at
    once and subscribers get it by mail; under embargo, when the embargo ends. Publishing a
    published item changes nothing."""
    return answer(schemas.NEWS_ITEM, catalog("publish_news", news_id=id,
                                             published_at=body.get("published_at")))


@operation(news, "POST", "/videos", tag=TAG, status=201,
           summary="Add a video to a news item from a master", body=schemas.VIDEO_INGEST,
           response=schemas.EDITOR_VIDEO, role=EDITOR, max_body_bytes=NEWS_MAX_BODY_BYTES,
           errors=("not_found", "path_not_allowed", "invalid_media", "invalid_shotlist",
                   "upload_not_complete"))
def ingest_video(body: dict, session: Session):
    """The master is a complete upload of yours (`upload_id`), or a file in the ingest folder
    (`master_path`). It is read (duration, frame rate, timecode) and the video is added at the
    end of the item's programme; its renditions are made afterwards. The shotlist is checked
    against the video."""
    master_path = body.get("master_path") or master_of(body["upload_id"], session)
    return answer(schemas.EDITOR_VIDEO, catalog(
        "ingest_video", news_id=body["news_id"], master_path=master_path,
        shotlist=body.get("shotlist")), 201)
