"""A tus upload as an editor's script would make it, with tuspy (the tus project's Python
client), in a process of its own so that a test can kill it half-way:

    python -m tests.support.tus_client FILE --endpoint URL --token TOKEN --url-file PATH
        [--chunk-size BYTES] [--pause SECONDS]

Starts the upload (or resumes the one whose URL is in --url-file), one chunk at a time, each
with its sha256 (tus's checksum extension), and prints `offset <n>` after each chunk and
`done <url>` at the end. An error of the server ends it with `error <status> <body>`."""

import argparse
import hashlib
import sys
import time
from pathlib import Path

from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError
from tusclient.uploader import Uploader


class Sha256Uploader(Uploader):
    """tuspy sends sha1 checksums by default; the gateway prefers sha256."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--chunk-size", type=int, default=256 * 1024)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()

    client = tus.TusClient(args.endpoint, headers={"Authorization": f"Bearer {args.token}"})
    known = args.url_file.read_text().strip() if args.url_file.exists() else None
    uploader = Sha256Uploader(
        file_path=str(args.file), client=client, url=known or None,
        chunk_size=args.chunk_size, upload_checksum=True,
        metadata={"filename": args.file.name, "filetype": "video/quicktime"})
    try:
        if not known:
            uploader.set_url(uploader.create_url())  # POST: the upload's URL, kept to resume
            args.url_file.write_text(uploader.url)
        print(f"offset {uploader.offset}", flush=True)
        while uploader.offset < uploader.get_file_size():
            uploader.upload_chunk()
            print(f"offset {uploader.offset}", flush=True)
            time.sleep(args.pause)
    except TusCommunicationError as error:
        print(f"error {error.status_code} {error.response_content!r}", flush=True)
        return 1
    print(f"done {uploader.url}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
