"""Client-Initiated Backchannel Authentication (OpenID CIBA Core 1.0, poll mode).

The app asks the authorization server to authenticate a known user on that user's own
device (reference 9.3): one POST to the backchannel endpoint, then polls of the token
endpoint until the user approves, denies, or the request expires. The tokens are handed to
the caller and never written to a session: the user on the other end is not the browser
that made the request (if there is a browser at all).

Everything the server says is outside input: the ``auth_req_id``/``expires_in``/``interval``
answer is type-checked, the polling is bounded in time *and* in number of requests so a
misbehaving server cannot keep the caller busy forever, and the ID token is fully
validated and must be about the user that was asked for.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import Auth0Error, HttpError, InvalidRequestError, OAuth2Error
from ._runtime import Runtime
from .oidc._authorize import RESERVED_PARAMETERS
from .oidc._discovery import ProviderMetadata
from .oidc._http_client import HttpResponse
from .oidc._id_token import IdTokenError
from .oidc._token import TokenResponse, TokenResponseError, parse_token_response, token_request
from .session._model import TokenSet

__all__ = [
    "CIBA_GRANT_TYPE",
    "BackchannelAuthenticationError",
    "BackchannelAuthenticationNotSupportedError",
    "BackchannelAuthenticationResult",
    "get_token_by_backchannel_auth",
]

CIBA_GRANT_TYPE = "urn:openid:params:grant-type:ciba"

#: CIBA Core 7.3: the polling interval when the server names none.
DEFAULT_INTERVAL = 5.0
#: CIBA Core 11: ``slow_down`` means "add at least 5 seconds to the interval".
SLOW_DOWN_INCREMENT = 5.0
#: A server asking for sub-second polling is misbehaving; never poll faster than this.
MIN_INTERVAL = 1.0
#: Auth0 accepts 1-300 seconds for ``requested_expiry`` (its default is 300).
MAX_REQUESTED_EXPIRY = 300
#: Longest wait when no ``requested_expiry`` was sent (Auth0's own default is 300 s).
MAX_WAIT = 600
#: Polls allowed beyond ``expires_in / interval``: the first poll can land a little late.
EXTRA_POLLS = 2
#: Longest ``Retry-After`` (seconds) honoured on a 503; longer ones are clamped.
MAX_RETRY_AFTER = 60.0

#: Auth0's rule for ``binding_message``: up to 64 characters, alphanumerics, spaces and
#: ``+-_.,:#``. The user reads it on their phone to match it with the app's screen, so
#: anything that renders ambiguously (control characters, look-alike Unicode) is refused.
MAX_BINDING_MESSAGE = 64
_BINDING_MESSAGE = re.compile(rf"[A-Za-z0-9 +\-_.,:#]{{1,{MAX_BINDING_MESSAGE}}}")

#: Parameters the SDK sets itself (or that belong to other flows): never taken from the
#: configured ``authorization_parameters`` or the caller's ``authorization_params``, so
#: neither can redirect the request to another user or smuggle a second hint in.
CIBA_RESERVED_PARAMETERS = RESERVED_PARAMETERS | {
    "login_hint",
    "login_hint_token",
    "id_token_hint",
    "binding_message",
    "requested_expiry",
    "authorization_details",
    "user_code",
    "client_notification_token",
    "request_context",
    "grant_type",
    "auth_req_id",
}

Sleep = Callable[[float], Awaitable[Any]]


class BackchannelAuthenticationError(Auth0Error):
    """The backchannel request or its polling failed; the server's answer is in ``cause``.

    ``cause`` is an :class:`OAuth2Error` when the server answered with an error
    (``access_denied``, ``expired_token``, ...; ``expired_token`` is also synthesized when
    ``expires_in`` runs out), else the transport or validation failure.
    """

    code = "backchannel_authentication_error"
    default_message = (
        "There was an error when trying to use Client Initiated Backchannel Authentication."
    )

    def __init__(self, message: str | None = None, *, cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)


class BackchannelAuthenticationNotSupportedError(Auth0Error):
    """The provider's discovery document has no (usable) ``backchannel_authentication_endpoint``."""

    code = "backchannel_authentication_not_supported_error"
    default_message = (
        "The authorization server does not support Client Initiated Backchannel Authentication."
    )


@dataclass(frozen=True)
class BackchannelAuthenticationResult:
    """What a successful backchannel authentication yields; nothing of it is stored.

    ``token_set.requested_scope`` is the scope that was asked for; ``id_token_claims`` are
    validated (signature, issuer, audience, expiry, and ``sub`` equal to the hinted user).
    """

    token_set: TokenSet
    id_token_claims: dict[str, Any] = field(repr=False)
    authorization_details: list[Any] | None = None

    def __repr__(self) -> str:
        # TokenSet's own repr masks every token; the claims are personal data, left out.
        sub = self.id_token_claims.get("sub")
        return (
            f"BackchannelAuthenticationResult(token_set={self.token_set!r}, sub={sub!r}, "
            f"authorization_details={'[...]' if self.authorization_details else None})"
        )


