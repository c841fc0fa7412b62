"""The views behind the SDK routes (``/auth/login``, ``/auth/callback``, ...).

Each converts the Django request to the core's, lets the core's router answer it, and
converts the answer back, every ``Set-Cookie`` exactly as written. Two flavours with the
same behaviour:

* :func:`auth0_view` (sync; ``auth0_web.adapters.django.urls``): the right choice under
  WSGI, and correct under ASGI too (Django runs it in a worker thread, and the core's
  coroutine goes back to the server's loop).
* :func:`async_auth0_view` (``auth0_web.adapters.django.async_urls``): for ASGI
  deployments, answered on the server's loop with no thread hop.

The views are CSRF-exempt: the only POST route, back-channel logout, is called by Auth0's
servers and authenticates with a signed logout token instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from typing import Any, overload

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path

from ..._http import Response
from .._sync import SyncAuth0
from ._bridge import asgi_scope, core_request, on_server_loop, read_body, to_django_response
from ._conf import Integration, get_client, integration

__all__ = ["RoutePatterns", "async_auth0_view", "auth0_view", "route_patterns"]

_TOO_LARGE = Response.text("Request body too large.", 413)


def _unmatched(current: Integration, request: HttpRequest) -> HttpResponse:
    """The router had no handler: the wrong method, or a URLconf that moved the routes."""
    router = current.router
    allowed = [m for m in ("GET", "POST") if router.match(m, request.path_info) is not None]
    if allowed:
        return HttpResponseNotAllowed(allowed)
    raise ImproperlyConfigured(
        f"{request.path_info!r} is not an auth0-web route: include "
        "auth0_web.adapters.django.urls at the root of the URLconf "
        "(path('', include(...))); set the paths with the client's routes option."
    )


def _body_or_none(request: HttpRequest) -> bytes | None:
    return read_body(request) if request.method == "POST" else b""


def auth0_view(request: HttpRequest) -> HttpResponse:
    """Serve an SDK route synchronously."""
    current = integration()
    body = _body_or_none(request)
    if body is None:
        return to_django_response(_TOO_LARGE)
    if asgi_scope(request) is None:
        sync = current.sync
    else:  # under ASGI, in the worker thread Django runs sync views in
        sync = SyncAuth0(current.client, runner=on_server_loop)
    response = sync.handle(core_request(request, body))
    if response is None:
        return _unmatched(current, request)
    return to_django_response(response)


async def async_auth0_view(request: HttpRequest) -> HttpResponse:
    """Serve an SDK route on the ASGI server's event loop."""
    if asgi_scope(request) is None:
        # Under WSGI Django runs this on a loop made for this one request; the core's
        # connections must not be bound to it, so the portal serves the route.
        return await asyncio.to_thread(auth0_view, request)
    current = integration()
    body = _body_or_none(request)
    if body is None:
        return to_django_response(_TOO_LARGE)
    response = await current.client.handle(core_request(request, body))
    if response is None:
        return _unmatched(current, request)
    return to_django_response(response)


# CSRF-exempt the way @csrf_exempt marks a view: the attribute is what CsrfViewMiddleware
# reads. (Before Django 5.0 the decorator turned an async view into a sync one.)
auth0_view.csrf_exempt = True  # type: ignore[attr-defined]
async_auth0_view.csrf_exempt = True  # type: ignore[attr-defined]


class RoutePatterns(Sequence[URLPattern]):
    """The URL patterns of the SDK routes, made on first use rather than at import.

    The paths come from the client, and building the client needs configured settings;
    ``include()`` imports a URLconf and only checks that its patterns are iterable, so
    deferring them lets a project (or a one-file app) include the routes before Django is
    set up. A misconfiguration still surfaces early: at ``manage.py check`` or the first
    request, as ``ImproperlyConfigured``.
    """

    def __init__(self, view: Callable[..., Any]) -> None:
        self._view = view
        self._patterns: list[URLPattern] | None = None

    def _made(self) -> list[URLPattern]:
        if self._patterns is None:
            self._patterns = route_patterns(self._view)
        return self._patterns

    @overload
    def __getitem__(self, index: int) -> URLPattern: ...
    @overload
    def __getitem__(self, index: slice) -> list[URLPattern]: ...
    def __getitem__(self, index: int | slice) -> URLPattern | list[URLPattern]:
        return self._made()[index]

    def __len__(self) -> int:
        return len(self._made())

    def __iter__(self) -> Iterator[URLPattern]:
        # A generator: ``iter(patterns)`` (include()'s check) builds nothing yet.
        yield from self._made()


def route_patterns(view: Callable[..., Any]) -> list[URLPattern]:
    """URL patterns for every enabled SDK route, named after the ``routes`` option's fields
    (``auth0:login``, ``auth0:access-token``, ...), with the client's configured paths."""
    client = get_client()
    routes = client.config.routes
    enabled = client._router.paths
    patterns: list[URLPattern] = []
    for field in fields(routes):
        route = getattr(routes, field.name)
        if route in enabled:
            patterns.append(path(route.lstrip("/"), view, name=field.name.replace("_", "-")))
    return patterns
