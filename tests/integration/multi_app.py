"""One "app instance" for the multi-process tests, configured from the environment.

Run as a separate process (from the repository root)::

    python -m uvicorn tests.integration.multi_app:app --host 127.0.0.1 --port N

Several such processes with the same ``AUTH0_SECRET``, ``REDIS_URL`` and ``REDIS_PREFIX``
share sessions: a cookie issued by one is honoured by the others. ``APP_BASE_URL`` is a
comma-separated allow-list holding every instance's origin, so each answers on its own.

Environment: ``AUTH0_DOMAIN`` (the provider, ``http://localhost:<port>``),
``AUTH0_CLIENT_ID``, ``AUTH0_CLIENT_SECRET``, ``AUTH0_SECRET``, ``APP_BASE_URL``,
``REDIS_URL``, ``REDIS_PREFIX`` (default ``auth0:``) and ``INSTANCE_NAME`` (shown in
answers, for debugging).

Besides the routes of :func:`tests.support.apps.make_app`:

``GET /whoami``               the instance name and process id (readiness probe)
``GET /refresh``              a forced refresh (``get_access_token(refresh=True)``)
``GET /slow?delay=S``         reads the session, then answers ``S`` seconds later
``GET /_test/backchannel``    every back-channel logout request this instance answered
``GET /_test/stats``          token-endpoint calls this instance made
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

from fastapi.responses import JSONResponse

from auth0_web import AccessTokenError, Auth0Client
from auth0_web.stores.redis import RedisSessionStore
from tests.support.apps import make_app

REQUIRED = (
    "AUTH0_DOMAIN",
    "AUTH0_CLIENT_ID",
    "AUTH0_CLIENT_SECRET",
    "AUTH0_SECRET",
    "APP_BASE_URL",
    "REDIS_URL",
)


def _settings() -> dict[str, str]:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"tests.integration.multi_app needs {', '.join(missing)}")
    return {name: os.environ[name] for name in REQUIRED}


def record_backchannel(app: Any, path: str, log: list[dict[str, Any]]) -> Any:
    """Wrap ``app``: remember the body and the answer of every ``POST path``."""

    async def recorder(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != path:
            await app(scope, receive, send)
            return
        entry: dict[str, Any] = {"body": b"", "status": None, "headers": {}}

        async def receive_wrapper() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                entry["body"] += message.get("body", b"")
            return message

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                entry["headers"] = {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                }
            await send(message)

        await app(scope, receive_wrapper, send_wrapper)
        log.append(entry)

    return recorder


def build(settings: dict[str, str], *, prefix: str, name: str) -> Any:
    store = RedisSessionStore(settings["REDIS_URL"], prefix=prefix)
    auth0 = Auth0Client(
        domain=settings["AUTH0_DOMAIN"],
        client_id=settings["AUTH0_CLIENT_ID"],
        client_secret=settings["AUTH0_CLIENT_SECRET"],
        secret=settings["AUTH0_SECRET"],
        app_base_url=[b.strip() for b in settings["APP_BASE_URL"].split(",") if b.strip()],
        allow_insecure_requests=True,
        session_store=store,
    )
    middleware = make_app(auth0)
    inner = middleware.app
    backchannel: list[dict[str, Any]] = []

    @inner.get("/whoami")
    async def whoami() -> JSONResponse:
        return JSONResponse({"instance": name, "pid": os.getpid()})

    @inner.get("/refresh")
    async def refresh() -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({"error": "missing_session"}, status_code=401)
        try:
            token = await auth0.get_access_token(refresh=True)
        except AccessTokenError as exc:
            return JSONResponse({"error": exc.code, "instance": name}, status_code=401)
        return JSONResponse(
            {
                "sub": session.user["sub"],
                "token_sha": hashlib.sha256(token.token.encode()).hexdigest()[:16],
                "expires_at": token.expires_at,
                "instance": name,
            }
        )

    @inner.get("/slow")
    async def slow(delay: float = 1.0) -> JSONResponse:
        session = await auth0.get_session()
        await asyncio.sleep(delay)
        return JSONResponse({"sub": session.user["sub"] if session else None, "instance": name})

    @inner.get("/_test/backchannel")
    async def backchannel_log() -> JSONResponse:
        return JSONResponse(
            [
                {
                    "body": entry["body"].decode("utf-8", "replace"),
                    "status": entry["status"],
                    "headers": entry["headers"],
                }
                for entry in backchannel
            ]
        )

    @inner.get("/_test/stats")
    async def stats() -> JSONResponse:
        return JSONResponse({"refresh_calls": auth0._rt.refreshes.calls, "instance": name})

    recorded = record_backchannel(middleware, auth0.config.routes.backchannel_logout, backchannel)

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            # Close Redis and HTTP connections on the server's own event loop at shutdown.
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await store.aclose()
                    await auth0.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await recorded(scope, receive, send)

    return application


app = build(
    _settings(),
    prefix=os.environ.get("REDIS_PREFIX", "auth0:"),
    name=os.environ.get("INSTANCE_NAME", "app"),
)
