"""``Auth0Client``: the one object an application creates.

It validates the configuration, builds the SDK's parts once (:class:`Runtime`) and
delegates: routes live in :mod:`auth0_web.routes`, sessions in :mod:`auth0_web.session`,
the protocol in :mod:`auth0_web.oidc`, framework glue in :mod:`auth0_web.adapters`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import _connect
from ._access_tokens import AccessToken
from ._ciba import BackchannelAuthenticationResult, get_token_by_backchannel_auth
from ._config import (
    BeforeSessionSaved,
    Config,
    DpopOptions,
    OnCallback,
    Routes,
    SessionConfig,
    TransactionCookieConfig,
    build_config,
)
from ._connection_tokens import (
    AccessTokenForConnectionError,
    ConnectionAccessToken,
    get_access_token_for_connection,
    validate_connection_request,
)
from ._context import RequestState, anonymous_scope, current_state, request_from_scope
from ._errors import (
    AccessTokenError,
    Auth0Error,
    InvalidConfigurationError,
    SessionStoreUnavailableError,
)
from ._fetcher import Fetcher, TokenFactory
from ._http import Request, Response
from ._mfa import MfaClient
from ._refresh import get_access_token
from ._runtime import Runtime
from ._token_exchange import CustomTokenExchangeResult, custom_token_exchange
from .routes import Router, start_interactive_login
from .session._model import SessionData
from .session._store import SessionDataStore

if TYPE_CHECKING:
    import httpx

    from .adapters.asgi import Auth0Middleware

logger = logging.getLogger("auth0_web")

__all__ = ["Auth0Client", "MissingSessionError"]


class MissingSessionError(Auth0Error):
    """The operation needs a logged-in user and the request has no session."""

    code = "missing_session"
    status = 401
    default_message = "The user does not have an active session or is not authenticated."


class Auth0Client:
    """Login, logout, sessions and tokens for one Auth0 application.

    Every option falls back to its environment variable (``AUTH0_DOMAIN``,
    ``AUTH0_CLIENT_ID``, ``AUTH0_CLIENT_SECRET``, ``AUTH0_SECRET``, ``APP_BASE_URL``,
    ``AUTH0_COOKIE_*``); explicit arguments win. Durations are in seconds. Missing or
    invalid options raise :class:`~auth0_web.InvalidConfigurationError` listing every problem.
    """

    def __init__(
        self,
        *,
        domain: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        secret: str | Sequence[str] | None = None,
        app_base_url: str | Sequence[str] | None = None,
        sign_in_return_to_path: str = "/",
        authorization_parameters: Mapping[str, Any] | None = None,
        session: SessionConfig | Mapping[str, Any] | None = None,
        transaction_cookie: TransactionCookieConfig | Mapping[str, Any] | None = None,
        enable_parallel_transactions: bool = True,
        routes: Routes | Mapping[str, Any] | None = None,
        logout_strategy: str = "auto",
        include_id_token_hint_in_oidc_logout_url: bool = True,
        before_session_saved: BeforeSessionSaved | None = None,
        on_callback: OnCallback | None = None,
        allow_insecure_requests: bool = False,
        http_timeout: float = 5.0,
        enable_telemetry: bool = True,
        enable_access_token_endpoint: bool = True,
        enable_connect_account_endpoint: bool = False,
        no_content_profile_response_when_unauthenticated: bool = False,
        token_refresh_buffer: int = 0,
        token_endpoint_auth_method: str = "client_secret_post",
        id_token_signing_alg: str = "RS256",
        clock_tolerance: int = 30,
        discovery_ttl: int = 600,
        session_store: SessionDataStore | None = None,
        pushed_authorization_requests: bool = False,
        client_assertion_signing_key: object | None = None,
        client_assertion_signing_alg: str | None = None,
        use_dpop: bool = False,
        dpop_key_pair: object | None = None,
        dpop_options: DpopOptions | Mapping[str, Any] | None = None,
        mfa_token_ttl: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config: Config = build_config(
            domain=domain,
            client_id=client_id,
            client_secret=client_secret,
            secret=secret,
            app_base_url=app_base_url,
            sign_in_return_to_path=sign_in_return_to_path,
            authorization_parameters=authorization_parameters,
            session=session,
            transaction_cookie=transaction_cookie,
            enable_parallel_transactions=enable_parallel_transactions,
            routes=routes,
            logout_strategy=logout_strategy,
            include_id_token_hint_in_oidc_logout_url=include_id_token_hint_in_oidc_logout_url,
            allow_insecure_requests=allow_insecure_requests,
            http_timeout=http_timeout,
            enable_telemetry=enable_telemetry,
            enable_access_token_endpoint=enable_access_token_endpoint,
            enable_connect_account_endpoint=enable_connect_account_endpoint,
            no_content_profile_response_when_unauthenticated=(
                no_content_profile_response_when_unauthenticated
            ),
            token_refresh_buffer=token_refresh_buffer,
            token_endpoint_auth_method=token_endpoint_auth_method,
            id_token_signing_alg=id_token_signing_alg,
            clock_tolerance=clock_tolerance,
            before_session_saved=before_session_saved,
            on_callback=on_callback,
            discovery_ttl=discovery_ttl,
            session_store=session_store,
            pushed_authorization_requests=pushed_authorization_requests,
            client_assertion_signing_key=client_assertion_signing_key,
            client_assertion_signing_alg=client_assertion_signing_alg,
            use_dpop=use_dpop,
            dpop_key_pair=dpop_key_pair,
            dpop_options=dpop_options,
            mfa_token_ttl=mfa_token_ttl,
        )
        self._rt = Runtime(self.config, clock=clock or time.time)
        self._router = Router(self._rt)
        self._dependencies: dict[str, Any] = {}
        self._mfa: MfaClient | None = None

    def __repr__(self) -> str:
        return f"Auth0Client(domain={self.config.domain!r}, client_id={self.config.client_id!r})"

    @property
    def mfa(self) -> MfaClient:
        """Multi-factor step-up after :class:`MfaRequiredError` (see :class:`MfaClient`)."""
        if self._mfa is None:
            self._mfa = MfaClient(self)
        return self._mfa

    # -- mounting ---------------------------------------------------------------------------

    def middleware(self, app: Any) -> Auth0Middleware:
        """Wrap any ASGI app: mounts the ``/auth/*`` routes and carries the session."""
        from .adapters.asgi import Auth0Middleware

        return Auth0Middleware(app, client=self)

    async def handle(self, request: Request) -> Response | None:
        """Serve ``request`` if it is for an SDK route (for adapters); else ``None``."""
        handler = self._router.match(request.method, request.path)
        if handler is None:
            return None
        return await self._router.dispatch(handler, request)

    async def aclose(self) -> None:
        """Close the outbound HTTP connection pool (call at application shutdown)."""
        await self._rt.http.aclose()

    # -- sessions ---------------------------------------------------------------------------

    def _state_for(self, request: object | None) -> tuple[RequestState | None, Request]:
        state = current_state()
        if request is None:
            if state is None:
                raise Auth0Error(
                    "No request: call this inside a request served through auth0.middleware(), "
                    "or pass the request explicitly."
                )
            return state, state.request
        if isinstance(request, Request):
            return None, request
        scope = getattr(request, "scope", request)
        if isinstance(scope, dict) and scope.get("type") == "http":
            if state is not None and state.scope is scope:
                return state, state.request
            return None, request_from_scope(scope)
        raise TypeError(
            "request must be an auth0_web.Request, a Starlette/FastAPI request or an ASGI scope"
        )

    async def _session_for_state(self, state: RequestState) -> SessionData | None:
        if state.pending is not None:
            return state.pending
        if not state.loaded:
            found = await self._rt.sessions.load_header(state.raw_cookie, self._rt.clock())
            if found is None:
                state.set_session(None)
            else:
                state.set_session(found[0])
                state.plaintext = found[1]
                state.cookie_expires_at = found[2]
        return state.cached_session()

    async def _stored_session(self, state: RequestState) -> SessionData | None:
        """The session to write for this request, with ``internal`` as the cookie holds it.

        The app may have mutated any object it was given (including a pending update), so
        ``internal`` is rebuilt from the decrypted cookie every time.
        """
        if await self._session_for_state(state) is None and state.pending is None:
            return None
        if state.plaintext is None:
            return state.pending
        stored = self._rt.sessions.from_plaintext(state.plaintext, self._rt.clock())
        if stored is None:
            return None
        if state.pending is None:
            return stored
        return replace(state.pending, internal=stored.internal)

    @staticmethod
    def _serving(request: object | None) -> RequestState | None:
        """The middleware's context when ``request`` is the one it is serving (or omitted):
        the common case, answered without building the whole core request."""
        state = current_state()
        if state is not None and (
            request is None or getattr(request, "scope", request) is state.scope
        ):
            return state
        return None

    async def _request_session(
        self, request: object | None
    ) -> tuple[RequestState | None, Request, SessionData | None]:
        """The request context (inside the middleware), the core request and its session."""
        state, core = self._state_for(request)
        if state is not None:
            return state, core, await self._session_for_state(state)
        return state, core, await self._rt.read_session(core)

    async def get_session(self, request: object | None = None) -> SessionData | None:
        """The session of the current (or given) request, or ``None``; never rolls it.

        A session store that is down reads as no session (the cookie is left alone, so the
        session is back once the store is); the SDK's routes answer 503 meanwhile.
        """
        anonymous = anonymous_scope()
        if anonymous is not None and (
            request is None or getattr(request, "scope", request) is anonymous
        ):
            return None  # the middleware saw no session cookie on this request
        state = self._serving(request)
        try:
            if state is not None:
                return await self._session_for_state(state)
            return (await self._request_session(request))[2]
        except SessionStoreUnavailableError:
            return None

    async def update_session(
        self,
        session: SessionData,
        request: object | None = None,
        response: object | None = None,
    ) -> None:
        """Persist changes to the session (``internal`` cannot be changed).

        Inside the middleware the new cookie is written on the way out; elsewhere pass the
        ``response`` (an :class:`auth0_web.Response` or a Starlette response) to write to.
        """
        if not isinstance(session, SessionData):
            raise TypeError("session must be a SessionData")
        state, core = self._state_for(request)
        existing = (
            await self._stored_session(state)
            if state is not None
            else await self._rt.read_session(core)
        )
        if existing is None:
            raise MissingSessionError("The user is not authenticated.")
        # ``internal`` always comes from the stored session: changes the app made to the
        # object it holds, in place or by assignment, are discarded.
        updated = replace(session, internal=existing.internal)
        if state is not None and not state.response_started:
            await self._persist(state, core, updated, None)
        elif response is not None:
            await self._write_session(response, core, updated)
        elif state is None:
            raise Auth0Error(
                "update_session() outside the middleware needs response= to write the cookie to."
            )
        else:
            raise Auth0Error("The response has already started; the session cannot be updated.")

    async def _write_session(self, target: object, request: Request, session: SessionData) -> None:
        base = self._rt.base_url(request)
        core = Response()
        await self._rt.sessions.save(
            core, session, request.cookies, self._rt.now(), self._rt.session_cookie_options(base)
        )
        if isinstance(target, Response):
            target.cookies.extend(core.cookies)
            target.no_store()
            return
        headers = getattr(target, "headers", None)
        append = getattr(headers, "append", None)
        if append is None:
            raise TypeError("response must be an auth0_web.Response or a Starlette response")
        for _, value in core.cookies:
            append("set-cookie", value)
        for name, value in core.headers:
            headers[name] = value  # type: ignore[index]

    # -- access tokens ----------------------------------------------------------------------

    async def get_access_token(
        self,
        request: object | None = None,
        response: object | None = None,
        *,
        refresh: bool = False,
        scope: str | None = None,
        audience: str | None = None,
        merge_scopes: bool = True,
    ) -> AccessToken:
        """The session's access token for ``audience``/``scope``, refreshed when needed.

        Refreshes when the token has expired, is within ``token_refresh_buffer`` seconds of
        expiring, or ``refresh=True``. The refreshed session (and a rotated refresh token) is
        persisted: inside the middleware on the way out, else to ``response``. Raises
        :class:`AccessTokenError` (``missing_session``, ``missing_refresh_token``,
        ``failed_to_refresh_token``, ``session_expired``) or :class:`MfaRequiredError`.
        """
        state = self._serving(request)
        core: Request | None = None
        if state is not None:
            session = await self._session_for_state(state)
        else:
            state, core, session = await self._request_session(request)
        if session is None:
            raise AccessTokenError(
                AccessTokenError.MISSING_SESSION, "The user does not have an active session."
            )
        token, updated = await get_access_token(
            self._rt, session, refresh=refresh, scope=scope, audience=audience, merge=merge_scopes
        )
        if updated is not None:
            if core is None:
                assert state is not None
                core = state.request
            await self._persist(state, core, updated, response)
        return token

    async def _persist(
        self,
        state: RequestState | None,
        request: Request,
        session: SessionData,
        response: object | None,
    ) -> None:
        if state is not None and not state.response_started:
            # Inside the middleware the write always happens on the way out, even when a
            # response was passed: a cookie put on that response would be followed (and
            # overridden in the browser) by the middleware's own write of the session.
            state.pending = session
            state.set_session(session)
        elif response is not None:
            await self._write_session(response, request, session)
        else:
            logger.warning(
                "a refreshed token set could not be saved (no response to write to): pass "
                "response= to get_access_token(), or call it inside auth0.middleware()"
            )

    async def get_access_token_for_connection(
        self,
        request: object | None = None,
        response: object | None = None,
        *,
        connection: str,
        login_hint: str | None = None,
        subject_token_type: str | None = None,
    ) -> ConnectionAccessToken:
        """An access token for the user's account at ``connection`` (Token Vault).

        Cached in the session until it expires (or is within ``token_refresh_buffer``),
        then exchanged again; persisted like :meth:`get_access_token`. ``login_hint``
        picks one of several accounts on the connection. ``subject_token_type`` is the
        refresh-token URN (default) or the access-token URN. Raises
        :class:`AccessTokenForConnectionError` (``missing_session``,
        ``missing_refresh_token``, ``failed_to_exchange_refresh_token``), or
        :class:`InvalidRequestError` for invalid options, before any network call.
        """
        options = validate_connection_request(connection, login_hint, subject_token_type)
        state, core, session = await self._request_session(request)
        if session is None:
            raise AccessTokenForConnectionError(
                AccessTokenForConnectionError.MISSING_SESSION,
                "The user does not have an active session.",
            )

        async def persist(updated: SessionData) -> None:
            await self._persist(state, core, updated, response)

        return await get_access_token_for_connection(self._rt, session, options, persist)

    async def create_fetcher(
        self,
        request: object | None = None,
        response: object | None = None,
        *,
        base_url: str | None = None,
        use_dpop: bool | None = None,
        get_access_token: TokenFactory | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> Fetcher:
        """An HTTP client for your APIs that sends the user's access token.

        ``fetch_with_auth(url, method, *, audience=None, scope=None, refresh=False, ...)``
        gets the token from :meth:`get_access_token` (refreshing and persisting as it does)
        or from ``get_access_token`` (your own factory), and resolves relative URLs against
        ``base_url``. Requires a session (``AccessTokenError`` ``missing_session``).
        """
        if use_dpop and self._rt.dpop is None:
            raise InvalidConfigurationError(
                "create_fetcher(use_dpop=True) needs DPoP configured on the Auth0Client "
                "(use_dpop=True and a dpop_key_pair)."
            )
        dpop = None if use_dpop is False else self._rt.dpop
        if get_access_token is None:
            if await self.get_session(request) is None:
                raise AccessTokenError(
                    AccessTokenError.MISSING_SESSION, "The user does not have an active session."
                )

            async def default_factory(**options: Any) -> AccessToken:
                return await self.get_access_token(request, response, **options)

            factory: TokenFactory = default_factory
        else:
            factory = get_access_token
        return Fetcher(
            factory, base_url=base_url, client=client, timeout=self.config.http_timeout, dpop=dpop
        )

    # -- token exchange ---------------------------------------------------------------------

    async def custom_token_exchange(
        self,
        *,
        subject_token: str,
        subject_token_type: str,
        audience: str | None = None,
        scope: str | None = None,
        organization: str | None = None,
        actor_token: str | None = None,
        actor_token_type: str | None = None,
        additional_parameters: Mapping[str, object] | None = None,
    ) -> CustomTokenExchangeResult:
        """Exchange another system's token for Auth0 tokens (RFC 8693 Custom Token Exchange).

        Never reads or writes the session. Raises :class:`CustomTokenExchangeError`
        (``missing_subject_token``, ``invalid_subject_token_type``,
        ``missing_actor_token_type``, ``invalid_actor_token_type``, ``exchange_failed``).
        """
        return await custom_token_exchange(
            self._rt,
            subject_token=subject_token,
            subject_token_type=subject_token_type,
            audience=audience,
            scope=scope,
            organization=organization,
            actor_token=actor_token,
            actor_token_type=actor_token_type,
            additional_parameters=additional_parameters,
        )

    async def get_token_by_backchannel_auth(
        self,
        *,
        binding_message: str,
        login_hint: Mapping[str, str],
        requested_expiry: int | None = 300,
        authorization_params: Mapping[str, str] | None = None,
        authorization_details: Any = None,
    ) -> BackchannelAuthenticationResult:
        """Client-Initiated Backchannel Authentication (CIBA, poll mode).

        Asks the user ``login_hint={"sub": ...}`` to approve ``binding_message`` on their
        authentication device and waits (honouring ``interval`` and ``slow_down``) until
        they approve, deny or the request expires. Returns the tokens and the verified
        ID-token claims; the session is not touched. Raises
        :class:`BackchannelAuthenticationError` or
        :class:`BackchannelAuthenticationNotSupportedError`.
        """
        return await get_token_by_backchannel_auth(
            self._rt,
            binding_message=binding_message,
            login_hint=login_hint,
            requested_expiry=requested_expiry,
            authorization_params=authorization_params,
            authorization_details=authorization_details,
        )

    # -- connected accounts (My Account API; see _connect.py) ----------------------------------

    async def connect_account(
        self,
        request: object | None = None,
        *,
        connection: str,
        scopes: Sequence[str] | None = None,
        return_to: str | None = None,
        authorization_params: Mapping[str, Any] | None = None,
    ) -> Response:
        """A redirect (return it) that links the user's account at ``connection``.

        ``scopes`` are asked of that provider, ``authorization_params`` are passed on to it
        and ``return_to`` is where the user lands afterwards (validated like login's). A
        token rotation is persisted as :meth:`get_access_token` does (outside the
        middleware, onto the returned response). Raises :class:`ConnectAccountError`
        (``missing_session``, ``failed_to_initiate``), :class:`MfaRequiredError`, or
        :class:`InvalidRequestError` for bad arguments, before any network call.
        """
        state, core, session = await self._request_session(request)

        async def persist(updated: SessionData, target: Response | None) -> None:
            await self._persist(state, core, updated, target)

        return await _connect.connect_account(
            self._rt,
            core,
            session,
            persist,
            connection=connection,
            scopes=scopes,
            return_to=return_to,
            authorization_params=authorization_params,
        )

    async def get_connected_accounts(
        self, request: object | None = None, response: object | None = None
    ) -> list[_connect.ConnectedAccount]:
        """The user's connected accounts (every page). Raises :class:`ConnectedAccountsError`
        (``missing_session``, ``failed_to_list``) or :class:`MfaRequiredError`."""
        state, core, session = await self._request_session(request)

        async def persist(updated: SessionData, _: Response | None) -> None:
            await self._persist(state, core, updated, response)

        return await _connect.get_connected_accounts(self._rt, session, persist)

    async def disconnect_account(
        self, request: object | None = None, response: object | None = None, *, connection: str
    ) -> list[_connect.ConnectedAccount]:
        """Unlink every account of the user on ``connection``; returns the ones removed.
        Raises :class:`ConnectedAccountsError` (``missing_session``, ``failed_to_list``,
        ``failed_to_delete``) or :class:`MfaRequiredError`."""
        state, core, session = await self._request_session(request)

        async def persist(updated: SessionData, _: Response | None) -> None:
            await self._persist(state, core, updated, response)

        return await _connect.disconnect_account(self._rt, session, persist, connection)

    # -- login ------------------------------------------------------------------------------

    async def start_interactive_login(
        self,
        request: object | None = None,
        *,
        authorization_parameters: Mapping[str, str] | None = None,
        return_to: str | None = None,
    ) -> Response:
        """A redirect to Auth0's login page (the caller returns it)."""
        _, core = self._state_for(request)
        return await start_interactive_login(
            self._rt, core, authorization_parameters=authorization_parameters, return_to=return_to
        )

    # -- framework helpers (Starlette / FastAPI) ----------------------------------------------

    def with_page_auth_required(
        self, func: Callable[..., Any] | None = None, *, return_to: str | None = None
    ) -> Any:
        """Decorate a Starlette/FastAPI endpoint: anonymous users are sent to log in."""
        from .adapters.starlette import page_auth_required

        decorator = page_auth_required(self, return_to=return_to)
        return decorator(func) if func is not None else decorator

    def with_api_auth_required(self, func: Callable[..., Any]) -> Any:
        """Decorate a Starlette/FastAPI endpoint: anonymous callers get a 401 JSON error."""
        from .adapters.starlette import api_auth_required

        return api_auth_required(self)(func)

    @property
    def require_session(self) -> Callable[..., Any]:
        """FastAPI dependency: the session, or HTTP 401 when there is none."""
        from .adapters.starlette import session_dependency

        if "require" not in self._dependencies:
            self._dependencies["require"] = session_dependency(self, required=True)
        return self._dependencies["require"]  # type: ignore[no-any-return]

    @property
    def optional_session(self) -> Callable[..., Any]:
        """FastAPI dependency: the session or ``None``."""
        from .adapters.starlette import session_dependency

        if "optional" not in self._dependencies:
            self._dependencies["optional"] = session_dependency(self, required=False)
        return self._dependencies["optional"]  # type: ignore[no-any-return]

    def access_token_dependency(
        self, *, audience: str | None = None, scope: str | None = None
    ) -> Callable[..., Any]:
        """FastAPI dependency: the user's access token (401 without one, 403 for MFA).

        ``token: AccessToken = Depends(auth0.access_token_dependency(audience="https://api"))``
        """
        from .adapters.starlette import access_token_dependency

        key = f"token:{audience}:{scope}"
        if key not in self._dependencies:
            self._dependencies[key] = access_token_dependency(self, audience=audience, scope=scope)
        return self._dependencies[key]  # type: ignore[no-any-return]

    def login_url(self, return_to: str | None = None) -> str:
        """The login route's path, with ``returnTo`` fully URL-encoded."""
        from urllib.parse import quote

        path = self.config.routes.login
        if return_to:
            path += "?returnTo=" + quote(return_to, safe="")
        return path
