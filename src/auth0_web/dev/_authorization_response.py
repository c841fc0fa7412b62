"""The authorization response (RFC 6749 section 4.1.2) and its error form (4.1.2.1).

Both carry RFC 9207's ``iss``, so a client talking to several providers can tell which one
answered (mix-up defence), and the client's ``state`` unchanged.
"""

from __future__ import annotations

from starlette.responses import Response

from ._errors import OAuthError
from ._redirects import with_parameters
from ._responses import redirect
from ._state import (
    CODE_TTL,
    AuthorizationCode,
    AuthorizationRequest,
    ProviderSession,
    ProviderState,
    new_secret,
)

__all__ = ["code_response", "error_response"]


def error_response(
    state: ProviderState, redirect_uri: str, error: OAuthError, client_state: str | None
) -> Response:
    """RFC 6749 section 4.1.2.1, with RFC 9207's ``iss``."""
    return redirect(
        with_parameters(
            redirect_uri,
            {
                "error": error.error,
                "error_description": error.description,
                "state": client_state,
                "iss": state.issuer,
            },
        )
    )


def code_response(
    state: ProviderState, auth: AuthorizationRequest, session: ProviderSession
) -> Response:
    """RFC 6749 section 4.1.2: a single-use code bound to everything that was asked."""
    code = new_secret()
    record = AuthorizationCode(
        request=auth, sub=session.sub, auth_time=session.auth_time, sid=session.sid
    )
    state.codes.put(code, record, state.clock() + CODE_TTL)
    return redirect(
        with_parameters(auth.redirect_uri, {"code": code, "state": auth.state, "iss": state.issuer})
    )
