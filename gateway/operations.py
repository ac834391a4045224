"""The route table: every public API operation, declared once with its request schema, its
answer and the errors it can give. The same declaration registers the Flask route, runs the
checks every operation shares, and feeds the OpenAPI document (openapi.py), so a route cannot
exist undocumented.

What an operation gets done for it, in this order (nothing reaches a service before the
request is known to be well-formed):
  1. authenticated operations: the token (401 without one) and, for a cookie, the origin (403);
  2. operations with a body: JSON, size, schema (415, 413, 400);
  3. authenticated operations: `auth.authenticate(token)` (401 when the session is dead).
The view receives `body` and/or `session` as keyword arguments."""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint

from .rpc import current_rpc
from .sessions import request_credentials
from .validation import validated_body


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

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", self.path)


OPERATIONS: list[Operation] = []


def operation(blueprint: Blueprint, method: str, rule: str, *, summary: str, tag: str,
              status: int = 200, response: dict | None = None, body: dict | None = None,
              errors: tuple[str, ...] = (), authenticated: bool = False,
              sets_session_cookie: bool = False, description: str = "") -> Callable:
    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def endpoint(**view_args: Any) -> Any:
            credentials = request_credentials() if authenticated else None
            if body is not None:
                view_args["body"] = validated_body(body)
            if credentials is not None:
                account = current_rpc().call("auth", "authenticate", token=credentials.token)
                view_args["session"] = Session(credentials.token, account)
            return view(**view_args)

        blueprint.add_url_rule(rule, view.__name__, endpoint, methods=[method])
        OPERATIONS.append(Operation(
            method=method, path=(blueprint.url_prefix or "") + rule,
            operation_id=view.__name__, summary=summary,
            description=description or (view.__doc__ or "").strip(), tag=tag, status=status,
            response=response, body=body, errors=errors, authenticated=authenticated,
            sets_session_cookie=sets_session_cookie))
        return endpoint

    return register
