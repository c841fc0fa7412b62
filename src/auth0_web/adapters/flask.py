"""Flask integration: ``auth0 = Auth0(app)`` (or ``Auth0()`` + ``init_app(app)``).

This module only translates between Flask and the core. The SDK routes, session reads and
writes, token refreshes and the Set-Cookie/no-store headers are the same coroutines the ASGI
middleware runs, reached through :class:`~auth0_web.adapters._sync.SyncAuth0` (inline for the
cookie-only store, the process's portal loop for anything that may wait on I/O).

Per app, :meth:`Auth0.init_app`:

* builds (or takes) an :class:`~auth0_web.Auth0Client` from ``app.config``/keyword arguments
  and keeps it in ``app.extensions["auth0"]``, so one extension object can serve several
  apps (app factories, tests) and each app has its own client;
* registers the ``auth0_web`` blueprint: one URL rule per SDK route path, whose view hands
  the request to the core router and returns its response unchanged;
* puts a request context in place for every other request (``before_request``), adds the
  rolled or rewritten session cookie to the app's response (``after_request``) and always
  removes the context again (``teardown_request``, which runs even when a view raised).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final, ParamSpec, Protocol, TypeVar, cast, overload

from flask import Blueprint, Flask, current_app, has_app_context, has_request_context, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import MethodNotAllowed

from .._access_tokens import AccessToken
from .._client import Auth0Client
from .._context import RequestState
from .._errors import InvalidConfigurationError
from .._http import Response
from ..session._model import SessionData
from ._sync import SyncAuth0
from .wsgi import read_wsgi_body, request_from_environ, wsgi_state

__all__ = [
    "BLUEPRINT_NAME",
    "CONFIG_KEYS",
    "NOT_AUTHENTICATED",
    "Auth0",
    "Auth0AppState",
    "ViewDecorator",
    "to_flask_response",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")

#: The name of the blueprint holding the SDK routes (``url_for("auth0_web.login")``).
BLUEPRINT_NAME: Final = "auth0_web"

#: ``app.config`` keys read by :meth:`Auth0.init_app`, and the client option each sets.
#: A key that is absent (or ``None``) leaves the option to its environment variable.
CONFIG_KEYS: Final[Mapping[str, str]] = {
    "AUTH0_DOMAIN": "domain",
    "AUTH0_CLIENT_ID": "client_id",
    "AUTH0_CLIENT_SECRET": "client_secret",
    "AUTH0_SECRET": "secret",
    "APP_BASE_URL": "app_base_url",
}
#: ``app.config`` key holding a dict of any other :class:`Auth0Client` keyword argument.
OPTIONS_KEY: Final = "AUTH0_OPTIONS"

#: The body of the 401 from :meth:`Auth0.api_auth_required` (the reference SDK's wording).
NOT_AUTHENTICATED: Final[Mapping[str, str]] = {
    "error": "not_authenticated",
    "description": "The user does not have an active session or is not authenticated",
}

#: Where the per-request state lives: on the request's WSGI environ, not on ``flask.g``.
#: ``g`` belongs to the app context, which Flask reuses across requests when one is already
#: pushed (``with app.app_context(): client.get(...)``), so it is not per request.
_STATE_KEY: Final = "auth0_web.request_state"

#: Methods probed on the core router to learn which methods a route path accepts.
_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")

_CLIENT_OPTIONS: Final = frozenset(
    name
    for name, parameter in inspect.signature(Auth0Client.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)


#: An ``async def`` view.
_AsyncView = Callable[_P, Coroutine[Any, Any, _R]]


class ViewDecorator(Protocol):
    """What ``login_required(return_to=...)`` returns: the view keeps its signature, and its
    return type gains the Flask response sent instead (awaited, for ``async def`` views)."""

    @overload
    def __call__(self, view: _AsyncView[_P, _R], /) -> _AsyncView[_P, _R | FlaskResponse]: ...

    @overload
    def __call__(self, view: Callable[_P, _R], /) -> Callable[_P, _R | FlaskResponse]: ...


@dataclasses.dataclass(frozen=True)
class Auth0AppState:
    """What ``app.extensions["auth0"]`` holds for one app."""

    client: Auth0Client
    sync: SyncAuth0
    extension: Auth0


def to_flask_response(response: Response) -> FlaskResponse:
    """Convert a core response (a route's, ``start_interactive_login``'s) into Flask's.

    Every Set-Cookie is kept as its own header (a chunked session and a transaction cookie
    may be set in one response), and no default ``Content-Type`` is invented for bodies
    the core left untyped (redirects).
    """
    converted = current_app.response_class(response.body, status=response.status)
    typed = False
    for name, value in response.headers:
        if name.lower() == "content-type":
            converted.headers["Content-Type"] = value
            typed = True
        else:
            converted.headers.add(name, value)
    if not typed:
        del converted.headers["Content-Type"]
    for _, cookie in response.cookies:
        converted.headers.add("Set-Cookie", cookie)
    return converted


def _client_options(config: Mapping[str, Any], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """``AUTH0_OPTIONS`` < the ``AUTH0_*``/``APP_BASE_URL`` keys < keyword arguments.

    Unknown names are reported here, all at once, rather than as a ``TypeError`` from the
    client's constructor that would not say where the name came from.
    """
    problems: list[str] = []
    options: dict[str, Any] = {}
    extra = config.get(OPTIONS_KEY)
    if extra is not None:
        if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
            problems.append(f"{OPTIONS_KEY}: must be a dict of Auth0Client keyword arguments")
        else:
            unknown = sorted(k for k in extra if k not in _CLIENT_OPTIONS)
            problems.extend(f"{OPTIONS_KEY}: unknown option {k!r}" for k in unknown)
            options.update(extra)
    for key, option in CONFIG_KEYS.items():
        value = config.get(key)
        if value is not None:
            options[option] = value
    unknown = sorted(k for k in explicit if k not in _CLIENT_OPTIONS)
    problems.extend(f"unknown option {k!r}" for k in unknown)
    if problems:
        raise InvalidConfigurationError(problems=problems)
    options.update(explicit)
    return options


def _endpoint_names(client: Auth0Client) -> dict[str, str]:
    """Route path -> endpoint name (``login``, ``callback``...) from ``config.routes``."""
    routes = client.config.routes
    names: dict[str, str] = {}
    for field in dataclasses.fields(routes):
        value = getattr(routes, field.name)
        if isinstance(value, str):
            names.setdefault(value, field.name)
    return names


def _sdk_blueprint(sync: SyncAuth0) -> Blueprint:
    """The SDK routes as a blueprint: the core router decides, Flask only dispatches."""
    router = sync.client._router
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    names = _endpoint_names(sync.client)

    def sdk_route(**_: Any) -> FlaskResponse:
        environ = request.environ
        body = b""
        if request.method == "POST":
            read = read_wsgi_body(environ)
            if read is None:
                return to_flask_response(Response.text("Request body too large.", 413))
            body = read
        response = sync.handle(request_from_environ(environ, body))
        if response is None:
            # HEAD, which Flask adds to every GET rule: the core serves no route for it
            # (a prefetching HEAD must not start a login).
            allowed = [m for m in _METHODS if router.match(m, request.path) is not None]
            raise MethodNotAllowed(valid_methods=allowed)
        return to_flask_response(response)

    for path in sorted(router.paths):
        methods = [m for m in _METHODS if router.match(m, path) is not None]
        endpoint = names.get(path) or re.sub(r"\W+", "_", path).strip("_") or "root"
        blueprint.add_url_rule(
            path,
            endpoint=endpoint,
            view_func=sdk_route,
            methods=methods,
            strict_slashes=False,  # the core router ignores one trailing slash too
        )
    return blueprint


def _current_request_state() -> RequestState:
    entry = request.environ.get(_STATE_KEY)
    return entry[0] if entry is not None else _enter_state()


def _enter_state() -> RequestState:
    """Create this request's context and make it current (once per request)."""
    environ = request.environ
    state = wsgi_state(environ)
    environ[_STATE_KEY] = (state, state.enter())
    return state


