"""``GET /auth/callback``: finish the login.

Order matters and follows the specs: the transaction is found and matched to ``state``
before anything else (no token request for an unsolicited or forged callback), the
authorization response is validated (RFC 9207 ``iss``, errors, no implicit-flow tokens),
then the code is exchanged and the ID token fully validated before a session exists.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from .._connect import CONNECT_RESPONSE_TYPE, ConnectedAccount
from .._errors import (
    Auth0Error,
    AuthorizationCodeGrantError,
    AuthorizationCodeGrantRequestError,
    AuthorizationError,
    DiscoveryError,
    HttpError,
    InvalidStateError,
    MissingStateError,
    OAuth2Error,
    SessionTooLargeError,
)
from .._http import Request, Response
from .._runtime import Runtime, maybe_await
from .._urls import absolute
from ..oidc._discovery import ProviderMetadata
from ..oidc._id_token import IdTokenError
from ..oidc._token import TokenResponseError, authorization_code_grant
from ..session._model import SessionData, SessionInternal, TokenSet
from ..session._transaction import TransactionState, is_valid_state

__all__ = ["CallbackContext", "handle_callback"]

logger = logging.getLogger("auth0_web")

#: A login whose upstream session ends within this many seconds of issuance is refused.
SESSION_CEILING_LEEWAY = 30
_IMPLICIT_PARAMETERS = ("id_token", "access_token", "token", "response")


@dataclass(frozen=True, slots=True)
class CallbackContext:
    """What ``on_callback`` learns about the login that ended.

    ``return_to`` is a validated absolute path on the app's origin (``None`` when the
    transaction could not be found); ``return_to_url`` joins it with the app origin.
    ``connected_account`` is the account a connect-account flow linked
    (``response_type == "connect_code"``).
    """

    app_base_url: str | None = None
    return_to: str | None = None
    return_to_url: str | None = None
    response_type: str | None = None
    connected_account: ConnectedAccount | None = None


async def handle_callback(rt: Runtime, request: Request) -> Response:
    query = request.query()
    state = query.get("state")
    if not state:
        return await _finish_error(rt, MissingStateError(), CallbackContext(), None, request)
    if not is_valid_state(state):
        return await _finish_error(rt, InvalidStateError(), CallbackContext(), None, request)
    txn = rt.transactions.load(request.cookies, state, rt.clock())
    if txn is None:
        return await _finish_error(rt, InvalidStateError(), CallbackContext(), None, request)

    base = rt.base_url(request)
    ctx = CallbackContext(
        app_base_url=base.url,
        return_to=txn.return_to,
        return_to_url=absolute(base, txn.return_to),
        response_type=txn.response_type,
    )
    if txn.response_type == CONNECT_RESPONSE_TYPE:
        from ._connect import handle_connect_callback

        return await handle_connect_callback(rt, request, query, txn, ctx)
    try:
        metadata = await rt.discovery.get()
        _validate_authorization_response(query, metadata)
        session, id_token = await _exchange(rt, request, txn, metadata, query["code"])
    except Auth0Error as error:
        return await _finish_error(rt, error, ctx, txn, request)

    response = await _call_hook(rt, None, ctx, session)
    if response is None:
        response = Response.redirect(ctx.return_to_url or base.url)
    session = await rt.finalize_session(session, id_token)
    options = rt.session_cookie_options(base)
    try:
        await rt.sessions.save(response, session, request.cookies, rt.now(), options, is_new=True)
    except SessionTooLargeError as error:
        logger.warning("login callback failed: %s", error.code)
        response = Response.text(error.message, error.status)
        response.no_store()
    rt.transactions.delete(response, txn.state, rt.transaction_cookie_options(base))
    return response


def _validate_authorization_response(query: dict[str, str], metadata: ProviderMetadata) -> None:
    """RFC 6749 4.1.2 / RFC 9207: judge the redirect before any back-channel call."""
    iss = query.get("iss")
    if iss is not None and iss != metadata.issuer:
        raise AuthorizationError(cause=OAuth2Error("invalid_issuer"))
    if iss is None and metadata.iss_parameter_supported:
        raise AuthorizationError(cause=OAuth2Error("missing_issuer"))
    if any(name in query for name in _IMPLICIT_PARAMETERS):
        raise AuthorizationError(cause=OAuth2Error("unsupported_response"))
    if "error" in query:
        raise AuthorizationError(cause=OAuth2Error(query["error"], query.get("error_description")))
    if not query.get("code"):
        raise AuthorizationError(cause=OAuth2Error("missing_code"))


async def _exchange(
    rt: Runtime, request: Request, txn: TransactionState, metadata: ProviderMetadata, code: str
) -> tuple[SessionData, str]:
    base = rt.base_url(request)
    try:
        tokens = await authorization_code_grant(
            rt.http,
            metadata.token_endpoint,
            rt.client_auth,
            code=code,
            redirect_uri=base.url_for(rt.config.routes.callback),
            code_verifier=txn.code_verifier,
            dpop=rt.dpop,
        )
    except HttpError as exc:
        raise AuthorizationCodeGrantRequestError(cause=exc) from exc
    except (OAuth2Error, TokenResponseError) as exc:
        logger.warning("token endpoint refused the authorization code: %s", _reason(exc))
        raise AuthorizationCodeGrantError(cause=exc) from exc
    assert tokens.id_token is not None
    now = rt.clock()
    try:
        claims = await rt.verify_id_token(
            tokens.id_token,
            metadata,
            nonce=txn.nonce,
            max_age=txn.max_age,
            organization=txn.organization,
        )
    except IdTokenError as exc:
        logger.warning("ID token rejected: %s", exc.reason)
        raise AuthorizationCodeGrantError(cause=exc) from exc
    except HttpError as exc:
        raise AuthorizationCodeGrantRequestError(cause=exc) from exc

    issued = int(now)
    ceiling = _session_expiry(claims.get("session_expiry"))
    iat = claims["iat"]
    if ceiling is not None and ceiling <= iat + SESSION_CEILING_LEEWAY:
        raise AuthorizationCodeGrantError(
            "The session has expired and the user must re-authenticate."
        )
    sid = claims.get("sid")
    session = SessionData(
        user=dict(claims),
        token_set=TokenSet(
            access_token=tokens.access_token,
            id_token=tokens.id_token,
            refresh_token=tokens.refresh_token,
            scope=tokens.scope,
            requested_scope=txn.scope,
            audience=txn.audience,
            # Stored from the start (the reference only stores it after a refresh), so a
            # DPoP-bound token is never sent as Bearer.
            token_type=tokens.token_type,
            expires_at=issued + (tokens.expires_in if tokens.expires_in is not None else 3600),
        ),
        internal=SessionInternal(
            sid=sid if isinstance(sid, str) else "",
            created_at=issued,
            session_expires_at=ceiling,
        ),
    )
    return session, tokens.id_token


def _session_expiry(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 < value < 1e10:
        return None
    return int(value)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OAuth2Error):
        return exc.code
    if isinstance(exc, TokenResponseError):
        return exc.reason
    return type(exc).__name__


async def _call_hook(
    rt: Runtime, error: Auth0Error | None, ctx: CallbackContext, session: SessionData | None
) -> Response | None:
    hook = rt.config.on_callback
    if hook is None:
        return None
    result = await maybe_await(hook(error, ctx, session))
    if result is None:
        return None
    return coerce_response(result)


def coerce_response(value: object) -> Response:
    """Accept the core :class:`Response` or a Starlette-style response from a hook."""
    if isinstance(value, Response):
        return value
    status = getattr(value, "status_code", None)
    raw_headers = getattr(value, "raw_headers", None)
    body = getattr(value, "body", b"")
    if isinstance(status, int) and isinstance(raw_headers, list):
        response = Response(status=status, body=body if isinstance(body, bytes) else b"")
        for key, val in raw_headers:
            name, text = key.decode("latin-1").lower(), val.decode("latin-1")
            if name == "set-cookie":
                response.cookies.append((text.partition("=")[0], text))
            elif name != "content-length":
                response.headers.append((name, text))
        return response
    raise TypeError("on_callback must return an auth0_web.Response, a Starlette response or None")


async def _finish_error(
    rt: Runtime,
    error: Auth0Error,
    ctx: CallbackContext,
    txn: TransactionState | None,
    request: Request,
) -> Response:
    if isinstance(error, DiscoveryError | AuthorizationCodeGrantRequestError):
        logger.warning("login callback failed: %s", error.code)
    response = await _call_hook(rt, error, ctx, None)
    if response is None:
        response = Response.text(error.message, error.status)
    if txn is not None:
        base = rt.base_url(request)
        rt.transactions.delete(response, txn.state, rt.transaction_cookie_options(base))
    if not any(name == "cache-control" for name, _ in response.headers):
        response.headers.append(("cache-control", "no-store"))
    return response
