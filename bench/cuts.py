"""Cuts and renditions beside raw ffmpeg on the same files, in the same run.

    .venv/bin/python -m bench.cuts [--seconds 60] [--long-factor 10]

1. A 15-s `fast` cut (stream copy) from a 1-minute and from a 10-minute H.264 1080p rendition:
   the time must not grow with the source. Baseline: `ffmpeg -ss IN -i SRC -t 15 -c copy`.
2. A 15-s `frame` cut (smart: only the partial GOPs re-encoded) against re-encoding the same
   15 s with the rendition's encoder.
3. A whole-file rendition through the toolkit the service runs (progress, atomic rename, probe
   of the result) against the bare ffmpeg command of the same graph: the overhead ratio.
The 10-minute source is the 1-minute rendition joined ten times by stream copy (seconds to
make, the same GOP structure as a real one)."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import ffmpeg

from services.shared.mediainfo import ffmpeg_binary, probe
from services.transcoder.media import cuts, renditions
from services.transcoder.media.sample import make_master
from services.transcoder.media.timecode import resolve_cut

CUT_SECONDS = 15


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def ffmpeg_raw(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", *args], check=True)


def raw_copy_cut(source: Path, start: float, dest: Path) -> None:
    ffmpeg_raw("-ss", f"{start}", "-i", str(source), "-t", str(CUT_SECONDS),
               "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", str(dest))


def raw_reencode_cut(source: Path, start: float, dest: Path) -> None:
    ffmpeg_raw("-ss", f"{start}", "-i", str(source), "-t", str(CUT_SECONDS),
               "-map", "0:v:0", "-map", "0:a:0", "-c:v", "libx264", "-preset",
               renditions.x264_preset(), "-b:v", "18M", "-g", "25", "-c:a", "aac",
               "-b:a", "192k", str(dest))


def join(source: Path, times: int, dest: Path) -> None:
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{source}'\n" for _ in range(times)))
    ffmpeg_raw("-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0",
               "-map", "0:a:0", "-c", "copy", "-movflags", "+faststart", str(dest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="the short master's length")
    parser.add_argument("--long-factor", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        master = work / "master.mov"
        print(f"making a {args.seconds}-s 1080p25 master…", flush=True)
        make_master(master, args.seconds)
        facts = probe(master)

        short = work / "h264.mp4"
        ours = timed(lambda: renditions.make_rendition("h264-1080p", master, short,
                                                       facts=facts, loudness=None))
        graph = renditions.build_rendition("h264-1080p", str(master), str(work / "bare.mp4"),
                                           facts)
        bare = timed(lambda: subprocess.run(
            ffmpeg.compile(graph, cmd=ffmpeg_binary(), overwrite_output=True),
            check=True, capture_output=True))
        rows.append(("whole h264-1080p rendition", ours, bare))

        long = work / "h264-long.mp4"
        join(short, args.long_factor, long)
        for label, source in ((f"{args.seconds} s", short),
                              (f"{args.seconds * args.long_factor} s", long)):
            source_facts = probe(source)
            start = (source_facts.duration - CUT_SECONDS) / 2
            cut = resolve_cut(f"{start:.2f}", f"{start + CUT_SECONDS:.2f}", source_facts)
            ours = timed(lambda s=source, c=cut, f=source_facts: cuts.fast_cut(
                s, c, work / "fast.mp4", rendition_name="h264-1080p", facts=f))
            bare = timed(lambda s=source, st=start: raw_copy_cut(s, st, work / "raw-fast.mp4"))
            rows.append((f"fast 15-s cut from a {label} source", ours, bare))

        source_facts = probe(short)
        start = (source_facts.duration - CUT_SECONDS) / 2 + 0.36   # mid-GOP on purpose
        cut = resolve_cut(f"{start:.2f}", f"{start + CUT_SECONDS:.2f}", source_facts)
        ours = timed(lambda: cuts.frame_cut(short, cut, work / "frame.mp4", "h264-1080p",
                                            facts=source_facts))
        bare = timed(lambda: raw_reencode_cut(short, start, work / "raw-frame.mp4"))
        rows.append(("frame 15-s cut vs re-encoding it", ours, bare))

    print(f"\n{'':42} {'ours':>8} {'raw ffmpeg':>11} {'ratio':>7}")
    for name, ours, bare in rows:
        print(f"{name:42} {ours:7.2f}s {bare:10.2f}s {ours / bare:6.2f}x")


if __name__ == "__main__":
    main()
