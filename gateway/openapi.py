"""The OpenAPI 3.1 document, built from the route table (operations.py), the body, query and
path schemas (schemas.py, the very dicts requests are validated against) and the error table
(errors.py); and /api/docs, a self-contained page that renders it (the machines have no
internet: no CDN)."""

import copy
import secrets

from flask import Blueprint, Response, current_app, jsonify, render_template

from . import schemas
from .errors import ERRORS
from .operations import OPERATIONS, Operation, operation
from .security import docs_page_csp

meta = Blueprint("meta", __name__, url_prefix="/api")

ERROR_REF = {"$ref": "#/components/schemas/Error"}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "The token answered by POST /api/v1/sessions."},
    "sessionCookie": {
        "type": "apiKey", "in": "cookie", "name": "newsreel_session",
        "description": "Set by POST /api/v1/sessions; named __Host-newsreel_session where "
                       "the site is served over HTTPS. An unsafe request (POST, PUT, DELETE) "
                       "authenticated by the cookie must send an Origin (or Referer) of the "
                       "site itself, else 403 csrf_failed."},
}
LANG_PARAMETER = {
    "name": "lang", "in": "query", "required": False,
    "description": "The language of the answer: of error messages, and of the news items "
                   "shown (their version in it, when they have one). fr or en (any other "
                   "value is ignored); without it, Accept-Language decides; French by "
                   "default.",
    "schema": {"type": "string"},
}
RETRY_AFTER_HEADER = {"description": "Seconds to wait.", "schema": {"type": "integer"}}
SET_COOKIE_HEADER = {
    "description": "__Host-newsreel_session=<token>; Secure; HttpOnly; SameSite=Lax; Path=/; "
                   "Max-Age=… (newsreel_session, not Secure, on a plain-HTTP site)",
    "schema": {"type": "string"}}


def error_codes(op: Operation) -> list[str]:
    """Every code the operation may answer with: its own, and those all operations of its
    kind share."""
    codes = list(op.errors)
    if op.path_parameters:
        codes.append("not_found")
    if op.query is not None:
        codes.append("invalid_request")
    if op.body is not None:
        codes += ["invalid_request", "payload_too_large", "unsupported_media_type"]
        if any(prop.get("format") == "email" for prop in op.body["properties"].values()):
            codes.append("invalid_email")
    if op.authenticated:
        codes += ["unauthorized", "csrf_failed"]
    if op.role is not None:
        codes.append("forbidden")
    calls_service = (op.body is not None or op.authenticated or op.errors
                     or op.query is not None or op.path_parameters)
    if calls_service:
        codes.append("service_unavailable")
    codes.append("internal_error")
    return list(dict.fromkeys(codes))


