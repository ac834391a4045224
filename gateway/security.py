"""Headers every response carries.

API answers are personal (a session, an account) and never meant to be cached or rendered as
a page; the docs page is the only HTML, and its script and style run only with the nonce of
the response that served them. The one exception to `no-store` is a view that calls
`allow_caching` (the public preview media): its successful answer keeps its own
Cache-Control."""

from flask import Flask, Response, g

# For JSON and everything else that is not a page: nothing may load, nothing may frame it.
NOT_A_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def docs_page_csp(nonce: str) -> str:
    return "; ".join([
        "default-src 'none'",
        f"script-src 'nonce-{nonce}'",
        f"style-src 'nonce-{nonce}'",
        "connect-src 'self'",  # the page fetches /api/v1/openapi.json
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


def allow_caching(cache_control: str) -> None:
    """Lets this request's successful answer be cached as `cache_control` says (public files
    that never change); an error answer stays `no-store`."""
    g.cache_control = cache_control


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Content-Security-Policy", NOT_A_PAGE_CSP)
    cacheable = g.get("cache_control") if response.status_code < 400 else None
    headers["Cache-Control"] = cacheable or "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
