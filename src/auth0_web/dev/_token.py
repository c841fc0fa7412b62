"""The token endpoint: authorization-code and refresh-token grants.

RFC 6749 sections 3.2, 4.1.3, 5 and 6; RFC 7636 section 4.6 (PKCE); refresh-token rotation
with reuse detection as in the OAuth 2.0 Security BCP section 4.14.2 (Auth0's "Refresh
Token Rotation"). A code or refresh token presented twice is treated as stolen: the request
fails and every token descended from the same grant is revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re

from starlette.requests import Request
from starlette.responses import Response

from ._client_auth import authenticate_form
from ._errors import OAuthError
from ._models import DevClient
from ._params import ParameterError, Parameters, parse_scope, read_form
from ._responses import json_response, oauth_error_response
from ._state import Grant, ProviderState, new_secret
from ._tokens import grant_lifetime, issue_tokens

__all__ = ["GRANT_TYPES", "token"]

logger = logging.getLogger("auth0_web.dev")

GRANT_TYPES = ("authorization_code", "refresh_token")
#: RFC 7636 section 4.1: code-verifier = 43*128unreserved.
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def _required(form: Parameters, name: str) -> str:
    value = form.get(name)
    if value is None:
        raise OAuthError("invalid_request", f"{name} is required")
    return value


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _authorization_code(state: ProviderState, client: DevClient, form: Parameters) -> Response:
    code = _required(form, "code")
    redirect_uri = _required(form, "redirect_uri")
    verifier = _required(form, "code_verifier")
    if not _VERIFIER.fullmatch(verifier):
        raise OAuthError("invalid_request", "code_verifier must be 43-128 unreserved characters")

    redeemed_grant = state.redeemed_codes.get(code)
    if redeemed_grant is not None:
        state.revoke_grant(redeemed_grant)
        logger.warning("authorization code replayed; tokens issued from it are revoked")
        raise OAuthError(
            "invalid_grant",
            "the authorization code was already used; tokens issued from it have been revoked",
        )
    record = state.codes.get(code)
    if record is None:
        raise OAuthError("invalid_grant", "the authorization code is unknown or expired")
    auth = record.request
    if auth.client_id != client.client_id:
        raise OAuthError("invalid_grant", "the authorization code was issued to another client")
    if redirect_uri != auth.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    if not hmac.compare_digest(_s256(verifier), auth.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")

    state.codes.pop(code)
    grant = Grant(
        id=new_secret(),
        client_id=client.client_id,
        sub=record.sub,
        scope=auth.scope,
        audience=auth.audience,
        auth_time=record.auth_time,
        sid=record.sid,
    )
    expires_at = state.clock() + grant_lifetime(state, grant.scope)
    state.grants.put(grant.id, grant, expires_at)
    state.redeemed_codes.put(code, grant.id, expires_at)
    return json_response(issue_tokens(state, grant, scope=grant.scope, nonce=auth.nonce))


def _refresh_token(state: ProviderState, client: DevClient, form: Parameters) -> Response:
    refresh_token = _required(form, "refresh_token")
    record = state.refresh_tokens.get(refresh_token)
    if record is None:
        raise OAuthError("invalid_grant", "the refresh token is unknown, expired or revoked")
    if record.client_id != client.client_id:
        raise OAuthError("invalid_grant", "the refresh token was issued to another client")
    grant = state.live_grant(record.grant_id)
    if grant is None:
        raise OAuthError("invalid_grant", "the refresh token is unknown, expired or revoked")
    if record.used:
        state.revoke_grant(grant.id)
        logger.warning("rotated refresh token reused; its token family is revoked")
        raise OAuthError(
            "invalid_grant",
            "the refresh token was already used (rotation); every token of its family has "
            "been revoked",
        )
    scope = grant.scope
    if "scope" in form:
        scope = parse_scope(form.get("scope"))
        if not set(scope) <= set(grant.scope):
            raise OAuthError("invalid_scope", "scope must not exceed the granted scope")

    record.used = True
    state.grants.put(grant.id, grant, state.clock() + grant_lifetime(state, grant.scope))
    return json_response(issue_tokens(state, grant, scope=scope, nonce=None))


async def token(request: Request, state: ProviderState) -> Response:
    """``POST /oauth/token``."""
    try:
        form = await read_form(request)
    except ParameterError as exc:
        return oauth_error_response(OAuthError("invalid_request", str(exc)))
    with state.lock:
        try:
            client = authenticate_form(state.clients, request.headers, form)
            grant_type = _required(form, "grant_type")
            if grant_type == "authorization_code":
                return _authorization_code(state, client, form)
            if grant_type == "refresh_token":
                return _refresh_token(state, client, form)
            raise OAuthError("unsupported_grant_type", f"supported: {', '.join(GRANT_TYPES)}")
        except OAuthError as exc:
            return oauth_error_response(exc)
