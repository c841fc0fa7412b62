"""Provider metadata (OpenID Connect Discovery 1.0 section 3, RFC 8414) and the JWKS.

The document advertises only what the provider really does, so a client that reads
metadata (PKCE methods, auth methods, the RFC 9207 ``iss`` parameter) is tested against
true statements.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._authorize import PROMPT_VALUES
from ._claims import SCOPE_CLAIMS
from ._keys import ALGORITHM
from ._models import TOKEN_ENDPOINT_AUTH_METHODS
from ._responses import json_response
from ._state import ProviderState
from ._token import GRANT_TYPES

__all__ = ["jwks", "openid_configuration"]

#: Both documents change only when the provider restarts.
_CACHE_SECONDS = 60
_PROTOCOL_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "azp")


def metadata(state: ProviderState) -> dict[str, Any]:
    issuer = state.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "authorize",
        "token_endpoint": issuer + "oauth/token",
        "userinfo_endpoint": issuer + "userinfo",
        "jwks_uri": issuer + ".well-known/jwks.json",
        "end_session_endpoint": issuer + "oidc/logout",
        "revocation_endpoint": issuer + "oauth/revoke",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "claims_supported": [
            *_PROTOCOL_CLAIMS,
            *(claim for claims in SCOPE_CLAIMS.values() for claim in claims),
        ],
        "prompt_values_supported": sorted(PROMPT_VALUES),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }


async def openid_configuration(request: Request, state: ProviderState) -> Response:
    """``GET /.well-known/openid-configuration``."""
    return json_response(metadata(state), cache_seconds=_CACHE_SECONDS)


async def jwks(request: Request, state: ProviderState) -> Response:
    """``GET /.well-known/jwks.json``."""
    return json_response(state.key.jwks(), cache_seconds=_CACHE_SECONDS)
