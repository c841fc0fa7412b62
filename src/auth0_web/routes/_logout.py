"""``GET /auth/logout``: end the local session, then the provider's.

``returnTo`` is validated like the login's (same origin as the app, else the app's base
URL), unlike the reference which forwards any URL and relies on Auth0's allow-list alone.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from .._errors import DiscoveryError, HttpError
from .._http import Request, Response
from .._runtime import Runtime
from .._urls import safe_logout_return_to
from ..oidc._discovery import ProviderMetadata
from ..oidc._token import revoke_token
from ..session._model import SessionData
from ._login import is_prefetch, prefetch_response

__all__ = ["handle_logout"]

logger = logging.getLogger("auth0_web")


def v2_logout_url(issuer: str, *, client_id: str, return_to: str, federated: bool) -> str:
    """Auth0's ``/v2/logout`` (supports wildcards in Allowed Logout URLs)."""
    origin = issuer.split("/", 3)
    params = {"returnTo": return_to, "client_id": client_id}
    if federated:
        params["federated"] = ""
    return "/".join(origin[:3]) + "/v2/logout?" + urlencode(params)


def end_session_url(
    endpoint: str,
    *,
    client_id: str,
    post_logout_redirect_uri: str,
    state: str | None,
    session: SessionData | None,
    id_token_hint: bool,
    federated: bool,
) -> str:
    """OpenID Connect RP-Initiated Logout 1.0, section 2."""
    params = {"client_id": client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if state:
        params["state"] = state
    if session is not None:
        if session.internal.sid:
            params["logout_hint"] = session.internal.sid
        if id_token_hint and session.token_set.id_token:
            params["id_token_hint"] = session.token_set.id_token
    if federated:
        params["federated"] = ""
    separator = "&" if "?" in endpoint else "?"
    return endpoint + separator + urlencode(params)


def _logout_url(
    rt: Runtime,
    metadata: ProviderMetadata,
    session: SessionData | None,
    return_to: str,
    state: str | None,
    federated: bool,
) -> str | None:
    strategy = rt.config.logout_strategy
    if strategy == "v2" or (strategy == "auto" and metadata.end_session_endpoint is None):
        return v2_logout_url(
            metadata.issuer, client_id=rt.config.client_id, return_to=return_to, federated=federated
        )
    if metadata.end_session_endpoint is None:
        return None
    return end_session_url(
        metadata.end_session_endpoint,
        client_id=rt.config.client_id,
        post_logout_redirect_uri=return_to,
        state=state,
        session=session,
        id_token_hint=rt.config.include_id_token_hint_in_oidc_logout_url,
        federated=federated,
    )


async def handle_logout(rt: Runtime, request: Request) -> Response:
    if is_prefetch(request):
        return prefetch_response()
    query = request.query()
    base = rt.base_url(request)
    session = await rt.read_session(request)
    return_to = safe_logout_return_to(query.get("returnTo"), base)
    federated = "federated" in query and query["federated"] != "false"

    try:
        metadata = await rt.discovery.get()
    except DiscoveryError:
        response = Response.text(
            "An error occurred while trying to initiate the logout request.", 500
        )
    else:
        url = _logout_url(rt, metadata, session, return_to, query.get("state"), federated)
        if url is None:
            response = Response.text(
                "OIDC RP-Initiated Logout is not supported by the authorization server. "
                "Enable it or use a different logout strategy.",
                500,
            )
        else:
            response = Response.redirect(url)
            if (
                session is not None
                and session.token_set.refresh_token
                and (metadata.revocation_endpoint)
            ):
                await _revoke(rt, metadata.revocation_endpoint, session.token_set.refresh_token)

    await rt.sessions.remove(
        response, request.cookies, rt.session_cookie_options(base), now=rt.clock()
    )
    rt.transactions.delete_all(response, request.cookies, rt.transaction_cookie_options(base))
    return response


async def _revoke(rt: Runtime, endpoint: str, refresh_token: str) -> None:
    """Best effort: a failed revocation is logged and never blocks the logout."""
    try:
        accepted = await revoke_token(
            rt.http, endpoint, rt.client_auth, refresh_token, "refresh_token"
        )
    except HttpError as exc:
        logger.warning("refresh token revocation failed: %s", exc.message)
        return
    if not accepted:
        logger.warning("refresh token revocation was refused by the authorization server")
