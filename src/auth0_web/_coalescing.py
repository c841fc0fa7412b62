"""Refreshes coalesced per session.

Concurrent requests that need the same refresh (same refresh token, audience and scope)
share one token-endpoint call, and its result is remembered for :data:`REMEMBER_SECONDS`, so
a request that still carries the old refresh token (it started before the new cookie reached
the browser) gets the same result instead of presenting a rotated-out token, which a provider
with reuse detection answers by revoking the whole session. The key is a hash of the refresh
token itself: only holders of that token can ever see a result (the reference's global,
audience-only key leaked tokens across users, CVE-2025-67490).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .oidc._token import TokenResponse
from .session._store import guarded

__all__ = ["REMEMBER_SECONDS", "RefreshCoalescer", "RefreshResult"]


class DistributedRefresh(Protocol):
    async def refresh_once(
        self,
        refresh_token: str,
        resource: str,
        refresh: Callable[[str], Awaitable[tuple[bytes, str | None]]],
    ) -> bytes: ...


def _encode(result: RefreshResult) -> bytes:
    tokens = result.tokens
    return json.dumps(
        {
            "tokens": {
                "access_token": tokens.access_token,
                "token_type": tokens.token_type,
                "expires_in": tokens.expires_in,
                "id_token": tokens.id_token,
                "refresh_token": tokens.refresh_token,
                "scope": tokens.scope,
            },
            "claims": result.claims,
            "issued_at": result.issued_at,
        }
    ).encode("utf-8")


def _decode(data: bytes) -> RefreshResult:
    payload = json.loads(data)
    fields = payload["tokens"]
    return RefreshResult(
        tokens=TokenResponse(raw=dict(fields), **fields),
        claims=payload["claims"],
        issued_at=int(payload["issued_at"]),
    )


@dataclass(frozen=True, slots=True)
class RefreshResult:
    tokens: TokenResponse
    claims: dict[str, Any] | None
    #: When the provider answered (epoch seconds): expiry is ``issued_at + expires_in``,
    #: however long the result is remembered.
    issued_at: int


REMEMBER_SECONDS = 30.0
MAX_REMEMBERED = 10_000
_MAX_CHAIN = 16


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


class RefreshCoalescer:
    """Refreshes serialized per refresh-token chain, with a short memory.

    * Concurrent requests for the same (refresh token, audience, scope) share one call.
    * Refreshes for different audiences of one session run one after the other, each with
      the newest refresh token of the chain (a provider that rotates refresh tokens would
      treat two parallel uses of one token as theft and revoke the session).
    * For :data:`REMEMBER_SECONDS` a result answers requests that still carry the refresh
      token it replaced, and rotations are remembered, so such requests also leave with
      the newest refresh token.
    """

    def __init__(
        self,
        *,
        remember_for: float = REMEMBER_SECONDS,
        max_entries: int = MAX_REMEMBERED,
        distributed: DistributedRefresh | None = None,
    ) -> None:
        #: A store that coalesces across processes too (``RedisSessionStore``).
        self.distributed = distributed
        self.remember_for = remember_for
        self.max_entries = max_entries
        self._results: OrderedDict[str, tuple[float, RefreshResult]] = OrderedDict()
        #: hash(old refresh token) -> (until, the token that replaced it, chain id)
        self._rotations: OrderedDict[str, tuple[float, str, str]] = OrderedDict()
        #: hash(refresh token) -> (until, chain id), for tokens a rotation issued
        self._members: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._inflight: dict[tuple[int, str], asyncio.Task[RefreshResult]] = {}
        #: One lock per refresh-token chain and event loop, with its number of users.
        self._locks: dict[tuple[int, str], tuple[asyncio.Lock, int]] = {}
        #: Token-endpoint calls made (for tests and benchmarks).
        self.calls = 0

    @staticmethod
    def key(refresh_token: str, audience: str | None, scope: str) -> str:
        return _digest(refresh_token, audience or "", scope)

    # -- memory ------------------------------------------------------------------------------

    def _bounded_put(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_entries:
            table.popitem(last=False)

    def _remembered(self, key: str) -> RefreshResult | None:
        hit = self._results.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            del self._results[key]
            return None
        return hit[1]

    def _rotation(self, refresh_token: str) -> tuple[str, str] | None:
        hit = self._rotations.get(_digest(refresh_token))
        if hit is None or hit[0] <= time.monotonic():
            return None
        return hit[1], hit[2]

    def current(self, refresh_token: str) -> str:
        """The newest refresh token known to have replaced ``refresh_token``."""
        for _ in range(_MAX_CHAIN):
            newer = self._rotation(refresh_token)
            if newer is None:
                break
            refresh_token = newer[0]
        return refresh_token

    def _chain(self, refresh_token: str) -> str:
        """The id shared by a refresh token and every token that replaced or will replace
        it (while remembered): refreshes of one chain never run in parallel."""
        digest = _digest(refresh_token)
        rotation = self._rotation(refresh_token)
        if rotation is not None:
            return rotation[1]
        member = self._members.get(digest)
        if member is not None and member[0] > time.monotonic():
            return member[1]
        return digest

    def _with_newest_refresh_token(self, result: RefreshResult) -> RefreshResult:
        issued = result.tokens.refresh_token
        if issued is None:
            return result
        newest = self.current(issued)
        if newest == issued:
            return result
        return replace(result, tokens=replace(result.tokens, refresh_token=newest))

    # -- across processes ----------------------------------------------------------------------

    async def _refresh_everywhere(
        self,
        refresh_token: str,
        audience: str | None,
        scope: str,
        refresh: Callable[[str], Awaitable[RefreshResult]],
    ) -> RefreshResult:
        assert self.distributed is not None

        async def run(presented: str) -> tuple[bytes, str | None]:
            self.calls += 1
            result = await refresh(presented)
            return _encode(result), result.tokens.refresh_token

        # The store failing (Redis down) is SessionStoreUnavailableError; the refresh's own
        # errors (AccessTokenError, ...) pass through unchanged.
        data = await guarded(
            "refresh_once",
            self.distributed.refresh_once(refresh_token, f"{audience or ''}\x00{scope}", run),
        )
        return _decode(data)

    # -- running -----------------------------------------------------------------------------

    async def run(
        self,
        refresh_token: str,
        audience: str | None,
        scope: str,
        refresh: Callable[[str], Awaitable[RefreshResult]],
    ) -> RefreshResult:
        """The refresh result for this token, audience and scope (``refresh`` is called with
        the refresh token to present, at most once for concurrent callers)."""
        key = self.key(refresh_token, audience, scope)
        remembered = self._remembered(key)
        if remembered is not None:
            return self._with_newest_refresh_token(remembered)
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        task = self._inflight.get(slot)
        if task is None:
            # A task of its own: a caller that is cancelled (a client went away) does not
            # cancel the refresh the other callers are waiting for.
            task = loop.create_task(self._execute(refresh_token, audience, scope, key, refresh))
            self._inflight[slot] = task
            task.add_done_callback(lambda done: self._finished(slot, done))
        result = await asyncio.shield(task)
        return self._with_newest_refresh_token(result)

    def _finished(self, slot: tuple[int, str], task: asyncio.Task[RefreshResult]) -> None:
        self._inflight.pop(slot, None)
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have gone away

    async def _execute(
        self,
        refresh_token: str,
        audience: str | None,
        scope: str,
        key: str,
        refresh: Callable[[str], Awaitable[RefreshResult]],
    ) -> RefreshResult:
        loop = asyncio.get_running_loop()
        chain = self._chain(refresh_token)
        lock_slot = (id(loop), chain)
        lock, users = self._locks.get(lock_slot, (asyncio.Lock(), 0))
        self._locks[lock_slot] = (lock, users + 1)
        try:
            async with lock:
                remembered = self._remembered(key)
                if remembered is not None:
                    return remembered
                presented = self.current(refresh_token)
                if self.distributed is not None:
                    result = await self._refresh_everywhere(presented, audience, scope, refresh)
                else:
                    self.calls += 1
                    result = await refresh(presented)
                issued = result.tokens.refresh_token
                until = time.monotonic() + self.remember_for
                if issued is not None and issued != presented:
                    self._bounded_put(self._rotations, _digest(presented), (until, issued, chain))
                    self._bounded_put(self._members, _digest(issued), (until, chain))
                    if presented != refresh_token:
                        self._bounded_put(
                            self._rotations, _digest(refresh_token), (until, issued, chain)
                        )
                self._bounded_put(self._results, key, (until, result))
                if presented != refresh_token:
                    self._bounded_put(
                        self._results, self.key(presented, audience, scope), (until, result)
                    )
                return result
        finally:
            lock, users = self._locks[lock_slot]
            if users <= 1:
                del self._locks[lock_slot]
            else:
                self._locks[lock_slot] = (lock, users - 1)
