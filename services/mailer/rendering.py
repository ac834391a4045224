"""Turn a mail kind, a language and a context into a subject, a text part and an HTML part.

Pure: no nameko, no network, no clock. Templates live next to this module in ``templates/``:

    templates/base.html                 the HTML frame shared by every mail (inline styles)
    templates/<lang>/_layout.html       the frame's words in one language (header, footer)
    templates/<lang>/<kind>.subject.txt one line, never the code
    templates/<lang>/<kind>.txt         the text part
    templates/<lang>/<kind>.html        the HTML part (autoescaped)

Dates reach the templates already formatted with Babel in the reader's language, in UTC, and the
templates say "UTC" next to them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"  # the organisation's first language

# Babel locale per language. English is British English (the organisation's English), which also
# gives a 24-hour clock: "14:32 UTC" in both languages.
_BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}

_REQUIRED: dict[str, frozenset[str]] = {
    "verification_code": frozenset({"full_name", "code", "purpose", "expires_at", "valid_minutes"}),
    "registration_attempted": frozenset({"full_name"}),
    "password_changed": frozenset({"full_name", "changed_at", "reason"}),
    "code_locked": frozenset({"full_name", "purpose", "locked_until"}),
    "newsletter": frozenset({"full_name", "title", "summary", "url", "published_at",
                             "unsubscribe_url"}),
}
KINDS: frozenset[str] = frozenset(_REQUIRED)

# Optional for every kind; a template shows the matching sentence only when the value is given.
_OPTIONAL: dict[str, Any] = {
    "portal_url": None,  # e.g. PUBLIC_BASE_URL: a "go to Newsreel" link (never in code mails)
    "support_email": None,  # where "contact us" points in the password-changed mail
}

PURPOSES = ("verify", "reset")
# How a password changed (password.changed.v1's `reason`), which decides what the mail says of
# the sessions: a reset ends every one, a change while logged in keeps the one that made it.
PASSWORD_CHANGE_REASONS = ("reset", "change")
_CODE_RE = re.compile(r"\d{6}")
_MAX_NAME_LENGTH = 80
# Control characters, separators and unassigned/private code points print as a space; bidi
# embedding/override/isolate controls are dropped (they can reorder what the reader sees).
_BLANK_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render(kind: str, language: str, context: Mapping[str, Any]) -> RenderedMail:
    """Render one mail. ``language`` other than "fr"/"en" falls back to French.

    Raises ``ValueError`` for an unknown kind or a missing/invalid context value.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    lang = normalise_language(language)
    variables = _prepare(kind, lang, context)
    env = _environment()
    subject = env.get_template(f"{lang}/{kind}.subject.txt").render(variables)
    text = env.get_template(f"{lang}/{kind}.txt").render(variables)
    html = env.get_template(f"{lang}/{kind}.html").render(variables)
    return RenderedMail(
        subject=" ".join(subject.split()),  # one line whatever the template or the values hold
        text=text.strip("\n") + "\n",
        html=html.strip() + "\n",
    )


def normalise_language(language: str | None) -> str:
    """ "fr", "en", "en-GB", "FR_ca" … → "fr" or "en"; anything else → "fr"."""
    if isinstance(language, str):
        primary = language.strip().replace("_", "-").split("-", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def clean_display_name(name: Any) -> str:
    """A user-supplied name made safe to print in a mail: no control characters or line breaks,
    whitespace collapsed, at most 80 characters. The name is chosen by whoever filled the form,
    who may not own the mailbox, so it must not be able to add lines or paragraphs to the mail."""
    if not isinstance(name, str):
        raise ValueError("full_name must be a string")
    visible = "".join(
        "" if ch in _BIDI_CONTROLS else " " if unicodedata.category(ch) in _BLANK_CATEGORIES else ch
        for ch in name
    )
    cleaned = " ".join(visible.split())
    if len(cleaned) > _MAX_NAME_LENGTH:
        cleaned = cleaned[: _MAX_NAME_LENGTH - 1].rstrip() + "…"
    return cleaned


def _prepare(kind: str, lang: str, context: Mapping[str, Any]) -> dict[str, Any]:
    missing = _REQUIRED[kind] - context.keys()
    if missing:
        raise ValueError(f"{kind}: missing context value(s): {', '.join(sorted(missing))}")
    variables: dict[str, Any] = dict(_OPTIONAL)
    variables.update(context)
    variables["language"] = lang
    variables["product"] = "Newsreel"
    variables["full_name"] = clean_display_name(context["full_name"])
    locale = _BABEL_LOCALES[lang]

    if kind == "verification_code":
        code = context["code"]
        if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
            raise ValueError("verification_code: code must be a string of 6 digits")
        if context["purpose"] not in PURPOSES:
            raise ValueError(f"verification_code: purpose must be one of {PURPOSES}")
        minutes = context["valid_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
            raise ValueError("verification_code: valid_minutes must be a positive integer")
        expires = _as_utc(context["expires_at"], "expires_at")
        variables["expires_time"] = format_time(expires, "short", tzinfo=UTC, locale=locale)
        # For screen readers: "1 2 3 4 5 6" rather than "one hundred and twenty-three thousand…"
        variables["code_spoken"] = " ".join(code)
    elif kind == "newsletter":
        published = _as_utc(context["published_at"], "published_at")
        variables["published_date"] = format_date(published.date(), "long", locale=locale)
    elif kind == "password_changed":
        if context["reason"] not in PASSWORD_CHANGE_REASONS:
            # guessing would tell the owner something false about their sessions
            raise ValueError(f"password_changed: reason must be one of {PASSWORD_CHANGE_REASONS}")
        changed = _as_utc(context["changed_at"], "changed_at")
        variables["changed_date"] = format_date(changed.date(), "full", locale=locale)
        variables["changed_time"] = format_time(changed, "short", tzinfo=UTC, locale=locale)
    elif kind == "code_locked":
        if context["purpose"] not in PURPOSES:
            raise ValueError(f"code_locked: purpose must be one of {PURPOSES}")
        until = _as_utc(context["locked_until"], "locked_until")
        # a lock lasts up to a day: the date as well as the time
        variables["until_date"] = format_date(until.date(), "full", locale=locale)
        variables["until_time"] = format_time(until, "short", tzinfo=UTC, locale=locale)
    return variables


def _as_utc(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
