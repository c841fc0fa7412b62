"""``auth0_web.adapters.django.Auth0Middleware``: the session for every Django request.

Add it to ``MIDDLEWARE`` (near the top, after ``SecurityMiddleware``). For each request that
is not for an SDK route it

* puts a request context in place, so the helpers (``get_session(request)``, ...) and the
  core's argument-less calls see this request, and gives the request an ``auth0_session``
  attribute, decoded on first read and at most once;
* on the way out adds the session's ``Set-Cookie`` headers (a rolled cookie, or the one
  ``update_session``/a token refresh wrote) and ``Cache-Control: no-store`` to the response,
  each header exactly as the core wrote it.

It is sync- and async-capable, so Django runs it without a thread hop in both WSGI and ASGI
deployments. SDK routes are left alone: their view writes its own cookies, and rolling the
old session on top of a login or logout would undo it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from .._outgoing import session_headers
from ._bridge import Binding, add_session_headers, bind
from ._conf import integration

__all__ = ["Auth0Middleware"]

GetResponse = Callable[[HttpRequest], Any]


class Auth0Middleware:
    """Carries the auth0-web session through Django's request/response cycle."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        current = integration()
        if current.router.match(request.method or "GET", request.path_info) is not None:
            return self.get_response(request)
        binding = bind(request, current, None)
        state = binding.state
        token = state.enter()
        try:
            response: HttpResponseBase = self.get_response(request)
            state.response_started = True
            extra = binding.sync.outgoing_headers(state)
        finally:
            state.exit(token)
        add_session_headers(response, extra)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        current = integration()
        if current.router.match(request.method or "GET", request.path_info) is not None:
            return await get_response(request)
        binding = bind(request, current, asyncio.get_running_loop())
        state = binding.state
        token = state.enter()
        try:
            response = await get_response(request)
            state.response_started = True
            extra = await _outgoing(binding)
        finally:
            state.exit(token)
        add_session_headers(response, extra)
        return response


async def _outgoing(binding: Binding) -> list[tuple[str, str]]:
    if binding.asgi:
        return await session_headers(binding.integration.client, binding.state)
    # Async mode without an ASGI server (a hand-built handler chain): keep loop-bound
    # resources on the portal's loop.
    sync = binding.sync
    if sync.inline_sessions:
        return sync.outgoing_headers(binding.state)
    return await asyncio.to_thread(sync.outgoing_headers, binding.state)
