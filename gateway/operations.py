"""The route table: every public API operation, declared once with its request schema, its
answer and the errors it can give. The same declaration registers the Flask route, runs the
checks every operation shares, and feeds the OpenAPI document (openapi.py), so a route cannot
exist undocumented.

What an operation gets done for it, in this order (nothing reaches a service before the
request is known to be well-formed):
  1. authenticated operations: the token (401 without one) and, for a cookie, the origin (403);
  2. path parameters: their schema (404 when it refuses them: such a path names nothing);
  3. operations with a query schema: each parameter converted and checked, unknown ones
     refused, defaults filled in (400);
  4. operations with a body: JSON, size, schema (415, 413, 400);
  5. authenticated operations: `auth.authenticate(token)` (401 when the session is dead);
  6. operations with a role: the account has it (403 `forbidden`).
The view receives its path parameters, and `query`, `body` and/or `session`, as keyword
arguments."""

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, request

from .errors import ApiError
from .rpc import current_rpc
from .sessions import request_credentials
from .validation import validated_body, validated_path, validated_query

# the role of the organisation's editors (granted with `python -m services.auth.cli grant`)
EDITOR = "editor"
RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@dataclass(frozen=True)
class Session:
    """The caller, as the auth service knows it: the token it sent and its account."""

    token: str
    account: dict


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the Flask rule, prefix included
    operation_id: str
    summary: str
    description: str
    tag: str
    status: int  # on success
    response: dict | None  # the success body's schema; None: no body
    body: dict | None  # the request body's schema
    errors: tuple[str, ...]  # the codes this operation answers besides the common ones
    authenticated: bool
    sets_session_cookie: bool
    query: dict | None = None  # the query parameters, as one object schema
    path_parameters: dict[str, dict] = field(default_factory=dict)  # name -> schema
    role: str | None = None  # the role the account needs (implies authenticated)
    body_required: bool = True
    max_body_bytes: int | None = None  # None: the app's MAX_CONTENT_LENGTH
    # other success answers: status -> (summary, body schema)
    other_responses: dict[int, tuple[str, dict | None]] = field(default_factory=dict)
    # request headers the view reads itself: name -> {"schema", "required", "description"}
    headers: dict[str, dict] = field(default_factory=dict)
    # a body the view reads itself (not JSON): {"media_type", "description"}
    raw_body: dict | None = None
    # headers of the success answer: name -> {"schema", "description"}
    response_headers: dict[str, dict] = field(default_factory=dict)

    @property
    def openapi_path(self) -> str:
        return RULE_VARIABLE.sub(r"{\1}", self.path)


OPERATIONS: list[Operation] = []


def operation(blueprint: Blueprint, method: str, rule: str, *, summary: str, tag: str,
              status: int = 200, response: dict | None = None, body: dict | None = None,
              query: dict | None = None, path: dict[str, dict] | None = None,
              errors: tuple[str, ...] = (), authenticated: bool = False,
              role: str | None = None, body_required: bool = True,
              max_body_bytes: int | None = None, sets_session_cookie: bool = False,
              description: str = "",
              other_responses: dict[int, tuple[str, dict | None]] | None = None,
              headers: dict[str, dict] | None = None, raw_body: dict | None = None,
              response_headers: dict[str, dict] | None = None) -> Callable:
    """`query`: an object schema of the query parameters (`properties`, `required`,
    `default`s); `path`: a schema for each variable of `rule` (every one must have one);
    `role`: e.g. "editor", for operations only accounts with that role may call;
    `other_responses`: success answers besides `status`, `{202: ("summary", schema)}`;
    `headers`, `raw_body`, `response_headers`: what a protocol of its own (tus) reads and
    answers, documented here and checked by the view."""
    path = dict(path or {})
    variables = RULE_VARIABLE.findall(rule)
    if set(variables) != set(path):
        raise ValueError(f"{rule}: path parameters {variables} need a schema each, "
                         f"and only they ({sorted(path)})")
    authenticated = authenticated or role is not None

    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def endpoint(**view_args: Any) -> Any:
            credentials = request_credentials() if authenticated else None
            validated_path(path, view_args)
            if query is not None:
                view_args["query"] = validated_query(query)
            if body is not None:
                if max_body_bytes is not None:
                    request.max_content_length = max_body_bytes
                view_args["body"] = validated_body(body, required=body_required)
            if credentials is not None:
                account = current_rpc().call("auth", "authenticate", token=credentials.token)
                if role is not None and role not in (account.get("roles") or []):
                    raise ApiError("forbidden", role=role)
                view_args["session"] = Session(credentials.token, account)
            return view(**view_args)

        blueprint.add_url_rule(rule, view.__name__, endpoint, methods=[method])
        OPERATIONS.append(Operation(
            method=method, path=(blueprint.url_prefix or "") + rule,
            operation_id=view.__name__, summary=summary,
            description=description or inspect.cleandoc(view.__doc__ or ""), tag=tag,
            status=status, response=response, body=body, errors=errors,
            authenticated=authenticated,
            sets_session_cookie=sets_session_cookie, query=query, path_parameters=path,
            role=role, body_required=body_required, max_body_bytes=max_body_bytes,
            other_responses=dict(other_responses or {}), headers=dict(headers or {}),
            raw_body=raw_body, response_headers=dict(response_headers or {})))
        return endpoint

    return register