def error_responses(op: Operation) -> dict:
    by_status: dict[int, list[str]] = {}
    for code in error_codes(op):
        by_status.setdefault(ERRORS[code].status, []).append(code)
    responses = {}
    for status, codes in sorted(by_status.items()):
        response = {"description": "Error codes: " + ", ".join(f"`{c}`" for c in codes) + ".",
                    "content": {"application/json": {"schema": ERROR_REF}}}
        if status in (429, 503):
            response["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
        responses[str(status)] = response
    return responses


def success_response(op: Operation) -> dict:
    response: dict = {"description": op.summary}
    if op.response is not None:
        response["content"] = {"application/json": {"schema": copy.deepcopy(op.response)}}
    if op.sets_session_cookie:
        response["headers"] = {"Set-Cookie": SET_COOKIE_HEADER}
    if op.response_headers:
        response["headers"] = copy.deepcopy(op.response_headers)
    return response


def other_responses(op: Operation) -> dict:
    responses = {}
    for status, (summary, schema) in sorted(op.other_responses.items()):
        responses[str(status)] = {"description": summary}
        if schema is not None:
            responses[str(status)]["content"] = {
                "application/json": {"schema": copy.deepcopy(schema)}}
    return responses


def parameters(op: Operation) -> list[dict]:
    """`lang`, then the path parameters, then the query parameters: the schemas they are
    checked against."""
    found = [LANG_PARAMETER]
    for name, schema in op.path_parameters.items():
        found.append({"name": name, "in": "path", "required": True,
                      "description": schema.get("description", ""),
                      "schema": copy.deepcopy(schema)})
    for name, header in op.headers.items():
        found.append({"name": name, "in": "header", "required": header.get("required", False),
                      "description": header.get("description", ""),
                      "schema": copy.deepcopy(header["schema"])})
    if op.query is not None:
        required = set(op.query.get("required", []))
        for name, schema in op.query["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in required,
                         "schema": copy.deepcopy(schema)}
            if schema.get("description"):
                parameter["description"] = schema["description"]
            found.append(parameter)
    return found


def description(op: Operation) -> str:
    parts = [op.description] if op.description else []
    if op.query is not None:
        parts.append("Any query parameter not listed here (besides `lang`) is refused with "
                     "400 `invalid_request`.")
    if op.role is not None:
        parts.append(f"Only for accounts with the `{op.role}` role (403 `forbidden` for "
                     "the others).")
    return "\n\n".join(parts)


def operation_object(op: Operation) -> dict:
    document = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters(op),
        "responses": {str(op.status): success_response(op), **other_responses(op),
                      **error_responses(op)},
    }
    text = description(op)
    if text:
        document["description"] = text
    if op.body is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": copy.deepcopy(op.body)}}}
        if op.max_body_bytes is not None:
            document["requestBody"]["description"] = (
                f"At most {op.max_body_bytes // 1024} KiB.")
    if op.raw_body is not None:
        document["requestBody"] = {
            "required": True, "description": op.raw_body["description"],
            "content": {op.raw_body["media_type"]: {
                "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}
    if op.authenticated:
        document["security"] = [{"bearer": []}, {"sessionCookie": []}]
    if op.role is not None:
        document["x-required-role"] = op.role
    return document


def error_table_description() -> str:
    rows = [f"| `{code}` | {kind.status} |" for code, kind in ERRORS.items()]
    return ("Errors are JSON `{\"error\": {\"code\", \"message\", …details}}`; `message` is in "
            "the request's language (`?lang=`, else `Accept-Language`, else French).\n\n"
            "| code | status |\n|---|---|\n" + "\n".join(rows))


def build_document() -> dict:
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.openapi_path, {})[op.method.lower()] = operation_object(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Newsreel API", "version": "1.0.0",
                 "description": error_table_description()},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {"schemas": {"Error": schemas.ERROR},
                       "securitySchemes": SECURITY_SCHEMES},
        "tags": [{"name": "accounts", "description": "Accounts and sessions (auth service)."},
                 {"name": "news", "description": "News items and their videos (catalog "
                                                 "service). Their preview files (poster, "
                                                 "player) are served under /media/."},
                 {"name": "uploads", "description": "Resumable uploads of masters for "
                                                    "editors, in the tus 1.0 protocol "
                                                    "(https://tus.io): any tus client works."},
                 {"name": "downloads", "description": "Broadcast renditions, cuts and masters "
                                                      "for verified accounts (transcoder "
                                                      "service), through signed links "
                                                      "under /files/."},
                 {"name": "meta", "description": "This description."}],
    }


@operation(meta, "GET", "/v1/openapi.json", tag="meta", summary="This OpenAPI document",
           response=schemas.ANY_OBJECT)
def openapi_document():
    document = current_app.extensions.get("openapi_document")
    if document is None:
        document = current_app.extensions["openapi_document"] = build_document()
    return jsonify(document)


@meta.get("/docs")
def docs_page():
    nonce = secrets.token_urlsafe(16)
    response = Response(render_template("api_docs.html", nonce=nonce))
    response.headers["Content-Security-Policy"] = docs_page_csp(nonce)
    return response
