"""The app the load test serves with uvicorn in its own process (``--factory``).

Configured from the environment by the test (``LOAD_*``): the provider, the client, the
app's base URL and the session store (``cookie``, or ``redis`` with ``LOAD_REDIS_URL`` and
``LOAD_REDIS_PREFIX``). Routes besides the SDK's ``/auth/*``:

* ``GET /me``: ``{"sub", "sid"}`` of the session, ``{"sub": null}`` when anonymous;
* ``GET /token[?refresh=1]``: ``{"sub", "sid", "token"}`` from ``get_access_token``
  (``refresh=1`` forces a refresh grant), else the error's status and ``{"error": code}``;
* ``GET /health``: 200 once the app is up.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_web import Auth0Client, Auth0Error


def create_app() -> Any:
    env = os.environ
    options: dict[str, Any] = {}
    if env["LOAD_STORE"] == "redis":
        from auth0_web.stores.redis import RedisSessionStore

        options["session_store"] = RedisSessionStore(
            env["LOAD_REDIS_URL"], prefix=env["LOAD_REDIS_PREFIX"]
        )
    auth0 = Auth0Client(
        domain=env["LOAD_DOMAIN"],
        client_id=env["LOAD_CLIENT_ID"],
        client_secret=env["LOAD_CLIENT_SECRET"],
        secret=env["LOAD_SECRET"],
        app_base_url=env["LOAD_APP_BASE_URL"],
        allow_insecure_requests=True,
        # The provider is one Node process serving a thousand users at once; its answers
        # can queue for seconds (an Auth0 tenant is not this slow).
        http_timeout=float(env.get("LOAD_HTTP_TIMEOUT", "30")),
        # Rolling, and re-issued on every response (the reference's behaviour): every
        # answer carries the session, the most writes a run can make.
        session={"rolling": True, "rolling_write_interval": 0},
        **options,
    )

    async def me(request: Request) -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({"sub": None})
        return JSONResponse({"sub": session.user.get("sub"), "sid": session.internal.sid})

    async def token(request: Request) -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({"error": "missing_session"}, status_code=401)
        try:
            refresh = request.query_params.get("refresh") == "1"
            result = await auth0.get_access_token(refresh=refresh)
        except Auth0Error as exc:  # no token, or the session store did not answer
            return JSONResponse({"error": exc.code}, status_code=exc.status)
        return JSONResponse(
            {"sub": session.user.get("sub"), "sid": session.internal.sid, "token": result.token}
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/me", me), Route("/token", token), Route("/health", health)],
    )
    return auth0.middleware(app)
