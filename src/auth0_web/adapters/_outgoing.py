"""What every adapter adds to the app's response: the session cookie, written or rolled.

One implementation for ASGI, WSGI, Flask and Django. With the cookie-only session store the
coroutine never waits on I/O, so synchronous adapters run it inline (see
:func:`auth0_web.adapters._portal.run_inline`) instead of handing it to an event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._context import RequestState
from .._errors import SessionStoreUnavailableError
from .._http import NO_STORE_HEADERS, Response

if TYPE_CHECKING:
    from .._client import Auth0Client

__all__ = ["NO_STORE_ONLY", "may_carry_cookie", "session_headers"]

#: The answer for a logged-in request whose cookie needs no re-issue (compare by identity).
NO_STORE_ONLY: list[tuple[str, str]] = list(NO_STORE_HEADERS)


def may_carry_cookie(scope: dict[str, Any], name: bytes) -> bool:
    """A cheap pre-check on the raw headers: could a Cookie header hold ``name``?"""
    return any(key == b"cookie" and name in value for key, value in scope.get("headers", ()))


async def session_headers(client: Auth0Client, state: RequestState) -> list[tuple[str, str]]:
    """Set-Cookie (and no-store) headers for a written, deleted or rolled session.

    When the session store is down nothing is written and the cookie is left as it is; the
    response is only kept out of shared caches (the failure is logged where it happened).
    """
    try:
        return await _session_headers(client, state)
    except SessionStoreUnavailableError:
        return list(NO_STORE_HEADERS)


async def _session_headers(client: Auth0Client, state: RequestState) -> list[tuple[str, str]]:
    rt = client._rt
    session = await client._stored_session(state) if state.pending is not None else None
    rolling = session is None
    if session is None:
        if not rt.config.session.rolling:
            return []
        if not may_carry_cookie(state.scope, rt.sessions.name.encode("latin-1")):
            return []  # anonymous request: no need to build the request at all
        current = await client._session_for_state(state)
        if current is None:
            return []
        if not _worth_rolling(client, state, current.internal.created_at):
            # The cookie stays as it is, but the response was made for a logged-in user:
            # keep it out of shared caches, as when the cookie is re-issued.
            return NO_STORE_ONLY
        # Roll what the cookie holds, not the object the app may have mutated without
        # calling update_session().
        session = await client._stored_session(state)
        if session is None:
            return []
    try:
        base = rt.base_url(state.request)
    except Exception:  # an origin outside the allow-list: leave cookies alone
        return []
    response = Response()
    options = rt.session_cookie_options(base)
    if not await rt.sessions.save(
        response, session, state.request.cookies, rt.now(), options, roll=rolling
    ):
        # A stateful session deleted meanwhile (a logout): no cookie, so a slow request
        # cannot bring the session back.
        return []
    return [("set-cookie", v) for _, v in response.cookies] + list(NO_STORE_HEADERS)


def _worth_rolling(client: Auth0Client, state: RequestState, created_at: int) -> bool:
    """Whether re-issuing the cookie now moves its expiry by at least the rolling write
    interval (a tenth of the inactivity duration at most). Skipping the other writes saves
    an encryption and a few KB of Set-Cookie on almost every request, and shortens the
    inactivity window by less than that interval."""
    config = client._rt.config.session
    interval = min(config.rolling_write_interval, config.inactivity_duration // 10)
    expires_at = state.cookie_expires_at
    if interval <= 0 or expires_at is None:
        return True
    now = client._rt.now()
    new_end = min(now + config.inactivity_duration, created_at + config.absolute_duration)
    return new_end - expires_at >= interval
