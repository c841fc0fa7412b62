"""Token revocation (RFC 7009).

The client authenticates (section 2.1); an unknown or already invalid token still answers
200 (section 2.2), so the endpoint tells nobody whether a token existed. Revoking a refresh
token revokes its grant, hence its whole family and the access tokens issued from it
(section 2.1: "SHOULD also invalidate all access tokens based on the same grant").
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ._client_auth import authenticate_form
from ._errors import OAuthError
from ._keys import ACCESS_TOKEN_TYPE
from ._models import DevClient
from ._params import ParameterError, Parameters, read_form
from ._responses import NO_STORE, oauth_error_response
from ._state import ProviderState

__all__ = ["revoke"]

TOKEN_TYPE_HINTS = ("access_token", "refresh_token")


def _not_yours() -> OAuthError:
    # Section 2.1: a token issued to another client is refused, not silently ignored.
    return OAuthError("unauthorized_client", "the token was not issued to this client")


def _revoke(state: ProviderState, client: DevClient, form: Parameters) -> None:
    token = form.get("token")
    if token is None:
        raise OAuthError("invalid_request", "token is required")
    hint = form.get("token_type_hint")
    if hint is not None and hint not in TOKEN_TYPE_HINTS:
        raise OAuthError(
            "unsupported_token_type", f"token_type_hint must be one of {TOKEN_TYPE_HINTS}"
        )

    # The hint only orders the search (section 2.1); both kinds are always looked for.
    refresh = state.refresh_tokens.get(token)
    if refresh is not None:
        if refresh.client_id != client.client_id:
            raise _not_yours()
        state.revoke_grant(refresh.grant_id)
        return
    claims = state.key.verify(token, typ=ACCESS_TOKEN_TYPE)
    jti = claims.get("jti") if claims is not None else None
    record = state.access_tokens.get(jti) if isinstance(jti, str) else None
    if record is not None:
        if record.client_id != client.client_id:
            raise _not_yours()
        record.revoked = True


async def revoke(request: Request, state: ProviderState) -> Response:
    """``POST /oauth/revoke``."""
    try:
        form = await read_form(request)
    except ParameterError as exc:
        return oauth_error_response(OAuthError("invalid_request", str(exc)))
    with state.lock:
        try:
            client = authenticate_form(state.clients, request.headers, form)
            _revoke(state, client, form)
        except OAuthError as exc:
            return oauth_error_response(exc)
    return Response(status_code=200, headers=NO_STORE)
