"""The editors' pages. For now one: uploading a master to a news item, resumable (tus) from
the browser. The full editors' workspace comes later; this form stays small and reusable.

Everyone but an editor is kept out: a visitor without a session is sent to log in and back,
an account without the role gets a 403 page (never a glimpse of the drafts)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, current_app, redirect, request
from flask_babel import gettext as _

from .. import schemas
from ..api.news import catalog, documented
from ..i18n import current_language
from ..operations import EDITOR
from .common import message_for, page, visitor

editor_pages = Blueprint("editor_pages", __name__, url_prefix="/editor")

# The items an editor may add a video to: the latest ones, drafts included.
ITEMS_SHOWN = 100


def upload_texts() -> dict:
    """What the upload form's script says, in the page's language."""
    return {
        "progress": _("%(percent)s%% sent (%(sent)s of %(total)s)."),
        "paused": _("Paused. Press Resume to go on."),
        "resumable": _("An upload of %(name)s stopped at %(percent)s%%: choose the same file "
                       "again to go on from there."),
        "uploaded": _("The file is on the server. Adding it to the news item…"),
        "added": _("Done: the video is added to the news item. Its previews are being made."),
        "choose_file": _("Choose the master file to upload."),
        "failed": _("The upload stopped. Try again: it will go on where it stopped."),
        "pause": _("Pause"),
        "resume": _("Resume"),
    }


@editor_pages.get("/upload")
def upload():
    account = visitor()
    if account is None:
        return redirect(f"/account/login?next={quote(request.full_path.rstrip('?'))}",
                        code=303)
    if EDITOR not in (account.get("roles") or []):
        return page("unavailable.html", status=403, title=_("Reserved for editors"),
                    message=message_for("forbidden", {"role": EDITOR}))
    listing = documented(schemas.NEWS_PAGE, catalog(
        "list_news", lang=current_language(), page=1, per_page=ITEMS_SHOWN,
        include_unpublished=True))
    return page("editor_upload.html", items=listing["items"], texts=upload_texts(),
                chunk_size=current_app.config["UPLOAD_CHUNK_MAX_BYTES"])
