"""Per-request state that lets ``get_session()`` work without a request argument.

The middleware puts a :class:`RequestState` in a context variable for the duration of each
request it passes to the app. The session is decoded at most once per request, and writes
made while the app runs (``update_session``, refreshed tokens) are recorded here and turned
into ``Set-Cookie`` headers when the response starts.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from ._http import Request, parse_cookie_header
from .session._model import SessionData

__all__ = ["RequestState", "current_state", "request_from_scope"]

_UNSET: Any = object()

#: The request being served: its state, or for an anonymous request just its scope.
_current: ContextVar[Any] = ContextVar("auth0_web_request", default=None)


def current_state() -> RequestState | None:
    value = _current.get()
    if value is None or type(value) is RequestState:
        return value
    # An anonymous request (see enter_anonymous): its state is made on first use, already
    # known to hold no session (the adapter saw no session cookie).
    state = RequestState(value)
    state.set_session(None)
    _current.set(state)
    return state


def anonymous_scope() -> dict[str, Any] | None:
    """The scope of the request being served when it is known to carry no session cookie
    and nothing has asked for its state yet (the cheapest answer to "no session")."""
    value = _current.get()
    return value if type(value) is dict else None


def enter_anonymous(scope: dict[str, Any]) -> Token[Any]:
    """Enter the context of a request that carries no session cookie, cheaply: only the
    scope is recorded, and :func:`current_state` builds the state if the app asks."""
    return _current.set(scope)


def exit_state(token: Token[Any]) -> None:
    _current.reset(token)


def request_from_scope(scope: dict[str, Any], body: bytes = b"") -> Request:
    """Build the core request from an ASGI HTTP scope."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            headers[name] += ("; " if name == "cookie" else ", ") + value
        else:
            headers[name] = value
    host = headers.get("host")
    if host is None:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else ""
    path = scope.get("path", "/")
    root_path = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    return Request(
        method=scope.get("method", "GET"),
        scheme=scope.get("scheme", "http"),
        host=host,
        path=path,
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        cookies=parse_cookie_header(headers.get("cookie", "")),
        body=body,
    )


class RequestState:
    """What the SDK knows about the request being served."""

    __slots__ = (
        "_factory",
        "_request",
        "_session",
        "cookie_expires_at",
        "pending",
        "plaintext",
        "raw_cookie_bytes",
        "response_started",
        "scope",
    )

    def __init__(
        self, scope: dict[str, Any], request_factory: Callable[[], Request] | None = None
    ) -> None:
        #: The ASGI scope, or for WSGI a stand-in holding ``type`` and the raw headers.
        self.scope = scope
        self._factory = request_factory
        self._request: Request | None = None
        self._session: SessionData | None = _UNSET
        #: The decrypted cookie the session came from: the source of untouched copies.
        self.plaintext: bytes | None = None
        #: When the request's session cookie expires (its JWE ``exp``), once it is read.
        self.cookie_expires_at: float | None = None
        #: The Cookie header(s) joined, when the adapter already found them.
        self.raw_cookie_bytes: bytes | None = None
        #: A session to write on the way out (``update_session``, a refresh).
        self.pending: SessionData | None = None
        self.response_started = False

    @property
    def request(self) -> Request:
        if self._request is None:
            factory = self._factory
            self._request = factory() if factory is not None else request_from_scope(self.scope)
        return self._request

    @property
    def raw_cookie(self) -> str:
        """The request's Cookie header(s), as received (no other header is decoded)."""
        if self.raw_cookie_bytes is not None:
            return self.raw_cookie_bytes.decode("latin-1")
        values = [v for k, v in self.scope.get("headers", ()) if k == b"cookie"]
        if not values:
            return ""
        return (
            values[0].decode("latin-1")
            if len(values) == 1
            else "; ".join(v.decode("latin-1") for v in values)
        )

    @property
    def loaded(self) -> bool:
        return self._session is not _UNSET

    def cached_session(self) -> SessionData | None:
        return None if self._session is _UNSET else self._session

    def set_session(self, session: SessionData | None) -> None:
        self._session = session

    def enter(self) -> object:
        return _current.set(self)

    @staticmethod
    def exit(token: object) -> None:
        _current.reset(token)  # type: ignore[arg-type]
