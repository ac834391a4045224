"""Request and response bodies as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1).

The request schemas here are the ones `validation.py` checks bodies against AND the ones the
OpenAPI document publishes: one source, so the document cannot drift from what is enforced.

Patterns are unanchored searches (`[^\\s…]`, `not: [control]`) or paired with exact lengths:
JSON Schema patterns are ECMA-262, jsonschema runs them with Python's `re.search`, and the two
disagree on `$` before a trailing newline."""

from services.shared.media_layout import UPLOAD_ID_PATTERN

from .terms import TERMS_VERSION

EMAIL = {
    "type": "string", "format": "email", "maxLength": 254,
    "description": "An email address (syntax checked; deliverability is not).",
    "examples": ["claire.martin@example.org"],
}
NEW_PASSWORD = {
    "type": "string", "minLength": 1, "maxLength": 1024,
    "description": "12 to 128 characters, no spaces, with uppercase and lowercase letters, "
                   "digits and symbols, and not a known leaked password (the auth service "
                   "checks; a `weak_password` error lists the rules broken).",
}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 1024}
# A name as people write it: not blank, no control characters (it ends up in mail headers).
# Python's \s and ECMA's differ (U+001C-1F and U+0085 for one, U+FEFF for the other): naming
# the control characters and U+FEFF makes "a visible character" mean the same in both.
PERSON_TEXT = {
    "type": "string", "minLength": 1, "maxLength": 200,
    "pattern": "[^\\s\\u0000-\\u001f\\u007f-\\u009f\\ufeff]",
    "not": {"pattern": "[\\u0000-\\u001f\\u007f-\\u009f]"},
    "description": "1 to 200 characters; leading and trailing spaces are removed.",
}
LANGUAGE = {"type": "string", "enum": ["fr", "en"]}
CODE = {
    "type": "string", "minLength": 6, "maxLength": 6, "pattern": "^[0-9]{6}$",
    "description": "The 6-digit code sent by email.", "examples": ["042917"],
}
RESET_TOKEN = {"type": "string", "minLength": 1, "maxLength": 512}
# Only the current version is accepted: the document names it, so a client (or a fuzzer) knows
# what to send; anything else, or nothing, is 400 `terms_not_accepted` (validation.py).
ACCEPTED_TERMS_VERSION = {
    "type": "string", "const": TERMS_VERSION,
    "description": "The `version` of the terms of use (GET /api/v1/terms) that the person "
                   "read and accepted: the current one.",
    "examples": [TERMS_VERSION],
}


def _object(properties: dict, required: list[str] | None = None, **extra) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False, **extra}


# -- request bodies ----------------------------------------------------------------------------

REGISTER = _object({
    "email": EMAIL, "password": NEW_PASSWORD, "full_name": PERSON_TEXT,
    "organisation": PERSON_TEXT, "language": LANGUAGE, "terms_version": ACCEPTED_TERMS_VERSION,
}, title="Registration")
VERIFY_ACCOUNT = _object({
    "email": EMAIL, "code": CODE,
    "password": {**PASSWORD, "description": "The password chosen at registration: the code "
                                            "proves the mailbox, the password the person who "
                                            "registered."},
}, title="AccountVerification")
RESEND_VERIFICATION = _object({"email": EMAIL}, title="VerificationResend")
LOGIN = _object({"email": EMAIL, "password": PASSWORD}, title="Login")
NEWSLETTER = _object({"subscribed": {"type": "boolean"}}, title="NewsletterChoice")
PASSWORD_RESET = _object({"email": EMAIL}, title="PasswordResetRequest")
VERIFY_PASSWORD_RESET = _object({"email": EMAIL, "code": CODE},
                                title="PasswordResetVerification")
COMPLETE_PASSWORD_RESET = _object({"reset_token": RESET_TOKEN, "password": NEW_PASSWORD},
                                  title="PasswordResetCompletion")
