"""Connected accounts: link a user's account at another provider through Auth0's My Account API.

A *connected account* gives Token Vault a refresh token for the user's account at, say,
Google, so the app can later call Google's APIs on the user's behalf (reference 9.4). The
flow looks like a login but happens inside an existing session:

1. ``connect_account`` gets a My Account API token for the session (audience
   ``<issuer>me/``, scope ``create:me:connected_accounts``; a multi-resource refresh token
   makes that a refresh), asks ``POST /me/v1/connected-accounts/connect`` to start, and
   redirects the browser to the answer's ``connect_uri`` with its ``ticket``. A transaction
   cookie remembers the PKCE verifier, the ``auth_session`` and who started it.
2. The user consents at the other provider and comes back to the app's callback with a
   ``connect_code``.
3. The callback checks that the same session (``sub`` and ``sid``) is still there and a
   ``connect_code`` came back (:func:`check_callback`), before any call; then
   ``POST /me/v1/connected-accounts/complete`` links the account (:func:`complete_connect`).

Everything the My Account API answers is outside input: ``connect_uri`` must be an absolute
https URL (http only with ``allow_insecure_requests``) before the browser is sent anywhere,
every member is type- and size-checked, and errors are parsed from RFC 7807 problem JSON
into :class:`MyAccountApiError`, whose text never reaches an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ._access_tokens import AccessToken
from ._config import AppBaseUrl
from ._errors import AccessTokenError, Auth0Error, HttpError, InvalidRequestError, OAuth2Error
from ._http import Request, Response
from ._refresh import get_access_token
from ._runtime import Runtime
from ._urls import safe_return_to
from .oidc._authorize import (
    RESERVED_PARAMETERS,
    code_challenge_s256,
    generate_code_verifier,
    random_token,
)
from .oidc._dpop import is_nonce_error, retry_delay
from .oidc._http_client import HttpResponse
from .oidc._id_token import IdTokenError, decode_unverified
from .session._model import SessionData
from .session._transaction import TransactionState

__all__ = [
    "CONNECT_RESPONSE_TYPE",
    "ConnectAccountError",
    "ConnectedAccount",
    "ConnectedAccountsError",
    "MyAccountApiError",
    "complete_connect",
    "connect_account",
    "disconnect_account",
    "get_connected_accounts",
    "list_connected_accounts",
    "my_account_audience",
    "my_account_token",
    "start_connect",
]

logger = logging.getLogger("auth0_web")

#: ``responseType`` of a connect-account transaction (the reference's value).
CONNECT_RESPONSE_TYPE = "connect_code"
SCOPE_CREATE = "create:me:connected_accounts"
SCOPE_READ = "read:me:connected_accounts"
SCOPE_DELETE = "delete:me:connected_accounts"

#: Pages of ``GET .../accounts`` followed at most (the reference's bound), and the page
#: size asked for (the API's maximum, so few pages are needed).
MAX_PAGES = 100
PAGE_SIZE = 20
#: More accounts than this in one page is not an answer the API gives (it caps at 20).
MAX_PAGE_ACCOUNTS = 100

#: Limits from the My Account API's documented request schema; checked before any call so
#: a bad argument is the app's error, not a confusing 400 from the API.
MAX_CONNECTION = 128
MAX_SCOPES = 100
MAX_SCOPE = 255
#: Bounds for what the API answers (generous, but bounded: it all goes into a cookie).
MAX_AUTH_SESSION = 512
MAX_TICKET = 2048
MAX_CONNECT_URI = 2048
MAX_EXPIRES_IN = 24 * 3600
MAX_ID = 256
MAX_CURSOR = 1024
MAX_TEXT = 512

#: The flow sets these itself (or they belong to the login flow): never forwarded as
#: ``authorization_params``, whatever the query or the caller says.
CONNECT_RESERVED_PARAMETERS = RESERVED_PARAMETERS | {
    "connection",
    "scopes",
    "returnTo",
    "challengeMode",
    "iss",
    "target_link_uri",
    "auth_session",
    "connect_code",
    "ticket",
    "code_verifier",
}

#: Control characters and spaces: never in a connection name, scope, code or URL; answered
#: text (``_NAME_CONTROL``) may hold spaces but no control characters.
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
#: A host a browser reads as we do: an ASCII name (no ``%``-escapes, no ``<`` and the like,
#: which a browser decodes or refuses) or an IPv6 literal.
_PLAIN_HOST = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")
_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Name of the Token Vault cache on :class:`SessionData` (present when that feature is).
_CONNECTION_TOKENS = "connection_token_sets"


# --------------------------------------------------------------------------- errors


class MyAccountApiError(Auth0Error):
    """An error answer from the My Account API (RFC 7807 problem details).

    ``type``, ``title``, ``detail`` and ``validation_errors`` are the API's text (possibly
    echoing user input): escape them before rendering. The message is fixed.
    """

    code = "my_account_api_error"
    default_message = "The My Account API refused the request."

    def __init__(
        self,
        *,
        status: int,
        type: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        validation_errors: tuple[Mapping[str, str], ...] = (),
    ) -> None:
        super().__init__()
        self.type = type
        self.title = title
        self.detail = detail
        #: The HTTP status of the answer (the problem's ``status`` when it is a valid one).
        self.status = status
        self.validation_errors = validation_errors

    def __repr__(self) -> str:
        return f"MyAccountApiError(status={self.status}, type={self.type!r})"


class ConnectAccountError(Auth0Error):
    """Starting or finishing a connect-account flow failed; ``code`` says which.

    ``cause`` is a :class:`MyAccountApiError` when the API refused, an
    :class:`AccessTokenError` when no My Account token could be had, else the transport
    or validation failure. ``status`` is what the SDK's routes answer with.
    """

    MISSING_SESSION = "missing_session"
    FAILED_TO_INITIATE = "failed_to_initiate"
    FAILED_TO_COMPLETE = "failed_to_complete"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        cause: BaseException | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, cause=cause)
        self.code = code
        self.status = status if status is not None else _status_for(code, cause)


class ConnectedAccountsError(Auth0Error):
    """Listing or removing connected accounts failed; ``code`` says which (``cause`` as for
    :class:`ConnectAccountError`)."""

    MISSING_SESSION = "missing_session"
    FAILED_TO_LIST = "failed_to_list"
    FAILED_TO_DELETE = "failed_to_delete"

    def __init__(self, code: str, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)
        self.code = code
        self.status = _status_for(code, cause)


def _status_for(code: str, cause: BaseException | None) -> int:
    if code == "missing_session" or isinstance(cause, AccessTokenError):
        return 401
    if isinstance(cause, MyAccountApiError) and 400 <= cause.status <= 599:
        # The API's own verdict (400 for an unknown connection, 429, ...) is the most
        # useful status for the browser; anything else about the answer is our 500.
        return cause.status
    return 500


MISSING_SESSION_MESSAGE = "The user does not have an active session."
TOKEN_FAILED_MESSAGE = "Failed to retrieve a connected account access token."
INITIATE_FAILED_MESSAGE = "There was an error while trying to start connecting the account."
COMPLETE_FAILED_MESSAGE = "There was an error while trying to finish connecting the account."
LIST_FAILED_MESSAGE = "There was an error while trying to list the connected accounts."
DELETE_FAILED_MESSAGE = "There was an error while trying to disconnect the account."


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    """A user's account at another provider, linked for Token Vault.

    ``created_at``/``expires_at`` are the API's ISO 8601 strings (``expires_at``: when the
    stored refresh token expires, if it does); ``org_id`` is set for accounts bound to an
    organization (listing only).
    """

    id: str
    connection: str
    access_type: str | None = None
    scopes: tuple[str, ...] = ()
    created_at: str | None = None
    expires_at: str | None = None
    org_id: str | None = None


class _Malformed(Exception):
    """The My Account API's answer is not what its documentation promises; ``reason`` is
    safe to log (it never quotes the answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _text(value: object, name: str, *, limit: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _Malformed(f"{name} missing or invalid")
    if _NAME_CONTROL.search(value):
        raise _Malformed(f"{name} has control characters")
    return value


def _timestamp(value: object, name: str, *, required: bool) -> str | None:
    text = _text(value, name, limit=64, required=required)
    if text is None:
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Malformed(f"{name} is not an ISO 8601 date-time") from exc
    return text


def _parse_account(data: object, *, completed: bool) -> ConnectedAccount:
    """One account object; ``completed``: the ``/complete`` answer (``created_at`` and
    ``access_type`` are required there)."""
    if not isinstance(data, dict):
        raise _Malformed("account is not an object")
    scopes_raw = data.get("scopes")
    scopes: tuple[str, ...] = ()
    if scopes_raw is not None:
        if (
            not isinstance(scopes_raw, list)
            or len(scopes_raw) > MAX_SCOPES * 2
            or not all(isinstance(s, str) and 0 < len(s) <= MAX_SCOPE for s in scopes_raw)
        ):
            raise _Malformed("scopes invalid")
        scopes = tuple(scopes_raw)
    account_id = _text(data.get("id"), "id", limit=MAX_ID)
    connection = _text(data.get("connection"), "connection", limit=MAX_CONNECTION)
    assert account_id is not None and connection is not None
    return ConnectedAccount(
        id=account_id,
        connection=connection,
        access_type=_text(data.get("access_type"), "access_type", limit=32, required=completed),
        scopes=scopes,
        created_at=_timestamp(data.get("created_at"), "created_at", required=completed),
        expires_at=_timestamp(data.get("expires_at"), "expires_at", required=False),
        org_id=_text(data.get("org_id"), "org_id", limit=MAX_ID, required=False),
    )


def _is_json(response: HttpResponse) -> bool:
    header: str = response.headers.get("content-type", "")
    media_type = header.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _success_body(response: HttpResponse) -> dict[str, Any]:
    body = response.json_object() if _is_json(response) else None
    if body is None:
        raise _Malformed("answer is not a JSON object")
    return body


def problem_from(response: HttpResponse) -> MyAccountApiError:
    """The API's error answer as a :class:`MyAccountApiError` (whatever its body holds)."""
    body = response.json_object() or {}

    def text(key: str) -> str | None:
        value = body.get(key)
        return value[:MAX_TEXT] if isinstance(value, str) and value else None

    status = body.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        status = response.status
    errors: list[Mapping[str, str]] = []
    raw = body.get("validation_errors")
    if isinstance(raw, list):
        for item in raw[:20]:
            if isinstance(item, dict):
                errors.append(
                    {
                        str(k)[:64]: v[:MAX_TEXT]
                        for k, v in list(item.items())[:10]
                        if isinstance(v, str)
                    }
                )
    return MyAccountApiError(
        status=status,
        type=text("type"),
        title=text("title"),
        detail=text("detail"),
        validation_errors=tuple(errors),
    )


# --------------------------------------------------------------------------- the API


def my_account_base(rt: Runtime) -> str:
    issuer = rt.config.issuer
    return (issuer if issuer.endswith("/") else issuer + "/") + "me/"


def my_account_audience(rt: Runtime) -> str:
    """The My Account API's audience: ``<issuer>me/``."""
    return my_account_base(rt)


def _endpoint(rt: Runtime, path: str) -> str:
    return my_account_base(rt) + "v1/connected-accounts/" + path


async def _call(
    rt: Runtime,
    method: str,
    url: str,
    token: AccessToken,
    body: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """One call to the My Account API with the user's token.

    A DPoP-bound token is sent with a proof (and one retry when the API asks for a DPoP
    nonce, RFC 9449 section 9); a Bearer token never switches scheme. The shared HTTP
    client applies the timeout and the response-size cap and never follows redirects.
    """
    headers = {"Accept": "application/json"}
    content = None
    if body is not None:
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    bound = (token.token_type or "").lower() == "dpop"
    dpop = rt.dpop if bound else None
    for attempt in (1, 2):
        request_headers = dict(headers)
        if dpop is not None:
            request_headers["Authorization"] = f"DPoP {token.token}"
            request_headers["DPoP"] = dpop.proof(method, url, access_token=token.token)
        else:
            request_headers["Authorization"] = f"{'DPoP' if bound else 'Bearer'} {token.token}"
        response = await rt.http.request(method, url, content=content, headers=request_headers)
        if dpop is None:
            return response
        dpop.nonces.update(url, response.headers)
        if attempt == 1 and is_nonce_error(response.status, response.headers, None):
            await asyncio.sleep(retry_delay(dpop.retry_delay_ms, dpop.retry_jitter))
            continue
        return response
    raise AssertionError("unreachable")  # pragma: no cover


async def my_account_token(
    rt: Runtime, session: SessionData, scope: str
) -> tuple[AccessToken, SessionData | None]:
    """A My Account API token for ``session`` (and the rotated session, if it changed).

    Uses the session's refresh token like :meth:`Auth0Client.get_access_token` (reference
    7.3: with a multi-resource refresh token this is a refresh for ``<issuer>me/``). Raises
    :class:`AccessTokenError` or :class:`~auth0_web.MfaRequiredError`.
    """
    return await get_access_token(rt, session, audience=my_account_audience(rt), scope=scope)


# --------------------------------------------------------------------------- input checks


def _check_connection(connection: object) -> str:
    if (
        not isinstance(connection, str)
        or not connection
        or len(connection) > MAX_CONNECTION
        or _CONTROL_OR_SPACE.search(connection)
    ):
        raise InvalidRequestError(
            f"A connection is required (a name of 1-{MAX_CONNECTION} characters, no spaces)."
        )
    return connection


def _check_scopes(scopes: object) -> list[str] | None:
    if scopes is None:
        return None
    if isinstance(scopes, str) or not isinstance(scopes, Sequence):
        raise InvalidRequestError("scopes must be a list of strings.")
    result = list(scopes)
    if not result:
        return None
    if len(result) > MAX_SCOPES or not all(
        isinstance(s, str) and s and len(s) <= MAX_SCOPE and not _CONTROL_OR_SPACE.search(s)
        for s in result
    ):
        raise InvalidRequestError(
            f"scopes must hold 1-{MAX_SCOPES} scope names of 1-{MAX_SCOPE} characters."
        )
    return list(dict.fromkeys(result))


def _check_authorization_params(params: object) -> dict[str, str | int]:
    """The caller's ``authorization_params`` minus the reserved ones; ``max_age`` must be a
    non-negative integer (the API wants a number)."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidRequestError("authorization_params must be a mapping of strings.")
    result: dict[str, str | int] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key or len(key) > 64 or _CONTROL_OR_SPACE.search(key):
            raise InvalidRequestError("authorization_params has an invalid name.")
        if key in CONNECT_RESERVED_PARAMETERS or value is None:
            continue
        if key == "max_age":
            if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRequestError("max_age must be a non-negative integer.")
            result[key] = value
            continue
        if not isinstance(value, str) or len(value) > 2048:
            raise InvalidRequestError(f"authorization_params[{key!r}] must be a string.")
        result[key] = value
    return result


def check_connect_input(
    connection: object, scopes: object, authorization_params: object
) -> tuple[str, list[str] | None, dict[str, str | int]]:
    """Validate ``connect_account``'s arguments (raises :class:`InvalidRequestError`), so a
    bad one fails before a token is fetched or the API is called."""
    return (
        _check_connection(connection),
        _check_scopes(scopes),
        _check_authorization_params(authorization_params),
    )


def session_subject(session: SessionData) -> str | None:
    """The user of ``session``: the login's ID token ``sub`` (a hook cannot filter that),
    else ``user['sub']``."""
    if session.token_set.id_token:
        try:
            sub = decode_unverified(session.token_set.id_token)[1].get("sub")
        except IdTokenError:
            sub = None
        if isinstance(sub, str) and sub:
            return sub
    sub = session.user.get("sub")
    return sub if isinstance(sub, str) and sub else None


def _connect_redirect(rt: Runtime, connect_uri: object, ticket: str) -> str:
    """``connect_uri`` with ``ticket`` added, after checking it is a URL we may send the
    browser to: absolute, https (http only with ``allow_insecure_requests``), a host, no
    credentials, no fragment, nothing a browser would read differently than we do."""
    if (
        not isinstance(connect_uri, str)
        or not connect_uri
        or len(connect_uri) > MAX_CONNECT_URI
        or _CONTROL_OR_SPACE.search(connect_uri)
        or "\\" in connect_uri
    ):
        raise _Malformed("connect_uri missing or invalid")
    try:
        parts = urlsplit(connect_uri)
        _ = parts.port
    except ValueError as exc:
        raise _Malformed("connect_uri is not a valid URL") from exc
    allowed = ("https", "http") if rt.config.allow_insecure_requests else ("https",)
    if parts.scheme.lower() not in allowed:
        raise _Malformed("connect_uri must be an https URL")
    if not parts.hostname or "@" in parts.netloc or parts.fragment or "#" in connect_uri:
        raise _Malformed("connect_uri must be an absolute URL with a host and no credentials")
    if not _PLAIN_HOST.fullmatch(parts.hostname):
        raise _Malformed("connect_uri has a host a browser would read differently")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ticket"]
    query.append(("ticket", ticket))
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", urlencode(query), ""))


def _parse_started(rt: Runtime, response: HttpResponse) -> tuple[str, str]:
    """``(redirect URL, auth_session)`` from the answer to ``POST .../connect``."""
    body = _success_body(response)
    params = body.get("connect_params")
    if not isinstance(params, dict):
        raise _Malformed("connect_params missing")
    ticket = _text(params.get("ticket"), "ticket", limit=MAX_TICKET)
    auth_session = _text(body.get("auth_session"), "auth_session", limit=MAX_AUTH_SESSION)
    expires_in = body.get("expires_in")
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or not math.isfinite(expires_in)
        or not 0 < expires_in <= MAX_EXPIRES_IN
    ):
        raise _Malformed("expires_in missing or invalid")
    assert ticket is not None and auth_session is not None
    return _connect_redirect(rt, body.get("connect_uri"), ticket), auth_session


# --------------------------------------------------------------------------- the flow


async def start_connect(
    rt: Runtime,
    request: Request,
    session: SessionData,
    token: AccessToken,
    *,
    connection: str,
    scopes: Sequence[str] | None = None,
    return_to: str | None = None,
    authorization_params: Mapping[str, Any] | None = None,
) -> Response:
    """The redirect to the other provider's consent page, with the transaction cookie.

    ``token`` is a My Account API token with ``create:me:connected_accounts`` (see
    :func:`my_account_token`; the caller persists a rotation). Raises
    :class:`InvalidRequestError` for bad arguments (before any call) and
    :class:`ConnectAccountError` (``missing_session``, ``failed_to_initiate``).
    """
    connection, checked_scopes, params = check_connect_input(
        connection, scopes, authorization_params
    )
    sub = session_subject(session)
    if sub is None:
        raise ConnectAccountError(
            ConnectAccountError.MISSING_SESSION, "The session has no user to connect an account to."
        )
    base = rt.base_url(request)
    safe_return = safe_return_to(return_to, base) or default_return_to(rt, base)
    state = random_token()
    verifier = generate_code_verifier()
    body: dict[str, Any] = {
        "connection": connection,
        "redirect_uri": base.url_for(rt.config.routes.callback),
        "state": state,
        "code_challenge": code_challenge_s256(verifier),
        "code_challenge_method": "S256",
    }
    if checked_scopes:
        body["scopes"] = checked_scopes
    if params:
        body["authorization_params"] = params

    def failed(cause: BaseException) -> ConnectAccountError:
        return ConnectAccountError(
            ConnectAccountError.FAILED_TO_INITIATE, INITIATE_FAILED_MESSAGE, cause=cause
        )

    try:
        answer = await _call(rt, "POST", _endpoint(rt, "connect"), token, body)
    except HttpError as exc:
        raise failed(exc) from exc
    if answer.status not in (200, 201):
        raise failed(problem_from(answer))
    try:
        location, auth_session = _parse_started(rt, answer)
    except _Malformed as exc:
        logger.warning("My Account API: invalid answer to connect: %s", exc.reason)
        raise failed(exc) from exc

    txn = TransactionState(
        state=state,
        nonce="",
        code_verifier=verifier,
        return_to=safe_return,
        response_type=CONNECT_RESPONSE_TYPE,
        auth_session=auth_session,
        sub=sub,
        sid=session.internal.sid,
    )
    response = Response.redirect(location)
    rt.transactions.save(
        response, txn, request.cookies, rt.now(), rt.transaction_cookie_options(base)
    )
    response.no_store()
    return response


def default_return_to(rt: Runtime, base: AppBaseUrl) -> str:
    return base.path + rt.config.sign_in_return_to_path


def check_callback(
    session: SessionData | None, txn: TransactionState, query: Mapping[str, str]
) -> str:
    """The ``connect_code`` of a connect callback, after the checks that need no call.

    The session must be the one that started the flow (same ``sub`` and ``sid``): a
    connect finished in another user's session would link the first user's account at the
    other provider to the second user. Every refusal is a 400 (the browser sent it).
    """
    if session is None:
        raise ConnectAccountError(
            ConnectAccountError.MISSING_SESSION, MISSING_SESSION_MESSAGE, status=400
        )
    if (
        not txn.sub
        or txn.sid is None
        or session_subject(session) != txn.sub
        or session.internal.sid != txn.sid
    ):
        logger.warning("connect callback refused: the session is not the one that started it")
        raise ConnectAccountError(
            ConnectAccountError.FAILED_TO_COMPLETE,
            "The session changed since connecting the account started.",
            status=400,
        )
    if "error" in query:
        raise ConnectAccountError(
            ConnectAccountError.FAILED_TO_COMPLETE,
            COMPLETE_FAILED_MESSAGE,
            cause=OAuth2Error(query["error"], query.get("error_description")),
            status=400,
        )
    code = query.get("connect_code")
    if not code or len(code) > 256 or _CONTROL_OR_SPACE.search(code):
        raise ConnectAccountError(
            ConnectAccountError.FAILED_TO_COMPLETE,
            "The connect_code parameter is missing or invalid.",
            status=400,
        )
    return code


async def complete_connect(
    rt: Runtime, request: Request, txn: TransactionState, token: AccessToken, connect_code: str
) -> ConnectedAccount:
    """``POST /me/v1/connected-accounts/complete``; the account that is now linked.

    Raises :class:`ConnectAccountError` (``failed_to_complete``).
    """

    def failed(cause: BaseException) -> ConnectAccountError:
        return ConnectAccountError(
            ConnectAccountError.FAILED_TO_COMPLETE, COMPLETE_FAILED_MESSAGE, cause=cause
        )

    base = rt.base_url(request)
    body = {
        "auth_session": txn.auth_session,
        "connect_code": connect_code,
        "redirect_uri": base.url_for(rt.config.routes.callback),
        "code_verifier": txn.code_verifier,
    }
    try:
        answer = await _call(rt, "POST", _endpoint(rt, "complete"), token, body)
    except HttpError as exc:
        raise failed(exc) from exc
    if answer.status not in (200, 201):
        raise failed(problem_from(answer))
    try:
        return _parse_account(_success_body(answer), completed=True)
    except _Malformed as exc:
        logger.warning("My Account API: invalid answer to complete: %s", exc.reason)
        raise failed(exc) from exc


async def list_connected_accounts(rt: Runtime, token: AccessToken) -> list[ConnectedAccount]:
    """Every connected account of the token's user, following ``next`` cursors.

    At most :data:`MAX_PAGES` pages; a repeated cursor or more pages is an error rather
    than a partial list (callers act on what is missing). Raises
    :class:`ConnectedAccountsError` (``failed_to_list``).
    """

    def failed(cause: BaseException) -> ConnectedAccountsError:
        return ConnectedAccountsError(
            ConnectedAccountsError.FAILED_TO_LIST, LIST_FAILED_MESSAGE, cause=cause
        )

    accounts: list[ConnectedAccount] = []
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        query = {"take": str(PAGE_SIZE)}
        if cursor is not None:
            # Auth0 documents the cursor parameter as ``from`` (the reference sends ``next``,
            # which the API does not know: it would answer the first page again).
            query["from"] = cursor
        url = _endpoint(rt, "accounts") + "?" + urlencode(query)
        try:
            answer = await _call(rt, "GET", url, token)
        except HttpError as exc:
            raise failed(exc) from exc
        if answer.status != 200:
            raise failed(problem_from(answer))
        try:
            body = _success_body(answer)
            raw = body.get("accounts")
            if not isinstance(raw, list) or len(raw) > MAX_PAGE_ACCOUNTS:
                raise _Malformed("accounts missing or invalid")
            accounts.extend(_parse_account(item, completed=False) for item in raw)
            cursor = _text(body.get("next"), "next", limit=MAX_CURSOR, required=False) or None
        except _Malformed as exc:
            logger.warning("My Account API: invalid list of accounts: %s", exc.reason)
            raise failed(exc) from exc
        if cursor is None:
            return accounts
        if cursor in seen:
            raise failed(_Malformed("the API repeated a pagination cursor"))
        seen.add(cursor)
    raise failed(_Malformed(f"more than {MAX_PAGES} pages of connected accounts"))


async def delete_connected_account(rt: Runtime, token: AccessToken, account_id: str) -> None:
    """``DELETE /me/v1/connected-accounts/accounts/<id>``; raises
    :class:`ConnectedAccountsError` (``failed_to_delete``)."""
    url = _endpoint(rt, "accounts/" + quote(account_id, safe=""))
    try:
        answer = await _call(rt, "DELETE", url, token)
    except HttpError as exc:
        raise ConnectedAccountsError(
            ConnectedAccountsError.FAILED_TO_DELETE, DELETE_FAILED_MESSAGE, cause=exc
        ) from exc
    if answer.status not in (200, 204):
        raise ConnectedAccountsError(
            ConnectedAccountsError.FAILED_TO_DELETE,
            DELETE_FAILED_MESSAGE,
            cause=problem_from(answer),
        )


async def delete_connection_accounts(
    rt: Runtime, token: AccessToken, connection: str
) -> list[ConnectedAccount]:
    """Delete every account of the user on ``connection``; the accounts removed.

    The API deletes by id, so the accounts are listed first (an exact match on the
    connection name). Nothing on that connection is not an error.
    """
    accounts = await list_connected_accounts(rt, token)
    removed: list[ConnectedAccount] = []
    for account in accounts:
        if account.connection == connection:
            await delete_connected_account(rt, token, account.id)
            removed.append(account)
    return removed


# --------------------------------------------------------------------------- Auth0Client


#: Saves a changed session: ``(session, response the flow produced or None)``.
Persist = Callable[[SessionData, "Response | None"], Awaitable[None]]


async def connect_account(
    rt: Runtime,
    request: Request,
    session: SessionData | None,
    persist: Persist,
    *,
    connection: str,
    scopes: Sequence[str] | None,
    return_to: str | None,
    authorization_params: Mapping[str, Any] | None,
) -> Response:
    """:meth:`Auth0Client.connect_account`: arguments checked, token fetched (a rotation
    persisted whatever happens next), then :func:`start_connect`."""
    check_connect_input(connection, scopes, authorization_params)
    if session is None:
        raise ConnectAccountError(ConnectAccountError.MISSING_SESSION, MISSING_SESSION_MESSAGE)
    try:
        token, updated = await my_account_token(rt, session, SCOPE_CREATE)
    except AccessTokenError as exc:
        raise ConnectAccountError(
            ConnectAccountError.FAILED_TO_INITIATE, TOKEN_FAILED_MESSAGE, cause=exc
        ) from exc
    response: Response | None = None
    try:
        response = await start_connect(
            rt,
            request,
            updated or session,
            token,
            connection=connection,
            scopes=scopes,
            return_to=return_to,
            authorization_params=authorization_params,
        )
    finally:
        if updated is not None:
            await persist(updated, response)
    return response


async def get_connected_accounts(
    rt: Runtime, session: SessionData | None, persist: Persist
) -> list[ConnectedAccount]:
    """:meth:`Auth0Client.get_connected_accounts`: the list, and the session's Token Vault
    cache pruned of connections no longer linked (persisted with any token rotation)."""
    if session is None:
        raise ConnectedAccountsError(
            ConnectedAccountsError.MISSING_SESSION, MISSING_SESSION_MESSAGE
        )
    try:
        token, updated = await my_account_token(rt, session, SCOPE_READ)
    except AccessTokenError as exc:
        raise ConnectedAccountsError(
            ConnectedAccountsError.FAILED_TO_LIST, TOKEN_FAILED_MESSAGE, cause=exc
        ) from exc
    current = updated or session
    try:
        accounts = await list_connected_accounts(rt, token)
    except ConnectedAccountsError:
        if updated is not None:
            await persist(updated, None)
        raise
    linked = connections_of(accounts)
    final = prune_connection_tokens(current, lambda name: name in linked) or updated
    if final is not None:
        await persist(final, None)
    return accounts


async def disconnect_account(
    rt: Runtime, session: SessionData | None, persist: Persist, connection: str
) -> list[ConnectedAccount]:
    """:meth:`Auth0Client.disconnect_account`: delete the connection's accounts; the cached
    Token Vault tokens for it are dropped whatever the outcome (persisted once)."""
    connection = _check_connection(connection)
    if session is None:
        raise ConnectedAccountsError(
            ConnectedAccountsError.MISSING_SESSION, MISSING_SESSION_MESSAGE
        )
    try:
        token, updated = await my_account_token(rt, session, f"{SCOPE_READ} {SCOPE_DELETE}")
    except AccessTokenError as exc:
        raise ConnectedAccountsError(
            ConnectedAccountsError.FAILED_TO_DELETE, TOKEN_FAILED_MESSAGE, cause=exc
        ) from exc
    current = updated or session
    try:
        return await delete_connection_accounts(rt, token, connection)
    finally:
        final = prune_connection_tokens(current, lambda name: name != connection) or updated
        if final is not None:
            await persist(final, None)


# --------------------------------------------------------------------------- Token Vault cache


def prune_connection_tokens(
    session: SessionData, keep: Callable[[str | None], bool]
) -> SessionData | None:
    """``session`` without its cached Token Vault tokens whose connection ``keep`` refuses,
    or ``None`` when nothing changes (or the session has no such cache).

    The cache is read by name so this works whether or not the session model has it.
    """
    entries = getattr(session, _CONNECTION_TOKENS, None)
    if not isinstance(entries, list) or not entries:
        return None
    kept = [entry for entry in entries if keep(_entry_connection(entry))]
    if len(kept) == len(entries):
        return None
    updated = replace(session)
    setattr(updated, _CONNECTION_TOKENS, kept)
    return updated


def _entry_connection(entry: object) -> str | None:
    if isinstance(entry, Mapping):
        value = entry.get("connection")
    else:
        value = getattr(entry, "connection", None)
    return value if isinstance(value, str) else None


def connections_of(accounts: Iterable[ConnectedAccount]) -> frozenset[str]:
    return frozenset(account.connection for account in accounts)
