"""``GET /auth/connect`` (when enabled) and the callback's connect-account branch.

``/auth/connect?connection=google-oauth2[&scopes=a&scopes=b][&returnTo=/x][&<param>=...]``
starts linking the logged-in user's account at another provider (see
:mod:`auth0_web._connect`): ``scopes`` may repeat, ``returnTo`` is validated like the login
route's, and any other parameter is passed on as an authorization parameter for that
provider (except the ones the flow sets itself). The callback route hands transactions
whose ``responseType`` is ``connect_code`` to :func:`handle_connect_callback`.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl

from .._connect import (
    CONNECT_RESERVED_PARAMETERS,
    MISSING_SESSION_MESSAGE,
    SCOPE_CREATE,
    TOKEN_FAILED_MESSAGE,
    ConnectAccountError,
    check_callback,
    check_connect_input,
    complete_connect,
    my_account_token,
    start_connect,
)
from .._errors import AccessTokenError, InvalidRequestError, MfaRequiredError
from .._http import Request, Response
from .._runtime import Runtime
from ..session._model import SessionData
from ..session._transaction import TransactionState
from ._access_token import mfa_required_response
from ._callback import CallbackContext, _call_hook, _finish_error

__all__ = ["handle_connect", "handle_connect_callback"]

CONNECTION_REQUIRED = "A connection is required."


def _text(status: int, message: str) -> Response:
    response = Response.text(message, status)
    response.no_store()
    return response


async def handle_connect(rt: Runtime, request: Request) -> Response:
    query = request.query()  # strict parsing (a malformed query is a 400 from the router)
    connection = query.get("connection")
    if not connection:
        return _text(400, CONNECTION_REQUIRED)
    session = await rt.read_session(request)
    if session is None:
        return _text(401, MISSING_SESSION_MESSAGE)
    pairs = parse_qsl(request.query_string, keep_blank_values=True)
    scopes = [v for k, v in pairs if k == "scopes" and v] or None
    params = {k: v for k, v in query.items() if k not in CONNECT_RESERVED_PARAMETERS}
    try:
        check_connect_input(connection, scopes, params)
    except InvalidRequestError as error:
        return _text(400, error.message)
    try:
        token, updated = await my_account_token(rt, session, SCOPE_CREATE)
    except MfaRequiredError as error:
        return mfa_required_response(error)
    except AccessTokenError:
        return _text(401, TOKEN_FAILED_MESSAGE)
    try:
        response = await start_connect(
            rt,
            request,
            updated or session,
            token,
            connection=connection,
            scopes=scopes,
            return_to=query.get("returnTo"),
            authorization_params=params,
        )
    except InvalidRequestError as error:
        response = _text(400, error.message)
    except ConnectAccountError as error:
        response = _text(error.status, error.message)
    if updated is not None:
        # A refresh rotated the refresh token: the browser must get the new one even when
        # the flow could not start, or its next refresh would present a spent token.
        await _save(rt, request, response, updated)
    return response


async def _save(rt: Runtime, request: Request, response: Response, session: SessionData) -> None:
    options = rt.session_cookie_options(rt.base_url(request))
    await rt.sessions.save(response, session, request.cookies, rt.now(), options)
    response.no_store()


async def handle_connect_callback(
    rt: Runtime,
    request: Request,
    query: dict[str, str],
    txn: TransactionState,
    ctx: CallbackContext,
) -> Response:
    """Finish a connect-account flow at the callback route.

    Before any call: the session must be the one that started the flow and a
    ``connect_code`` must be there. Then ``/complete`` links the account, ``on_callback``
    sees it as ``ctx.connected_account`` (with the session), and by default the browser
    goes to ``returnTo``. The session is left as it was, except that a token rotation made
    to get the My Account token is saved.
    """
    session = await rt.read_session(request)
    try:
        connect_code = check_callback(session, txn, query)
    except ConnectAccountError as error:
        return await _finish_error(rt, error, ctx, txn, request)
    assert session is not None
    updated: SessionData | None = None
    try:
        token, updated = await my_account_token(rt, session, SCOPE_CREATE)
        account = await complete_connect(rt, request, txn, token, connect_code)
    except (AccessTokenError, MfaRequiredError) as exc:
        failure = ConnectAccountError(
            ConnectAccountError.FAILED_TO_COMPLETE, TOKEN_FAILED_MESSAGE, cause=exc, status=401
        )
        response = await _finish_error(rt, failure, ctx, txn, request)
    except ConnectAccountError as error:
        response = await _finish_error(rt, error, ctx, txn, request)
    else:
        ctx = replace(ctx, connected_account=account)
        hooked = await _call_hook(rt, None, ctx, updated or session)
        base = rt.base_url(request)
        response = hooked or Response.redirect(ctx.return_to_url or base.url)
        rt.transactions.delete(response, txn.state, rt.transaction_cookie_options(base))
    if updated is not None:
        await _save(rt, request, response, updated)
    response.no_store()
    return response
