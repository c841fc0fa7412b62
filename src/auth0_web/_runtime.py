"""The SDK's parts, built once from the configuration and shared by routes and the client.

Routes receive a :class:`Runtime` rather than the :class:`~auth0_web.Auth0Client`, so each
route depends only on the pieces it uses and ``Auth0Client`` stays a thin facade.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from ._coalescing import RefreshCoalescer
from ._config import AppBaseUrl, Config
from ._http import CookieOptions, Request
from ._urls import resolve_app_base_url
from .oidc._client_auth import ClientAuthentication, ClientSecret, PrivateKeyJwt
from .oidc._discovery import DiscoveryCache, JwksCache, ProviderMetadata
from .oidc._dpop import DpopNonces
from .oidc._http_client import HttpClient
from .oidc._id_token import IdTokenValidation, validate_id_token
from .oidc._logout_token import ReplayGuard
from .oidc._token import DpopSigner
from .session._codec import CookieCodec
from .session._model import SessionData
from .session._stateful import StatefulSessionStore
from .session._stateless import StatelessSessionStore
from .session._transaction import TransactionStore

__all__ = ["DEFAULT_ID_TOKEN_CLAIMS", "Runtime", "filter_default_id_token_claims", "maybe_await"]

logger = logging.getLogger("auth0_web")

#: The ID-token claims kept in ``session.user`` when no ``before_session_saved`` hook is set.
DEFAULT_ID_TOKEN_CLAIMS = (
    "sub",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "email",
    "email_verified",
    "org_id",
    "act",
    "urn:auth0:my_org_current_user_permissions",
)

_T = TypeVar("_T")


def filter_default_id_token_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """Keep only :data:`DEFAULT_ID_TOKEN_CLAIMS` (for use inside a ``before_session_saved``)."""
    return {k: v for k, v in claims.items() if k in DEFAULT_ID_TOKEN_CLAIMS}


async def maybe_await(value: _T | Awaitable[_T]) -> _T:
    if inspect.isawaitable(value):
        return await value
    return value


class Runtime:
    def __init__(self, config: Config, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.codec = CookieCodec(config.secrets)
        self.sessions: StatelessSessionStore | StatefulSessionStore
        if config.session_store is not None:
            self.sessions = StatefulSessionStore(
                config.session, self.codec, config.session_store, issuer=config.issuer
            )
        else:
            self.sessions = StatelessSessionStore(config.session, self.codec)
        self.transactions = TransactionStore(
            config.transaction_cookie, self.codec, parallel=config.enable_parallel_transactions
        )
        self.http = HttpClient(timeout=config.http_timeout, telemetry=config.enable_telemetry)
        self.discovery = DiscoveryCache(
            self.http,
            issuer=config.issuer,
            insecure=config.allow_insecure_requests,
            ttl=config.discovery_ttl,
        )
        self.jwks = JwksCache(self.http, ttl=config.discovery_ttl)
        # A store that can coalesce refreshes across processes (the Redis store) does.
        distributed = getattr(config.session_store, "refresh_once", None)
        self.dpop: DpopSigner | None = None
        if config.dpop_key is not None:
            self.dpop = DpopSigner(
                key=config.dpop_key,
                nonces=DpopNonces(),
                clock=clock,
                clock_skew=config.dpop_options.clock_skew,
                retry_delay_ms=config.dpop_options.retry.delay,
                retry_jitter=config.dpop_options.retry.jitter,
            )
        self.refreshes = RefreshCoalescer(
            distributed=config.session_store if distributed is not None else None  # type: ignore[arg-type]
        )
        self.logout_replays = ReplayGuard()
        self.client_auth: ClientAuthentication
        if config.client_assertion_key is not None:
            self.client_auth = PrivateKeyJwt(
                client_id=config.client_id,
                key=config.client_assertion_key,
                algorithm=config.client_assertion_signing_alg,
                audience=config.issuer,
                clock=clock,
            )
        else:
            self.client_auth = ClientSecret(
                config.client_id, config.client_secret, config.token_endpoint_auth_method
            )
        cookie = config.session.cookie
        txn = config.transaction_cookie
        self._session_options = {
            secure: CookieOptions(
                path=cookie.path,
                secure=secure,
                same_site=cookie.same_site.lower(),
                domain=cookie.domain,
            )
            for secure in (False, True)
        }
        self._txn_options = {
            secure: CookieOptions(
                path=txn.path, secure=secure, same_site=txn.same_site.lower(), domain=txn.domain
            )
            for secure in (False, True)
        }

    def now(self) -> int:
        return int(self.clock())

    def base_url(self, request: Request) -> AppBaseUrl:
        return resolve_app_base_url(self.config, request)

    def session_cookie_options(self, base: AppBaseUrl) -> CookieOptions:
        explicit = self.config.session.cookie.secure
        return self._session_options[base.secure if explicit is None else explicit]

    def transaction_cookie_options(self, base: AppBaseUrl) -> CookieOptions:
        explicit = self.config.transaction_cookie.secure
        return self._txn_options[base.secure if explicit is None else explicit]

    async def read_session(self, request: Request) -> SessionData | None:
        found = await self.sessions.load(request.cookies, self.clock())
        return None if found is None else found[0]

    async def verify_id_token(
        self,
        token: str,
        metadata: ProviderMetadata,
        *,
        nonce: str | None = None,
        max_age: int | None = None,
        organization: str | None = None,
    ) -> dict[str, Any]:
        """Validate an ID token from any grant against this client's configuration
        (raises ``IdTokenError``, or ``HttpError`` when the keys cannot be fetched)."""
        return await validate_id_token(
            token,
            IdTokenValidation(
                issuer=metadata.issuer,
                client_id=self.config.client_id,
                algorithm=self.config.id_token_signing_alg,
                jwks_uri=metadata.jwks_uri,
                now=self.clock(),
                leeway=self.config.clock_tolerance,
                nonce=nonce,
                max_age=max_age,
                organization=organization,
            ),
            self.jwks,
        )

    async def finalize_session(self, session: SessionData, id_token: str | None) -> SessionData:
        """Apply ``before_session_saved`` (or the default claim filter); keep ``internal``."""
        hook = self.config.before_session_saved
        if hook is None:
            # A new object: the session ``on_callback`` received keeps every claim.
            return replace(session, user=filter_default_id_token_claims(session.user))
        # A copy, so a hook that mutates ``session.internal`` in place changes nothing.
        internal = replace(session.internal, extra=dict(session.internal.extra))
        updated = await maybe_await(hook(session, id_token))
        if not isinstance(updated, SessionData):
            raise TypeError("before_session_saved must return a SessionData")
        updated.internal = internal
        return updated
