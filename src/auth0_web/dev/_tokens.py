"""Minting a token response (RFC 6749 section 5.1, OpenID Connect Core 1.0 section 3.1.3.3).

Access tokens are JWTs in the shape Auth0 issues (``iss``, ``sub``, ``aud``, ``azp``,
``scope``, ``iat``, ``exp``, ``jti``, plus RFC 9068's ``client_id``): ``aud`` is the
requested API and, because ``openid`` is always granted, also ``<issuer>userinfo``, so the
same token works at ``/userinfo`` as with a tenant. Each token is recorded against its
grant so revoking the grant revokes it.
"""

from __future__ import annotations

from typing import Any

from ._claims import user_claims
from ._keys import ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE
from ._state import AccessTokenRecord, Grant, ProviderState, RefreshTokenRecord, new_secret

__all__ = ["grant_lifetime", "issue_tokens", "userinfo_audience"]


def userinfo_audience(state: ProviderState) -> str:
    return state.issuer + "userinfo"


def grant_lifetime(state: ProviderState, scope: tuple[str, ...]) -> int:
    """How long a grant is remembered: as long as anything issued from it can be used."""
    lifetimes = state.lifetimes
    longest = max(lifetimes.access_token, lifetimes.id_token)
    if "offline_access" in scope:
        longest = max(longest, lifetimes.refresh_token)
    return longest


def _access_token(state: ProviderState, grant: Grant, scope: tuple[str, ...], now: int) -> str:
    audiences = [userinfo_audience(state)]
    if grant.audience is not None and grant.audience not in audiences:
        audiences.insert(0, grant.audience)
    jti = new_secret()
    exp = now + state.lifetimes.access_token
    claims: dict[str, Any] = {
        "iss": state.issuer,
        "sub": grant.sub,
        "aud": audiences[0] if len(audiences) == 1 else audiences,
        "azp": grant.client_id,
        "client_id": grant.client_id,
        "scope": " ".join(scope),
        "iat": now,
        "exp": exp,
        "jti": jti,
    }
    state.access_tokens.put(jti, AccessTokenRecord(grant.id, grant.client_id), exp)
    return state.key.sign(claims, typ=ACCESS_TOKEN_TYPE)


def _id_token(
    state: ProviderState, grant: Grant, scope: tuple[str, ...], nonce: str | None, now: int
) -> str:
    claims: dict[str, Any] = user_claims(state.users[grant.sub], scope)
    claims.update(
        iss=state.issuer,
        sub=grant.sub,
        aud=grant.client_id,
        azp=grant.client_id,
        iat=now,
        exp=now + state.lifetimes.id_token,
        auth_time=grant.auth_time,
        sid=grant.sid,
    )
    if nonce is not None:
        claims["nonce"] = nonce
    return state.key.sign(claims, typ=ID_TOKEN_TYPE)


def issue_tokens(
    state: ProviderState, grant: Grant, *, scope: tuple[str, ...], nonce: str | None
) -> dict[str, Any]:
    """The token response for ``grant``, with access to ``scope`` (the grant's or less).

    A refresh token is included when the grant has ``offline_access``; it always carries
    the grant's full scope (RFC 6749 section 6), whatever this response was narrowed to.
    """
    now = state.now()
    body: dict[str, Any] = {
        "access_token": _access_token(state, grant, scope, now),
        "token_type": "Bearer",
        "expires_in": state.lifetimes.access_token,
        "scope": " ".join(scope),
    }
    if "openid" in scope:
        body["id_token"] = _id_token(state, grant, scope, nonce, now)
    if "offline_access" in grant.scope:
        refresh_token = new_secret()
        state.refresh_tokens.put(
            refresh_token,
            RefreshTokenRecord(grant.id, grant.client_id),
            now + state.lifetimes.refresh_token,
        )
        body["refresh_token"] = refresh_token
    return body
