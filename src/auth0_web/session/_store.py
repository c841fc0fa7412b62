"""Server-side session storage: the protocol a store implements, and an in-memory store.

With a ``session_store``, the cookie carries only an encrypted random session id and the
session lives in the store, so it can be revoked server-side (back-channel logout), can hold
large token sets, and is shared by every app instance that shares the store.

A store is any object with these async methods (``typing.Protocol``, no base class needed):

``get(id) -> SessionData | None``, ``set(id, session, *, expires_at)``, ``delete(id)``;
optionally ``update(id, session, *, expires_at) -> bool`` (atomic "only if it still
exists": without it a request racing a logout could bring the session back) and
``delete_by_logout_token(claims) -> int`` (needed for back-channel logout), and
``touch(id, session, *, expires_at) -> bool`` (extend the expiry without rewriting: a rolling
request then cannot write back tokens another instance refreshed meanwhile).
``expires_at`` is when the session ends (epoch seconds): expire the record then.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from .._errors import Auth0Error, SessionStoreUnavailableError
from ._model import SessionData

__all__ = [
    "LogoutTokenClaims",
    "MemorySessionStore",
    "SessionDataStore",
    "SupportsLogoutTokens",
    "SupportsUpdate",
    "guarded",
]

_T = TypeVar("_T")

logger = logging.getLogger("auth0_web")


async def guarded(operation: str, call: Awaitable[_T]) -> _T:
    """Await a session-store call; any failure becomes :class:`SessionStoreUnavailableError`
    (logged with the exception's type only: a store's error text may hold keys or data)."""
    try:
        return await call
    except Auth0Error:
        raise
    except Exception as exc:
        logger.warning("session store %s failed: %s", operation, type(exc).__name__)
        raise SessionStoreUnavailableError(cause=exc) from exc


@dataclass(frozen=True, slots=True)
class LogoutTokenClaims:
    """Who a verified back-channel logout token logs out (``sid`` and/or ``sub``)."""

    iss: str
    sid: str | None = None
    sub: str | None = None


@runtime_checkable
class SessionDataStore(Protocol):
    async def get(self, id: str) -> SessionData | None: ...

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None: ...

    async def delete(self, id: str) -> None: ...


@runtime_checkable
class SupportsUpdate(Protocol):
    async def update(self, id: str, session: SessionData, *, expires_at: int) -> bool: ...


@runtime_checkable
class SupportsTouch(Protocol):
    async def touch(self, id: str, session: SessionData, *, expires_at: int) -> bool: ...


@runtime_checkable
class SupportsLogoutTokens(Protocol):
    async def delete_by_logout_token(self, claims: LogoutTokenClaims) -> int: ...


def session_subject(session: SessionData) -> str | None:
    sub = session.user.get("sub")
    return sub if isinstance(sub, str) and sub else None


def matches_logout_token(session: SessionData, claims: LogoutTokenClaims) -> bool:
    """The session a verified logout token ends: same issuer (when the record names one),
    then the ``sid``, or, without one, the ``sub``; with both, both must match."""
    issuer = session.internal.extra.get("iss")
    if issuer is not None and issuer != claims.iss:
        return False
    if claims.sid is not None:
        if session.internal.sid != claims.sid:
            return False
        return claims.sub is None or session_subject(session) == claims.sub
    return claims.sub is not None and session_subject(session) == claims.sub


class MemorySessionStore:
    """Sessions in this process's memory: for development and tests, not for production
    (sessions vanish on restart and are not shared between processes).

    Records are kept as JSON, so callers never share objects with the store.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: dict[str, tuple[int, str]] = {}

    def __len__(self) -> int:
        self._prune()
        return len(self._records)

    def _prune(self) -> None:
        now = self._clock()
        for key in [k for k, (exp, _) in self._records.items() if exp <= now]:
            del self._records[key]

    async def get(self, id: str) -> SessionData | None:
        record = self._records.get(id)
        if record is None or record[0] <= self._clock():
            return None
        return SessionData.from_dict(json.loads(record[1]))

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None:
        self._prune()
        self._records[id] = (expires_at, json.dumps(session.to_dict()))

    async def update(self, id: str, session: SessionData, *, expires_at: int) -> bool:
        record = self._records.get(id)
        if record is None or record[0] <= self._clock():
            return False
        self._records[id] = (expires_at, json.dumps(session.to_dict()))
        return True

    async def touch(self, id: str, session: SessionData, *, expires_at: int) -> bool:
        record = self._records.get(id)
        if record is None or record[0] <= self._clock():
            return False
        self._records[id] = (expires_at, record[1])
        return True

    async def delete(self, id: str) -> None:
        self._records.pop(id, None)

    async def delete_by_logout_token(self, claims: LogoutTokenClaims) -> int:
        doomed = [
            key
            for key, (_, raw) in self._records.items()
            if matches_logout_token(SessionData.from_dict(json.loads(raw)), claims)
        ]
        for key in doomed:
            del self._records[key]
        return len(doomed)
