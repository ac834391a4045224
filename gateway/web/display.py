"""How the pages write dates, durations, frame rates and rendition names, in the visitor's
language, and the sentences the download panel's script shows."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from flask import Flask
from flask_babel import format_date
from flask_babel import gettext as _

RENDITION_LABELS = {
    "xdcam-hd422": "XDCAM HD422 (MXF, 1080, 50 Mbit/s)",
    "h264-1080p": "H.264 1080p (MP4)",
    "proxy": "Proxy 640×360 (MP4)",
}


def day(moment: str | None) -> str:
    """"20 novembre 2019" / "20 November 2019"."""
    if not moment:
        return ""
    try:
        return format_date(datetime.fromisoformat(moment.replace("Z", "+00:00")), "long")
    except ValueError:
        return ""


def clock(seconds: float | None) -> str:
    """A duration as a person reads it: "1:05", "1:02:03"."""
    total = round(seconds or 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate(text: str | None) -> str:
    """"25/1" → "25", "30000/1001" → "29.97"."""
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return text or ""
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.2f}"


def rendition_label(name: str) -> str:
    if name == "original":
        return _("Original master (as ingested)")
    return RENDITION_LABELS.get(name, name)


def download_texts() -> dict:
    """What the download panel's script says, in the page's language."""
    return {
        "queued": _("Waiting for its turn…"),
        "running": _("Being made…"),
        "ready": _("Ready."),
        "failed": _("This file could not be made. Try again later, or choose another "
                    "rendition."),
        "link": _("Download the file"),
        "expires": _("This link works for you only, until %(time)s."),
        "needs_points": _("Give both an in and an out point, or choose the whole video."),
        "network": _("The connection was lost. Try again."),
        "delivered": _("Delivered from %(in)s to %(out)s."),
    }


def init_app(app: Flask) -> None:
    app.add_template_filter(day)
    app.add_template_filter(clock)
    app.add_template_filter(rate)
    app.add_template_global(rendition_label)
    app.add_template_global(download_texts)
