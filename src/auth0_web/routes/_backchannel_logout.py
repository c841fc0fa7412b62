"""``POST /auth/backchannel-logout``: the provider ends sessions server-side.

OpenID Connect Back-Channel Logout 1.0. The request is authenticated by the logout token
alone (cookies are ignored); every invalid token is a 400, a replayed ``jti`` too, and the
sessions of that ``sid`` (or, without one, of that ``sub``) are deleted from the store.
Cookie-only sessions cannot be ended from the server: without a store that supports it the
route answers 501 and says so.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from .._errors import DiscoveryError, HttpError, SessionStoreUnavailableError
from .._http import Request, Response
from .._runtime import Runtime
from ..oidc._logout_token import LogoutTokenError, validate_logout_token
from ..session._store import SupportsLogoutTokens, guarded

__all__ = ["handle_backchannel_logout"]

logger = logging.getLogger("auth0_web")


def _text(message: str, status: int) -> Response:
    response = Response.text(message, status)
    response.no_store()
    return response


async def handle_backchannel_logout(rt: Runtime, request: Request) -> Response:
    store = rt.config.session_store
    if store is None:
        return _text(
            "Back-channel logout needs a server-side session store (session_store=...): "
            "cookie-only sessions cannot be ended by the provider.",
            501,
        )
    if not isinstance(store, SupportsLogoutTokens):
        return _text(
            "Back-channel logout is not supported by the session store "
            "(it has no delete_by_logout_token method).",
            501,
        )
    try:
        fields = parse_qsl(
            request.body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=20,
        )
    except (UnicodeDecodeError, ValueError):
        return _text("The request body must be application/x-www-form-urlencoded.", 400)
    tokens = [value for name, value in fields if name == "logout_token"]
    if len(tokens) != 1 or not tokens[0]:
        return _text("Exactly one logout_token is required.", 400)
    try:
        metadata = await rt.discovery.get()
    except DiscoveryError:
        return _text("The authorization server's configuration could not be loaded.", 503)
    try:
        validated = await validate_logout_token(
            tokens[0],
            issuer=metadata.issuer,
            client_id=rt.config.client_id,
            algorithm=rt.config.id_token_signing_alg,
            jwks_uri=metadata.jwks_uri,
            jwks=rt.jwks,
            now=rt.clock(),
            leeway=rt.config.clock_tolerance,
        )
    except LogoutTokenError as exc:
        logger.warning("back-channel logout token rejected: %s", exc.reason)
        return _text(f"Invalid logout token: {exc.reason}.", 400)
    except HttpError:
        return _text("The authorization server's keys could not be loaded.", 503)
    try:
        if validated.jti is not None:
            mark = getattr(store, "mark_logout_token_used", None)
            if mark is not None:
                used = mark(validated.jti, expires_at=validated.expires_at)
                first = bool(await guarded("mark_logout_token_used", used))
            else:
                first = rt.logout_replays.first_use(validated.jti, validated.expires_at)
            if not first:
                return _text("Invalid logout token: already used.", 400)
        await guarded("delete_by_logout_token", store.delete_by_logout_token(validated.claims))
    except SessionStoreUnavailableError as exc:
        return _text(exc.message, exc.status)
    return _text("", 204)
