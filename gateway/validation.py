"""Reads a JSON request body and checks it against its schema (schemas.py), before any RPC.

The first problem found is answered as 400 `invalid_request` (or `invalid_email`) with the
field at fault and a sentence in the user's language; a non-JSON body is 415, a body over
MAX_CONTENT_LENGTH is 413 (Werkzeug raises it while reading)."""

import json
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import request
from flask_babel import gettext as _
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .errors import ApiError

email_format = FormatChecker(formats=())


@email_format.checks("email", raises=EmailNotValidError)
def is_email(value: object) -> bool:
    if isinstance(value, str):
        validate_email(value, check_deliverability=False)
    return True


_validators: dict[int, Draft202012Validator] = {}


def validator_for(schema: dict) -> Draft202012Validator:
    # Schemas are module-level constants: one compiled validator each, for the process's life.
    key = id(schema)
    if key not in _validators:
        Draft202012Validator.check_schema(schema)
        _validators[key] = Draft202012Validator(schema, format_checker=email_format)
    return _validators[key]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    if not request.is_json:
        raise ApiError("unsupported_media_type")
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError("invalid_request", _("The request body is not valid JSON.")) from None


def validated_body(schema: dict) -> dict:
    body = json_body()
    errors = list(validator_for(schema).iter_errors(body))
    if errors:
        raise _api_error(min(errors, key=lambda error: _reading_order(schema, error)), schema)
    return body


def _reading_order(schema: dict, error: ValidationError) -> tuple:
    """The body as a whole first (shape, missing and unknown fields), then the fields in the
    order the schema declares them: the error a person reading the form meets first."""
    if not error.path:
        return (0, 0, str(error.validator))
    names = list(schema.get("properties", {}))
    field = error.path[0]
    return (1, names.index(field) if field in names else len(names), str(error.validator))


TYPE_MESSAGES = {
    "string": lambda: _("This field must be a text string."),
    "boolean": lambda: _("This field must be true or false."),
}


def _api_error(error: ValidationError, schema: dict) -> ApiError:
    kind = error.validator
    if not error.path:
        if kind == "type":
            return ApiError("invalid_request", _("The request body must be a JSON object."))
        if kind == "required":
            missing = next(name for name in error.validator_value if name not in error.instance)
            return ApiError("invalid_request", _("This field is required."), field=missing)
        if kind == "additionalProperties":
            known = schema.get("properties", {})
            unknown = sorted(name for name in error.instance if name not in known)[0]
            return ApiError("invalid_request", _("This field is not expected here."),
                            field=unknown)
        return ApiError("invalid_request")

    field = str(error.path[0])
    if kind == "format":
        return ApiError("invalid_email", field=field)
    if kind == "type":
        message = TYPE_MESSAGES.get(error.validator_value, lambda: None)()
        return ApiError("invalid_request", message, field=field)
    if field == "code":
        return ApiError("invalid_request", _("The code must be exactly 6 digits."), field=field)
    if kind == "maxLength":
        return ApiError("invalid_request", _("This field is too long: %(max)d characters at "
                                             "most.", max=error.validator_value), field=field)
    if kind == "enum":
        allowed = ", ".join(str(value) for value in error.validator_value)
        return ApiError("invalid_request", _("This value is not allowed. Allowed values: "
                                             "%(allowed)s.", allowed=allowed), field=field)
    if kind == "not":
        return ApiError("invalid_request", _("This field must not contain control characters."),
                        field=field)
    if kind in ("minLength", "pattern"):
        return ApiError("invalid_request", _("This field must not be empty."), field=field)
    return ApiError("invalid_request", field=field)
