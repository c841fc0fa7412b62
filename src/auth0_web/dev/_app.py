"""The provider's ASGI application: Auth0's paths, each routed to its endpoint module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ._authorize import authorize
from ._discovery import jwks, openid_configuration
from ._login import cancel_login, complete_login
from ._logout import oidc_logout, v2_logout
from ._revoke import revoke
from ._state import ProviderState
from ._token import token
from ._userinfo import userinfo

__all__ = ["build_app"]

Endpoint = Callable[[Request, ProviderState], Awaitable[Response]]


def _bind(endpoint: Endpoint, state: ProviderState) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        if state.origin is None:
            # Every answer names the issuer, which includes the port.
            return PlainTextResponse(
                "The dev provider's port is not known yet: call start(), or pass port=.",
                status_code=503,
            )
        return await endpoint(request, state)

    handle.__name__ = getattr(endpoint, "__name__", "endpoint")
    return handle


def build_app(state: ProviderState) -> Starlette:
    routes = [
        ("/.well-known/openid-configuration", openid_configuration, ["GET"]),
        ("/.well-known/jwks.json", jwks, ["GET"]),
        ("/authorize", authorize, ["GET"]),
        ("/authorize/login", complete_login, ["POST"]),
        ("/authorize/cancel", cancel_login, ["POST"]),
        ("/oauth/token", token, ["POST"]),
        ("/oauth/revoke", revoke, ["POST"]),
        ("/userinfo", userinfo, ["GET", "POST"]),
        ("/oidc/logout", oidc_logout, ["GET", "POST"]),
        ("/v2/logout", v2_logout, ["GET"]),
    ]
    return Starlette(
        routes=[
            Route(path, _bind(endpoint, state), methods=methods)
            for path, endpoint, methods in routes
        ]
    )
