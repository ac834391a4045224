"""Reads a request's JSON body, query string and path parameters and checks them against their
schemas (schemas.py), before any RPC.

The first problem found is answered as 400 `invalid_request` (or `invalid_email`; or
`terms_not_accepted` for a registration's terms version) with the field at fault and a sentence
in the user's language; a non-JSON body is 415, a body over the operation's limit is 413
(Werkzeug raises it while reading). A nested field is named the way the
services name it: `translations.fr.title`, `shotlist[2].in_tc`.

Query parameters arrive as strings: each is converted to its schema's type (an integer, a
boolean) before the same JSON Schema check, and one the operation does not declare is refused
(except `lang`, the language of the answer, which every operation takes). A path parameter that
does not match its schema names nothing: 404 `not_found`."""

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import request
from flask_babel import gettext as _
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from . import schemas
from .errors import ApiError

# The query parameter every operation takes (i18n.py reads it).
GLOBAL_QUERY_PARAMETERS = frozenset({"lang"})
# Fields whose refusal is answered with a code of their own rather than `invalid_request`: a
# registration without the current terms' version (missing, an older one, not even a string)
# has not accepted them, and the person is to be asked to read them, not to fix a field.
FIELD_CODES = {"terms_version": "terms_not_accepted"}

formats = FormatChecker(formats=())
email_format = formats  # the name it had when email was its only format


@formats.checks("email", raises=EmailNotValidError)
def is_email(value: object) -> bool:
    if isinstance(value, str):
        validate_email(value, check_deliverability=False)
    return True


# RFC 3339, and what the services' ISO 8601 parser reads: a time zone is required.
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})")


@formats.checks("date-time", raises=ValueError)
def is_date_time(value: object) -> bool:
    if isinstance(value, str):
        if not _RFC3339.fullmatch(value):
            raise ValueError("not RFC 3339")
        datetime.fromisoformat(value.replace("Z", "+00:00"))  # a real day and time
    return True


_validators: dict[int, Draft202012Validator] = {}


def validator_for(schema: dict) -> Draft202012Validator:
    # Schemas are module-level constants: one compiled validator each, for the process's life.
    key = id(schema)
    if key not in _validators:
        Draft202012Validator.check_schema(schema)
        _validators[key] = Draft202012Validator(schema, format_checker=formats)
    return _validators[key]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    if not request.is_json:
        raise ApiError("unsupported_media_type")
    raw = request.get_data(cache=True)  # raises 413 past the request's max_content_length
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError("invalid_request", _("The request body is not valid JSON.")) from None


def validated_body(schema: dict, required: bool = True) -> dict:
    """The body, checked. An operation whose body is optional gets `{}` when none is sent."""
    if not required and not request.get_data(cache=True):
        return {}
    return check(schema, json_body())


def validated_query(schema: dict) -> dict:
    """The query string as the schema's types, checked, with the schema's defaults filled in."""
    declared = schema["properties"]
    values: dict[str, Any] = {}
    for name in request.args:
        if name in GLOBAL_QUERY_PARAMETERS and name not in declared:
            continue
        if name not in declared:
            raise ApiError("invalid_request", _("This parameter is not expected here."),
                           field=name)
        given = request.args.getlist(name)
        if len(given) > 1:
            raise ApiError("invalid_request", _("This parameter must be given only once."),
                           field=name)
        values[name] = _from_text(given[0], declared[name])
    check(schema, values)
    for name, prop in declared.items():
        if name not in values and "default" in prop:
            values[name] = prop["default"]
    return values


def validated_path(parameters: Mapping[str, dict], values: Mapping[str, Any]) -> None:
    """A path parameter that its schema refuses names nothing: 404, before any RPC."""
    for name, schema in parameters.items():
        if not validator_for(schema).is_valid(values.get(name)):
            raise ApiError("not_found")


_INTEGER_TEXT = re.compile(r"-?[0-9]{1,15}")


def _from_text(text: str, schema: dict) -> Any:
    """A query parameter's text as its schema's type; left as text when it is not one (the
    schema check then says what is wrong with it)."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "integer" in kinds and _INTEGER_TEXT.fullmatch(text):
        return int(text)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def check(schema: dict, instance: Any) -> Any:
    """`instance` if it matches `schema`, else ApiError for the first problem (the portal's
    forms are checked with the API's own schemas)."""
    errors = list(validator_for(schema).iter_errors(instance))
    if errors:
        raise _api_error(min(errors, key=lambda error: _reading_order(schema, error)), schema)
    return instance


def _reading_order(schema: dict, error: ValidationError) -> tuple:
    """The request as a whole first (shape, missing and unknown fields), then the fields in the
    order the schema declares them, each field's own problems before its parts': the error a
    person reading the form meets first."""
    path = list(error.absolute_path)
    # A value of the wrong type fails its other keywords too (`not: {pattern}` passes no
    # number): its type is what to say.
    kind = (0 if error.validator == "type" else 1, str(error.validator))
    if not path:
        return (0, 0, (), kind)
    names = list(schema.get("properties", {}))
    field = path[0]
    rest = tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part))
                 for part in path[1:])
    return (1, names.index(field) if field in names else len(names), rest, kind)


