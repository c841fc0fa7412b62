"""``login_required`` and ``api_login_required`` for sync and async Django views.

Both work on function views (sync or ``async def``) and, through Django's
``method_decorator``, on class-based views. They read the session the middleware put in
place, so ``Auth0Middleware`` must be installed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.urls import get_script_prefix

from ._bridge import binding_of
from ._helpers import aget_session, get_session

__all__ = ["NOT_AUTHENTICATED", "api_login_required", "login_required"]

_View = TypeVar("_View", bound=Callable[..., Any])

#: The body of the API decorator's 401 (the reference SDK's error code and description).
NOT_AUTHENTICATED = {
    "error": "not_authenticated",
    "description": "The user does not have an active session or is not authenticated",
}


def _login_redirect(request: HttpRequest, return_to: str | None) -> HttpResponseRedirect:
    """A redirect to the login route, coming back to ``return_to`` or the page asked for.

    ``returnTo`` is the full path (with the script prefix and the query): the core resolves
    it against the application's origin and validates it.
    """
    client = binding_of(request).integration.client
    target = return_to if return_to is not None else request.get_full_path()
    return HttpResponseRedirect(get_script_prefix().rstrip("/") + client.login_url(target))


def _not_authenticated() -> JsonResponse:
    response = JsonResponse(NOT_AUTHENTICATED, status=401)
    response.headers["Cache-Control"] = "no-store"
    return response


@overload
def login_required(view: _View, /) -> _View: ...
@overload
def login_required(*, return_to: str | None = None) -> Callable[[_View], _View]: ...
def login_required(
    view: Callable[..., Any] | None = None, /, *, return_to: str | None = None
) -> Any:
    """Send anonymous users to log in, then back to the page (or to ``return_to``).

    ``@login_required`` or ``@login_required(return_to="/dashboard")``.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                if await aget_session(request) is None:
                    return _login_redirect(request, return_to)
                return await func(request, *args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if get_session(request) is None:
                return _login_redirect(request, return_to)
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def api_login_required(view: _View, /) -> _View:
    """Answer anonymous callers with ``401`` JSON (``not_authenticated``), never cached."""
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if await aget_session(request) is None:
                return _not_authenticated()
            return await view(request, *args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if get_session(request) is None:
            return _not_authenticated()
        response: HttpResponseBase = view(request, *args, **kwargs)
        return response

    return wrapper  # type: ignore[return-value]
