"""ID token validation: OpenID Connect Core 1.0, section 3.1.3.7, in full.

Unlike the reference (which trusts the TLS channel), the signature is verified against the
provider's JWKS, with the algorithm pinned by configuration: the token's header can narrow
nothing and choose nothing (no ``none``, no HMAC keyed with a public key, no embedded
``jwk``/``jku``/``x5u`` keys). Every claim is type-checked before it is compared, because
Python's ``in`` on a ``str`` or ``dict`` and ``NaN`` comparisons are the classic traps.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from ..session._codec import loads_strict
from ._discovery import JwksCache, PublicKey

__all__ = [
    "IdTokenError",
    "IdTokenValidation",
    "decode_unverified",
    "is_numeric_date",
    "validate_id_token",
    "verify_signature",
]

#: Larger ID tokens are refused before any parsing (Auth0's are a few KB).
MAX_TOKEN_LENGTH = 64 * 1024
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_FORBIDDEN_HEADER_MEMBERS = ("crit", "b64", "zip")


class IdTokenError(Exception):
    """An ID token failed validation; ``reason`` is safe to log (it holds no token data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IdTokenValidation:
    issuer: str
    client_id: str
    algorithm: str
    jwks_uri: str
    now: float
    leeway: int
    nonce: str | None = None
    max_age: int | None = None
    organization: str | None = None


def _b64decode(segment: str) -> bytes:
    if not _B64URL.issuperset(segment) or len(segment) % 4 == 1:
        raise IdTokenError("malformed token segment")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise IdTokenError("malformed token segment") from exc


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = loads_strict(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IdTokenError(f"{what} is not a JSON object") from exc
    if not isinstance(value, dict):
        raise IdTokenError(f"{what} is not a JSON object")
    return value


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, strictly parsed but NOT verified."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise IdTokenError("token missing or too large")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise IdTokenError("token is not a compact JWS")
    header = _json_object(_b64decode(parts[0]), "header")
    claims = _json_object(_b64decode(parts[1]), "payload")
    return header, claims


def is_numeric_date(value: object) -> bool:
    """A usable NumericDate: finite, non-negative, before the year 5138 (``10**30`` is not)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value < 1e11
    )


def verify_signature(token: str, keys: list[PublicKey], alg: str) -> None:
    """Accept ``token`` if one of ``keys`` verifies it with ``alg`` (and no key says otherwise)."""
    for key in keys:
        key_alg = key.get("alg") if hasattr(key, "get") else None
        if key_alg is not None and key_alg != alg:
            continue
        try:
            jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError):
            continue
        return
    raise IdTokenError("signature verification failed")


async def validate_id_token(
    token: str, params: IdTokenValidation, jwks: JwksCache
) -> dict[str, Any]:
    """The validated claims of ``token``, or :class:`IdTokenError`."""
    header, claims = decode_unverified(token)

    # -- header: the algorithm is ours to choose, not the token's --------------------------
    if header.get("alg") != params.algorithm:
        raise IdTokenError("unexpected signing algorithm")
    if any(member in header for member in _FORBIDDEN_HEADER_MEMBERS):
        raise IdTokenError("unsupported header member")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IdTokenError("invalid kid")
    typ = header.get("typ")
    if typ is not None and (
        not isinstance(typ, str) or typ.lower() not in ("jwt", "application/jwt")
    ):
        raise IdTokenError("unexpected token type")

    # -- claims first: cheap checks before fetching keys ----------------------------------
    _validate_claims(claims, params)

    keys = await jwks.candidates(params.jwks_uri, kid)
    if not keys:
        raise IdTokenError("no matching signing key")
    verify_signature(token, keys, params.algorithm)
    return claims


def _validate_claims(claims: dict[str, Any], p: IdTokenValidation) -> None:
    if claims.get("iss") != p.issuer:
        raise IdTokenError("issuer mismatch")

    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise IdTokenError("sub missing or invalid")

    aud = claims.get("aud")
    if isinstance(aud, str):
        audiences = [aud]
    elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        audiences = aud
    else:
        raise IdTokenError("aud missing or invalid")
    if p.client_id not in audiences:
        raise IdTokenError("audience mismatch")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise IdTokenError("azp required with multiple audiences")
    if azp is not None and azp != p.client_id:
        raise IdTokenError("azp mismatch")

    exp, iat = claims.get("exp"), claims.get("iat")
    if not is_numeric_date(exp):
        raise IdTokenError("exp missing or invalid")
    if not is_numeric_date(iat):
        raise IdTokenError("iat missing or invalid")
    assert isinstance(exp, int | float) and isinstance(iat, int | float)
    if exp <= p.now - p.leeway:
        raise IdTokenError("token expired")
    if iat > p.now + p.leeway:
        raise IdTokenError("token issued in the future")
    nbf = claims.get("nbf")
    if nbf is not None and (not is_numeric_date(nbf) or nbf > p.now + p.leeway):
        raise IdTokenError("token not yet valid")

    if p.nonce is not None and claims.get("nonce") != p.nonce:
        raise IdTokenError("nonce mismatch")

    auth_time = claims.get("auth_time")
    if auth_time is not None and not is_numeric_date(auth_time):
        raise IdTokenError("auth_time invalid")
    if p.max_age is not None:
        if auth_time is None:
            raise IdTokenError("auth_time required with max_age")
        assert isinstance(auth_time, int | float)
        if auth_time + p.max_age < p.now - p.leeway:
            raise IdTokenError("authentication too old for max_age")

    if p.organization is not None:
        _validate_organization(claims, p.organization)


def _validate_organization(claims: dict[str, Any], organization: str) -> None:
    """Auth0 Organizations: the token must be for the organization that was requested."""
    if organization.startswith("org_"):
        if claims.get("org_id") != organization:
            raise IdTokenError("organization mismatch")
    else:
        org_name = claims.get("org_name")
        if not isinstance(org_name, str) or org_name.lower() != organization.lower():
            raise IdTokenError("organization mismatch")
