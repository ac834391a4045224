"""The fonts burnt into pictures (timecode, titles): DejaVu, as Debian's `fonts-dejavu-core`
installs them. `NEWSREEL_FONT_MONO` / `NEWSREEL_FONT_SANS` point elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
DEFAULTS = {True: DEJAVU / "DejaVuSansMono.ttf", False: DEJAVU / "DejaVuSans.ttf"}


class FontMissing(RuntimeError):
    pass


def font_file(mono: bool = True) -> str:
    """The font file for drawtext (DejaVu Sans Mono for timecode, DejaVu Sans for titles)."""
    configured = os.environ.get("NEWSREEL_FONT_MONO" if mono else "NEWSREEL_FONT_SANS")
    path = Path(configured) if configured else DEFAULTS[mono]
    if not path.is_file():
        raise FontMissing(f"font {path} not found: install fonts-dejavu-core or set "
                          f"{'NEWSREEL_FONT_MONO' if mono else 'NEWSREEL_FONT_SANS'}")
    return str(path)
