"""Client authentication at the authorization server.

RFC 6749 section 2.3.1 (``client_secret_post``, ``client_secret_basic``) and RFC 7523 /
OIDC Core section 9 (``private_key_jwt``). The method is chosen by configuration only: the
provider's metadata can never downgrade a private-key client to sending a secret.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

__all__ = [
    "ASSERTION_ALGORITHMS",
    "ClientAuthentication",
    "ClientSecret",
    "PrivateKeyJwt",
    "load_assertion_key",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Seconds a client assertion is valid (RFC 7523 asks for a short lifetime).
ASSERTION_LIFETIME = 60
ASSERTION_ALGORITHMS = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "P-256",
    "ES384": "P-384",
    "ES512": "P-521",
    "EdDSA": "OKP",
}
AssertionKey = RSAKey | ECKey | OKPKey


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """``client_secret_post`` (default) or ``client_secret_basic``."""

    client_id: str
    client_secret: str
    method: str = "client_secret_post"

    def apply(self, form: dict[str, str]) -> dict[str, str]:
        """Add credentials to ``form``; return the extra request headers."""
        if self.method == "client_secret_basic":
            # RFC 6749 section 2.3.1: form-urlencode each part before joining with ':'.
            raw = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            token = base64.b64encode(raw.encode("utf-8")).decode("ascii")
            return {"Authorization": f"Basic {token}"}
        form["client_id"] = self.client_id
        form["client_secret"] = self.client_secret
        return {}

    def __repr__(self) -> str:
        return (
            f"ClientSecret(client_id={self.client_id!r}, client_secret='***', "
            f"method={self.method!r})"
        )


def load_assertion_key(value: object, algorithm: str) -> AssertionKey:
    """A private signing key for ``algorithm`` from a PEM string/bytes, a ``cryptography``
    private key, a joserfc key or a private JWK dict; ``ValueError`` with the reason."""
    family = ASSERTION_ALGORITHMS.get(algorithm)
    if family is None:
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    key_class: type[RSAKey] | type[ECKey] | type[OKPKey] = (
        RSAKey if family == "RSA" else OKPKey if family == "OKP" else ECKey
    )
    try:
        if isinstance(value, RSAKey | ECKey | OKPKey):
            key: Any = value
        else:
            data = value.encode("utf-8") if isinstance(value, str) else value
            key = key_class.import_key(data)  # type: ignore[arg-type]
    except Exception as exc:  # joserfc/cryptography raise many types for bad input
        raise ValueError(f"not a valid private key for {algorithm}") from exc
    if not isinstance(key, key_class) or not key.is_private:
        raise ValueError(f"a private {family} key is required for {algorithm}")
    if isinstance(key, RSAKey) and key.raw_value.key_size < 2048:
        raise ValueError("RSA keys must be at least 2048 bits")
    if isinstance(key, ECKey) and key.get("crv") != family:
        raise ValueError(f"{algorithm} needs a {family} key")
    return key


@dataclass(frozen=True)
class PrivateKeyJwt:
    """``private_key_jwt``: a short-lived JWT signed with the client's private key."""

    client_id: str
    key: AssertionKey
    algorithm: str
    #: The assertion's audience: the issuer identifier as one string (the token endpoint
    #: URL or an array would let a malicious party redirect the assertion).
    audience: str
    clock: Callable[[], float] = field(default=time.time)
    method: str = "private_key_jwt"

    def assertion(self) -> str:
        now = int(self.clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": secrets.token_urlsafe(32),
        }
        return jwt.encode({"alg": self.algorithm}, claims, self.key, algorithms=[self.algorithm])

    def apply(self, form: dict[str, str]) -> dict[str, str]:
        form["client_id"] = self.client_id
        form["client_assertion_type"] = ASSERTION_TYPE
        form["client_assertion"] = self.assertion()
        return {}

    def __repr__(self) -> str:
        return f"PrivateKeyJwt(client_id={self.client_id!r}, algorithm={self.algorithm!r})"


ClientAuthentication = ClientSecret | PrivateKeyJwt
