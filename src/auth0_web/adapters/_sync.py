"""The synchronous face of :class:`~auth0_web.Auth0Client`, for WSGI frameworks.

Every method runs the same coroutine the async API runs (no protocol step exists twice):
session reads and writes of the cookie-only store inline, anything that may touch the
network (token refreshes, routes, a database-backed store) through the process's
:class:`~auth0_web.adapters._portal.Portal`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .._access_tokens import AccessToken
from .._context import RequestState, current_state
from .._http import Request, Response
from .._refresh import plan_access_token
from ..session._model import SessionData
from ..session._stateless import StatelessSessionStore
from ._outgoing import session_headers
from ._portal import Portal, portal, run_inline

if TYPE_CHECKING:
    from .._client import Auth0Client

__all__ = ["SyncAuth0"]

_T = TypeVar("_T")

#: How a coroutine function is run to completion from synchronous code.
Runner = Callable[..., Any]


class SyncAuth0:
    """``sync = SyncAuth0(auth0)``; then ``sync.get_session()`` inside a request the WSGI
    middleware (or the Flask/Django integration) is serving.

    ``runner`` replaces the portal: Django under ASGI passes one that runs the coroutine on
    the server's own event loop, so loop-bound resources never cross loops.
    """

    def __init__(self, client: Auth0Client, *, runner: Runner | None = None) -> None:
        self.client = client
        self._portal: Portal = portal
        self._runner = runner
        #: The cookie-only store never waits on I/O: its work runs inline, no thread hop.
        self.inline_sessions = isinstance(client._rt.sessions, StatelessSessionStore)

    def run(self, func: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any) -> _T:
        """Run an async function of the core to completion and return its result."""
        if self._runner is not None:
            return self._runner(func, *args, **kwargs)  # type: ignore[no-any-return]
        return self._portal.call(func, *args, **kwargs)

    def _session_io(self, func: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any) -> _T:
        if self.inline_sessions:
            return run_inline(func(*args, **kwargs))  # type: ignore[arg-type]
        return self.run(func, *args, **kwargs)

    # -- sessions -------------------------------------------------------------------------

    def get_session(self, request: object | None = None) -> SessionData | None:
        """The session of the current (or given) request, or ``None``."""
        if request is None:
            state = current_state()
            if state is not None and state.loaded and state.pending is None:
                return state.cached_session()
        return self._session_io(self.client.get_session, request)

    def update_session(
        self, session: SessionData, request: object | None = None, response: object | None = None
    ) -> None:
        """Persist changes to the session (written on the way out of the request)."""
        self._session_io(self.client.update_session, session, request, response)

    def get_access_token(
        self,
        request: object | None = None,
        response: object | None = None,
        *,
        refresh: bool = False,
        scope: str | None = None,
        audience: str | None = None,
        merge_scopes: bool = True,
    ) -> AccessToken:
        """As :meth:`Auth0Client.get_access_token`; a refresh is persisted on the way out.

        A valid cached token of a cookie-only session is answered on the calling thread (the
        same selection code, no event loop); only a refresh goes through the portal.
        """
        if self.inline_sessions and not refresh:
            session = self.get_session(request)
            if session is not None:
                plan = plan_access_token(
                    self.client._rt, session, scope=scope, audience=audience, merge=merge_scopes
                )
                if plan.token is not None:
                    return plan.token
        return self.run(
            self.client.get_access_token,
            request,
            response,
            refresh=refresh,
            scope=scope,
            audience=audience,
            merge_scopes=merge_scopes,
        )

    def start_interactive_login(
        self,
        request: object | None = None,
        *,
        authorization_parameters: Mapping[str, str] | None = None,
        return_to: str | None = None,
    ) -> Response:
        """A redirect to the login page (convert it with the framework's adapter)."""
        return self.run(
            self.client.start_interactive_login,
            request,
            authorization_parameters=authorization_parameters,
            return_to=return_to,
        )

    # -- for adapters ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response | None:
        """Serve ``request`` if it is for an SDK route, else ``None`` (no work done)."""
        router = self.client._router
        handler = router.match(request.method, request.path)
        if handler is None:
            return None
        return self.run(router.dispatch, handler, request)

    def outgoing_headers(self, state: RequestState) -> list[tuple[str, str]]:
        """The Set-Cookie/no-store headers to add to the app's response for ``state``
        (a list the caller owns)."""
        return list(self._session_io(session_headers, self.client, state))
