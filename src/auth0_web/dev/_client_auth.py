"""Client authentication at the token and revocation endpoints (RFC 6749 section 2.3.1).

Exactly one method per request (section 2.3: "MUST NOT use more than one"), and only a
method the client is registered for. A failed HTTP Basic attempt answers 401 with a
``WWW-Authenticate: Basic`` challenge, as section 5.2 requires.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote_plus

from starlette.datastructures import Headers

from ._errors import OAuthError
from ._models import DevClient
from ._params import Parameters

__all__ = ["authenticate_client"]

_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="auth0-web dev provider", charset="UTF-8"'}


def _invalid_client(description: str, *, basic: bool) -> OAuthError:
    return OAuthError(
        "invalid_client",
        description,
        status=401,
        headers=_BASIC_CHALLENGE if basic else None,
    )


def _basic_credentials(value: str) -> tuple[str, str]:
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("only the Basic authentication scheme is supported", basic=True)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise _invalid_client("malformed Basic credentials", basic=True) from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise _invalid_client("malformed Basic credentials", basic=True)
    # Section 2.3.1: each part is form-urlencoded before it is joined with ":".
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(
    clients: dict[str, DevClient], headers: Headers, form: Parameters
) -> DevClient:
    """The registered client this request authenticates as, or :class:`OAuthError`."""
    authorization = headers.get("authorization")
    basic = authorization is not None
    if basic and ("client_secret" in form or "client_secret" in form.repeated):
        raise OAuthError(
            "invalid_request",
            "use one client authentication method: client_secret_basic or client_secret_post",
        )
    if authorization is not None:
        client_id, secret = _basic_credentials(authorization)
        method = "client_secret_basic"
        if form.get("client_id") not in (None, client_id):
            raise OAuthError("invalid_request", "client_id differs from the Basic credentials")
    else:
        form_id, form_secret = form.get("client_id"), form.get("client_secret")
        if form_id is None:
            raise _invalid_client("client authentication is required", basic=False)
        if form_secret is None:
            raise _invalid_client(
                "client_secret is required (this provider has no public clients)", basic=False
            )
        client_id, secret, method = form_id, form_secret, "client_secret_post"

    client = clients.get(client_id)
    if client is None:
        raise _invalid_client("unknown client", basic=basic)
    if method not in client.token_endpoint_auth_methods:
        raise _invalid_client(f"{method} is not allowed for this client", basic=basic)
    if not hmac.compare_digest(secret.encode("utf-8"), client.client_secret.encode("utf-8")):
        raise _invalid_client("wrong client secret", basic=basic)
    return client


def authenticate_form(
    clients: dict[str, DevClient], headers: Headers, form: Parameters
) -> DevClient:
    """The back-channel endpoints' common first step: refuse a repeated parameter (RFC 6749
    section 3.2), then authenticate the client."""
    if form.repeated:
        name = sorted(form.repeated)[0]
        raise OAuthError("invalid_request", f"{name} was sent more than once")
    return authenticate_client(clients, headers, form)
