"""Starlette and FastAPI helpers: protection decorators and session dependencies.

These run inside :class:`~auth0_web.adapters.asgi.Auth0Middleware`, so the session comes
from the request context (decoded once per request).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.responses import Response as StarletteResponse

from .._access_tokens import AccessToken
from .._context import current_state
from .._errors import AccessTokenError, MfaRequiredError, SessionStoreUnavailableError
from .._http import Response
from ..session._model import SessionData

if TYPE_CHECKING:
    from .._client import Auth0Client

__all__ = [
    "access_token_dependency",
    "api_auth_required",
    "page_auth_required",
    "session_dependency",
    "to_starlette_response",
]

NOT_AUTHENTICATED = {
    "error": "not_authenticated",
    "description": "The user does not have an active session or is not authenticated",
}


def to_starlette_response(response: Response) -> StarletteResponse:
    """Convert the SDK's response (e.g. from ``start_interactive_login``) for FastAPI."""
    converted = StarletteResponse(content=response.body, status_code=response.status)
    for name, value in response.headers:
        converted.headers.append(name, value)
    for _, cookie in response.cookies:
        converted.headers.append("set-cookie", cookie)
    return converted


class NotAuthenticated(HTTPException):
    """401 from the ``require_session`` dependency (FastAPI renders ``{"detail": ...}``)."""

    def __init__(self) -> None:
        super().__init__(
            status_code=401,
            detail=NOT_AUTHENTICATED["description"],
            headers={"cache-control": "no-store"},
        )


async def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = func(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def page_auth_required(
    client: Auth0Client, *, return_to: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            session = await client.get_session()
            if session is None:
                state = current_state()
                target = return_to
                if target is None and state is not None:
                    target = state.request.path_and_query
                return RedirectResponse(client.login_url(target), status_code=307)
            return await _call(func, args, kwargs)

        return wrapper

    return decorator


def api_auth_required(client: Auth0Client) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if await client.get_session() is None:
                return JSONResponse(
                    NOT_AUTHENTICATED, status_code=401, headers={"cache-control": "no-store"}
                )
            return await _call(func, args, kwargs)

        return wrapper

    return decorator


def session_dependency(client: Auth0Client, *, required: bool) -> Callable[..., Any]:
    """A FastAPI dependency (``Depends(auth0.require_session)``)."""
    if required:

        async def require_session(request: Request) -> SessionData:
            session = await client.get_session(request)
            if session is None:
                raise NotAuthenticated()
            return session

        return require_session

    async def optional_session(request: Request) -> SessionData | None:
        return await client.get_session(request)

    return optional_session


class AccessTokenUnavailable(HTTPException):
    """401 (403 for a required step-up) from the access-token dependency; the body names
    the reason by its stable code only."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(status_code=status, detail=code, headers={"cache-control": "no-store"})


def access_token_dependency(
    client: Auth0Client, *, audience: str | None = None, scope: str | None = None
) -> Callable[..., Any]:
    """A FastAPI dependency yielding the user's :class:`AccessToken` (refreshed if needed);
    503 while the session store is down."""

    async def access_token(request: Request) -> AccessToken:
        try:
            return await client.get_access_token(request, audience=audience, scope=scope)
        except MfaRequiredError as exc:
            raise AccessTokenUnavailable(403, exc.code) from exc
        except (AccessTokenError, SessionStoreUnavailableError) as exc:
            raise AccessTokenUnavailable(exc.status, exc.code) from exc

    return access_token
