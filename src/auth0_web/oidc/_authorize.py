"""The authorization request: RFC 6749 section 4.1.1 with PKCE (RFC 7636) and OIDC nonce.

The SDK's own values for the reserved parameters always win: whatever a login URL's query
or the configuration says, ``response_type`` is ``code``, PKCE is ``S256`` with a fresh
verifier, and ``state``/``nonce``/``redirect_uri``/``client_id`` are the SDK's.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from urllib.parse import urlencode

__all__ = [
    "RESERVED_PARAMETERS",
    "authorization_parameters",
    "authorization_url",
    "code_challenge_s256",
    "generate_code_verifier",
    "random_token",
]

#: Never taken from the login query or configuration. Beyond the reference's seven, the
#: request-object, response-mode and DPoP-binding parameters are dropped too: an attacker
#: must not choose how or where the response is delivered, or bind it to their key.
RESERVED_PARAMETERS = frozenset(
    {
        "client_id",
        "redirect_uri",
        "response_type",
        "code_challenge",
        "code_challenge_method",
        "state",
        "nonce",
        "request",
        "request_uri",
        "response_mode",
        "dpop_jkt",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
    }
)


def random_token(nbytes: int = 32) -> str:
    """URL-safe random string with ``nbytes`` of entropy (43 characters for 32 bytes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode("ascii")


def generate_code_verifier() -> str:
    """RFC 7636 section 4.1: 32 random octets, base64url (43 unreserved characters)."""
    return random_token(32)


def code_challenge_s256(verifier: str) -> str:
    """RFC 7636 section 4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    separator = "&" if "?" in endpoint else "?"
    return endpoint + separator + urlencode(params)


def authorization_parameters(
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    nonce: str,
    code_verifier: str,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The authorization request's parameters, the SDK's own values always winning."""
    params: dict[str, str] = {k: v for k, v in extra.items() if k not in RESERVED_PARAMETERS}
    params.update(
        client_id=client_id,
        redirect_uri=redirect_uri,
        response_type="code",
        code_challenge=code_challenge_s256(code_verifier),
        code_challenge_method="S256",
        state=state,
        nonce=nonce,
    )
    return params
