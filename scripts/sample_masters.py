"""Makes the demo's sample masters, once: one broadcast-like master per seed article
(1080p25 ProRes with burnt-in timecode and tone), named after the seed, in the folder given.

    .venv/bin/python scripts/sample_masters.py "$MEDIA_ROOT/ingest/samples"

A master that exists is kept; a new one takes about 0.4 s per second of video on 2 cores."""

import sys
from pathlib import Path

from services.catalog.sample.seeds import read_seeds
from services.transcoder.media.sample import make_master

SECONDS = 20


def main(folder: str) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for number, article in enumerate(read_seeds(), start=1):
        master = target / f"{article.name}.mov"
        if master.exists():
            continue
        print(f"  sample master {number}: {master.name} ({SECONDS} s, 1080p25)", flush=True)
        partial = master.with_name(f".{master.name}.partial.mov")
        make_master(partial, SECONDS, title=f"Newsreel sample {number}")
        partial.replace(master)


if __name__ == "__main__":
    main(sys.argv[1])
