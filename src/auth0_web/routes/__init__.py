"""The mounted routes: one module per route, each ``Request`` in, ``Response`` out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .._errors import Auth0Error, InvalidConfigurationError
from .._http import QueryError, Request, Response
from .._runtime import Runtime
from ._access_token import handle_access_token
from ._backchannel_logout import handle_backchannel_logout
from ._callback import CallbackContext, handle_callback
from ._connect import handle_connect
from ._login import handle_login, start_interactive_login
from ._logout import handle_logout
from ._mfa import (
    handle_mfa_associate,
    handle_mfa_authenticators,
    handle_mfa_challenge,
    handle_mfa_verify,
)

__all__ = ["CallbackContext", "Router", "handle_profile", "start_interactive_login"]

Handler = Callable[[Runtime, Request], Awaitable[Response]]


async def handle_profile(rt: Runtime, request: Request) -> Response:
    """``GET /auth/profile``: the user's claims, never tokens or internal fields."""
    session = await rt.read_session(request)
    if session is None:
        status = 204 if rt.config.no_content_profile_response_when_unauthenticated else 401
        response = Response(status=status)
    else:
        response = Response.json(session.user)
    response.no_store()
    return response


class Router:
    """Matches a request to an SDK route: exact path (one trailing slash ignored) and method."""

    def __init__(self, rt: Runtime) -> None:
        routes = rt.config.routes
        self.rt = rt
        self._table: dict[tuple[str, str], Handler] = {
            ("GET", routes.login): handle_login,
            ("GET", routes.logout): handle_logout,
            ("GET", routes.callback): handle_callback,
            ("GET", routes.profile): handle_profile,
        }
        self._table[("POST", routes.backchannel_logout)] = handle_backchannel_logout
        self._table[("GET", routes.mfa_authenticators)] = handle_mfa_authenticators
        self._table[("POST", routes.mfa_challenge)] = handle_mfa_challenge
        self._table[("POST", routes.mfa_associate)] = handle_mfa_associate
        self._table[("POST", routes.mfa_verify)] = handle_mfa_verify
        if rt.config.enable_access_token_endpoint:
            self._table[("GET", routes.access_token)] = handle_access_token
        if rt.config.enable_connect_account_endpoint:
            self._table[("GET", routes.connect_account)] = handle_connect
        self.paths = frozenset(path for _, path in self._table)

    def match(self, method: str, path: str) -> Handler | None:
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        if path not in self.paths:
            return None
        return self._table.get((method, path))

    async def dispatch(self, handler: Handler, request: Request) -> Response:
        """Run a route; SDK errors become their documented status with a fixed message."""
        try:
            return await handler(self.rt, request)
        except QueryError:
            return _error(400, "The request's query string is malformed.")
        except InvalidConfigurationError as exc:
            # Raised per request only when the request's origin is not an allowed base URL.
            return _error(400, exc.message)
        except Auth0Error as exc:
            return _error(exc.status, exc.message)


def _error(status: int, message: str) -> Response:
    response = Response.text(message, status)
    response.headers.append(("cache-control", "no-store"))
    return response
