"""The provider's signing key: RS256 JWTs out, the public half in the JWKS.

ID tokens and access tokens are told apart by the JOSE ``typ`` header (``JWT`` and, per
RFC 9068, ``at+jwt``), so one can never be accepted where the other belongs, for example
an access token as an ``id_token_hint``.
"""

from __future__ import annotations

import json
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

__all__ = ["ACCESS_TOKEN_TYPE", "ALGORITHM", "ID_TOKEN_TYPE", "SigningKey"]

ALGORITHM = "RS256"
ID_TOKEN_TYPE = "JWT"
ACCESS_TOKEN_TYPE = "at+jwt"
MIN_RSA_BITS = 2048
#: Tokens longer than this are refused before parsing (ours are a few KB).
MAX_TOKEN_LENGTH = 16 * 1024


class SigningKey:
    """An RSA private key and what the provider does with it.

    ``kid`` is the RFC 7638 thumbprint, so the same key always has the same ``kid``.
    """

    def __init__(self, key: RSAKey | None = None) -> None:
        if key is None:
            key = RSAKey.generate_key(MIN_RSA_BITS, private=True)
        if not isinstance(key, RSAKey):
            raise ValueError("signing_key must be a joserfc RSAKey")
        if not key.is_private:
            raise ValueError("signing_key must be a private key")
        if key.raw_value.key_size < MIN_RSA_BITS:
            raise ValueError(f"signing_key must have at least {MIN_RSA_BITS} bits")
        self._key = key
        self.kid = key.thumbprint()
        public = {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "n", "e")}
        self._public_jwk: dict[str, Any] = {
            **public,
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }

    def jwks(self) -> dict[str, Any]:
        """The JWK Set document (RFC 7517 section 5)."""
        return {"keys": [dict(self._public_jwk)]}

    def sign(self, claims: dict[str, Any], *, typ: str) -> str:
        header = {"alg": ALGORITHM, "typ": typ, "kid": self.kid}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])

    def verify(self, token: str, *, typ: str) -> dict[str, Any] | None:
        """The claims of a token this key signed with header ``typ``, else ``None``.

        Only the signature, the header and the JSON shape are checked here; the caller
        judges the claims (an expired ID token is still a valid ``id_token_hint``).
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            compact = jws.deserialize_compact(token, self._key, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError):
            return None
        header = compact.headers()
        if header.get("alg") != ALGORITHM or header.get("kid") != self.kid:
            return None
        if header.get("typ") != typ:
            return None
        try:
            claims = json.loads(compact.payload)
        except (ValueError, UnicodeDecodeError):
            return None
        return claims if isinstance(claims, dict) else None
