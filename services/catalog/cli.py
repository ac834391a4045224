"""`python -m services.catalog.cli`: the catalog for editors and SREs, from a shell (in the
service's pod, or on one machine).

    python -m services.catalog.cli create-news --from-json item.json
    python -m services.catalog.cli ingest var/media/ingest/clip.mov --news ID --shotlist s.json
    python -m services.catalog.cli publish ID
    python -m services.catalog.cli list [--q WORDS] [--lang en] [--all]
    python -m services.catalog.cli show ID_OR_SLUG | video VIDEO_ID
    python -m services.catalog.cli shotlist VIDEO_ID shotlist.json
    python -m services.catalog.cli load-samples [--masters-dir DIR] [--master SEED=PATH …]
    python -m services.catalog.cli release-embargoes

It works on the catalog's database directly, through the same use cases as the service and
with the same environment (CATALOG_DATABASE_URL, MEDIA_ROOT, PUBLIC_BASE_URL…). Events are
written to the outbox like the service's own, and the running service's relay publishes them.
Answers are JSON on stdout; a refusal is `error: <code> <details>` on stderr, exit status 2.

`create-news` reads `{"translations": {"fr": {"title", "summary", "body"}, "en": {…}},
"embargo_until": "2026-12-01T09:00:00Z"}`; a body is a list of blocks or plain text with
paragraphs separated by blank lines. A shotlist file is a JSON list of
`{"in_tc", "out_tc", "kind": "shot"|"soundbite", "description": {"fr", "en"}, "speaker"}`."""

import argparse
import json
import os
import sys
from pathlib import Path

from services.shared.config import database_url
from services.shared.db import make_engine, make_session_factory
from services.shared.errors import ServiceError

from .models import outbox
from .service import Catalog, CatalogSettings


def _read_json(path: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: cannot read {path}: {error}") from None


def _masters(args) -> dict[str, str]:
    masters = {}
    if args.masters_dir:
        for path in sorted(Path(args.masters_dir).iterdir()):
            if path.is_file():
                masters[path.stem] = str(path.absolute())
    for item in args.master or []:
        seed, _, path = item.partition("=")
        if not path:
            raise SystemExit(f"error: --master wants SEED=PATH, not {item!r}")
        masters[seed] = str(Path(path).absolute())
    return masters


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m services.catalog.cli",
                                   description="The catalog, for editors and SREs.")
    commands = root.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="add a video to an item from a master")
    ingest.add_argument("master", help="the master, under MEDIA_ROOT/ingest")
    ingest.add_argument("--news", required=True, help="the news item's id")
    ingest.add_argument("--shotlist", help="a JSON file with the shotlist")

    create = commands.add_parser("create-news", help="create a draft from a JSON file")
    create.add_argument("--from-json", required=True, dest="from_json", metavar="FILE")

    publish = commands.add_parser("publish", help="publish a draft")
    publish.add_argument("news_id")
    publish.add_argument("--at", help="backdate the publication (ISO 8601, with time zone)")

    listing = commands.add_parser("list", help="the items, newest first")
    listing.add_argument("--q", help="words to search for")
    listing.add_argument("--lang", choices=["fr", "en"])
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--per-page", type=int, default=20, dest="per_page")
    listing.add_argument("--all", action="store_true",
                         help="drafts and embargoed items too (what editors see)")

    show = commands.add_parser("show", help="one item")
    show.add_argument("id_or_slug")
    show.add_argument("--lang", choices=["fr", "en"])

    video = commands.add_parser("video", help="one video")
    video.add_argument("video_id")

    shotlist = commands.add_parser("shotlist", help="replace a video's shotlist")
    shotlist.add_argument("video_id")
    shotlist.add_argument("file", help="a JSON file with the shotlist")

    samples = commands.add_parser("load-samples", help="import the seed pages (idempotent)")
    samples.add_argument("--masters-dir", help="masters named after the seeds (<seed>.mov)")
    samples.add_argument("--master", action="append", metavar="SEED=PATH")
    samples.add_argument("--seeds", help="the seed folder (default: NEWSREEL_SEEDS)")

    commands.add_parser("release-embargoes", help="announce items whose embargo has ended")
    return root


def run(args, session, settings: CatalogSettings):
    catalog = Catalog(session, outbox, settings)
    match args.command:
        case "ingest":
            shots = _read_json(args.shotlist) if args.shotlist else None
            # a path typed in a shell is relative to where it was typed
            return catalog.ingest_video(args.news, os.path.abspath(args.master), shots)
        case "create-news":
            data = _read_json(args.from_json)
            if not isinstance(data, dict):
                raise SystemExit("error: the file must hold a JSON object")
            return catalog.create_news(data.get("translations"), data.get("embargo_until"))
        case "publish":
            return catalog.publish_news(args.news_id, args.at)
        case "list":
            return catalog.list_news(args.q, args.lang, args.page, args.per_page,
                                     include_unpublished=args.all)
        case "show":
            return catalog.get_news(args.id_or_slug, args.lang, include_unpublished=True)
        case "video":
            return catalog.get_video(args.video_id, include_unpublished=True)
        case "shotlist":
            return catalog.set_shotlist(args.video_id, _read_json(args.file))
        case "load-samples":
            from .sample import load_samples
            return load_samples(session, settings.media_root, _masters(args), seeds=args.seeds)
        case "release-embargoes":
            return {"announced": catalog.release_embargoes()}
    raise SystemExit(f"error: unknown command {args.command}")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    engine = make_engine(database_url("catalog"))
    try:
        with make_session_factory(engine)() as session:
            answer = run(args, session, CatalogSettings.from_env())
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    json.dump(answer, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
