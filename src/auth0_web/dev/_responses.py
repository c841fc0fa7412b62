"""Response shapes shared by the endpoints, with the headers each kind needs.

Anything carrying a token, a code or a login interaction is ``Cache-Control: no-store``
(RFC 6749 section 5.1); HTML also gets the strict CSP and anti-framing headers; redirects
are 302, the status RFC 6749 uses, so that a redirect after a form POST becomes a GET.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse, RedirectResponse, Response

from ._errors import OAuthError
from ._pages import CONTENT_SECURITY_POLICY, error_page

__all__ = [
    "NO_STORE",
    "html",
    "html_error",
    "json_response",
    "oauth_error_response",
    "redirect",
]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_HTML_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def json_response(
    body: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    cache_seconds: int = 0,
) -> Response:
    """JSON, ``no-store`` unless ``cache_seconds`` says it is public (metadata, keys)."""
    content = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
    caching = {"Cache-Control": f"public, max-age={cache_seconds}"} if cache_seconds else NO_STORE
    return Response(
        content,
        status_code=status,
        media_type="application/json",
        headers={**caching, **(headers or {})},
    )


def oauth_error_response(error: OAuthError) -> Response:
    """RFC 6749 section 5.2: a JSON object with ``error`` and ``error_description``."""
    return json_response(
        {"error": error.error, "error_description": error.description},
        status=error.status,
        headers=error.headers,
    )


def html(document: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(document, status_code=status, headers=_HTML_HEADERS)


def html_error(title: str, message: str, detail: str | None = None) -> HTMLResponse:
    return html(error_page(title, message, detail), status=400)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=302, headers=NO_STORE)
