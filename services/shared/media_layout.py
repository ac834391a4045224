"""The media folder's layout, shared by every part that reads or writes MEDIA_ROOT: the one
place these names are written.

    MEDIA_ROOT/
      ingest/                 masters, as editors put them there or as uploads completed
        uploads/<id>/<name>   a finished resumable upload (the gateway's tus endpoint)
        .uploads/             uploads in progress: hidden, never served, never ingested
      renditions/<video id>/  previews and broadcast renditions, written once, atomically
      cuts/<video id>/        cuts, evicted least recently used first

Anything hidden (a name starting with `.`) is work in progress: no part serves or ingests it."""

INGEST = "ingest"
RENDITIONS = "renditions"
CUTS = "cuts"
# Finished uploads, below INGEST; the ones in progress are in the hidden UPLOADS_IN_PROGRESS.
UPLOADS = f"{INGEST}/uploads"
UPLOADS_IN_PROGRESS = f"{INGEST}/.uploads"
# An upload's id, which names its files (and the last segment of its URL).
UPLOAD_ID_PATTERN = "[0-9a-f]{32}"
# The folders whose files are ever sent to a client (through a signed link or, for the
# previews, to everyone once their item is public).
SERVED_FOLDERS = (RENDITIONS, CUTS, INGEST)


def is_hidden(relative_path: str) -> bool:
    """True when any part of the path is hidden (work in progress, or not ours)."""
    return any(part.startswith(".") for part in relative_path.split("/"))