CHANGE_PASSWORD = _object({"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                          title="PasswordChange")

# -- response bodies ---------------------------------------------------------------------------

TIMESTAMP = {"type": "string", "format": "date-time"}
ACCEPTED = _object({"status": {"const": "accepted"}}, title="Accepted")
ACCOUNT = _object({
    "email": {"type": "string"},
    "full_name": {"type": "string"},
    "organisation": {"type": "string"},
    "language": LANGUAGE,
    "newsletter": {"type": "boolean"},
    "verified": {"type": "boolean"},
    "terms_version": {"type": ["string", "null"],
                      "description": "The version of the terms of use the account accepted "
                                    "(null: registered before there were terms)."},
    "terms_accepted_at": {"type": ["string", "null"], "format": "date-time",
                          "description": "When it accepted them (UTC)."},
}, title="Account")
SESSION = _object({
    "token": {"type": "string", "description": "Send it as `Authorization: Bearer <token>`."},
    "expires_at": TIMESTAMP,
    "account": ACCOUNT,
}, title="Session")
SESSION_INFO = _object({
    "id": {"type": "string", "description": "Names the session in this list (not a token)."},
    "current": {"type": "boolean", "description": "The session of this request."},
    "created_at": TIMESTAMP,
    "last_seen_at": TIMESTAMP,
    "expires_at": {**TIMESTAMP, "description": "Its absolute end; a portal session also ends "
                                               "after its idle time."},
    "client_ip": {"type": ["string", "null"], "description": "Where it was opened from."},
    "user_agent": {"type": ["string", "null"],
                   "description": "The User-Agent it was opened with (200 characters at most)."},
}, title="SessionInfo")
SESSIONS = _object({"sessions": {"type": "array", "items": SESSION_INFO,
                                 "description": "The account's open sessions, this one first."}},
                   title="Sessions")
SESSIONS_ENDED = _object({"ended": {"type": "integer", "minimum": 0,
                                    "description": "How many other sessions ended."}},
                         title="SessionsEnded")
RESET_GRANT = _object({
    "reset_token": {"type": "string", "description": "Short-lived; spend it on /complete."},
    "expires_at": TIMESTAMP,
}, title="PasswordResetGrant")
ANY_OBJECT = {"type": "object"}
TERMS = _object({
    "version": {"type": "string", "examples": [TERMS_VERSION],
                "description": "What a registration sends as `terms_version`."},
    "language": LANGUAGE,
    "title": {"type": "string"},
    "points": {"type": "array", "items": {"type": "string"}, "minItems": 1},
}, title="Terms")

ERROR = _object({
    "error": _object({
        "code": {"type": "string", "description": "A stable machine code (see the table)."},
        "message": {"type": "string", "description": "For people, in the request's language."},
        "field": {"type": "string", "description": "The request field at fault."},
        "rules": {"type": "array", "items": {"type": "string"},
                  "description": "weak_password: the password rules broken."},
        "retry_after": {"type": "integer", "minimum": 0,
                        "description": "Seconds; also sent as the Retry-After header."},
        "reason": {"type": "string", "description": "Why, as a machine word (invalid_request "
                                                    "from a service, path_not_allowed, "
                                                    "invalid_shotlist) or the media reader's "
                                                    "words (invalid_media)."},
        "resource": {"type": "string", "description": "not_found: what was looked for "
                                                      "(`news`, `video`)."},
        "language": {"type": "string", "description": "not_publishable: the language version "
                                                      "at fault."},
        "role": {"type": "string", "description": "forbidden: the role the operation needs."},
        "current_version": {"type": "string", "description": "terms_not_accepted: the version "
                                                            "of the terms to read and accept "
                                                            "(GET /api/v1/terms)."},
        "end_timecode": {"type": "string", "description": "invalid_shotlist: where the video "
                                                          "ends (exclusive)."},
        "value": {"type": "string", "description": "invalid_timecode, out_of_range: the value "
                                                   "given."},
        "start_tc": {"type": "string", "description": "out_of_range: the video's first frame."},
        "end_tc": {"type": "string", "description": "out_of_range: where the video ends "
                                                    "(exclusive)."},
        "offset": {"type": "integer", "minimum": 0,
                   "description": "upload_offset_mismatch: where the upload is."},
        "maximum": {"type": "integer", "minimum": 0,
                    "description": "too_many_uploads: how many may be in progress."},
        "max_bytes": {"type": "integer", "minimum": 0,
                      "description": "upload_too_large: the largest file, in bytes."},
        "limit_bytes": {"type": "integer", "minimum": 0,
                        "description": "payload_too_large: the largest body, in bytes."},
        "algorithm": {"type": "string",
                      "description": "unsupported_checksum: the algorithm asked for."},
        "in_tc": {"type": "string", "description": "reversed_range: the in point read."},
        "out_tc": {"type": "string", "description": "reversed_range: the out point read."},
        "duration_s": {"type": "number", "description": "cut_too_short, cut_too_long: the "
                                                        "cut's length in seconds."},
        "minimum_s": {"type": "number", "description": "cut_too_short: the shortest cut."},
        "maximum_s": {"type": "number", "description": "cut_too_long: the longest cut."},
        "allowed": {"type": "array", "items": {"type": "string"},
                    "description": "invalid_rendition, invalid_accuracy: the values allowed."},
        "problems": {"type": "array", "description": "invalid_shotlist: every problem found.",
                     "items": {"type": "object", "properties": {
                         "index": {"type": ["integer", "null"],
                                   "description": "The row (from 0); null: the whole list."},
                         "field": {"type": "string"},
                         "reason": {"type": "string"}}}},
    }, required=["code", "message"]),
}, title="Error")

# -- news and videos (catalog service) ---------------------------------------------------------
# The catalog stays the judge of its rules (publishing needs every version complete, a shotlist
# lies inside its video…); these schemas mirror its shapes and limits so that a malformed
# request is refused here, in the user's language, before any RPC.

CONTROL_CHARACTERS = "[\\u0000-\\u001f\\u007f-\\u009f]"
# Text that may span lines (a body in plain text): tabs and line breaks are allowed, the other
# control characters are not (the catalog folds whitespace; NUL breaks PostgreSQL).
CONTROL_BUT_LINE_BREAKS = "[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]"
VISIBLE = "[^\\s\\u0000-\\u001f\\u007f-\\u009f\\ufeff]"

UUID = {
    "type": "string", "minLength": 36, "maxLength": 36,
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "description": "An identifier (a lowercase UUID).",
    "examples": ["b33e85f7-917e-42a5-b394-883b2feb82fd"],
}
# A slug: ASCII letters and digits joined by single hyphens, as the catalog makes them from a
# title. (`not` a control character: Python's `$` would accept a trailing newline.)
SLUG = {
    "type": "string", "minLength": 1, "maxLength": 100,
    "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "not": {"pattern": CONTROL_CHARACTERS},
    "description": "A slug, made from the title of one language version.",
    "examples": ["allies-seek-smarter-defence-spending-and-closer-cooperation"],
}
NEWS_REF = {
    "anyOf": [UUID, SLUG],
    "description": "A news item's id, or the slug of one of its language versions (the item "
                   "is then answered in that language).",
}
NEWS_ID = {**UUID, "description": "A news item's id."}
VIDEO_ID = {**UUID, "description": "A video's id."}
DATE_TIME = {
    "type": "string", "format": "date-time", "maxLength": 64,
    "description": "RFC 3339, with its time zone: `2026-01-15T09:00:00Z`.",
    "examples": ["2026-01-15T09:00:00Z"],
}
# HH:MM:SS:FF (HH:MM:SS;FF for drop-frame at 29.97 and 59.94), as the catalog reads them.
TIMECODE = {
    "type": "string", "minLength": 11, "maxLength": 12,
    "pattern": "^[0-9]{2}:[0-5][0-9]:[0-5][0-9][:;.,][0-9]{2,3}$",
    "not": {"pattern": CONTROL_CHARACTERS},
    "description": "A timecode, `HH:MM:SS:FF` (`HH:MM:SS;FF` drop-frame), on the video's own "
                   "clock (from its start timecode).",
    "examples": ["10:00:05:12"],
}


def _text(max_length: int, *, required: bool = False, lines: bool = False, **extra) -> dict:
    schema = {"type": "string", "maxLength": max_length,
              "not": {"pattern": CONTROL_BUT_LINE_BREAKS if lines else CONTROL_CHARACTERS},
              **extra}
    if required:
        schema |= {"minLength": 1, "pattern": VISIBLE}
    return schema


NEWS_QUERY = _object({
    "q": _text(200, description="Words to search for in titles, summaries and bodies, in both "
                                "languages and without regard to accents: words (all needed), "
                                "\"a phrase\", `or` between alternatives, `-word` to leave "
                                "out."),
    "page": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
}, required=[], title="NewsQuery")

BLOCK = _object({
    "type": {"type": "string", "enum": ["paragraph", "quote"]},
    "text": _text(20_000, required=True),
    "attribution": _text(300, description="Who speaks: for a quote only."),
}, required=["text"], title="BodyBlock")
BODY = {
    "anyOf": [
        {"type": "array", "maxItems": 300, "items": BLOCK},
        _text(100_000, lines=True),
    ],
    "description": "A list of blocks, or plain text whose paragraphs are separated by blank "
                   "lines (a paragraph that opens with « is a quote).",
}
NEWS_VERSION = _object({
    "title": _text(300, required=True),
    "summary": _text(2_000, lines=True),
    "body": BODY,
}, required=["title"], title="NewsVersion",
    description="One language version. A draft needs a title; publishing needs the summary "
                "and the body too.")
TRANSLATIONS = {
    **_object({"fr": NEWS_VERSION, "en": NEWS_VERSION}, required=[]),
    "minProperties": 1,
    "description": "The French and/or English versions (at least one). On PUT, a language "
                   "left out is removed.",
}
NEWS_DRAFT = _object({
    "translations": TRANSLATIONS,
    "embargo_until": {**DATE_TIME, "type": ["string", "null"],
                      "description": "Not public before this time (RFC 3339, with its time "
                                     "zone). Null or absent: no embargo."},
}, required=["translations"], title="NewsDraft")
PUBLICATION = _object({
    "published_at": {**DATE_TIME, "type": ["string", "null"],
                     "description": "Backdates the publication (not in the future); by "
                                    "default, now."},
}, required=[], title="Publication")

SHOT = _object({
    "in_tc": TIMECODE,
    "out_tc": {**TIMECODE, "description": "Exclusive: the shot ends where the next begins."},
    "kind": {"type": "string", "enum": ["shot", "soundbite"]},
    "description": {**_object({"fr": _text(4_000), "en": _text(4_000)}, required=[]),
                    "minProperties": 1},
    "speaker": _text(300, description="Who speaks: for a soundbite only."),
}, required=["in_tc", "out_tc", "kind", "description"], title="Shot")
SHOTLIST = {"type": "array", "maxItems": 1_000, "items": SHOT,
            "description": "In order, without overlaps, inside the video."}
UPLOAD_ID = {"type": "string", "pattern": f"^{UPLOAD_ID_PATTERN}$",
             "description": "An upload's id: the last segment of its URL."}
VIDEO_INGEST = _object({
    "news_id": NEWS_ID,
    "upload_id": {**UPLOAD_ID,
                  "description": "A complete upload of yours (POST /api/v1/uploads, tus): "
                                 "the master. Give this or `master_path`."},
    "master_path": _text(1_000, required=True,
                         description="The master, in the ingest folder (`MEDIA_ROOT/ingest`): "
                                     "relative to it, or absolute. Nothing outside it is "
                                     "taken. Give this or `upload_id`."),
    "shotlist": {**SHOTLIST, "type": ["array", "null"]},
}, required=["news_id"], title="VideoIngest",
    oneOf=[{"required": ["master_path"]}, {"required": ["upload_id"]}])

# -- answers about news and videos (what the gateway sends is exactly what they list) --------

URL_OR_NULL = {"type": ["string", "null"]}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
VIDEO_SUMMARY = _object({
    "id": {"type": "string"},
    "position": {"type": "integer"},
    "programme": {"type": "string", "description": "Its place in the programme: `1/2`."},
    "duration": {"type": "number", "description": "Seconds."},
    "frame_rate": {"type": "string", "examples": ["25/1", "30000/1001"]},
    "start_timecode": {"type": "string"},
    "width": {"type": "integer"},
    "height": {"type": "integer"},
    "poster_url": URL_OR_NULL,
    "preview_url": {**URL_OR_NULL, "description": "What the player plays (proxy MP4, else "
                                                  "HLS); null until it is made."},
}, title="VideoSummary")
NEWS_SUMMARY = _object({
    "id": {"type": "string"},
    "status": {"type": "string", "enum": ["draft", "published"]},
    "slug": {"type": "string"},
    "language": LANGUAGE,
    "languages": {"type": "array", "items": LANGUAGE},
    "title": {"type": "string"},
    "summary": {"type": "string"},
    "published_at": {**TIME_OR_NULL, "description": "When it became public."},
    "url": {"type": "string", "description": "Its page on the portal."},
    "poster_url": URL_OR_NULL,
    "videos": {"type": "array", "items": VIDEO_SUMMARY},
}, title="NewsSummary")
NEWS_PAGE = _object({
    "items": {"type": "array", "items": NEWS_SUMMARY},
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer", "minimum": 1},
    "total": {"type": "integer", "minimum": 0},
}, title="NewsPage")
NEWS_ITEM = _object({
    **NEWS_SUMMARY["properties"],
    "body": {"type": "array", "items": _object({
        "type": {"type": "string", "enum": ["paragraph", "quote"]},
        "text": {"type": "string"},
        "attribution": {"type": "string"},
    }, required=["type", "text"])},
    "embargo_until": TIME_OR_NULL,
    "translations": {"type": "array", "items": _object({
        "language": LANGUAGE, "slug": {"type": "string"}, "title": {"type": "string"},
        "summary": {"type": "string"}, "url": {"type": "string"},
    })},
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
}, title="NewsItem")

SHOT_ANSWER = _object({
    "in_tc": {"type": "string"}, "out_tc": {"type": "string"},
    "kind": {"type": "string", "enum": ["shot", "soundbite"]},
    "description": _object({"fr": {"type": "string"}, "en": {"type": "string"}}),
    "speaker": {"type": "string"},
    "in_seconds": {"type": "number"}, "out_seconds": {"type": "number"},
}, required=["in_tc", "out_tc", "kind", "description", "in_seconds", "out_seconds"])
RENDITION = _object({
    "name": {"type": "string", "examples": ["proxy", "xdcam-hd422"]},
    "status": {"type": "string", "enum": ["ready", "failed"]},
    "size_bytes": {"type": ["integer", "null"]},
    "url": {**URL_OR_NULL, "description": "Preview renditions only; the broadcast ones are "
                                          "downloaded through signed links."},
    "details": {"type": "object"},
    "updated_at": TIME_OR_NULL,
}, title="Rendition")
VIDEO = _object({
    **VIDEO_SUMMARY["properties"],
    "news_id": {"type": "string"},
    "end_timecode": {"type": "string"},
    "audio_channels": {"type": "integer"},
    "audio_streams": {"type": "integer"},
    "video_codec": {"type": ["string", "null"]},
    "pixel_format": {"type": ["string", "null"]},
    "field_order": {"type": ["string", "null"]},
    "container": {"type": ["string", "null"]},
    "size_bytes": {"type": "integer"},
    "frame_count": {"type": ["integer", "null"]},
    "shotlist": {"type": "array", "items": SHOT_ANSWER},
    "renditions": {"type": "array", "items": RENDITION},
    "hls_url": URL_OR_NULL,
    "storyboard_url": URL_OR_NULL,
    "ingested_at": TIMESTAMP,
}, title="Video")
# What editors get back from an ingest: where the files are, and why a rendition failed.
EDITOR_VIDEO = _object({
    **VIDEO["properties"],
    "master_path": {"type": "string", "description": "Relative to MEDIA_ROOT."},
    "renditions": {"type": "array", "items": _object({
        **RENDITION["properties"],
        "path": {"type": ["string", "null"], "description": "Relative to MEDIA_ROOT."},
        "error": {"type": ["string", "null"]},
    }, title="EditorRendition")},
}, title="EditorVideo")


# -- downloads (transcoder service) ------------------------------------------------------------

RENDITION = {"type": "string", "enum": ["xdcam-hd422", "h264-1080p", "proxy", "original"],
             "description": "What to download: a broadcast rendition (XDCAM HD422 MXF, "
                            "H.264 1080p MP4), the preview proxy, or the master as ingested."}
# A point of a cut: a timecode on the video's clock, or seconds from its start (as a string or
# a number); the transcoder reads it and says what is wrong in `invalid_timecode`.
CUT_POINT = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 20,
         "not": {"pattern": CONTROL_CHARACTERS}},
        {"type": "number", "minimum": 0, "maximum": 360_000},
    ],
    "description": "`HH:MM:SS:FF` on the video's own clock (`HH:MM:SS;FF` drop-frame), or "
                   "seconds from its start (`12.5`, as a string or a number).",
    "examples": ["10:00:05:12", 12.5],
}
DOWNLOAD_REQUEST = _object({
    "rendition": RENDITION,
    "in": CUT_POINT,
    "out": CUT_POINT,
    "accuracy": {"type": "string", "enum": ["fast", "frame"], "default": "fast",
                 "description": "fast: cut on whole GOPs (no re-encoding, may start a little "
                                "earlier and end a little later); frame: to the frame "
                                "(re-encodes the edges)."},
}, required=["rendition"], title="DownloadRequest")
STRING_OR_NULL = {"type": ["string", "null"]}
DOWNLOAD_STATUS = {"type": "string",
                   "enum": ["queued", "running", "ready", "failed", "evicted"]}
