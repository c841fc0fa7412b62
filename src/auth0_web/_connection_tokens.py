"""Token Vault: access tokens for the user's accounts at other providers (reference 9.1).

Auth0 keeps the tokens a user granted when they connected, say, their Google account; the
app exchanges its own refresh token (or the session's access token) for the provider's
access token at the token endpoint, with Auth0's federated-connection grant. The answer is
cached in the session (``session.connection_token_sets``; in ``__FC_<i>`` cookies for a
stateless session) and reused until it expires.

Input is checked before anything else, the answer is validated like any token response
plus its ``issued_token_type``, and concurrent calls of one session for one connection
share a single exchange (keyed by a hash of the subject token, so results are only ever
shared between holders of the same token).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from ._errors import (
    Auth0Error,
    CodedError,
    DiscoveryError,
    HttpError,
    InvalidRequestError,
    OAuth2Error,
)
from ._refresh import get_access_token
from ._runtime import Runtime
from .oidc._token import TokenResponseError, parse_token_response, token_request
from .session._connection_cookies import MAX_CONNECTION_TOKEN_SETS
from .session._model import ConnectionTokenSet, SessionData

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "FEDERATED_CONNECTION_GRANT",
    "FEDERATED_CONNECTION_TOKEN_TYPE",
    "REFRESH_TOKEN_TYPE",
    "AccessTokenForConnectionError",
    "ConnectionAccessToken",
    "ConnectionTokenRequest",
    "get_access_token_for_connection",
    "validate_connection_request",
]

FEDERATED_CONNECTION_GRANT = (
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token"
)
REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
FEDERATED_CONNECTION_TOKEN_TYPE = (
    "http://auth0.com/oauth/token-type/federated-connection-access-token"
)
#: Lifetime assumed when the answer has no ``expires_in`` (as for refreshed tokens).
DEFAULT_LIFETIME = 3600
#: Auth0 connection names: letters, digits and ``-`` (``_`` and ``.`` are tolerated for
#: older connections), starting and ending with a letter or digit, at most 128 characters.
_CONNECTION_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?")
#: A login hint names one account (an e-mail address or the provider's user id).
MAX_LOGIN_HINT_LENGTH = 320
_SUBJECT_TOKEN_TYPES = frozenset({REFRESH_TOKEN_TYPE, ACCESS_TOKEN_TYPE})

PersistSession = Callable[[SessionData], Awaitable[None]]


class AccessTokenForConnectionError(CodedError):
    """No access token for the connection; ``code`` says why.

    ``failed_to_exchange_refresh_token`` carries the server's refusal (an
    :class:`OAuth2Error`, e.g. ``federated_connection_refresh_token_not_found`` when the
    user has not connected that account) or the transport/validation failure in ``cause``.
    """

    MISSING_SESSION = "missing_session"
    MISSING_REFRESH_TOKEN = "missing_refresh_token"
    FAILED_TO_EXCHANGE_REFRESH_TOKEN = "failed_to_exchange_refresh_token"

    status = 401


@dataclass(frozen=True, slots=True)
class ConnectionAccessToken:
    """What :meth:`Auth0Client.get_access_token_for_connection` returns."""

    token: str
    expires_at: int
    scope: str | None
    connection: str

    def __repr__(self) -> str:
        return (
            f"ConnectionAccessToken(token='***', expires_at={self.expires_at}, "
            f"scope={self.scope!r}, connection={self.connection!r})"
        )


@dataclass(frozen=True, slots=True)
class ConnectionTokenRequest:
    """Validated options of one call."""

    connection: str
    login_hint: str | None
    subject_token_type: str


def validate_connection_request(
    connection: object, login_hint: object, subject_token_type: object
) -> ConnectionTokenRequest:
    """Refuse bad input before any session read or network call.

    These are programming errors in the app: failing here keeps them out of Auth0's logs
    and keeps a hostile value (a connection name with ``&``, a hint with a newline) from
    ever reaching a request body or a cookie.
    """
    if not isinstance(connection, str) or not _CONNECTION_RE.fullmatch(connection):
        raise InvalidRequestError(
            "Missing or invalid connection: 1-128 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit."
        )
    if login_hint is not None and (
        not isinstance(login_hint, str)
        or not 0 < len(login_hint) <= MAX_LOGIN_HINT_LENGTH
        or not login_hint.isprintable()
        or login_hint != login_hint.strip()
    ):
        raise InvalidRequestError(
            f"Invalid login_hint: 1-{MAX_LOGIN_HINT_LENGTH} printable characters without "
            "leading or trailing spaces."
        )
    if subject_token_type is None:
        subject_token_type = REFRESH_TOKEN_TYPE
    if subject_token_type not in _SUBJECT_TOKEN_TYPES:
        raise InvalidRequestError(
            f"Invalid subject_token_type: use {REFRESH_TOKEN_TYPE} (the default) or "
            f"{ACCESS_TOKEN_TYPE}."
        )
    assert isinstance(subject_token_type, str)
    return ConnectionTokenRequest(connection, login_hint, subject_token_type)


def find_entry(
    entries: Sequence[ConnectionTokenSet], connection: str, login_hint: str | None
) -> ConnectionTokenSet | None:
    """The cached token for this connection and hint; a call without a hint never gets a
    token that was fetched for one specific account, nor the reverse."""
    for entry in entries:
        if entry.connection == connection and entry.login_hint == login_hint:
            return entry
    return None


def _without(
    entries: Sequence[ConnectionTokenSet], doomed: ConnectionTokenSet
) -> list[ConnectionTokenSet]:
    return [entry for entry in entries if entry is not doomed]


def _bounded(
    entries: list[ConnectionTokenSet], keep: ConnectionTokenSet, now: int
) -> list[ConnectionTokenSet]:
    """At most :data:`MAX_CONNECTION_TOKEN_SETS`: expired entries go first, then the
    oldest; ``keep`` (the one just obtained) always stays."""
    if len(entries) <= MAX_CONNECTION_TOKEN_SETS:
        return entries
    entries = [e for e in entries if e is keep or e.expires_at > now]
    while len(entries) > MAX_CONNECTION_TOKEN_SETS:
        oldest = next(i for i, e in enumerate(entries) if e is not keep)
        del entries[oldest]
    return entries


def _result(entry: ConnectionTokenSet) -> ConnectionAccessToken:
    return ConnectionAccessToken(
        token=entry.access_token,
        expires_at=entry.expires_at,
        scope=entry.scope,
        connection=entry.connection,
    )


def _failed(cause: BaseException) -> AccessTokenForConnectionError:
    return AccessTokenForConnectionError(
        AccessTokenForConnectionError.FAILED_TO_EXCHANGE_REFRESH_TOKEN,
        "There was an error trying to exchange the refresh token for a connection access token.",
        cause=cause,
    )


# --------------------------------------------------------------------------- the exchange


@dataclass(frozen=True, slots=True)
class _Exchanged:
    access_token: str = field(repr=False)
    scope: str | None
    #: Epoch seconds: ``issued_at + lifetime`` is when the token expires.
    issued_at: int
    lifetime: int


async def _exchange(rt: Runtime, subject_token: str, request: ConnectionTokenRequest) -> _Exchanged:
    form = {
        "grant_type": FEDERATED_CONNECTION_GRANT,
        "connection": request.connection,
        "subject_token_type": request.subject_token_type,
        "subject_token": subject_token,
        "requested_token_type": FEDERATED_CONNECTION_TOKEN_TYPE,
    }
    if request.login_hint is not None:
        form["login_hint"] = request.login_hint
    try:
        metadata = await rt.discovery.get()
        response = await token_request(
            rt.http, metadata.token_endpoint, rt.client_auth, form, rt.dpop
        )
        tokens = parse_token_response(response, require_id_token=False)
        issued_type = tokens.raw.get("issued_token_type")
        if issued_type is not None and issued_type != FEDERATED_CONNECTION_TOKEN_TYPE:
            raise TokenResponseError("issued_token_type is not a connection access token")
    except (DiscoveryError, HttpError, OAuth2Error, TokenResponseError) as exc:
        raise _failed(exc) from exc
    lifetime = tokens.expires_in if tokens.expires_in is not None else DEFAULT_LIFETIME
    return _Exchanged(
        access_token=tokens.access_token,
        scope=tokens.scope,
        issued_at=rt.now(),
        lifetime=lifetime,
    )


class _SingleFlight:
    """Concurrent exchanges with the same key share one call; nothing is remembered after
    it ends (the session's cache answers later calls)."""

    def __init__(self) -> None:
        self._inflight: dict[tuple[int, str], asyncio.Task[_Exchanged]] = {}
        #: Exchanges started (for tests).
        self.calls = 0

    async def run(self, key: str, exchange: Callable[[], Awaitable[_Exchanged]]) -> _Exchanged:
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        task = self._inflight.get(slot)
        if task is None:

            async def call() -> _Exchanged:
                return await exchange()

            self.calls += 1
            # A task of its own: a caller that goes away does not cancel the exchange the
            # other callers are waiting for.
            task = loop.create_task(call())
            self._inflight[slot] = task
            task.add_done_callback(lambda done: self._finished(slot, done))
        return await asyncio.shield(task)

    def _finished(self, slot: tuple[int, str], task: asyncio.Task[_Exchanged]) -> None:
        if self._inflight.get(slot) is task:
            del self._inflight[slot]
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have gone away


_flights: weakref.WeakKeyDictionary[Runtime, _SingleFlight] = weakref.WeakKeyDictionary()


def exchanges_for(rt: Runtime) -> _SingleFlight:
    """The single-flight table of one client."""
    flights = _flights.get(rt)
    if flights is None:
        flights = _flights[rt] = _SingleFlight()
    return flights


def _key(subject_token: str, request: ConnectionTokenRequest) -> str:
    parts = (subject_token, request.subject_token_type, request.connection, request.login_hint)
    return hashlib.sha256("\x00".join(p or "" for p in parts).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- the flow


async def get_access_token_for_connection(
    rt: Runtime,
    session: SessionData,
    request: ConnectionTokenRequest,
    persist: PersistSession,
) -> ConnectionAccessToken:
    """The cached or freshly exchanged token; ``persist`` is called with the session to
    save whenever it changes (a new token, or a failed exchange's stale entry removed)."""
    now = rt.now()
    cached = find_entry(session.connection_token_sets, request.connection, request.login_hint)
    if cached is not None and cached.expires_at > now + rt.config.token_refresh_buffer:
        return _result(cached)
    refresh_token = session.token_set.refresh_token
    if not refresh_token:
        if cached is not None and cached.expires_at > now:
            return _result(cached)  # inside the refresh buffer, but nothing to exchange
        raise AccessTokenForConnectionError(
            AccessTokenForConnectionError.MISSING_REFRESH_TOKEN,
            "A refresh token is required to get an access token for a connection; the user "
            "needs to log in again (with the offline_access scope).",
        )

    base = session
    if request.subject_token_type == ACCESS_TOKEN_TYPE:
        # Send a live access token: one that expired would only be refused.
        try:
            login_token, refreshed = await get_access_token(rt, session)
        except Auth0Error as exc:
            raise _failed(exc) from exc
        subject = login_token.token
        if refreshed is not None:
            base = refreshed
    else:
        # The newest refresh token of this chain, should a concurrent refresh have rotated
        # it; the session saved below carries it too, never the rotated-out one.
        subject = rt.refreshes.current(refresh_token)
        if subject != refresh_token:
            base = replace(session, token_set=replace(session.token_set, refresh_token=subject))

    try:
        exchanged = await exchanges_for(rt).run(
            _key(subject, request), lambda: _exchange(rt, subject, request)
        )
    except AccessTokenForConnectionError:
        stale = find_entry(base.connection_token_sets, request.connection, request.login_hint)
        if stale is not None:
            base = replace(base, connection_token_sets=_without(base.connection_token_sets, stale))
        if base is not session:
            await persist(base)
        raise

    fresh = ConnectionTokenSet(
        access_token=exchanged.access_token,
        expires_at=exchanged.issued_at + exchanged.lifetime,
        connection=request.connection,
        scope=exchanged.scope,
        login_hint=request.login_hint,
    )
    entries = list(base.connection_token_sets)
    previous = find_entry(entries, request.connection, request.login_hint)
    if previous is None:
        entries.append(fresh)
    else:
        entries[next(i for i, e in enumerate(entries) if e is previous)] = fresh
    await persist(replace(base, connection_token_sets=_bounded(entries, fresh, now)))
    return _result(fresh)