# --------------------------------------------------------------------------- validation


def _invalid(what: str) -> InvalidRequestError:
    return InvalidRequestError(f"Missing or invalid {what}.")


def _check_inputs(
    binding_message: object,
    login_hint: object,
    requested_expiry: object,
    authorization_params: object,
    authorization_details: object,
) -> tuple[str, str | None]:
    """Refuse bad input before any network call; returns ``(sub, authorization_details)``.

    Failing here rather than at the server keeps the server's error text (which the app
    might display) out of what is really a programming error in the app.
    """
    if (
        not isinstance(binding_message, str)
        or not _BINDING_MESSAGE.fullmatch(binding_message)
        or not binding_message.strip()
    ):
        raise _invalid("binding_message (1-64 characters: letters, digits, spaces and +-_.,:#)")
    if not isinstance(login_hint, Mapping):
        raise _invalid("login_hint (a mapping with the user's 'sub')")
    sub = login_hint.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise _invalid("login_hint['sub']")
    if requested_expiry is not None and (
        isinstance(requested_expiry, bool)
        or not isinstance(requested_expiry, int)
        or not 0 < requested_expiry <= MAX_REQUESTED_EXPIRY
    ):
        raise _invalid(f"requested_expiry (1-{MAX_REQUESTED_EXPIRY} seconds)")
    if authorization_params is not None and (
        not isinstance(authorization_params, Mapping)
        or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in authorization_params.items()
        )
    ):
        raise _invalid("authorization_params (a mapping of strings)")
    details: str | None = None
    if authorization_details is not None:
        # RFC 9396: a JSON array of objects, each with a string ``type``.
        if not isinstance(authorization_details, list | tuple) or not all(
            isinstance(item, Mapping) and isinstance(item.get("type"), str)
            for item in authorization_details
        ):
            raise _invalid("authorization_details (a list of objects with a 'type')")
        try:
            details = json.dumps(
                [dict(item) for item in authorization_details],
                separators=(",", ":"),
                allow_nan=False,
            )
        except (TypeError, ValueError) as exc:
            raise _invalid("authorization_details (must be JSON-serializable)") from exc
    return sub, details


def _backchannel_endpoint(metadata: ProviderMetadata, *, insecure: bool) -> str:
    value = metadata.raw.get("backchannel_authentication_endpoint")
    if not isinstance(value, str) or not (
        value.startswith("https://") or (insecure and value.startswith("http://"))
    ):
        raise BackchannelAuthenticationNotSupportedError()
    return value


# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True, slots=True)
class _Pending:
    auth_req_id: str
    expires_in: float
    interval: float

    def __repr__(self) -> str:
        return (
            f"_Pending(auth_req_id='***', expires_in={self.expires_in}, interval={self.interval})"
        )


def _positive_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def _raise_for_error(response: HttpResponse) -> None:
    body = response.json_object()
    if body is not None and isinstance(body.get("error"), str):
        description = body.get("error_description")
        raise OAuth2Error(
            body["error"], description if isinstance(description, str) else None, extra=body
        )
    raise TokenResponseError(f"unexpected status {response.status}")


def _parse_authentication_response(response: HttpResponse) -> _Pending:
    """CIBA Core 7.3 (success) and 13 (errors)."""
    if response.status != 200:
        _raise_for_error(response)
    body = response.json_object()
    if body is None:
        raise TokenResponseError("backchannel response is not a JSON object")
    auth_req_id = body.get("auth_req_id")
    if not isinstance(auth_req_id, str) or not auth_req_id or len(auth_req_id) > 4096:
        raise TokenResponseError("auth_req_id missing or invalid")
    expires_in = _positive_number(body.get("expires_in"))
    if expires_in is None:
        raise TokenResponseError("expires_in missing or invalid")
    interval = DEFAULT_INTERVAL
    if body.get("interval") is not None:
        given = _positive_number(body.get("interval"))
        if given is None:
            raise TokenResponseError("interval invalid")
        interval = given
    return _Pending(auth_req_id, expires_in, max(interval, MIN_INTERVAL))


def _retry_after(response: HttpResponse) -> float | None:
    """Seconds from a 503's ``Retry-After`` (delta-seconds only; dates are ignored)."""
    value = response.headers.get("retry-after", "").strip()
    if not (value.isascii() and value.isdigit()):  # str.isdigit() alone accepts "²"
        return None
    return min(float(value), MAX_RETRY_AFTER)