DOWNLOAD = _object({
    "id": {"type": ["string", "null"], "description": "The job's id (null for the original, "
                                                      "which is never made)."},
    "status": DOWNLOAD_STATUS,
    "progress": {"type": "integer", "minimum": 0, "maximum": 100},
    "rendition": {"type": "string"},
    "url": {**STRING_OR_NULL, "description": "The signed link to the file (when ready): it "
                                             "works for this account only, until expires_at."},
    "expires_at": {"type": ["string", "null"], "format": "date-time"},
    "filename": STRING_OR_NULL,
    "in_tc": {**STRING_OR_NULL, "description": "Where the file really starts (a fast cut "
                                               "widens to whole GOPs)."},
    "out_tc": {**STRING_OR_NULL, "description": "Where it really ends (exclusive)."},
    "requested_in_tc": STRING_OR_NULL,
    "requested_out_tc": STRING_OR_NULL,
    "accuracy": STRING_OR_NULL,
    "size_bytes": {"type": ["integer", "null"]},
    "status_url": STRING_OR_NULL,
    "error": {**STRING_OR_NULL, "description": "When it failed: why, for people."},
}, required=["id", "status", "progress"], title="Download")
DOWNLOAD_LOG_QUERY = _object({
    "video_id": {**UUID, "description": "Only this video's downloads."},
    "account_id": {"type": "string", "minLength": 1, "maxLength": 64,
                   "description": "Only this account's downloads."},
    "since": {**TIMESTAMP, "description": "Only the links issued from this moment on."},
    "page": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
}, required=[], title="DownloadLogQuery")
DOWNLOAD_RECORD = _object({
    "id": {"type": "string"},
    "job_id": {**STRING_OR_NULL, "description": "The job that made the file (null for the "
                                                "original)."},
    "account_id": {"type": "string"},
    "email": {"type": "string"},
    "organisation": STRING_OR_NULL,
    "video_id": {"type": "string"},
    "rendition": {"type": "string"},
    "in_tc": STRING_OR_NULL,
    "out_tc": STRING_OR_NULL,
    "accuracy": STRING_OR_NULL,
    "created_at": {**TIMESTAMP, "description": "When the link was issued."},
}, title="DownloadRecord")
DOWNLOAD_LOG = _object({
    "items": {"type": "array", "items": DOWNLOAD_RECORD},
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer", "minimum": 1},
    "total": {"type": "integer", "minimum": 0},
}, title="DownloadLog")
DOWNLOAD_PENDING = _object({
    "id": {"type": "string"},
    "status": DOWNLOAD_STATUS,
    "status_url": {"type": "string", "description": "Where to ask how it goes."},
    "progress": {"type": "integer", "minimum": 0, "maximum": 100},
}, title="DownloadPending")
