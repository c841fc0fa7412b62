"""Logout token validation: OpenID Connect Back-Channel Logout 1.0, section 2.6.

Everything the specification requires, plus what the reference leaves out: ``exp`` is
required and the token's lifetime bounded, ``typ`` (when present) must be ``logout+jwt``
or ``JWT``, and the caller refuses a replayed ``jti``. The issuer is the configured one:
nothing the token says is used to decide where keys are fetched from.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..session._store import LogoutTokenClaims
from ._discovery import JwksCache
from ._id_token import IdTokenError, decode_unverified, is_numeric_date, verify_signature

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "LogoutTokenError",
    "ReplayGuard",
    "validate_logout_token",
]

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Longest accepted ``exp - iat`` (Auth0's and oidc-provider's tokens live a few minutes).
MAX_LIFETIME = 3600
MAX_TOKEN_LENGTH = 16 * 1024
_TYPES = ("logout+jwt", "application/logout+jwt", "jwt", "application/jwt")


class LogoutTokenError(Exception):
    """The logout token is invalid; ``reason`` is safe to show (no token data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ValidatedLogoutToken:
    claims: LogoutTokenClaims
    jti: str | None
    expires_at: int


def _check_claims(
    claims: dict[str, Any], *, issuer: str, client_id: str, now: float, leeway: int
) -> None:
    if claims.get("iss") != issuer:
        raise LogoutTokenError("issuer mismatch")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not (isinstance(audiences, list) and all(isinstance(a, str) for a in audiences)):
        raise LogoutTokenError("aud missing or invalid")
    if client_id not in audiences:
        raise LogoutTokenError("audience mismatch")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        # As for ID tokens (OIDC Core 3.1.3.7): several audiences need azp = this client.
        raise LogoutTokenError("azp required with multiple audiences")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not is_numeric_date(iat):
        raise LogoutTokenError("iat missing or invalid")
    if not is_numeric_date(exp):
        raise LogoutTokenError("exp missing or invalid")
    assert isinstance(iat, int | float) and isinstance(exp, int | float)
    if exp <= now - leeway:
        raise LogoutTokenError("token expired")
    if iat > now + leeway:
        raise LogoutTokenError("token issued in the future")
    if exp - iat > MAX_LIFETIME:
        raise LogoutTokenError("token lifetime too long")
    if "nonce" in claims:
        raise LogoutTokenError('"nonce" claim is prohibited')
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise LogoutTokenError('"events" claim must contain the back-channel logout event')
    sid, sub = claims.get("sid"), claims.get("sub")
    if sid is None and sub is None:
        raise LogoutTokenError('either "sid" or "sub" is required')
    for name, value in (("sid", sid), ("sub", sub)):
        if value is not None and (not isinstance(value, str) or not value):
            raise LogoutTokenError(f'"{name}" claim must be a string')
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not jti or len(jti) > 256):
        raise LogoutTokenError('"jti" claim must be a string')


async def validate_logout_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    algorithm: str,
    jwks_uri: str,
    jwks: JwksCache,
    now: float,
    leeway: int,
) -> ValidatedLogoutToken:
    if len(token) > MAX_TOKEN_LENGTH:
        raise LogoutTokenError("token too large")
    try:
        header, claims = decode_unverified(token)
    except IdTokenError as exc:
        raise LogoutTokenError(exc.reason) from exc
    if header.get("alg") != algorithm:
        raise LogoutTokenError("unexpected signing algorithm")
    if any(member in header for member in ("crit", "b64", "zip")):
        raise LogoutTokenError("unsupported header member")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _TYPES):
        raise LogoutTokenError("unexpected token type")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise LogoutTokenError("invalid kid")
    _check_claims(claims, issuer=issuer, client_id=client_id, now=now, leeway=leeway)
    keys = await jwks.candidates(jwks_uri, kid)
    if not keys:
        raise LogoutTokenError("no matching signing key")
    try:
        verify_signature(token, keys, algorithm)
    except IdTokenError as exc:
        raise LogoutTokenError(exc.reason) from exc
    sid, sub, jti = claims.get("sid"), claims.get("sub"), claims.get("jti")
    return ValidatedLogoutToken(
        claims=LogoutTokenClaims(iss=issuer, sid=sid, sub=sub),
        jti=jti,
        expires_at=int(claims["exp"]),
    )


class ReplayGuard:
    """``jti`` values already used, until their token expires (bounded, per process).

    A store with ``mark_logout_token_used(jti, *, expires_at)`` (the Redis store) is used
    instead, so the guard holds across processes.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_use(self, jti: str, expires_at: float) -> bool:
        now = time.time()
        for key in [k for k, exp in self._seen.items() if exp <= now][:100]:
            del self._seen[key]
        if jti in self._seen:
            return False
        self._seen[jti] = expires_at
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True
