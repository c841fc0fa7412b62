"""Custom Token Exchange (RFC 8693, Auth0's Custom Token Exchange profile).

Exchanges a token from another system for Auth0 tokens. Server-side only: it never reads or
writes the session and nothing is cached; the caller decides what to do with the result.
Inputs are validated before any network call, and ``subject_token_type`` must be the
application's own URI, never a reserved ``urn:ietf``/Auth0/Okta type (those select
built-in grants at Auth0, not the custom exchange).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._access_tokens import merge_scopes
from ._config import DEFAULT_SCOPE
from ._errors import CodedError, DiscoveryError, HttpError, OAuth2Error
from ._runtime import Runtime
from .oidc._id_token import IdTokenError
from .oidc._token import TokenResponseError, parse_token_response, token_request

__all__ = ["CustomTokenExchangeError", "CustomTokenExchangeResult", "custom_token_exchange"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
#: RFC 8693 2.2.1: what the exchange issues. Auth0 issues access tokens; an answer that says
#: it issued anything else (a refresh token, a SAML assertion) is not used as one.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
_URN_RE = re.compile(r"urn:[a-z0-9][a-z0-9-]{0,31}:[a-z0-9()+,\-.:=@;$_!*'%/?#]+", re.IGNORECASE)
_RESERVED_PREFIXES = ("urn:ietf:", "urn:auth0:", "urn:okta:")
_RESERVED_HOSTS = ("auth0.com", "okta.com")
#: Parameters the exchange sets itself; ``additional_parameters`` cannot replace them.
_RESERVED_PARAMETERS = frozenset(
    {
        "grant_type",
        "subject_token",
        "subject_token_type",
        "actor_token",
        "actor_token_type",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "audience",
        "scope",
        "organization",
    }
)


class CustomTokenExchangeError(CodedError):
    """The exchange's input is invalid, or the authorization server refused it."""

    MISSING_SUBJECT_TOKEN = "missing_subject_token"
    INVALID_SUBJECT_TOKEN_TYPE = "invalid_subject_token_type"
    MISSING_ACTOR_TOKEN_TYPE = "missing_actor_token_type"
    INVALID_ACTOR_TOKEN_TYPE = "invalid_actor_token_type"
    EXCHANGE_FAILED = "exchange_failed"

    status = 400


@dataclass(frozen=True, slots=True)
class CustomTokenExchangeResult:
    access_token: str
    token_type: str
    expires_in: int | None
    id_token: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    #: The ``act`` (actor) claim of the verified ID token, when there is one.
    act: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"CustomTokenExchangeResult(access_token='***', token_type={self.token_type!r}, "
            f"expires_in={self.expires_in!r}, scope={self.scope!r})"
        )


def _is_uri(value: str) -> bool:
    if _URN_RE.fullmatch(value):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme in ("http", "https") and parts.netloc)


def _is_reserved(value: str) -> bool:
    lowered = value.lower()
    if lowered.startswith(_RESERVED_PREFIXES):
        return True
    host = (urlsplit(lowered).hostname or "") if "://" in lowered else ""
    return any(host == h or host.endswith("." + h) for h in _RESERVED_HOSTS)


def validate_exchange_input(
    subject_token: str,
    subject_token_type: str,
    actor_token: str | None,
    actor_token_type: str | None,
) -> None:
    """Raise :class:`CustomTokenExchangeError` for input Auth0 would refuse anyway."""
    if not isinstance(subject_token, str) or not subject_token.strip():
        raise CustomTokenExchangeError(
            CustomTokenExchangeError.MISSING_SUBJECT_TOKEN, "The subject_token is required."
        )
    if (
        not isinstance(subject_token_type, str)
        or not 10 <= len(subject_token_type) <= 100
        or not _is_uri(subject_token_type)
        or _is_reserved(subject_token_type)
    ):
        raise CustomTokenExchangeError(
            CustomTokenExchangeError.INVALID_SUBJECT_TOKEN_TYPE,
            "The subject_token_type must be your own URI (10-100 characters), not a reserved "
            "urn:ietf, Auth0 or Okta type.",
        )
    if actor_token is not None and not actor_token_type:
        raise CustomTokenExchangeError(
            CustomTokenExchangeError.MISSING_ACTOR_TOKEN_TYPE,
            "The actor_token_type is required with an actor_token.",
        )
    if actor_token_type is not None and (
        not isinstance(actor_token_type, str) or not _is_uri(actor_token_type)
    ):
        raise CustomTokenExchangeError(
            CustomTokenExchangeError.INVALID_ACTOR_TOKEN_TYPE,
            "The actor_token_type must be a URI.",
        )


async def custom_token_exchange(
    rt: Runtime,
    *,
    subject_token: str,
    subject_token_type: str,
    audience: str | None = None,
    scope: str | None = None,
    organization: str | None = None,
    actor_token: str | None = None,
    actor_token_type: str | None = None,
    additional_parameters: Mapping[str, object] | None = None,
) -> CustomTokenExchangeResult:
    validate_exchange_input(subject_token, subject_token_type, actor_token, actor_token_type)
    form: dict[str, str] = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject_token,
        "subject_token_type": subject_token_type,
        "scope": merge_scopes(DEFAULT_SCOPE, scope),
    }
    if audience:
        form["audience"] = audience
    if organization:
        form["organization"] = organization
    if actor_token is not None and actor_token_type:
        form["actor_token"] = actor_token
        form["actor_token_type"] = actor_token_type
    for key, value in (additional_parameters or {}).items():
        if value is not None and key not in _RESERVED_PARAMETERS:
            form[key] = value if isinstance(value, str) else str(value)

    def failed(cause: BaseException) -> CustomTokenExchangeError:
        return CustomTokenExchangeError(
            CustomTokenExchangeError.EXCHANGE_FAILED,
            "There was an error trying to exchange the token.",
            cause=cause,
        )

    try:
        metadata = await rt.discovery.get()
        response = await token_request(
            rt.http, metadata.token_endpoint, rt.client_auth, form, rt.dpop
        )
        tokens = parse_token_response(response, require_id_token=False)
        issued = tokens.raw.get("issued_token_type")
        if issued is not None and issued != ACCESS_TOKEN_TYPE:
            raise TokenResponseError("unexpected issued_token_type")
    except (DiscoveryError, HttpError, OAuth2Error, TokenResponseError) as exc:
        raise failed(exc) from exc
    act: dict[str, Any] | None = None
    if tokens.id_token is not None:
        try:
            claims = await rt.verify_id_token(tokens.id_token, metadata)
        except (IdTokenError, HttpError) as exc:
            raise failed(exc) from exc
        value = claims.get("act")
        act = value if isinstance(value, dict) else None
    return CustomTokenExchangeResult(
        access_token=tokens.access_token,
        token_type=tokens.token_type,
        expires_in=tokens.expires_in,
        id_token=tokens.id_token,
        refresh_token=tokens.refresh_token,
        scope=tokens.scope,
        act=act,
    )
