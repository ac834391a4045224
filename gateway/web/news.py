"""The news pages: the latest items (search, pages), one item with its programme of videos,
their players, shotlists and download panels; and the language switch, remembered in a
cookie. What a page shows of the catalog is what the JSON API shows (the same schemas): no
file path of the organisation's storage ever reaches a page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request

from services.shared.errors import ServiceError

from .. import schemas
from ..api.news import catalog, documented
from ..i18n import LANGUAGE_COOKIE, LANGUAGES, current_language
from .common import local_path, page

news_pages = Blueprint("news_pages", __name__)

PER_PAGE = 12
DOWNLOADABLE = ("xdcam-hd422", "h264-1080p", "proxy", "original")
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def page_number(text: str | None) -> int:
    """`?page=`; anything but a number (a hand-made URL) is the first page."""
    try:
        return max(1, min(1_000_000, int(text or 1)))
    except ValueError:
        return 1


@news_pages.get("/")
def home():
    words = " ".join(request.args.get("q", "").split())[:200]
    number = page_number(request.args.get("page"))
    listing = documented(schemas.NEWS_PAGE, catalog(
        "list_news", q=words or None, lang=current_language(), page=number,
        per_page=PER_PAGE))
    pages = max(1, -(-listing["total"] // PER_PAGE))
    return page("home.html", listing=listing, q=words, page_number=number, pages=pages)


@news_pages.get("/news/<slug>")
def item(slug: str):
    if len(slug) > 200:
        abort(404)
    try:
        story = documented(schemas.NEWS_ITEM, catalog("get_news", id_or_slug=slug,
                                                      lang=current_language()))
        videos = [documented(schemas.VIDEO, catalog("get_video", video_id=summary["id"]))
                  for summary in story["videos"]]
    except ServiceError as error:
        if error.code == "not_found":
            return page("not_found.html", status=404)
        raise
    return page("news_item.html", story=story, videos=videos, renditions=DOWNLOADABLE,
                total=len(videos))


@news_pages.get("/language/<lang>")
def choose_language(lang: str):
    """Switches the portal's language and goes back to the page the visitor was on."""
    if lang not in LANGUAGES:
        abort(404)
    response = redirect(local_path(request.args.get("next")), code=303)
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=LANGUAGE_COOKIE_SECONDS, path="/",
                        samesite="Lax", httponly=True,
                        secure=current_app.config["PUBLIC_BASE_URL"].startswith("https://"))
    return response