class Auth0:
    """The Flask extension.

    ``auth0 = Auth0(app)``, or ``auth0 = Auth0()`` then ``auth0.init_app(app)`` in an app
    factory. Options are keyword arguments given here or to ``init_app`` (those win), else
    ``app.config`` (``AUTH0_DOMAIN``, ``AUTH0_CLIENT_ID``, ``AUTH0_CLIENT_SECRET``,
    ``AUTH0_SECRET``, ``APP_BASE_URL``, and ``AUTH0_OPTIONS``, a dict of any other
    :class:`Auth0Client` keyword argument), else the environment; or pass a ready
    ``client=``. Each app gets its own client, and the methods act on the app of the
    current request, so one extension object can serve several apps.
    """

    def __init__(
        self, app: Flask | None = None, *, client: Auth0Client | None = None, **options: Any
    ) -> None:
        if client is not None and options:
            raise TypeError("pass either client= or Auth0Client options, not both")
        self._client = client
        self._options = options
        #: The app given to the constructor, if any: used when no app context is active.
        self.app = app
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, client: Auth0Client | None = None, **options: Any) -> None:
        """Set up ``app``: its client, the SDK routes, and the per-request session context."""
        if "auth0" in app.extensions:
            raise RuntimeError("auth0-web is already set up on this Flask app")
        if client is not None and options:
            raise TypeError("pass either client= or Auth0Client options, not both")
        client = client if client is not None else self._client
        if client is None:
            client = Auth0Client(**_client_options(app.config, {**self._options, **options}))
        elif options:
            raise TypeError("this extension was given a client: options cannot be added")
        sync = SyncAuth0(client)
        app.extensions["auth0"] = Auth0AppState(client=client, sync=sync, extension=self)
        app.register_blueprint(_sdk_blueprint(sync))

        def begin_request() -> None:
            # The SDK routes read and write the session themselves: no context for them, so
            # nothing is written a second time on their way out.
            if request.blueprint != BLUEPRINT_NAME and _STATE_KEY not in request.environ:
                _enter_state()

        def add_session_headers(response: FlaskResponse) -> FlaskResponse:
            if request.blueprint == BLUEPRINT_NAME:
                return response
            entry = request.environ.get(_STATE_KEY)
            # No entry: an earlier before_request hook answered before ours ran; the
            # session is still rolled on that response.
            state: RequestState = entry[0] if entry is not None else wsgi_state(request.environ)
            state.response_started = True
            extra = sync.outgoing_headers(state)
            if extra:
                for name in {k for k, _ in extra if k != "set-cookie"}:
                    del response.headers[name]
                for name, value in extra:
                    response.headers.add(name, value)
            return response

        def end_request(_: BaseException | None) -> None:
            entry = request.environ.pop(_STATE_KEY, None)
            if entry is None:
                return
            # ValueError: entered from another context (a helper called first inside an
            # async view's copied context), which is discarded with the request anyway.
            with contextlib.suppress(ValueError):
                RequestState.exit(entry[1])

        app.before_request(begin_request)
        app.after_request(add_session_headers)
        app.teardown_request(end_request)

    # -- which app ----------------------------------------------------------------------------

    def _app_state(self) -> Auth0AppState:
        if has_app_context():
            found = current_app.extensions.get("auth0")
            if not isinstance(found, Auth0AppState):
                raise RuntimeError("auth0-web is not set up on this app: call init_app(app)")
            return found
        if self.app is not None:
            return cast(Auth0AppState, self.app.extensions["auth0"])
        raise RuntimeError(
            "No Flask application is active: call this inside a request or an app context"
        )

    def _sync(self) -> SyncAuth0:
        """The current app's facade, with this request's context in place."""
        if not has_request_context():
            raise RuntimeError("This auth0-web call needs an active Flask request")
        found = self._app_state()
        if _STATE_KEY not in request.environ:
            # Called before our before_request hook ran (from an earlier hook), or from a
            # hook on an SDK route (which gets no context of its own): reads must work
            # there too. Nothing is written on an SDK route's way out either way.
            _enter_state()
        return found.sync

    @property
    def client(self) -> Auth0Client:
        """The current app's :class:`Auth0Client` (advanced flows: see :meth:`run`)."""
        return self._app_state().client

    # -- in views -----------------------------------------------------------------------------

    def get_session(self) -> SessionData | None:
        """The user's session, or ``None``; decoded once per request."""
        return self._sync().get_session()

    def update_session(self, session: SessionData) -> None:
        """Persist changes to the session; the cookie is written on the way out."""
        self._sync().update_session(session)

    def get_access_token(
        self,
        *,
        audience: str | None = None,
        scope: str | None = None,
        refresh: bool = False,
        merge_scopes: bool = True,
    ) -> AccessToken:
        """The user's access token, refreshed when expired (or when ``refresh=True``).

        A refresh is saved in the session cookie on the way out. Raises
        :class:`~auth0_web.AccessTokenError` (``code`` says why) or
        :class:`~auth0_web.MfaRequiredError`.
        """
        return self._sync().get_access_token(
            refresh=refresh, scope=scope, audience=audience, merge_scopes=merge_scopes
        )

    def start_interactive_login(
        self,
        *,
        return_to: str | None = None,
        authorization_parameters: Mapping[str, str] | None = None,
    ) -> FlaskResponse:
        """A redirect to the login page, carrying the transaction cookie: return it."""
        response = self._sync().start_interactive_login(
            return_to=return_to, authorization_parameters=authorization_parameters
        )
        return to_flask_response(response)

    def run(self, func: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any) -> _T:
        """Run an async method of :attr:`client` to completion from a view.

        ``auth0.run(auth0.client.custom_token_exchange, subject_token=..., ...)``. Inside a
        request the call sees the request's session context, so request-bound methods
        (``get_access_token_for_connection``, ``connect_account``...) work without a
        request argument and their session writes are saved on the way out.
        """
        if has_request_context():
            return self._sync().run(func, *args, **kwargs)
        return self._app_state().sync.run(func, *args, **kwargs)

    # -- decorators ---------------------------------------------------------------------------

    @overload
    def login_required(self, view: _AsyncView[_P, _R], /) -> _AsyncView[_P, _R | FlaskResponse]: ...

    @overload
    def login_required(self, view: Callable[_P, _R], /) -> Callable[_P, _R | FlaskResponse]: ...

    @overload
    def login_required(self, *, return_to: str | None = None) -> ViewDecorator: ...

    def login_required(
        self, view: Callable[..., Any] | None = None, *, return_to: str | None = None
    ) -> Any:
        """Pages: anonymous users are redirected (307) to log in, then brought back.

        ``@auth0.login_required`` or ``@auth0.login_required(return_to="/somewhere")``;
        ``returnTo`` is ``return_to`` or the current path and query. Works on sync and
        ``async def`` views.
        """

        def deny() -> FlaskResponse | None:
            sync = self._sync()
            if sync.get_session() is not None:
                return None
            target = return_to
            if target is None:
                # The path the core sees (without the app's mount point: the login route
                # resolves ``returnTo`` against the app's base URL), with the raw query.
                target = _current_request_state().request.path_and_query
            location = request.script_root + sync.client.login_url(target)
            response = current_app.response_class(status=307)
            del response.headers["Content-Type"]
            response.headers["Location"] = location
            return response

        decorator = _guard(deny)
        return decorator(view) if view is not None else decorator

    @overload
    def api_auth_required(
        self, view: _AsyncView[_P, _R], /
    ) -> _AsyncView[_P, _R | FlaskResponse]: ...

    @overload
    def api_auth_required(self, view: Callable[_P, _R], /) -> Callable[_P, _R | FlaskResponse]: ...

    def api_auth_required(self, view: Callable[..., Any], /) -> Any:
        """APIs: anonymous callers get a 401 JSON error (never cached)."""

        def deny() -> FlaskResponse | None:
            if self._sync().get_session() is not None:
                return None
            response = current_app.response_class(
                current_app.json.dumps(dict(NOT_AUTHENTICATED)),
                status=401,
                mimetype="application/json",
            )
            response.headers["Cache-Control"] = "no-store"
            return response

        return _guard(deny)(view)


def _guard(deny: Callable[[], FlaskResponse | None]) -> ViewDecorator:
    """A view decorator answering with ``deny()``'s response when it returns one."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(view):
            # Flask runs ``async def`` views itself; the wrapper must stay a coroutine
            # function so Flask still recognises it.
            @functools.wraps(view)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                denied = deny()
                if denied is not None:
                    return denied
                return await view(*args, **kwargs)

            return async_wrapper

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            denied = deny()
            if denied is not None:
                return denied
            return view(*args, **kwargs)

        return wrapper

    return cast(ViewDecorator, decorator)
