"""`python -m services.transcoder.cli downloads [--video ID] [--account ID] [--since ISO]`: who
was given which download link, newest first, one JSON object per line (for editors and SREs;
pipe it to `jq`). Reads TRANSCODER_DATABASE_URL (else the embedded SQLite file) and MEDIA_ROOT
like the service."""

import argparse
import json
import sys

from services.shared.config import database_url
from services.shared.db import make_engine, make_session_factory
from services.shared.errors import ServiceError

from .models import outbox
from .service import Transcoder, TranscoderSettings

PAGE = 500


def downloads(args: argparse.Namespace) -> int:
    engine = make_engine(database_url("transcoder"))
    try:
        transcoder = Transcoder(make_session_factory(engine)(), outbox,
                                TranscoderSettings.from_env())
        page = 1
        while True:
            try:
                answer = transcoder.list_downloads(video_id=args.video, account_id=args.account,
                                                   since=args.since, page=page, per_page=PAGE)
            except ServiceError as error:
                print(f"error: {error.code} {json.dumps(error.details)}", file=sys.stderr)
                return 2
            for item in answer["items"]:
                print(json.dumps(item, ensure_ascii=False))
            if page * PAGE >= answer["total"]:
                return 0
            page += 1
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.transcoder.cli",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("downloads", help="the download links issued, newest first")
    listing.add_argument("--video", metavar="ID", help="only this video's")
    listing.add_argument("--account", metavar="ID", help="only this account's")
    listing.add_argument("--since", metavar="ISO", help="only from this moment (ISO 8601)")
    listing.set_defaults(run=downloads)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
