"""The catalog's rules, as plain Python: no database, no broker, no framework.

A news item exists in French and/or English: one item, one or two language versions, each with
a title, a summary and a body (a list of blocks: paragraphs and quotes) and a slug made from its
title (ASCII, unique). It is a draft until it is published; an embargo keeps a published item
out of the lists and the downloads until a given time. Its programme is the ordered list of its
videos ("1/2", "2/2"). A video's shotlist is a list of timecoded shots and soundbites that must
lie inside the video, in order."""

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from fractions import Fraction

LANGUAGES = ("fr", "en")
BLOCK_TYPES = ("paragraph", "quote")
SHOT_KINDS = ("shot", "soundbite")
# What the transcoder makes from a master (its rendition.ready.v1 / rendition.failed.v1 events).
RENDITIONS = ("poster", "storyboard", "proxy", "hls", "xdcam-hd422", "h264-1080p")
# Renditions the portal shows in the page itself (player, poster): they get a public URL.
# The broadcast renditions are downloaded through the transcoder's signed links instead.
PREVIEW_RENDITIONS = ("poster", "storyboard", "proxy", "hls")

MAX_TITLE = 300
MAX_SUMMARY = 2_000
MAX_BLOCKS = 300
MAX_BLOCK_TEXT = 20_000
MAX_ATTRIBUTION = 300
MAX_SLUG = 80
MAX_SHOTS = 1_000
MAX_DESCRIPTION = 4_000
MAX_SPEAKER = 300


class Status(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Invalid(ValueError):
    """A value the rules refuse: which field, and why (a machine word)."""

    def __init__(self, field: str, reason: str):
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


# -- text ------------------------------------------------------------------------------------

def _clean_text(value, field: str, max_length: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(field, "not_text")
    value = " ".join(value.split())  # one line, single spaces: what a title or a block is
    if required and not value:
        raise Invalid(field, "missing")
    if len(value) > max_length:
        raise Invalid(field, "too_long")
    return value


def is_quote(text: str) -> bool:
    """A paragraph that opens with a French opening guillemet is a quote (the seed pages'
    convention); an English one may open with a curly or straight double quote."""
    return text.lstrip().startswith(("«", "“", '"'))


def body_from_text(text: str) -> list[dict]:
    """Plain text, paragraphs separated by blank lines (or by line breaks when there are no
    blank lines), into blocks; a paragraph opening with « is a quote."""
    chunks = re.split(r"\n\s*\n", text.strip()) if "\n\n" in text.replace("\r", "") \
        else text.splitlines()
    blocks = []
    for chunk in chunks:
        chunk = " ".join(chunk.split())
        if chunk:
            blocks.append({"type": "quote" if is_quote(chunk) else "paragraph", "text": chunk})
    return blocks


def clean_body(body, field: str = "body") -> list[dict]:
    """The body as a list of blocks `{"type": "paragraph"|"quote", "text": …,
    "attribution"?: …}` (a quote may say who speaks). A string is split into paragraphs."""
    if body is None:
        return []
    if isinstance(body, str):
        body = body_from_text(body)
    if not isinstance(body, list | tuple):
        raise Invalid(field, "not_a_list")
    if len(body) > MAX_BLOCKS:
        raise Invalid(field, "too_long")
    blocks = []
    for index, block in enumerate(body):
        where = f"{field}[{index}]"
        if not isinstance(block, dict):
            raise Invalid(where, "not_an_object")
        unknown = set(block) - {"type", "text", "attribution"}
        if unknown:
            raise Invalid(f"{where}.{sorted(unknown)[0]}", "unknown_field")
        kind = block.get("type", "paragraph")
        if kind not in BLOCK_TYPES:
            raise Invalid(f"{where}.type", "unknown_type")
        cleaned = {"type": kind,
                   "text": _clean_text(block.get("text"), f"{where}.text", MAX_BLOCK_TEXT, True)}
        attribution = _clean_text(block.get("attribution"), f"{where}.attribution",
                                  MAX_ATTRIBUTION, False)
        if attribution:
            if kind != "quote":
                raise Invalid(f"{where}.attribution", "only_for_quotes")
            cleaned["attribution"] = attribution
        blocks.append(cleaned)
    return blocks


def body_text(blocks: Iterable[dict]) -> str:
    """The body as plain text, for the search index."""
    parts = []
    for block in blocks:
        parts.append(block["text"])
        if block.get("attribution"):
            parts.append(block["attribution"])
    return "\n".join(parts)


def clean_translation(language: str, data, field: str | None = None) -> dict:
    """One language version. A draft needs a title (the slug comes from it); the summary and
    the body may wait until it is published (see `publish_problems`)."""
    field = field or f"translations.{language}"
    if not isinstance(data, dict):
        raise Invalid(field, "not_an_object")
    unknown = set(data) - {"title", "summary", "body"}
    if unknown:
        raise Invalid(f"{field}.{sorted(unknown)[0]}", "unknown_field")
    return {
        "title": _clean_text(data.get("title"), f"{field}.title", MAX_TITLE, True),
        "summary": _clean_text(data.get("summary"), f"{field}.summary", MAX_SUMMARY, False),
        "body": clean_body(data.get("body"), f"{field}.body"),
    }


def clean_translations(translations) -> dict[str, dict]:
    """`{"fr": {...}, "en": {...}}`: one or two language versions, nothing else."""
    if not isinstance(translations, dict):
        raise Invalid("translations", "not_an_object")
    for language in translations:
        if language not in LANGUAGES:
            raise Invalid(f"translations.{language}", "unknown_language")
    cleaned = {language: clean_translation(language, data)
               for language, data in translations.items() if data is not None}
    if not cleaned:
        raise Invalid("translations", "missing")
    return {language: cleaned[language] for language in LANGUAGES if language in cleaned}


def publish_problems(translations: dict[str, dict]) -> list[dict]:
    """Why an item cannot be published yet: every version it has needs a title, a summary and
    a body."""
    if not translations:
        return [{"language": None, "field": "translations", "reason": "missing"}]
    problems = []
    for language, version in translations.items():
        for field in ("title", "summary", "body"):
            if not version.get(field):
                problems.append({"language": language, "field": field, "reason": "missing"})
    return problems


def pick_language(available: Iterable[str], wanted: str | None) -> str:
    """The version to show: the one asked for, else French, else English."""
    available = list(available)
    if wanted in available:
        return wanted
    for language in LANGUAGES:
        if language in available:
            return language
    raise ValueError("an item without any language version")


def clean_language(language: str | None, field: str = "lang") -> str | None:
    if language in (None, ""):
        return None
    if language not in LANGUAGES:
        raise Invalid(field, "unknown_language")
    return language


# -- slugs ----------------------------------------------------------------------------------

# Letters NFKD does not take apart (ligatures, stroked letters).
_TRANSLITERATE = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss",
                                "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L",
                                "þ": "th", "ð": "d", "\u0131": "i"})  # dotless i


def ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def slugify(title: str, max_length: int = MAX_SLUG) -> str:
    """`"Sécurité : l'OTAN à Bruxelles"` -> `"securite-l-otan-a-bruxelles"`: ASCII letters and
    digits joined by single hyphens, cut at a word boundary."""
    folded = ascii_fold(title).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else slug[:max_length]
    return slug.strip("-") or "news"


def unique_slug(base: str, taken: Callable[[str], bool], max_length: int = MAX_SLUG) -> str:
    """`base`, or `base-2`, `base-3`… whichever is free."""
    if not taken(base):
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[:max_length - len(suffix)].rstrip("-") + suffix
        if not taken(candidate):
            return candidate
        number += 1


# -- publication and embargo -----------------------------------------------------------------

def parse_time(value, field: str) -> datetime | None:
    """An aware datetime from an ISO 8601 string (`…Z` or `…+01:00`) or a datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(field, "not_a_time") from None
    if not isinstance(value, datetime):
        raise Invalid(field, "not_a_time")
    if value.tzinfo is None:
        raise Invalid(field, "needs_timezone")
    return value.astimezone(UTC)


def release_time(published_at: datetime, embargo_until: datetime | None) -> datetime:
    """When a published item becomes public: at publication, or at the end of its embargo."""
    if embargo_until is not None and embargo_until > published_at:
        return embargo_until
    return published_at


def is_public(status: str, released_at: datetime | None, now: datetime) -> bool:
    return status == Status.PUBLISHED and released_at is not None and released_at <= now


# -- programme -------------------------------------------------------------------------------

def programme_label(position: int, total: int) -> str:
    """What the page shows above each video: "1/3"."""
    return f"{position}/{total}"


def reorder(current: list[str], wanted, field: str = "video_ids") -> list[str]:
    """A new programme order: the same videos, each once, in another order."""
    if not isinstance(wanted, list | tuple) or not all(isinstance(v, str) for v in wanted):
        raise Invalid(field, "not_a_list")
    if len(set(wanted)) != len(wanted):
        raise Invalid(field, "duplicate")
    if set(wanted) != set(current):
        raise Invalid(field, "not_the_same_videos")
    return list(wanted)


# -- timecodes and shotlists -----------------------------------------------------------------

_TIMECODE = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;.,])(\d{2,3})$")


def parse_frame_rate(value) -> Fraction:
    """`"25/1"`, `"30000/1001"`, `25`, `Fraction(25)`: a positive frame rate."""
    try:
        rate = Fraction(value) if not isinstance(value, float) else \
            Fraction(value).limit_denominator(1001)
    except (TypeError, ValueError, ZeroDivisionError):
        raise Invalid("frame_rate", "not_a_rate") from None
    if rate <= 0:
        raise Invalid("frame_rate", "not_a_rate")
    return rate


def format_frame_rate(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def _drop_frames_per_minute(rate: Fraction) -> int:
    """SMPTE drop-frame: 29.97 drops 2 labels a minute (not every tenth), 59.94 drops 4."""
    if rate.denominator == 1001 and round(rate) in (30, 60):
        return round(rate) // 15
    return 0


def is_drop_frame(timecode: str) -> bool:
    return bool(re.search(r"[;.,]\d+$", timecode))


def timecode_to_frames(timecode: str, rate: Fraction, field: str = "timecode") -> int:
    """Frames since 00:00:00:00. `;` marks a drop-frame timecode (29.97 and 59.94 only)."""
    match = _TIMECODE.match(timecode) if isinstance(timecode, str) else None
    if match is None:
        raise Invalid(field, "bad_timecode")
    hours, minutes, seconds, separator, frames = match.groups()
    hours, minutes, seconds, frames = int(hours), int(minutes), int(seconds), int(frames)
    nominal = round(rate)
    if frames >= nominal:
        raise Invalid(field, "bad_timecode")
    total = ((hours * 60 + minutes) * 60 + seconds) * nominal + frames
    if separator == ":":
        return total
    dropped = _drop_frames_per_minute(rate)
    if not dropped:
        raise Invalid(field, "drop_frame_not_at_this_rate")
    if seconds == 0 and frames < dropped and minutes % 10:
        raise Invalid(field, "bad_timecode")  # those labels are the ones dropped
    total_minutes = hours * 60 + minutes
    return total - dropped * (total_minutes - total_minutes // 10)


def frames_to_timecode(frames: int, rate: Fraction, drop_frame: bool = False) -> str:
    nominal = round(rate)
    dropped = _drop_frames_per_minute(rate) if drop_frame else 0
    if dropped:
        per_ten_minutes = nominal * 600 - dropped * 9
        per_minute = nominal * 60 - dropped
        tens, rest = divmod(frames, per_ten_minutes)
        extra = dropped * 9 * tens
        if rest > dropped:
            extra += dropped * ((rest - dropped) // per_minute)
        frames += extra
    ff = frames % nominal
    seconds = frames // nominal
    separator = ";" if dropped else ":"
    return (f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            f"{separator}{ff:02d}")


@dataclass(frozen=True)
class Timeline:
    """Where a video's frames lie on the timecode clock: from its start timecode, for its
    duration (the out point of a shot is exclusive: the shot ends where the next begins)."""
    frame_rate: Fraction
    start_timecode: str
    duration: float

    @property
    def drop_frame(self) -> bool:
        return is_drop_frame(self.start_timecode)

    @property
    def start_frame(self) -> int:
        return timecode_to_frames(self.start_timecode, self.frame_rate, "start_timecode")

    @property
    def frame_count(self) -> int:
        return round(Fraction(self.duration).limit_denominator(1_000_000) * self.frame_rate)

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frame_count

    @property
    def end_timecode(self) -> str:
        return frames_to_timecode(self.end_frame, self.frame_rate, self.drop_frame)

    def offset_seconds(self, timecode: str) -> float:
        """Seconds from the start of the video to `timecode`."""
        frames = timecode_to_frames(timecode, self.frame_rate) - self.start_frame
        return round(float(frames / self.frame_rate), 6)


class InvalidShotlist(ValueError):
    """Every problem found, each `{"index", "field", "reason"}`; the first says the most."""

    def __init__(self, problems: list[dict]):
        super().__init__(problems)
        self.problems = problems


def clean_shotlist(entries, timeline: Timeline) -> list[dict]:
    """Validates a shotlist against the video it describes and returns it normalised:
    `[{in_tc, out_tc, kind, description: {fr, en}, speaker?}]`, each shot inside the video
    (in ≥ start, out ≤ start + duration, in < out), in order and not overlapping, described in
    at least one language; a speaker only for a soundbite."""
    if entries is None:
        return []
    if not isinstance(entries, list | tuple):
        raise InvalidShotlist([{"index": None, "field": "shotlist", "reason": "not_a_list"}])
    if len(entries) > MAX_SHOTS:
        raise InvalidShotlist([{"index": None, "field": "shotlist", "reason": "too_long"}])
    problems: list[dict] = []
    cleaned: list[dict] = []
    previous_out = None
    start, end = timeline.start_frame, timeline.end_frame

    def problem(index, field, reason):
        problems.append({"index": index, "field": field, "reason": reason})

    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problem(index, "", "not_an_object")
            continue
        for key in sorted(set(entry) - {"in_tc", "out_tc", "kind", "description", "speaker"}):
            problem(index, key, "unknown_field")
        frames = {}
        for key in ("in_tc", "out_tc"):
            value = entry.get(key)
            if value in (None, ""):
                problem(index, key, "missing")
                continue
            try:
                frames[key] = timecode_to_frames(value, timeline.frame_rate, key)
            except Invalid as invalid:
                problem(index, key, invalid.reason)
        if "in_tc" in frames and frames["in_tc"] < start:
            problem(index, "in_tc", "before_start")
        if "out_tc" in frames and frames["out_tc"] > end:
            problem(index, "out_tc", "after_end")
        if len(frames) == 2:
            if frames["out_tc"] <= frames["in_tc"]:
                problem(index, "out_tc", "not_after_in")
            elif previous_out is not None and frames["in_tc"] < previous_out:
                problem(index, "in_tc", "overlaps_previous")
            previous_out = max(previous_out or 0, frames["out_tc"])
        kind = entry.get("kind")
        if kind not in SHOT_KINDS:
            problem(index, "kind", "missing" if kind is None else "unknown_kind")
        description = entry.get("description")
        texts = {}
        if isinstance(description, str):
            description = {"fr": description}  # a single text: French, the house language
        if not isinstance(description, dict):
            problem(index, "description", "missing" if description is None else "not_an_object")
        else:
            for language in sorted(set(description) - set(LANGUAGES)):
                problem(index, f"description.{language}", "unknown_language")
            for language in LANGUAGES:
                try:
                    texts[language] = _clean_text(description.get(language),
                                                  f"description.{language}",
                                                  MAX_DESCRIPTION, False)
                except Invalid as invalid:
                    problem(index, invalid.field, invalid.reason)
            if not any(texts.values()) and len(texts) == len(LANGUAGES):
                problem(index, "description", "missing")
        speaker = None
        try:
            speaker = _clean_text(entry.get("speaker"), "speaker", MAX_SPEAKER, False) or None
        except Invalid as invalid:
            problem(index, "speaker", invalid.reason)
        if speaker and kind == "shot":
            problem(index, "speaker", "only_for_soundbites")
        if not problems:
            shot = {"in_tc": entry["in_tc"], "out_tc": entry["out_tc"], "kind": kind,
                    "description": {language: texts.get(language, "") for language in LANGUAGES}}
            if speaker:
                shot["speaker"] = speaker
            cleaned.append(shot)
    if problems:
        raise InvalidShotlist(problems)
    return cleaned


def shotlist_with_offsets(shotlist: list[dict], timeline: Timeline) -> list[dict]:
    """The stored shotlist with each row's in and out as seconds from the start of the video
    (what a player seeks to, and what a cut can be asked with)."""
    rows = []
    for shot in shotlist:
        row = dict(shot)
        row["in_seconds"] = timeline.offset_seconds(shot["in_tc"])
        row["out_seconds"] = timeline.offset_seconds(shot["out_tc"])
        rows.append(row)
    return rows


# -- renditions ------------------------------------------------------------------------------

def rendition_event_applies(stored_at: datetime | None, event_at: datetime) -> bool:
    """An event about a rendition replaces what is known only if it is newer: a retried
    `failed` that arrives after a later `ready` must not undo it."""
    return stored_at is None or event_at >= stored_at


RENDITION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


def clean_rendition_name(name) -> str:
    if not isinstance(name, str) or not RENDITION_NAME.match(name):
        raise Invalid("rendition", "bad_name")
    return name
