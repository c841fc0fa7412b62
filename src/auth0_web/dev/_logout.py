"""Logout: OpenID Connect RP-Initiated Logout 1.0 and Auth0's ``/v2/logout``.

Both end the provider session and redirect only to a URL the client registered in its
allowed logout URLs, so neither is an open redirector; an unacceptable redirect target is a
400 page, never a redirect. For RP-Initiated Logout the client is named by ``client_id`` or
by the audience of an ``id_token_hint`` this provider signed (section 2: an expired hint is
still a valid hint), and when both are sent they must agree.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ._cookies import clear_session
from ._keys import ID_TOKEN_TYPE
from ._models import DevClient
from ._pages import signed_out_page
from ._params import ParameterError, Parameters, is_vschar, query_parameters, read_form
from ._redirects import is_allowed_logout_url, with_parameters
from ._responses import html, html_error, redirect
from ._state import ProviderState

__all__ = ["oidc_logout", "v2_logout"]


class _LogoutError(Exception):
    """A logout request that cannot be honoured; shown on a 400 page."""


def _hinted_client(state: ProviderState, hint: str) -> str:
    claims = state.key.verify(hint, typ=ID_TOKEN_TYPE)
    if claims is None or claims.get("iss") != state.issuer:
        raise _LogoutError("The id_token_hint is not an ID token issued by this provider.")
    aud = claims.get("aud")
    if not isinstance(aud, str) or aud not in state.clients:
        raise _LogoutError("The id_token_hint is not for a registered application.")
    return aud


def _logout_client(state: ProviderState, params: Parameters) -> DevClient | None:
    """The client the request speaks for, if it names one."""
    client_id = params.get("client_id")
    hint = params.get("id_token_hint")
    hinted = _hinted_client(state, hint) if hint is not None else None
    if client_id is not None and hinted is not None and client_id != hinted:
        raise _LogoutError("client_id does not match the audience of the id_token_hint.")
    client_id = client_id or hinted
    if client_id is None:
        return None
    client = state.clients.get(client_id)
    if client is None:
        raise _LogoutError("No application is registered with this client_id.")
    return client


def _target(
    state: ProviderState, params: Parameters, name: str, client: DevClient | None
) -> str | None:
    uri = params.get(name)
    if uri is None:
        return None
    if client is None:
        raise _LogoutError(f"{name} needs a client_id (or an id_token_hint) to be checked against.")
    if not is_allowed_logout_url(client, uri):
        raise _LogoutError(f"{name} is not in this application's allowed logout URLs.")
    return uri


def _signed_out(request: Request, state: ProviderState, target: str | None) -> Response:
    response = redirect(target) if target is not None else html(signed_out_page())
    clear_session(request, response, state)
    return response


async def _parameters(request: Request) -> Parameters:
    if request.method == "POST":
        return await read_form(request)
    return query_parameters(request)


async def oidc_logout(request: Request, state: ProviderState) -> Response:
    """``GET`` or ``POST /oidc/logout`` (RP-Initiated Logout 1.0, section 2)."""
    try:
        params = await _parameters(request)
        if params.repeated:
            raise ParameterError(f"{sorted(params.repeated)[0]} was sent more than once")
    except ParameterError as exc:
        return html_error("Invalid logout request", str(exc))
    with state.lock:
        try:
            client = _logout_client(state, params)
            target = _target(state, params, "post_logout_redirect_uri", client)
            client_state = params.get("state")
            if client_state is not None and not is_vschar(client_state):
                raise _LogoutError("state must be printable ASCII.")
        except _LogoutError as exc:
            return html_error("Invalid logout request", str(exc))
        if target is not None:
            target = with_parameters(target, {"state": client_state})
        return _signed_out(request, state, target)


async def v2_logout(request: Request, state: ProviderState) -> Response:
    """``GET /v2/logout`` (Auth0): ``returnTo`` must be allowed for ``client_id``."""
    try:
        params = await _parameters(request)
        if params.repeated:
            raise ParameterError(f"{sorted(params.repeated)[0]} was sent more than once")
    except ParameterError as exc:
        return html_error("Invalid logout request", str(exc))
    with state.lock:
        try:
            client_id = params.get("client_id")
            client = state.clients.get(client_id) if client_id is not None else None
            if client_id is not None and client is None:
                raise _LogoutError("No application is registered with this client_id.")
            target = _target(state, params, "returnTo", client)
        except _LogoutError as exc:
            return html_error("Invalid logout request", str(exc))
        return _signed_out(request, state, target)
