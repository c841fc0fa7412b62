"""The UserInfo endpoint (OpenID Connect Core 1.0 section 5.3) behind a Bearer token.

The access token must be one this provider issued (signature, ``typ: at+jwt``, issuer),
unexpired, meant for ``/userinfo`` (its ``aud``), carry the ``openid`` scope, and neither it
nor its grant may be revoked. Failures answer as RFC 6750 section 3 says: 401 with a
``Bearer`` challenge, ``error="invalid_token"`` when a token was presented, no error code
when none was (section 3.1).
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from ._claims import user_claims
from ._keys import ACCESS_TOKEN_TYPE
from ._responses import NO_STORE, json_response
from ._state import ProviderState
from ._tokens import userinfo_audience

__all__ = ["userinfo"]

_REALM = 'realm="auth0-web dev provider"'


class _TokenError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _challenge(
    error: str | None = None, description: str | None = None, status: int = 401
) -> Response:
    value = "Bearer " + _REALM
    if error is not None:
        value += f', error="{error}"'
    if description is not None:
        value += f', error_description="{description}"'
    return Response(status_code=status, headers={**NO_STORE, "WWW-Authenticate": value})


def _bearer_token(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _validate(state: ProviderState, token: str) -> tuple[str, tuple[str, ...]]:
    """``(sub, scopes)`` of a usable access token, else :class:`_TokenError`."""
    claims = state.key.verify(token, typ=ACCESS_TOKEN_TYPE)
    if claims is None:
        raise _TokenError("the access token was not issued by this provider")
    if claims.get("iss") != state.issuer:
        raise _TokenError("the access token has another issuer")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or not math.isfinite(exp):
        raise _TokenError("the access token has no valid exp")
    if exp <= state.clock():
        raise _TokenError("the access token expired")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if userinfo_audience(state) not in audiences:
        raise _TokenError("the access token is not meant for /userinfo")
    jti = claims.get("jti")
    record = state.access_tokens.get(jti) if isinstance(jti, str) else None
    if record is None or record.revoked or state.live_grant(record.grant_id) is None:
        raise _TokenError("the access token was revoked")
    sub, scope = claims.get("sub"), claims.get("scope")
    if not isinstance(sub, str) or sub not in state.users or not isinstance(scope, str):
        raise _TokenError("the access token is malformed")
    return sub, tuple(scope.split(" "))


async def userinfo(request: Request, state: ProviderState) -> Response:
    """``GET`` or ``POST /userinfo``."""
    token = _bearer_token(request)
    if token is None:
        return _challenge()
    with state.lock:
        try:
            sub, scopes = _validate(state, token)
        except _TokenError as exc:
            return _challenge("invalid_token", exc.description)
        if "openid" not in scopes:
            return _challenge("insufficient_scope", "the openid scope is required", status=403)
        return json_response(user_claims(state.users[sub], scopes))
