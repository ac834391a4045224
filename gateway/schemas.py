"""Request and response bodies as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1).

The request schemas here are the ones `validation.py` checks bodies against AND the ones the
OpenAPI document publishes: one source, so the document cannot drift from what is enforced.

Patterns are unanchored searches (`[^\\s…]`, `not: [control]`) or paired with exact lengths:
JSON Schema patterns are ECMA-262, jsonschema runs them with Python's `re.search`, and the two
disagree on `$` before a trailing newline."""

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


def _object(properties: dict, required: list[str] | None = None, **extra) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False, **extra}


# -- request bodies ----------------------------------------------------------------------------

REGISTER = _object({
    "email": EMAIL, "password": NEW_PASSWORD, "full_name": PERSON_TEXT,
    "organisation": PERSON_TEXT, "language": LANGUAGE,
}, title="Registration")
VERIFY_ACCOUNT = _object({"email": EMAIL, "code": CODE}, title="AccountVerification")
RESEND_VERIFICATION = _object({"email": EMAIL}, title="VerificationResend")
LOGIN = _object({"email": EMAIL, "password": PASSWORD}, title="Login")
NEWSLETTER = _object({"subscribed": {"type": "boolean"}}, title="NewsletterChoice")
PASSWORD_RESET = _object({"email": EMAIL}, title="PasswordResetRequest")
VERIFY_PASSWORD_RESET = _object({"email": EMAIL, "code": CODE},
                                title="PasswordResetVerification")
COMPLETE_PASSWORD_RESET = _object({"reset_token": RESET_TOKEN, "password": NEW_PASSWORD},
                                  title="PasswordResetCompletion")

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
}, title="Account")
SESSION = _object({
    "token": {"type": "string", "description": "Send it as `Authorization: Bearer <token>`."},
    "expires_at": TIMESTAMP,
    "account": ACCOUNT,
}, title="Session")
RESET_GRANT = _object({
    "reset_token": {"type": "string", "description": "Short-lived; spend it on /complete."},
    "expires_at": TIMESTAMP,
}, title="PasswordResetGrant")
ANY_OBJECT = {"type": "object"}

ERROR = _object({
    "error": _object({
        "code": {"type": "string", "description": "A stable machine code (see the table)."},
        "message": {"type": "string", "description": "For people, in the request's language."},
        "field": {"type": "string", "description": "The request field at fault."},
        "rules": {"type": "array", "items": {"type": "string"},
                  "description": "weak_password: the password rules broken."},
        "attempts_left": {"type": "integer", "minimum": 0},
        "retry_after": {"type": "integer", "minimum": 0,
                        "description": "Seconds; also sent as the Retry-After header."},
    }, required=["code", "message"]),
}, title="Error")
