"""WSGI middleware: the ASGI middleware's twin for synchronous servers (PEP 3333).

``app = Auth0WSGIMiddleware(app, client=auth0)`` serves the SDK routes and, for every other
request, puts a request context in place so :class:`~auth0_web.adapters._sync.SyncAuth0`
works without arguments, then adds the session cookie to the app's response. Flask and
Django have their own integrations built on the same pieces; this one serves any other WSGI
framework (Bottle, Pyramid, Falcon, plain WSGI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._context import RequestState
from .._http import Request, Response, parse_cookie_header
from ._sync import SyncAuth0

if TYPE_CHECKING:
    from .._client import Auth0Client

__all__ = [
    "Auth0WSGIMiddleware",
    "SyncAuth0",
    "read_wsgi_body",
    "request_from_environ",
    "wsgi_state",
]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

#: Request bodies the SDK reads itself (back-channel logout, JSON routes) are capped.
MAX_BODY_BYTES = 64 * 1024
_STATUS_TEXT = {
    200: "OK",
    204: "No Content",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _wsgi_str(value: str) -> str:
    """PEP 3333 strings carry raw bytes as latin-1; the core wants the UTF-8 text."""
    return value.encode("latin-1").decode("utf-8", "replace")


def request_from_environ(environ: Environ, body: bytes = b"") -> Request:
    """Build the core request from a WSGI environ."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    host = headers.get("host")
    if not host:
        host = f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    return Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        scheme=environ.get("wsgi.url_scheme", "http"),
        host=host,
        path=_wsgi_str(environ.get("PATH_INFO", "")) or "/",
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        cookies=parse_cookie_header(headers.get("cookie", "")),
        body=body,
    )


def read_wsgi_body(environ: Environ, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or ``None`` when it is larger than ``limit`` bytes."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > limit:
        return None
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""
    data: bytes = stream.read(length)
    return data


def wsgi_state(environ: Environ) -> RequestState:
    """A request context for ``environ``; the core request is built only if needed."""
    cookie = environ.get("HTTP_COOKIE", "")
    stand_in = {"type": "http", "headers": [(b"cookie", cookie.encode("latin-1"))]}
    return RequestState(stand_in, lambda: request_from_environ(environ))


def status_line(status: int) -> str:
    return f"{status} {_STATUS_TEXT.get(status, 'Unknown')}"


def send_response(response: Response, start_response: StartResponse) -> list[bytes]:
    """Send a core response through WSGI."""
    start_response(status_line(response.status), response.header_items())
    return [response.body]


class Auth0WSGIMiddleware:
    """Serve the SDK routes and carry the session through any WSGI app."""

    def __init__(self, app: Callable[..., Iterable[bytes]], client: Auth0Client) -> None:
        self.app = app
        self.sync = SyncAuth0(client)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = _wsgi_str(environ.get("PATH_INFO", "")) or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if self.sync.client._router.match(method, path) is not None:
            body = b""
            if method == "POST":
                read = read_wsgi_body(environ)
                if read is None:
                    return send_response(
                        Response.text("Request body too large.", 413), start_response
                    )
                body = read
            response = self.sync.handle(request_from_environ(environ, body))
            assert response is not None
            return send_response(response, start_response)

        state = wsgi_state(environ)
        token = state.enter()
        try:

            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                state.response_started = True
                extra = self.sync.outgoing_headers(state)
                if extra:
                    names = {k for k, _ in extra if k != "set-cookie"}
                    headers = [(k, v) for k, v in headers if k.lower() not in names] + extra
                return start_response(status, headers, exc_info)

            return self.app(environ, start)
        finally:
            state.exit(token)
