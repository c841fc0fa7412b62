"""Session and token helpers for Django views: sync ones and ``a``-prefixed async ones.

Each takes the Django request the middleware processed. They run the very coroutines of
:class:`~auth0_web.Auth0Client`, on the right event loop for the deployment:

* under WSGI, the process's portal loop (an async view, which Django runs on a throwaway
  loop, hands the call to a worker thread that waits on the portal);
* under ASGI, the server's own loop: awaited directly from async views, and reached from
  sync views (which Django runs in a worker thread) through asgiref's ``async_to_sync``.

Session reads and writes of the cookie-only store never wait on I/O and run in place.
Writes (``update_session``, a refreshed token) are sent as cookies on the way out.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.http import HttpRequest

from ..._access_tokens import AccessToken
from ...session._model import SessionData
from ._bridge import Binding, binding_of

__all__ = [
    "aget_access_token",
    "aget_session",
    "aupdate_session",
    "get_access_token",
    "get_session",
    "update_session",
]


def get_session(request: HttpRequest) -> SessionData | None:
    """The user's session, or ``None`` (the cookie is decoded once per request)."""
    return binding_of(request).session()


def update_session(request: HttpRequest, session: SessionData) -> None:
    """Persist changes to ``session``; the new cookie is written on the way out.

    ``session.internal`` cannot be changed. Raises ``MissingSessionError`` without a session.
    """
    binding = binding_of(request)
    binding.call(binding.sync.update_session, session)


def get_access_token(
    request: HttpRequest,
    *,
    audience: str | None = None,
    scope: str | None = None,
    refresh: bool = False,
    merge_scopes: bool = True,
) -> AccessToken:
    """The user's access token for ``audience``/``scope``, refreshed when needed.

    As :meth:`Auth0Client.get_access_token`: a refresh is saved in the session cookie on
    the way out. Raises ``AccessTokenError`` or ``MfaRequiredError``.
    """
    binding = binding_of(request)
    return binding.call(
        binding.sync.get_access_token,
        refresh=refresh,
        scope=scope,
        audience=audience,
        merge_scopes=merge_scopes,
    )


async def aget_session(request: HttpRequest) -> SessionData | None:
    """:func:`get_session` for async views."""
    binding = binding_of(request)
    if binding.asgi:
        return await binding.acall(binding.integration.client.get_session)
    session: SessionData | None = await _off_loop(
        binding, binding.sync.get_session, session_io=True
    )
    return session


async def aupdate_session(request: HttpRequest, session: SessionData) -> None:
    """:func:`update_session` for async views."""
    binding = binding_of(request)
    if binding.asgi:
        await binding.acall(binding.integration.client.update_session, session)
        return
    await _off_loop(binding, binding.sync.update_session, session, session_io=True)


async def aget_access_token(
    request: HttpRequest,
    *,
    audience: str | None = None,
    scope: str | None = None,
    refresh: bool = False,
    merge_scopes: bool = True,
) -> AccessToken:
    """:func:`get_access_token` for async views."""
    binding = binding_of(request)
    options: dict[str, Any] = {
        "refresh": refresh,
        "scope": scope,
        "audience": audience,
        "merge_scopes": merge_scopes,
    }
    if binding.asgi:
        return await binding.acall(binding.integration.client.get_access_token, **options)
    result: AccessToken = await _off_loop(
        binding, binding.sync.get_access_token, session_io=False, **options
    )
    return result


async def _off_loop(
    binding: Binding, func: Any, *args: Any, session_io: bool, **kwargs: Any
) -> Any:
    """An async view under WSGI: Django runs it on a loop made for this request alone, so
    nothing loop-bound may be used here. Cookie-store session work runs in place (it never
    waits); anything else goes to the portal from a worker thread."""
    if session_io and binding.sync.inline_sessions:
        return binding.call(func, *args, **kwargs)
    return await asyncio.to_thread(binding.call, func, *args, **kwargs)
