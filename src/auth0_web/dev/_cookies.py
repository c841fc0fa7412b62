"""The provider's own cookies: its login session, and a browser id for login pages.

Both hold only a random value whose meaning is kept server-side. Both are ``HttpOnly`` and
``SameSite=Lax``: the session must survive the top-level redirect from the app to
``/authorize``, and the browser id must *not* be sent with a cross-site form POST, which is
what makes a login page answered from another site (login CSRF) fail.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from ._state import SESSION_TTL, ProviderSession, ProviderState, new_secret

__all__ = [
    "BROWSER_COOKIE",
    "SESSION_COOKIE",
    "browser_id",
    "clear_session",
    "current_session",
    "set_browser_id",
    "set_session_cookie",
    "start_session",
]

SESSION_COOKIE = "auth0_web_dev_session"
BROWSER_COOKIE = "auth0_web_dev_browser"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _cookie(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value is not None and _TOKEN.fullmatch(value) else None


def current_session(request: Request, state: ProviderState) -> ProviderSession | None:
    value = _cookie(request, SESSION_COOKIE)
    return state.sessions.get(value) if value is not None else None


def start_session(request: Request, state: ProviderState, sub: str) -> tuple[ProviderSession, str]:
    """A fresh session for ``sub`` and its cookie value; the browser's previous one ends."""
    previous = _cookie(request, SESSION_COOKIE)
    if previous is not None:
        state.sessions.pop(previous)
    session = ProviderSession(sid=new_secret(), sub=sub, auth_time=state.now())
    value = new_secret()
    state.sessions.put(value, session, state.clock() + SESSION_TTL)
    return session, value


def set_session_cookie(response: Response, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_TTL, path="/", httponly=True, samesite="lax"
    )


def clear_session(request: Request, response: Response, state: ProviderState) -> None:
    value = _cookie(request, SESSION_COOKIE)
    if value is not None:
        state.sessions.pop(value)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def browser_id(request: Request) -> str | None:
    return _cookie(request, BROWSER_COOKIE)


def set_browser_id(response: Response, value: str) -> None:
    """Remember the browser (until it closes), on ``/authorize`` paths only."""
    response.set_cookie(BROWSER_COOKIE, value, path="/authorize", httponly=True, samesite="lax")
