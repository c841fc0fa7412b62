"""Session cookies for tests, in exactly the format the SDK reads."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._http import CookieOptions, Response
from ..session._codec import CookieCodec
from ..session._model import SessionData, SessionInternal, TokenSet
from ..session._stateless import StatelessSessionStore

if TYPE_CHECKING:
    import httpx

    from .._client import Auth0Client

__all__ = ["generate_session_cookie", "logged_in_client", "session_cookies_for"]


def _session(
    user: Mapping[str, Any] | SessionData,
    *,
    access_token: str,
    id_token: str | None,
    refresh_token: str | None,
    scope: str | None,
    expires_in: int,
    now: int,
) -> SessionData:
    if isinstance(user, SessionData):
        return user
    if "sub" not in user:
        raise ValueError("user must have a 'sub' claim")
    return SessionData(
        user=dict(user),
        token_set=TokenSet(
            access_token=access_token,
            id_token=id_token,
            refresh_token=refresh_token,
            scope=scope,
            token_type="Bearer",
            expires_at=now + expires_in,
        ),
        internal=SessionInternal(sid="auth0-sid", created_at=now),
    )


def generate_session_cookie(
    user: Mapping[str, Any] | SessionData,
    *,
    secret: str | None = None,
    access_token: str = "test-access-token",
    id_token: str | None = None,
    refresh_token: str | None = None,
    scope: str | None = "openid profile email offline_access",
    expires_in: int = 3600,
    max_age: int = 3600,
    cookie_name: str = "__session",
) -> dict[str, str]:
    """The cookies (name to value) of a session for ``user``, valid for ``max_age`` seconds.

    ``user`` is a dict of claims (``sub`` required) or a whole :class:`SessionData`.
    ``secret`` defaults to ``AUTH0_SECRET``. A large session comes back as several chunk
    cookies, which is why this returns a dict rather than one value.
    """
    secret = secret if secret is not None else os.environ.get("AUTH0_SECRET")
    if not secret:
        raise ValueError("secret is required (or set AUTH0_SECRET)")
    now = int(time.time())
    session = _session(
        user,
        access_token=access_token,
        id_token=id_token,
        refresh_token=refresh_token,
        scope=scope,
        expires_in=expires_in,
        now=now,
    )
    from .._config import CookieConfig, SessionConfig

    config = SessionConfig(
        rolling=False, absolute_duration=max_age, cookie=CookieConfig(name=cookie_name)
    )
    # The session starts now, whatever a given SessionData said, so it lives max_age seconds.
    session = replace(session, internal=replace(session.internal, created_at=now))
    store = StatelessSessionStore(config, CookieCodec([secret]))
    response = Response()
    store.write(response, session, {}, now, CookieOptions())
    return {name: header.split(";", 1)[0].split("=", 1)[1] for name, header in response.cookies}


def session_cookies_for(
    client: Auth0Client, user: Mapping[str, Any] | SessionData, **options: Any
) -> dict[str, str]:
    """:func:`generate_session_cookie` with ``client``'s secret and cookie name."""
    options.setdefault("secret", client.config.secrets[0])
    options.setdefault("cookie_name", client.config.session.cookie.name)
    return generate_session_cookie(user, **options)


def logged_in_client(
    app: Any,
    user: Mapping[str, Any] | SessionData,
    *,
    client: Auth0Client | None = None,
    base_url: str | None = None,
    **options: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on ``app`` (in-process) that is logged in as ``user``.

    ``app`` is the ASGI app returned by ``auth0.middleware(...)``; the ``Auth0Client`` is
    found on it unless given. ``base_url`` defaults to the client's ``APP_BASE_URL``.
    """
    import httpx

    auth0 = client if client is not None else getattr(app, "client", None)
    if auth0 is None:
        raise TypeError("pass client= (the Auth0Client), or the app returned by auth0.middleware()")
    bases = auth0.config.app_base_urls
    url = base_url or (bases[0].url if bases else "http://testserver")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=url,
        cookies=session_cookies_for(auth0, user, **options),
    )
