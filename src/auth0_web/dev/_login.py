"""The login page and its answers: who the user is, or that they cancelled.

A login page is an *interaction*: a single-use, 10-minute record of the validated
authorization request, bound to the browser it was shown to by a ``SameSite=Lax`` cookie,
so the page cannot be answered from another browser or by a cross-site form (login CSRF).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from ._authorization_response import code_response, error_response
from ._cookies import browser_id, set_browser_id, set_session_cookie, start_session
from ._errors import OAuthError
from ._pages import login_page
from ._params import ParameterError, Parameters, read_form
from ._responses import html, html_error
from ._state import INTERACTION_TTL, AuthorizationRequest, Interaction, ProviderState, new_secret

__all__ = ["cancel_login", "complete_login", "show_login_page"]


def show_login_page(request: Request, state: ProviderState, auth: AuthorizationRequest) -> Response:
    """Start an interaction for ``auth`` and show its page (``login_hint`` user first)."""
    existing = browser_id(request)
    browser = existing or new_secret()
    interaction = new_secret()
    state.interactions.put(
        interaction, Interaction(request=auth, browser=browser), state.clock() + INTERACTION_TTL
    )
    preselected = None
    if auth.login_hint is not None:
        hint = auth.login_hint.lower()
        for user in state.users.values():
            if user.sub.lower() == hint or (user.email or "").lower() == hint:
                preselected = user.sub
                break
    response = html(
        login_page(
            interaction=interaction,
            client_id=auth.client_id,
            users=list(state.users.values()),
            preselected=preselected,
        )
    )
    if existing is None:
        set_browser_id(response, browser)
    return response


def _pending(
    request: Request, state: ProviderState, form: Parameters
) -> tuple[str, Interaction] | Response:
    """The interaction a login-page form answers, checked against the answering browser."""
    if form.repeated:
        return html_error("Invalid request", "A form field was sent more than once.")
    interaction_id = form.get("interaction")
    interaction = state.interactions.get(interaction_id) if interaction_id else None
    if interaction_id is None or interaction is None:
        return html_error(
            "Sign-in expired",
            "This sign-in page has expired or was already used. "
            "Start the login again from the application.",
        )
    presented = browser_id(request) or ""
    if not hmac.compare_digest(presented.encode(), interaction.browser.encode()):
        return html_error(
            "Sign-in refused",
            "This sign-in page was answered from a different browser than the one it was "
            "shown to (its cookie is missing). Start the login again from the application.",
        )
    return interaction_id, interaction


async def complete_login(request: Request, state: ProviderState) -> Response:
    """``POST /authorize/login``: the user picked who to be; sign in and issue the code."""
    try:
        form = await read_form(request)
    except ParameterError as exc:
        return html_error("Invalid request", str(exc))
    with state.lock:
        pending = _pending(request, state, form)
        if isinstance(pending, Response):
            return pending
        interaction_id, interaction = pending
        sub = form.get("sub")
        if sub is None or sub not in state.users:
            return html_error("Unknown user", "There is no test user with this sub.")
        state.interactions.pop(interaction_id)
        session, cookie = start_session(request, state, sub)
        response = code_response(state, interaction.request, session)
        set_session_cookie(response, cookie)
        return response


async def cancel_login(request: Request, state: ProviderState) -> Response:
    """``POST /authorize/cancel``: the user declined; tell the client ``access_denied``."""
    try:
        form = await read_form(request)
    except ParameterError as exc:
        return html_error("Invalid request", str(exc))
    with state.lock:
        pending = _pending(request, state, form)
        if isinstance(pending, Response):
            return pending
        interaction_id, interaction = pending
        state.interactions.pop(interaction_id)
        auth = interaction.request
        error = OAuthError("access_denied", "the user cancelled the login")
        return error_response(state, auth.redirect_uri, error, auth.state)
