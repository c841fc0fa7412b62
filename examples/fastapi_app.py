"""auth0-web with FastAPI: login, a protected page, a protected API and an access token.

    AUTH0_DOMAIN=... AUTH0_CLIENT_ID=... AUTH0_CLIENT_SECRET=... \\
    AUTH0_SECRET=$(auth0-web secret) APP_BASE_URL=http://127.0.0.1:3000 \\
    python examples/fastapi_app.py

Every option can also be passed to ``create_app()`` (the tests do that).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the dependency aliases
# declared inside create_app() from the live annotations.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from auth0_web import AccessToken, Auth0Client, SessionData


def create_app(**options: Any) -> Any:
    options.setdefault("authorization_parameters", {"scope": "openid profile email offline_access"})
    auth0 = Auth0Client(**options)  # the rest comes from AUTH0_* / APP_BASE_URL

    # Typed dependencies, declared once and reused in every route's signature.
    Session = Annotated[SessionData, Depends(auth0.require_session)]
    MaybeSession = Annotated[SessionData | None, Depends(auth0.optional_session)]
    Token = Annotated[AccessToken, Depends(auth0.access_token_dependency())]

    app = FastAPI(title="auth0-web FastAPI example")

    @app.get("/")
    async def home(session: MaybeSession) -> dict[str, Any]:
        return {"user": session.user["sub"] if session else None}

    @app.get("/protected", response_class=PlainTextResponse)
    @auth0.with_page_auth_required
    async def protected(request: Request) -> str:
        session = await auth0.get_session()
        assert session is not None  # guaranteed by the decorator
        return f"hello {session.user['sub']}"

    @app.get("/api/private")
    @auth0.with_api_auth_required
    async def private() -> JSONResponse:
        session = await auth0.get_session()
        assert session is not None
        return JSONResponse({"sub": session.user["sub"]})

    @app.get("/api/me")
    async def me(session: Session) -> dict[str, Any]:
        return {"sub": session.user["sub"], "email": session.user.get("email")}

    @app.get("/api/token")
    async def token(refresh: bool = False) -> dict[str, Any]:
        # Refreshed when expired (or when asked); the new tokens are saved in the cookie
        # on the way out.
        access = await auth0.get_access_token(refresh=refresh)
        return {"token": access.token, "expires_at": access.expires_at}

    @app.get("/api/token-scopes")
    async def token_scopes(access: Token) -> dict[str, Any]:
        return {"scope": access.scope, "expires_at": access.expires_at}

    # Mount /auth/* and carry the session through every request.
    return auth0.middleware(app)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=3000)
