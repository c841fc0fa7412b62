"""Getting an access token, refreshing it when needed (one refresh per session at a time,
see :mod:`auth0_web._coalescing`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from ._access_tokens import (
    AccessToken,
    Candidate,
    apply_refresh,
    merge_scopes,
    select_candidate,
)
from ._coalescing import RefreshResult
from ._errors import AccessTokenError, DiscoveryError, HttpError, OAuth2Error
from ._mfa import mfa_required_error
from ._runtime import Runtime
from .oidc._id_token import (
    IdTokenError,
    decode_unverified,
)
from .oidc._token import TokenResponseError, refresh_token_grant
from .session._model import SessionData
from .session._stateless import SESSION_CEILING_LEEWAY

__all__ = ["get_access_token"]

logger = logging.getLogger("auth0_web")


async def _refresh(
    rt: Runtime,
    refresh_token: str,
    *,
    scope: str | None,
    audience: str | None,
) -> RefreshResult:
    try:
        # Inside the try: a provider that cannot be discovered (an instance started during
        # an outage) fails the refresh like one whose token endpoint cannot be reached.
        metadata = await rt.discovery.get()
        tokens = await refresh_token_grant(
            rt.http,
            metadata.token_endpoint,
            rt.client_auth,
            refresh_token=refresh_token,
            scope=scope,
            audience=audience,
            dpop=rt.dpop,
        )
    except OAuth2Error as exc:
        if exc.code == "mfa_required":
            # Left as is: get_access_token() knows the session to bind the MFA context to.
            raise
        raise _failed(exc) from exc
    except (DiscoveryError, HttpError, TokenResponseError) as exc:
        raise _failed(exc) from exc
    issued_at = rt.now()
    claims: dict[str, Any] | None = None
    if tokens.id_token is not None:
        try:
            claims = await rt.verify_id_token(tokens.id_token, metadata)
        except (IdTokenError, HttpError) as exc:
            logger.warning("refreshed ID token rejected: %s", getattr(exc, "reason", exc))
            raise _failed(exc) from exc
    return RefreshResult(tokens=tokens, claims=claims, issued_at=issued_at)


def _failed(cause: BaseException) -> AccessTokenError:
    return AccessTokenError(
        AccessTokenError.FAILED_TO_REFRESH_TOKEN,
        "The access token has expired and there was an error while trying to refresh it.",
        cause=cause,
    )


@dataclass(frozen=True, slots=True)
class TokenPlan:
    """What :func:`get_access_token` will do: answer ``token`` as it is, or refresh."""

    token: AccessToken | None = field(repr=False)  # set when no refresh is needed
    candidate: Candidate
    wanted: str
    effective: str | None
    now: int


def plan_access_token(
    rt: Runtime,
    session: SessionData,
    *,
    refresh: bool = False,
    scope: str | None = None,
    audience: str | None = None,
    merge: bool = True,
) -> TokenPlan:
    """The pure first half of :func:`get_access_token`: pick the token set and decide
    whether it must be refreshed (raising the same errors). No I/O, so synchronous
    callers answer a cached token without an event loop."""
    now = rt.now()
    ceiling = session.internal.session_expires_at
    if ceiling is not None and now >= ceiling - SESSION_CEILING_LEEWAY:
        raise AccessTokenError(
            AccessTokenError.SESSION_EXPIRED, "The session has expired and the user must log in."
        )
    effective = audience or rt.config.audience
    wanted = merge_scopes(rt.config.scope_for(effective), scope) if merge else (scope or "")
    candidate = select_candidate(session, rt.config, audience=audience, scope=wanted)

    if candidate.refresh_token is None:
        if candidate.access_token is None:
            raise AccessTokenError(
                AccessTokenError.MISSING_REFRESH_TOKEN,
                "No access token found and a refresh token was not provided, "
                "the user needs to re-authenticate.",
            )
        if candidate.expires_at is None or candidate.expires_at <= now:
            raise AccessTokenError(
                AccessTokenError.MISSING_REFRESH_TOKEN,
                "The access token has expired and a refresh token was not provided, "
                "the user needs to re-authenticate.",
            )
    needs_refresh = (
        refresh
        or candidate.access_token is None
        or candidate.expires_at is None
        or candidate.expires_at <= now + rt.config.token_refresh_buffer
    )
    token = None
    if not needs_refresh or candidate.refresh_token is None:
        assert candidate.access_token is not None and candidate.expires_at is not None
        token = AccessToken(
            token=candidate.access_token,
            expires_at=candidate.expires_at,
            scope=candidate.scope,
            token_type=candidate.token_type,
            audience=candidate.audience,
        )
    return TokenPlan(token, candidate, wanted, effective, now)


async def get_access_token(
    rt: Runtime,
    session: SessionData,
    *,
    refresh: bool = False,
    scope: str | None = None,
    audience: str | None = None,
    merge: bool = True,
) -> tuple[AccessToken, SessionData | None]:
    """The access token for ``audience``/``scope``, and the changed session (or ``None``).

    Reference 7.2. A refreshed ID token must be for the same user (``sub``) and issuer, or
    the refresh is refused and the session stays as it was.
    """
    plan = plan_access_token(
        rt, session, refresh=refresh, scope=scope, audience=audience, merge=merge
    )
    if plan.token is not None:
        return plan.token, None
    candidate, wanted, effective, now = plan.candidate, plan.wanted, plan.effective, plan.now
    assert candidate.refresh_token is not None

    refresh_token = candidate.refresh_token
    if candidate.primary:
        # The login's token set covers the request (as when it is valid and returned for a
        # narrower scope): refresh that set, so a narrow request never narrows it and the
        # next default call is answered without another refresh.
        wanted = session.token_set.requested_scope or rt.config.scope_for(effective)
    request_scope = wanted if scope else None
    try:
        result = await rt.refreshes.run(
            refresh_token,
            audience,
            request_scope or "",
            lambda presented: _refresh(rt, presented, scope=request_scope, audience=audience),
        )
    except OAuth2Error as exc:  # only mfa_required leaves _refresh() unwrapped
        # The sealed MFA context is bound to this session and remembers the scope the
        # token is looked up by, so the stepped-up token is found again after verify.
        raise mfa_required_error(
            rt,
            exc,
            session=session,
            audience=audience,
            scope=request_scope,
            requested_scope=wanted,
        ) from exc
    claims = result.claims
    if claims is not None:
        _check_continuity(session, claims)
    tokens = result.tokens
    updated = apply_refresh(
        session,
        rt.config,
        audience=audience,
        requested_scope=wanted,
        tokens=tokens,
        issued_at=result.issued_at,
        now=now,
    )
    if claims is not None:
        updated = replace(updated, user=dict(claims))
    # Like a login, a refresh that changes the session runs before_session_saved (or the
    # default claim filter), so hook-added fields survive refreshes.
    updated = await rt.finalize_session(updated, tokens.id_token)
    lifetime = tokens.expires_in if tokens.expires_in is not None else 3600
    return (
        AccessToken(
            token=tokens.access_token,
            expires_at=result.issued_at + lifetime,
            scope=tokens.scope,
            token_type=tokens.token_type,
            audience=effective,
        ),
        updated,
    )


def _check_continuity(session: SessionData, claims: dict[str, Any]) -> None:
    """OIDC Core 12.2: a refreshed ID token is for the same user (and, if it carries a
    ``nonce``, the login's). The reference is the ID token stored at login, which the app's
    hooks cannot filter; ``session.user`` is only the fallback."""
    original: dict[str, Any] = {}
    if session.token_set.id_token:
        try:
            original = decode_unverified(session.token_set.id_token)[1]
        except IdTokenError:
            original = {}
    previous_sub = original.get("sub", session.user.get("sub"))
    if not isinstance(previous_sub, str) or claims.get("sub") != previous_sub:
        logger.warning("refresh returned an ID token for another user; refused")
        raise _failed(IdTokenError("sub mismatch"))
    if "nonce" in claims and claims["nonce"] != original.get("nonce"):
        logger.warning("refresh returned an ID token with a foreign nonce; refused")
        raise _failed(IdTokenError("nonce mismatch"))
