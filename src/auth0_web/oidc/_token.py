"""The token endpoint: client authentication and the authorization-code grant.

RFC 6749 sections 2.3.1 (client_secret_post / client_secret_basic), 4.1.3 (the request) and
5.1/5.2 (the answer). Every member of the answer is type-checked: a token response is
outside input like any other.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import OAuth2Error
from ._client_auth import ClientAuthentication
from ._dpop import DpopKey, DpopNonces, create_proof, is_nonce_error, retry_delay
from ._http_client import HttpClient, HttpResponse

__all__ = [
    "TokenResponse",
    "TokenResponseError",
    "authorization_code_grant",
    "parse_token_response",
    "refresh_token_grant",
]


class TokenResponseError(Exception):
    """The token endpoint's answer is malformed; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenResponse:
    access_token: str
    token_type: str
    expires_in: int | None
    id_token: str | None
    refresh_token: str | None
    scope: str | None
    raw: Mapping[str, Any]

    def __repr__(self) -> str:
        return (
            f"TokenResponse(access_token='***', token_type={self.token_type!r}, "
            f"expires_in={self.expires_in!r}, scope={self.scope!r})"
        )


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise TokenResponseError(f"{key} is not a string")
    return value


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def parse_token_response(response: HttpResponse, *, require_id_token: bool) -> TokenResponse:
    """Validate a token endpoint answer; raise :class:`OAuth2Error` for an error answer."""
    body = response.json_object()
    if response.status != 200:
        if body is not None and isinstance(body.get("error"), str):
            description = body.get("error_description")
            raise OAuth2Error(
                body["error"], description if isinstance(description, str) else None, extra=body
            )
        raise TokenResponseError(f"unexpected status {response.status}")
    if body is None:
        raise TokenResponseError("body is not a JSON object")
    if not _is_json_media_type(response.headers.get("content-type", "")):
        raise TokenResponseError("response is not application/json")
    if "error" in body:
        raise TokenResponseError("error member in a successful response")
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenResponseError("access_token missing")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() not in ("bearer", "dpop"):
        raise TokenResponseError("token_type missing or unsupported")
    expires_in = body.get("expires_in")
    if expires_in is not None:
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not math.isfinite(expires_in)
            or expires_in < 0
            or expires_in > 10 * 365 * 86400
        ):
            raise TokenResponseError("expires_in invalid")
        expires_in = int(expires_in)
    id_token = _optional_str(body, "id_token")
    if require_id_token and id_token is None:
        raise TokenResponseError("id_token missing")
    return TokenResponse(
        access_token=access_token,
        token_type="DPoP" if token_type.lower() == "dpop" else "Bearer",
        expires_in=expires_in,
        id_token=id_token,
        refresh_token=_optional_str(body, "refresh_token"),
        scope=_optional_str(body, "scope"),
        raw=body,
    )


@dataclass(frozen=True)
class DpopSigner:
    """What a DPoP-protected request needs: the key, the nonces learnt per server, timing."""

    key: DpopKey
    nonces: DpopNonces
    clock: Callable[[], float]
    clock_skew: int = 0
    retry_delay_ms: int = 100
    retry_jitter: bool = True

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        return create_proof(
            self.key,
            htm=method,
            htu=url,
            nonce=self.nonces.get(url),
            access_token=access_token,
            now=self.clock(),
            clock_skew=self.clock_skew,
        )


async def token_request(
    http: HttpClient,
    token_endpoint: str,
    auth: ClientAuthentication,
    form: Mapping[str, str],
    dpop: DpopSigner | None,
) -> HttpResponse:
    """POST to the token endpoint: client authentication, a DPoP proof when configured, and
    exactly one retry when the server demands a DPoP nonce (RFC 9449 section 8)."""
    for attempt in (1, 2):
        body = dict(form)
        headers = auth.apply(body)  # a fresh client assertion (new jti) for every attempt
        if dpop is not None:
            headers["DPoP"] = dpop.proof("POST", token_endpoint)
        response = await http.post_form(token_endpoint, body, headers)
        if dpop is None:
            return response
        dpop.nonces.update(token_endpoint, response.headers)
        if attempt == 1 and is_nonce_error(
            response.status, response.headers, response.json_object()
        ):
            await asyncio.sleep(retry_delay(dpop.retry_delay_ms, dpop.retry_jitter))
            continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


async def authorization_code_grant(
    http: HttpClient,
    token_endpoint: str,
    auth: ClientAuthentication,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    dpop: DpopSigner | None = None,
) -> TokenResponse:
    """RFC 6749 section 4.1.3 with the PKCE ``code_verifier`` (RFC 7636 section 4.5)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    response = await token_request(http, token_endpoint, auth, form, dpop)
    return parse_token_response(response, require_id_token=True)


async def refresh_token_grant(
    http: HttpClient,
    token_endpoint: str,
    auth: ClientAuthentication,
    *,
    refresh_token: str,
    scope: str | None = None,
    audience: str | None = None,
    dpop: DpopSigner | None = None,
) -> TokenResponse:
    """RFC 6749 section 6, with Auth0's ``audience`` for multi-resource refresh tokens."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if scope:
        form["scope"] = scope
    if audience:
        form["audience"] = audience
    response = await token_request(http, token_endpoint, auth, form, dpop)
    return parse_token_response(response, require_id_token=False)


async def revoke_token(
    http: HttpClient, revocation_endpoint: str, auth: ClientAuthentication, token: str, hint: str
) -> bool:
    """RFC 7009: revoke ``token``; ``True`` when the server accepted the request."""
    form = {"token": token, "token_type_hint": hint}
    headers = auth.apply(form)
    response = await http.post_form(revocation_endpoint, form, headers)
    return response.status == 200
