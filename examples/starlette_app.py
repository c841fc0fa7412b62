"""auth0-web with Starlette: login, a protected page, a protected API and an access token.

    AUTH0_DOMAIN=... AUTH0_CLIENT_ID=... AUTH0_CLIENT_SECRET=... \\
    AUTH0_SECRET=$(auth0-web secret) APP_BASE_URL=http://127.0.0.1:3000 \\
    python examples/starlette_app.py
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from auth0_web import Auth0Client
from auth0_web.adapters.asgi import Auth0Middleware


def create_app(**options: Any) -> Any:
    options.setdefault("authorization_parameters", {"scope": "openid profile email offline_access"})
    auth0 = Auth0Client(**options)

    async def home(request: Request) -> JSONResponse:
        session = await auth0.get_session()
        return JSONResponse({"user": session.user["sub"] if session else None})

    @auth0.with_page_auth_required
    async def protected(request: Request) -> PlainTextResponse:
        session = await auth0.get_session()
        assert session is not None
        return PlainTextResponse(f"hello {session.user['sub']}")

    @auth0.with_api_auth_required
    async def private(request: Request) -> JSONResponse:
        session = await auth0.get_session()
        assert session is not None
        return JSONResponse({"sub": session.user["sub"]})

    async def token(request: Request) -> JSONResponse:
        access = await auth0.get_access_token(refresh=request.query_params.get("refresh") == "1")
        return JSONResponse({"token": access.token, "expires_at": access.expires_at})

    return Starlette(
        routes=[
            Route("/", home),
            Route("/protected", protected),
            Route("/api/private", private),
            Route("/api/token", token),
        ],
        middleware=[Middleware(Auth0Middleware, client=auth0)],
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=3000)
