"""Pure ASGI middleware: serves the SDK routes and carries the session through the app.

No framework objects are created per request. A request for an SDK route is answered
here; any other request goes to the app with a request context (so ``get_session()``
works without arguments), and on the way out the session cookie is rolled or rewritten.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .._context import RequestState, enter_anonymous, exit_state, request_from_scope
from .._http import NO_STORE_HEADERS, Response
from ._outgoing import NO_STORE_ONLY, session_headers

if TYPE_CHECKING:
    from .._client import Auth0Client

__all__ = ["Auth0Middleware"]

logger = logging.getLogger("auth0_web")

Scope = dict[str, Any]
Message = dict[str, Any]

#: Request bodies the SDK reads itself (back-channel logout) are capped at this size.
MAX_BODY_BYTES = 64 * 1024
#: Seconds such a body may take to arrive: a trickled upload is cut off, not waited for.
BODY_READ_TIMEOUT = 10.0
_NO_STORE_NAMES = frozenset(name.encode() for name, _ in NO_STORE_HEADERS)
_NO_STORE_ENCODED = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE_HEADERS]


class Auth0Middleware:
    """``app = Auth0Middleware(app, client=auth0)`` or ``app.add_middleware(Auth0Middleware,
    client=auth0)``; :meth:`Auth0Client.middleware` is the short form."""

    def __init__(self, app: Any, client: Auth0Client) -> None:
        self.app = app
        self.client = client
        self.router = client._router
        self.rt = client._rt
        self._cookie_name = client._rt.sessions.name.encode("latin-1")
        #: The SDK's paths with and without a trailing slash: one set lookup for app requests.
        self._route_paths = self.router.paths | {p + "/" for p in self.router.paths}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        handler = self.router.match(scope["method"], path) if path in self._route_paths else None
        if handler is not None:
            body = b""
            if scope["method"] == "POST":
                try:
                    async with asyncio.timeout(BODY_READ_TIMEOUT):
                        body_or_none = await _read_body(receive, MAX_BODY_BYTES)
                except TimeoutError:
                    await _send(send, Response.text("Request body timed out.", 408))
                    return
                if body_or_none is None:
                    await _send(send, Response.text("Request body too large.", 413))
                    return
                body = body_or_none
            request = request_from_scope(scope, body)
            response = await self.router.dispatch(handler, request)
            await _send(send, response)
            return

        # The one pass over the headers the SDK makes for an app request: is there a
        # Cookie header that could hold the session cookie?
        cookie: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                cookie = value if cookie is None else cookie + b"; " + value
        if cookie is None or self._cookie_name not in cookie:
            # Anonymous: no session to read, and none the app could write (every write
            # needs an existing session). No response wrapper; the request context is
            # made only if the app asks for it.
            anonymous = enter_anonymous(scope)
            try:
                await self.app(scope, receive, send)
            finally:
                exit_state(anonymous)
            return

        state = RequestState(scope)
        state.raw_cookie_bytes = cookie
        token = state.enter()
        client = self.client
        rolling = self.rt.config.session.rolling

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.response_started = True
                # The common case, decided without a coroutine: nothing written, and no
                # rolling re-issue possible (rolling off, or no live session).
                if state.pending is None and (
                    not rolling or (state.loaded and state.cached_session() is None)
                ):
                    await send(message)
                    return
                headers = await session_headers(client, state)
                if headers is NO_STORE_ONLY:
                    extra = _NO_STORE_ENCODED
                else:
                    extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
                if extra:
                    message = dict(message)
                    message["headers"] = _merge_headers(message.get("headers", []), extra)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state.exit(token)


def _merge_headers(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    replaces_cache = any(k in _NO_STORE_NAMES for k, _ in extra)
    kept = [(k, v) for k, v in headers if not (replaces_cache and k.lower() in _NO_STORE_NAMES)]
    return kept + extra


async def _read_body(receive: Any, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Any, response: Response) -> None:
    await response({"type": "http"}, None, send)
