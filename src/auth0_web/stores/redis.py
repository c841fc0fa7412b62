"""A Redis-backed session store (``pip install "auth0-web[redis]"``).

Key layout (every key starts with ``prefix``, default ``auth0:``)::

    {prefix}s:{id}            the session, JSON (reference field names); TTL = session end
    {prefix}sid:{sid}         set of session ids with this ID-token ``sid``   (back-channel
    {prefix}sub:{sub}         set of session ids of this user (``sub``)        logout indexes)
    {prefix}jti:{jti}         a back-channel logout token already used (TTL = its ``exp``)
    {prefix}lock:{key}        a refresh in progress in some process (short TTL)
    {prefix}result:{key}      that refresh's result, for the other processes (30 s TTL)

Index sets expire with the longest-lived session they point to; stale members (sessions
that expired on their own) are harmless and dropped when the set is read. Session ids are
128-bit random values that only ever appear encrypted in cookies.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..session._model import SessionData
from ..session._store import LogoutTokenClaims, session_subject

__all__ = ["RedisSessionStore"]

try:  # pragma: no cover - import guard
    from redis.asyncio import Redis
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        'RedisSessionStore needs the redis package: pip install "auth0-web[redis]"'
    ) from exc

# Delete the lock only if we still own it (another process may hold it after expiry).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisSessionStore:
    """Sessions in Redis, shared by every app instance (``redis.asyncio``)."""

    def __init__(
        self,
        redis: Redis | str,
        *,
        prefix: str = "auth0:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis: Redis = Redis.from_url(redis) if isinstance(redis, str) else redis
        self.prefix = prefix
        self._clock = clock

    def _key(self, kind: str, value: str) -> str:
        return f"{self.prefix}{kind}:{value}"

    def _ttl(self, expires_at: int) -> int:
        return max(1, int(expires_at - self._clock()))

    async def aclose(self) -> None:
        await self.redis.aclose()

    # -- SessionDataStore ---------------------------------------------------------------------

    async def get(self, id: str) -> SessionData | None:
        raw = await self.redis.get(self._key("s", id))
        if raw is None:
            return None
        try:
            return SessionData.from_dict(json.loads(raw))
        except (ValueError, TypeError):
            return None

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None:
        ttl = self._ttl(expires_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key("s", id), json.dumps(session.to_dict()), ex=ttl)
            self._index(pipe, id, session, ttl)
            await pipe.execute()

    async def update(self, id: str, session: SessionData, *, expires_at: int) -> bool:
        """Atomically replace the session only if it still exists (``SET ... XX``)."""
        ttl = self._ttl(expires_at)
        done = await self.redis.set(
            self._key("s", id), json.dumps(session.to_dict()), ex=ttl, xx=True
        )
        if not done:
            return False
        async with self.redis.pipeline(transaction=False) as pipe:
            self._index(pipe, id, session, ttl)
            await pipe.execute()
        return True

    def _index(self, pipe: Any, id: str, session: SessionData, ttl: int) -> None:
        for kind, value in (("sid", session.internal.sid), ("sub", session_subject(session))):
            if value:
                key = self._key(kind, value)
                pipe.sadd(key, id)
                pipe.expire(key, ttl, nx=True)
                pipe.expire(key, ttl, gt=True)

    async def delete(self, id: str) -> None:
        await self.redis.delete(self._key("s", id))

    async def delete_by_logout_token(self, claims: LogoutTokenClaims) -> int:
        """Delete the sessions of ``sid`` (or, without one, every session of ``sub``)."""
        if claims.sid is not None:
            index = self._key("sid", claims.sid)
        elif claims.sub is not None:
            index = self._key("sub", claims.sub)
        else:
            return 0
        ids = [
            m.decode() if isinstance(m, bytes) else str(m) for m in await self.redis.smembers(index)
        ]
        if not ids:
            return 0
        keys = [self._key("s", i) for i in ids]
        if claims.sid is not None and claims.sub is not None:
            # Both given: only sessions of that user (a sid is unique per issuer anyway).
            raw = await self.redis.mget(keys)
            keep = []
            for key, value in zip(keys, raw, strict=True):
                if value is None:
                    continue
                session = SessionData.from_dict(json.loads(value))
                if session_subject(session) != claims.sub:
                    keep.append(key)
            keys = [k for k in keys if k not in keep]
        deleted = int(await self.redis.delete(*keys)) if keys else 0
        await self.redis.srem(index, *ids)
        return deleted

    # -- extras the SDK uses when present -----------------------------------------------------

    async def mark_logout_token_used(self, jti: str, *, expires_at: int) -> bool:
        """``True`` the first time a logout token's ``jti`` is seen (in any process)."""
        return bool(
            await self.redis.set(self._key("jti", jti), b"1", ex=self._ttl(expires_at), nx=True)
        )

    async def run_exclusive(
        self,
        key: str,
        factory: Callable[[], Awaitable[bytes]],
        *,
        remember_for: float = 30.0,
        wait: float = 10.0,
    ) -> bytes:
        """Run ``factory`` in at most one process at a time for ``key``; the others wait and
        get its result (coalesces refreshes across app instances)."""
        result_key, lock_key = self._key("result", key), self._key("lock", key)
        deadline = time.monotonic() + wait
        token = secrets.token_hex(16)
        while True:
            cached = await self.redis.get(result_key)
            if cached is not None:
                return cached.encode() if isinstance(cached, str) else cached
            if await self.redis.set(lock_key, token, nx=True, px=int(wait * 1000)):
                try:
                    value = await factory()
                    await self.redis.set(result_key, value, px=int(remember_for * 1000))
                    return value
                finally:
                    await self.redis.eval(_RELEASE, 1, lock_key, token)
            if time.monotonic() > deadline:
                # The holder vanished without a result: do the work ourselves.
                return await factory()
            await asyncio.sleep(0.02)
