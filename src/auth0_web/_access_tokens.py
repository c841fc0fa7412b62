"""Which access token answers a request, and what a refresh changes in the session.

Pure functions over :class:`SessionData` (no I/O), following the reference's multi-resource
refresh token rules: the login's token set serves the default audience; tokens for other
audiences live in ``session.access_tokens``; one refresh token serves them all. Unlike the
reference, expired entries are pruned and the list is capped, so the cookie cannot grow
without bound.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from ._config import Config
from .oidc._token import TokenResponse
from .session._model import AccessTokenSet, SessionData, TokenSet

__all__ = [
    "MAX_ACCESS_TOKEN_ENTRIES",
    "AccessToken",
    "Candidate",
    "apply_refresh",
    "contains_scopes",
    "merge_scopes",
    "select_candidate",
]

#: ``session.access_tokens`` keeps at most this many (unexpired) entries, newest first.
MAX_ACCESS_TOKEN_ENTRIES = 10


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What :meth:`Auth0Client.get_access_token` returns."""

    token: str
    expires_at: int
    scope: str | None = None
    token_type: str | None = None
    audience: str | None = None

    def __repr__(self) -> str:
        return (
            f"AccessToken(token='***', expires_at={self.expires_at}, scope={self.scope!r}, "
            f"token_type={self.token_type!r}, audience={self.audience!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "expires_at": self.expires_at,
            "scope": self.scope,
            "token_type": self.token_type,
            "audience": self.audience,
        }


def _scope_list(value: str | None) -> list[str]:
    seen: dict[str, None] = {}
    for item in (value or "").split(" "):
        if item:
            seen.setdefault(item, None)
    return list(seen)


def merge_scopes(*values: str | None) -> str:
    """Union of space-separated scopes, order kept, duplicates dropped."""
    return _merge_cached(values)


@functools.lru_cache(maxsize=256)
def _merge_cached(values: tuple[str | None, ...]) -> str:
    # Scope strings repeat (configured scopes, an API's few scopes): memoised, this is a
    # dictionary lookup on the get_access_token() hot path.
    merged: dict[str, None] = {}
    for value in values:
        for item in _scope_list(value):
            merged.setdefault(item, None)
    return " ".join(merged)


def contains_scopes(have: str | None, want: str | None) -> bool:
    """``have`` grants every scope in ``want`` (order-insensitive superset)."""
    if not want or have == want:
        return True
    return _contains_cached(have or "", want)


@functools.lru_cache(maxsize=256)
def _contains_cached(have: str, want: str) -> bool:
    return set(_scope_list(want)) <= set(_scope_list(have))


@dataclass(frozen=True, slots=True)
class Candidate:
    """The token set that answers a request (``access_token`` None: none matches)."""

    access_token: str | None = field(repr=False)
    expires_at: int | None
    scope: str | None
    requested_scope: str | None
    audience: str | None
    token_type: str | None
    refresh_token: str | None = field(repr=False)
    primary: bool


def select_candidate(
    session: SessionData, config: Config, *, audience: str | None, scope: str
) -> Candidate:
    """Reference 7.3: the primary set, else the narrowest matching ``access_tokens`` entry."""
    primary = session.token_set
    primary_audience = primary.audience or config.audience
    effective = audience or config.audience
    if not effective or effective == primary_audience:
        requested = primary.requested_scope or config.scope_for(effective)
        if not scope or contains_scopes(requested, scope):
            return Candidate(
                access_token=primary.access_token or None,
                expires_at=primary.expires_at,
                scope=primary.scope,
                requested_scope=primary.requested_scope,
                audience=primary.audience or effective,
                token_type=primary.token_type,
                refresh_token=primary.refresh_token,
                primary=True,
            )
    if effective:
        matches = [
            entry
            for entry in session.access_tokens
            if entry.audience == effective
            and contains_scopes(entry.requested_scope or entry.scope, scope)
        ]
        if matches:
            best = min(matches, key=lambda e: len(set(_scope_list(e.scope))))
            return Candidate(
                access_token=best.access_token,
                expires_at=best.expires_at,
                scope=best.scope,
                requested_scope=best.requested_scope,
                audience=best.audience,
                token_type=best.token_type,
                refresh_token=primary.refresh_token,
                primary=False,
            )
    return Candidate(
        access_token=None,
        expires_at=None,
        scope=None,
        requested_scope=scope or None,
        audience=effective,
        token_type=None,
        refresh_token=primary.refresh_token,
        primary=False,
    )


def _replaces_primary(
    session: SessionData, config: Config, audience: str | None, scope: str
) -> bool:
    """The new token can stand in for the login's: same audience, and requested for at
    least everything the login's token was requested for (a narrower token must not
    narrow what the primary set claims, or every later default call would refresh)."""
    primary_audience = session.token_set.audience or config.audience
    if audience and audience != primary_audience:
        return False
    requested = session.token_set.requested_scope or config.scope_for(audience)
    return not scope or contains_scopes(scope, requested)


def _prune(entries: list[AccessTokenSet], now: float) -> list[AccessTokenSet]:
    live = [e for e in entries if e.expires_at > now]
    live.sort(key=lambda e: e.expires_at, reverse=True)
    return live[:MAX_ACCESS_TOKEN_ENTRIES]


def apply_refresh(
    session: SessionData,
    config: Config,
    *,
    audience: str | None,
    requested_scope: str,
    tokens: TokenResponse,
    issued_at: int,
    now: int,
) -> SessionData:
    """Reference 7.4: the session after a refresh (a new object; ``session`` is unchanged).

    The refresh token (rotated or not) and the ID token always go to the primary token set,
    because one refresh token serves every audience.
    """
    expires_at = issued_at + (tokens.expires_in if tokens.expires_in is not None else 3600)
    refresh_token = tokens.refresh_token or session.token_set.refresh_token
    id_token = tokens.id_token or session.token_set.id_token
    effective = audience or config.audience
    if _replaces_primary(session, config, audience, requested_scope):
        token_set = replace(
            session.token_set,
            access_token=tokens.access_token,
            id_token=id_token,
            refresh_token=refresh_token,
            scope=tokens.scope or session.token_set.scope,
            requested_scope=requested_scope or session.token_set.requested_scope,
            expires_at=expires_at,
            audience=session.token_set.audience or effective,
            token_type=tokens.token_type,
        )
        return replace(
            session, token_set=token_set, access_tokens=_prune(list(session.access_tokens), now)
        )

    shared: TokenSet = replace(session.token_set, refresh_token=refresh_token, id_token=id_token)
    if not effective:
        # No audience to file a narrower token under: keep only the shared tokens.
        return replace(
            session, token_set=shared, access_tokens=_prune(list(session.access_tokens), now)
        )
    entry = AccessTokenSet(
        access_token=tokens.access_token,
        expires_at=expires_at,
        audience=effective or "",
        scope=tokens.scope,
        requested_scope=requested_scope or None,
        token_type=tokens.token_type,
    )
    entries = list(session.access_tokens)
    for index, existing in enumerate(entries):
        if existing.audience == entry.audience and contains_scopes(
            existing.requested_scope or existing.scope, requested_scope
        ):
            entries[index] = entry  # records what this token was requested for
            break
    else:
        for index, existing in enumerate(entries):
            if existing.audience == entry.audience and set(_scope_list(existing.scope)) == set(
                _scope_list(entry.scope)
            ):
                entries[index] = replace(
                    entry,
                    requested_scope=merge_scopes(existing.requested_scope, requested_scope) or None,
                )
                break
        else:
            entries.append(entry)
    return replace(session, token_set=shared, access_tokens=_prune(entries, now))
