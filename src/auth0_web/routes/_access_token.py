"""``GET /auth/access-token``: the session's access token for browser code (opt-out).

This hands a bearer token to JavaScript; turn it off (``enable_access_token_endpoint=False``)
unless the browser calls APIs directly. Every answer has ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

from .._errors import AccessTokenError, MfaRequiredError
from .._http import Request, Response
from .._refresh import get_access_token
from .._runtime import Runtime

__all__ = ["handle_access_token"]


def _error(message: str, code: str, status: int = 401) -> Response:
    return Response.json({"error": {"message": message, "code": code}}, status)


def mfa_required_response(error: MfaRequiredError) -> Response:
    """The ``403`` JSON for a required step-up, the same from every route (the MFA token in
    it is encrypted for this app)."""
    response = Response.json(error.to_json(), 403)
    response.no_store()
    return response


async def handle_access_token(rt: Runtime, request: Request) -> Response:
    query = request.query()
    session = await rt.read_session(request)
    if session is None:
        response = _error("The user does not have an active session.", "missing_session")
        response.no_store()
        return response
    base = rt.base_url(request)
    now = rt.now()
    try:
        token, updated = await get_access_token(
            rt,
            session,
            scope=query.get("scope") or None,
            audience=query.get("audience") or None,
            merge=query.get("mergeScopes") != "false",
        )
    except MfaRequiredError as exc:
        return mfa_required_response(exc)
    except AccessTokenError as exc:
        response = _error(exc.message, exc.code)
        if exc.code == AccessTokenError.SESSION_EXPIRED:
            await rt.sessions.remove(
                response, request.cookies, rt.session_cookie_options(base), now=now
            )
        response.no_store()
        return response
    payload: dict[str, Any] = {
        "token": token.token,
        "expires_at": token.expires_at,
        "expires_in": max(0, token.expires_at - now),
    }
    if token.scope is not None:
        payload["scope"] = token.scope
    if token.token_type is not None:
        payload["token_type"] = token.token_type
    response = Response.json(payload)
    if updated is not None:
        await rt.sessions.save(
            response, updated, request.cookies, now, rt.session_cookie_options(base)
        )
    response.no_store()
    return response
