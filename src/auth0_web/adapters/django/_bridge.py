"""Translation between Django and the core: requests, responses, cookies, the request binding.

Nothing here knows a protocol step; it only moves values between Django's objects and the
core's :class:`~auth0_web.Request`, :class:`~auth0_web.Response` and
:class:`~auth0_web._context.RequestState`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Container, Iterable
from http.cookies import Morsel
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from ..._context import RequestState, current_state, request_from_scope
from ..._http import Request, Response
from ...session._model import SessionData
from .._sync import SyncAuth0
from ..wsgi import MAX_BODY_BYTES, request_from_environ, wsgi_state
from ._conf import Integration

__all__ = [
    "MAX_BODY_BYTES",
    "Binding",
    "add_session_headers",
    "asgi_scope",
    "bind",
    "binding_of",
    "core_request",
    "on_server_loop",
    "read_body",
    "to_django_response",
]

_T = TypeVar("_T")

#: Where the middleware leaves its per-request binding on the Django request.
_ATTRIBUTE = "_auth0_web_binding"


def asgi_scope(request: HttpRequest) -> dict[str, Any] | None:
    """The ASGI scope of a request served by an ASGI server (Django's ``ASGIRequest``)."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("type") == "http":
        return scope
    return None


def core_request(request: HttpRequest, body: bytes = b"") -> Request:
    """The core's view of a Django request (path relative to the script prefix)."""
    scope = asgi_scope(request)
    if scope is not None:
        query = scope.get("query_string")
        if isinstance(query, str):  # Django's AsyncClient passes text where servers send bytes
            scope = {**scope, "query_string": query.encode("utf-8")}
        return request_from_scope(scope, body)
    return request_from_environ(request.META, body)


def read_body(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The request body, or ``None`` when it is larger than ``limit`` bytes.

    Read from the stream with a bound, so an oversized body is never held in memory
    (Django's own ``request.body`` would read up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``).
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > limit:
        return None
    data = request.read(limit + 1)
    if len(data) > limit:
        return None
    return data


# -- responses -----------------------------------------------------------------------------


class RawSetCookie(Morsel[str]):
    """A ``Set-Cookie`` header that Django sends exactly as the SDK wrote it.

    Django sends one header per entry of ``response.cookies`` (a ``SimpleCookie``), each
    re-serialized from a ``Morsel``; that would change the SDK's attributes and cannot hold
    two headers for one name. This morsel carries the SDK's header verbatim; its attributes
    are filled in too, so code that inspects ``response.cookies`` (the test client) sees the
    real values. If the application later re-sets the cookie, Django's own serialization
    takes over again.
    """

    _raw: str | None

    def __init__(self, header: str) -> None:
        super().__init__()
        first, *attributes = header.split(";")
        name, _, value = first.partition("=")
        self.set(name.strip(), value.strip(), value.strip())
        for attribute in attributes:
            key, _, attr_value = attribute.strip().partition("=")
            lowered = key.lower()
            if lowered in ("httponly", "secure"):
                self[lowered] = True
            elif lowered in self._reserved:  # type: ignore[attr-defined]
                self[lowered] = attr_value
        self._raw = header

    def set(self, key: str, val: str, coded_val: str) -> None:
        super().set(key, val, coded_val)
        self._raw = None  # re-set by the application: Django serializes it again

    def output(self, attrs: Container[str] | None = None, header: str = "Set-Cookie:") -> str:
        if self._raw is None:
            return super().output(attrs, header)
        return f"{header} {self._raw}" if header else self._raw

    def OutputString(self, attrs: Container[str] | None = None) -> str:
        return self._raw if self._raw is not None else super().OutputString(attrs)

    def __getstate__(self) -> dict[str, Any]:  # the cache framework pickles responses
        return {
            "key": self.key,
            "value": self.value,
            "coded_value": self.coded_value,
            "raw": self._raw,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        self._raw = state.get("raw")


def add_set_cookies(response: HttpResponseBase, headers: Iterable[str]) -> None:
    """Append Set-Cookie headers to ``response`` verbatim and in order.

    An application cookie of the same name is replaced (the SDK owns its cookie names).
    Two headers for one name in one list (never written by the session store, but legal)
    are both sent: the second gets a dictionary key no cookie name can have.
    """
    cookies = response.cookies
    seen: set[str] = set()
    for index, header in enumerate(headers):
        morsel = RawSetCookie(header)
        key = morsel.key
        if key in seen:
            key = f"{key} #{index}"  # a space cannot occur in a cookie name
        seen.add(morsel.key)
        dict.pop(cookies, key, None)  # re-inserted last: the order is the SDK's
        cookies[key] = morsel


def add_session_headers(response: HttpResponseBase, headers: list[tuple[str, str]]) -> None:
    """Add the session's outgoing headers (cookies, and no-store replacing any caching)."""
    if not headers:
        return
    add_set_cookies(response, [value for name, value in headers if name == "set-cookie"])
    for name, value in headers:
        if name != "set-cookie":
            response.headers[name] = value


def to_django_response(response: Response) -> HttpResponse:
    """Convert a core response (an SDK route's, or ``start_interactive_login``'s)."""
    converted = HttpResponse(content=response.body, status=response.status)
    if not any(name == "content-type" for name, _ in response.headers):
        del converted.headers["Content-Type"]  # Django's default would claim an HTML body
    for name, value in response.headers:
        existing = converted.headers.get(name) if name != "content-type" else None
        converted.headers[name] = f"{existing}, {value}" if existing else value
    add_set_cookies(converted, [value for _, value in response.cookies])
    return converted


# -- the per-request binding ---------------------------------------------------------------


class Binding:
    """What the middleware knows about one request: its state and how to reach the core.

    ``asgi`` requests came from an ASGI server: coroutines run on that server's event loop
    (awaited directly in async code; from a sync view's worker thread through asgiref's
    ``async_to_sync``, which hands them back to that loop). Other requests came from a
    WSGI server: the process-wide portal loop serves them, never a per-request loop.
    """

    __slots__ = ("_sync", "asgi", "integration", "loop", "state")

    def __init__(
        self,
        integration: Integration,
        state: RequestState,
        *,
        asgi: bool,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.integration = integration
        self.state = state
        self.asgi = asgi
        #: The server's loop when the middleware ran on it (async mode).
        self.loop = loop
        self._sync: SyncAuth0 | None = None if asgi else integration.sync

    @property
    def sync(self) -> SyncAuth0:
        """The synchronous face of the client for this request."""
        sync = self._sync
        if sync is None:
            sync = SyncAuth0(
                self.integration.client, runner=functools.partial(_on_server_loop, self.loop)
            )
            self._sync = sync
        return sync

    def call(self, func: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """``func(...)`` with this request's state as the current request context."""
        state = self.state
        if current_state() is state:
            return func(*args, **kwargs)
        token = state.enter()
        try:
            return func(*args, **kwargs)
        finally:
            state.exit(token)

    async def acall(self, func: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any) -> _T:
        """Await ``func(...)`` on the server's loop with this request's state current."""
        if self.loop is not None and asyncio.get_running_loop() is not self.loop:
            raise RuntimeError(_WRONG_LOOP)
        state = self.state
        if current_state() is state:
            return await func(*args, **kwargs)
        token = state.enter()
        try:
            return await func(*args, **kwargs)
        finally:
            state.exit(token)

    def session(self) -> SessionData | None:
        """The session (decoded on first use, then the request context's copy)."""
        return self.call(self.sync.get_session)


_WRONG_LOOP = (
    "auth0-web was called on an event loop other than the one serving the request; call it "
    "from the view itself (the client's connections belong to the server's loop)"
)


def _on_server_loop(
    loop: asyncio.AbstractEventLoop | None,
    func: Callable[..., Awaitable[_T]],
    /,
    *args: Any,
    **kwargs: Any,
) -> _T:
    """Run a coroutine function from a sync view's thread on the ASGI server's loop."""
    if loop is None:
        return async_to_sync(func)(*args, **kwargs)

    async def guarded() -> _T:
        # async_to_sync falls back to a fresh loop in a thread it did not start itself;
        # the client's pooled connections must never be used from such a loop.
        if asyncio.get_running_loop() is not loop:
            raise RuntimeError(_WRONG_LOOP)
        return await func(*args, **kwargs)

    return async_to_sync(guarded)()


#: The runner for sync code under ASGI whose loop the middleware did not see.
on_server_loop = functools.partial(_on_server_loop, None)


def bind(
    request: HttpRequest, integration: Integration, loop: asyncio.AbstractEventLoop | None
) -> Binding:
    """Attach a binding to ``request`` and give it the ``auth0_session`` attribute."""
    scope = asgi_scope(request)
    if scope is not None:
        state = RequestState(scope, functools.partial(core_request, request))
    else:
        state = wsgi_state(request.META)
    asgi = scope is not None
    binding = Binding(integration, state, asgi=asgi, loop=loop if asgi else None)
    setattr(request, _ATTRIBUTE, binding)
    request.__class__ = _with_session_attribute(type(request))
    return binding


def binding_of(request: HttpRequest) -> Binding:
    """The binding the middleware attached, or a clear error when it did not run."""
    binding = getattr(request, _ATTRIBUTE, None)
    if not isinstance(binding, Binding):
        raise ImproperlyConfigured(
            "This request was not processed by auth0_web.adapters.django.Auth0Middleware: "
            "add it to settings.MIDDLEWARE (SDK routes such as /auth/login are not bound)."
        )
    return binding


def _auth0_session(request: HttpRequest) -> SessionData | None:
    binding: Binding = getattr(request, _ATTRIBUTE)
    return binding.session()


_session_classes: dict[type[HttpRequest], type[HttpRequest]] = {}


def _with_session_attribute(cls: type[HttpRequest]) -> type[HttpRequest]:
    """``cls`` with an ``auth0_session`` property.

    A property rather than a lazy proxy object (Django's ``request.user`` style): the
    session may be ``None``, and ``request.auth0_session is None`` must stay a reliable
    test, which a proxy wrapping ``None`` would fail. Reading it is cheap after the first
    time: the request context decodes the cookie at most once.
    """
    if "auth0_session" in cls.__dict__:
        return cls
    made = _session_classes.get(cls)
    if made is None:
        made = type(
            cls.__name__,
            (cls,),
            {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__slots__": (),
                "auth0_session": property(_auth0_session, doc="The user's session or None."),
            },
        )
        _session_classes[cls] = made
    return made