async def _poll(
    rt: Runtime, token_endpoint: str, pending: _Pending, limit: float, sleep: Sleep
) -> TokenResponse:
    """Poll until the server answers with tokens or a final error (CIBA Core 7.3, 11).

    Time is counted twice: the sum of the waits (what the server expects to have seen)
    and the wall clock (network time included); whichever reaches ``expires_in`` first
    ends the polling. The number of polls is capped on top, so even a server that keeps
    answering ``authorization_pending`` with a huge ``expires_in`` is asked a bounded
    number of times. ``limit`` is how long the caller asked to wait: a server answering
    with a longer ``expires_in`` does not get to keep the caller waiting longer.
    """
    form = {"grant_type": CIBA_GRANT_TYPE, "auth_req_id": pending.auth_req_id}
    interval = pending.interval
    expires_in = min(pending.expires_in, limit)
    max_polls = math.ceil(expires_in / pending.interval) + EXTRA_POLLS
    started = time.monotonic()
    waited = 0.0
    wait = interval
    for _ in range(max_polls):
        if waited + wait > expires_in or time.monotonic() - started + wait > expires_in:
            break
        await sleep(wait)
        waited += wait
        response = await token_request(rt.http, token_endpoint, rt.client_auth, form, rt.dpop)
        wait = interval
        if response.status == 503:
            retry_after = _retry_after(response)
            if retry_after is not None:
                wait = max(interval, retry_after)
                continue
        try:
            return parse_token_response(response, require_id_token=True)
        except OAuth2Error as exc:
            if exc.code == "authorization_pending":
                continue
            if exc.code == "slow_down":
                interval += SLOW_DOWN_INCREMENT
                wait = interval
                continue
            raise
    raise OAuth2Error(
        "expired_token", "The backchannel authentication request expired before it was approved."
    )


# --------------------------------------------------------------------------- entry point


async def get_token_by_backchannel_auth(
    rt: Runtime,
    *,
    binding_message: str,
    login_hint: Mapping[str, str],
    requested_expiry: int | None = MAX_REQUESTED_EXPIRY,
    authorization_params: Mapping[str, str] | None = None,
    authorization_details: Any = None,
    sleep: Sleep = asyncio.sleep,
) -> BackchannelAuthenticationResult:
    """Authenticate ``login_hint['sub']`` on their own device and return the tokens.

    Blocks (asynchronously) until the user approves or denies on their device, or the
    request expires: up to ``requested_expiry`` seconds (default 300). ``binding_message``
    is shown to the user so they can tell this request from any other. ``sleep`` is
    injectable so tests need not wait for real.

    Raises :class:`InvalidRequestError` for bad arguments (before any network call),
    :class:`BackchannelAuthenticationNotSupportedError` when the provider has no
    backchannel endpoint, :class:`~auth0_web.DiscoveryError` when discovery fails, and
    :class:`BackchannelAuthenticationError` for everything else. The session is never read
    or written.
    """
    sub, details = _check_inputs(
        binding_message, login_hint, requested_expiry, authorization_params, authorization_details
    )
    config = rt.config
    metadata = await rt.discovery.get()
    endpoint = _backchannel_endpoint(metadata, insecure=config.allow_insecure_requests)

    merged = {**config.authorization_parameters, **(authorization_params or {})}
    form = {k: v for k, v in merged.items() if k not in CIBA_RESERVED_PARAMETERS}
    scope = form.get("scope") or config.authorization_parameters["scope"]
    form["scope"] = scope
    form["binding_message"] = binding_message
    form["login_hint"] = json.dumps(
        {"format": "iss_sub", "iss": metadata.issuer, "sub": sub}, separators=(",", ":")
    )
    if requested_expiry is not None:
        form["requested_expiry"] = str(requested_expiry)
    if details is not None:
        form["authorization_details"] = details

    try:
        # Client authentication only: DPoP proofs are for the token endpoint (below).
        headers = rt.client_auth.apply(form)
        response = await rt.http.post_form(endpoint, form, headers)
        pending = _parse_authentication_response(response)
        limit = requested_expiry if requested_expiry is not None else MAX_WAIT
        tokens = await _poll(rt, metadata.token_endpoint, pending, limit, sleep)
        issued_at = rt.now()
        assert tokens.id_token is not None  # require_id_token=True
        claims = await rt.verify_id_token(tokens.id_token, metadata)
        if claims.get("sub") != sub:
            # Tokens for someone else than the user who was asked are never handed out.
            raise IdTokenError("sub does not match the login_hint")
    except (OAuth2Error, HttpError, TokenResponseError, IdTokenError) as exc:
        raise BackchannelAuthenticationError(cause=exc) from exc

    raw_details = tokens.raw.get("authorization_details")
    token_set = TokenSet(
        access_token=tokens.access_token,
        expires_at=issued_at + (tokens.expires_in if tokens.expires_in is not None else 3600),
        id_token=tokens.id_token,
        refresh_token=tokens.refresh_token,
        scope=tokens.scope,
        requested_scope=scope,
        audience=form.get("audience"),
        token_type=tokens.token_type,
    )
    return BackchannelAuthenticationResult(
        token_set=token_set,
        id_token_claims=claims,
        authorization_details=list(raw_details) if isinstance(raw_details, list) else None,
    )