def field_name(path: list) -> str:
    """`["translations", "fr", "title"]` → `translations.fr.title`; `["shotlist", 2, "in_tc"]`
    → `shotlist[2].in_tc`: how the services name a field in their errors."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


TYPE_MESSAGES: dict[str, Callable[[], str]] = {
    "string": lambda: _("This field must be a text string."),
    "boolean": lambda: _("This field must be true or false."),
    "integer": lambda: _("This value must be a whole number."),
    "object": lambda: _("This field must be a JSON object."),
    "array": lambda: _("This field must be a list."),
}
# Patterns whose meaning deserves its own sentence (the others: "must not be empty").
PATTERN_MESSAGES: dict[str, Callable[[], str]] = {
    schemas.TIMECODE["pattern"]: lambda: _(
        "A timecode is written HH:MM:SS:FF (HH:MM:SS;FF for drop-frame)."),
    schemas.UUID["pattern"]: lambda: _("This field must be an identifier (a UUID)."),
}


def _type_message(expected: str | list) -> str | None:
    kinds = [kind for kind in (expected if isinstance(expected, list) else [expected])
             if kind != "null"]
    message = TYPE_MESSAGES.get(kinds[0]) if kinds else None
    return message() if message else None


def _api_error(error: ValidationError, schema: dict) -> ApiError:
    kind = error.validator
    path = list(error.absolute_path)
    if kind in ("anyOf", "oneOf") and error.context:
        # e.g. a body that is a list of blocks: what is wrong inside the branch of its type
        wrong_type = {e.relative_schema_path[0] for e in error.context
                      if e.validator == "type" and not e.relative_path}
        inner = [e for e in error.context if e.relative_schema_path[0] not in wrong_type]
        if inner:
            return _api_error(min(inner, key=lambda e: _reading_order(schema, e)), schema)
        return ApiError("invalid_request", _type_message(
            [branch.get("type") for branch in error.validator_value
             if isinstance(branch.get("type"), str)]), field=field_name(path) or None)
    if kind == "type" and not path:
        return ApiError("invalid_request", _("The request body must be a JSON object."))
    if kind == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        if not path and missing in FIELD_CODES:
            return ApiError(FIELD_CODES[missing])
        return ApiError("invalid_request", _("This field is required."),
                        field=field_name([*path, missing]))
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        unknown = sorted(name for name in error.instance if name not in known)[0]
        return ApiError("invalid_request", _("This field is not expected here."),
                        field=field_name([*path, unknown]))
    if not path:
        if kind == "minProperties":
            return ApiError("invalid_request", _("This field must not be empty."))
        return ApiError("invalid_request")
    if path[0] in FIELD_CODES:
        return ApiError(FIELD_CODES[path[0]])

    field = field_name(path)
    if kind == "format":
        if error.validator_value == "email":
            return ApiError("invalid_email", field=field)
        return ApiError("invalid_request", _(
            "This field must be a date and time with its time zone, such as "
            "2026-01-15T09:00:00Z."), field=field)
    if kind == "type":
        return ApiError("invalid_request", _type_message(error.validator_value), field=field)
    if field == "code":
        return ApiError("invalid_request", _("The code must be exactly 6 digits."), field=field)
    if kind == "maxItems":
        return ApiError("invalid_request", _("This list is too long: %(max)d items at most.",
                                             max=error.validator_value), field=field)
    if kind == "enum":
        allowed = ", ".join(str(value) for value in error.validator_value)
        return ApiError("invalid_request", _("This value is not allowed. Allowed values: "
                                             "%(allowed)s.", allowed=allowed), field=field)
    if kind == "minimum":
        return ApiError("invalid_request", _("This value must be %(min)d or more.",
                                             min=error.validator_value), field=field)
    if kind == "maximum":
        return ApiError("invalid_request", _("This value must be %(max)d or less.",
                                             max=error.validator_value), field=field)
    if kind == "not":
        return ApiError("invalid_request", _("This field must not contain control characters."),
                        field=field)
    own_pattern = PATTERN_MESSAGES.get(error.schema.get("pattern", "")) \
        if isinstance(error.schema, dict) else None
    if own_pattern and kind in ("pattern", "minLength", "maxLength"):
        return ApiError("invalid_request", own_pattern(), field=field)
    if kind == "maxLength":
        return ApiError("invalid_request", _("This field is too long: %(max)d characters at "
                                             "most.", max=error.validator_value), field=field)
    if kind in ("minLength", "pattern", "minProperties"):
        return ApiError("invalid_request", _("This field must not be empty."), field=field)
    return ApiError("invalid_request", field=field)
