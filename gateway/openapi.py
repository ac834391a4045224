"""The OpenAPI 3.1 document, built from the route table (operations.py), the body schemas
(schemas.py, the very dicts requests are validated against) and the error table (errors.py);
and /api/docs, a self-contained page that renders it (the machines have no internet: no CDN)."""

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
        "description": "Set by POST /api/v1/sessions. An unsafe request (POST, PUT, DELETE) "
                       "authenticated by the cookie must send an Origin (or Referer) of the "
                       "site itself, else 403 csrf_failed."},
}
LANG_PARAMETER = {
    "name": "lang", "in": "query", "required": False,
    "description": "The language of error messages: fr or en (any other value is ignored). "
                   "Without it, Accept-Language decides; French by default.",
    "schema": {"type": "string"},
}
RETRY_AFTER_HEADER = {"description": "Seconds to wait.", "schema": {"type": "integer"}}
SET_COOKIE_HEADER = {
    "description": "newsreel_session=<token>; HttpOnly; SameSite=Lax; Path=/; Max-Age=…",
    "schema": {"type": "string"}}


def error_codes(op: Operation) -> list[str]:
    """Every code the operation may answer with: its own, and those all operations of its
    kind share."""
    codes = list(op.errors)
    if op.body is not None:
        codes += ["invalid_request", "payload_too_large", "unsupported_media_type"]
        if any(prop.get("format") == "email" for prop in op.body["properties"].values()):
            codes.append("invalid_email")
    if op.authenticated:
        codes += ["unauthorized", "csrf_failed"]
    if op.body is not None or op.authenticated or op.errors:  # it calls a service
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
    return response


def operation_object(op: Operation) -> dict:
    document = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [LANG_PARAMETER],
        "responses": {str(op.status): success_response(op), **error_responses(op)},
    }
    if op.description:
        document["description"] = op.description
    if op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": copy.deepcopy(op.body)}}}
    if op.authenticated:
        document["security"] = [{"bearer": []}, {"sessionCookie": []}]
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
