"""A Redis-backed session store (``pip install "auth0-web[redis]"``).

Key layout (every key starts with ``prefix``, default ``auth0:``)::

    {prefix}s:{id}            the session, JSON (reference field names); TTL = session end
    {prefix}sid:{sid}         set of session ids with this ID-token ``sid``   (back-channel
    {prefix}sub:{sub}         set of session ids of this user (``sub``)        logout indexes)
    {prefix}jti:{jti}         a back-channel logout token already used (TTL = its ``exp``)
    {prefix}lock:{hash}       a refresh with that refresh token in progress somewhere (10 s)
    {prefix}result:{hash}     a refresh's result, for requests in other processes (30 s)
    {prefix}rot:{hash}        the refresh token that replaced this one (30 s)

Index sets expire with the longest-lived session they point to; stale members (sessions
that expired on their own) are harmless and dropped when the set is read. Session ids are
128-bit random values that only ever appear encrypted in cookies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..session._model import SessionData
from ..session._store import LogoutTokenClaims, matches_logout_token, session_subject

__all__ = ["RedisSessionStore"]

try:  # pragma: no cover - import guard
    from redis.asyncio import BlockingConnectionPool, Redis
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        'RedisSessionStore needs the redis package: pip install "auth0-web[redis]"'
    ) from exc

#: A store made from a URL opens at most this many connections (per process); more
#: concurrent commands wait up to ``POOL_TIMEOUT`` seconds for one. redis-py's default pool
#: fails at once instead, and a failed read is a user who suddenly looks logged out.
POOL_SIZE = 100
POOL_TIMEOUT = 5.0

# Delete the lock only if we still own it (another process may hold it after expiry).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisSessionStore:
    """Sessions in Redis, shared by every app instance (``redis.asyncio``).

    ``redis`` is a URL (then a pool of :data:`POOL_SIZE` connections whose commands wait
    for a free one rather than fail) or a ``Redis`` client of your own, used as it is.
    """

    def __init__(
        self,
        redis: Redis | str,
        *,
        prefix: str = "auth0:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(redis, str):
            pool = BlockingConnectionPool.from_url(
                redis, max_connections=POOL_SIZE, timeout=POOL_TIMEOUT
            )
            redis = Redis(connection_pool=pool)
            redis.auto_close_connection_pool = True  # closed with the client (from_pool)
        self.redis: Redis = redis
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

    async def touch(self, id: str, session: SessionData, *, expires_at: int) -> bool:
        """Extend a session's expiry without rewriting it (``False`` if it is gone)."""
        ttl = self._ttl(expires_at)
        if not await self.redis.expire(self._key("s", id), ttl):
            return False
        async with self.redis.pipeline(transaction=False) as pipe:
            self._index(pipe, id, session, ttl)
            await pipe.execute()
        return True

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
        # Only the sessions the token really names (issuer, and sub when both are given);
        # ids leave the index only when their session is deleted or already gone.
        records = await self.redis.mget(keys)
        doomed: list[str] = []
        gone: list[str] = []
        for session_id, key, raw in zip(ids, keys, records, strict=True):
            if raw is None:
                gone.append(session_id)
            elif matches_logout_token(SessionData.from_dict(json.loads(raw)), claims):
                doomed.append(key)
                gone.append(session_id)
        deleted = int(await self.redis.delete(*doomed)) if doomed else 0
        if gone:
            await self.redis.srem(index, *gone)
        return deleted

    # -- extras the SDK uses when present -----------------------------------------------------

    async def mark_logout_token_used(self, jti: str, *, expires_at: int) -> bool:
        """``True`` the first time a logout token's ``jti`` is seen (in any process)."""
        return bool(
            await self.redis.set(self._key("jti", jti), b"1", ex=self._ttl(expires_at), nx=True)
        )

    async def refresh_once(
        self,
        refresh_token: str,
        resource: str,
        refresh: Callable[[str], Awaitable[tuple[bytes, str | None]]],
        *,
        remember_for: float = 30.0,
        wait: float = 10.0,
    ) -> bytes:
        """Coalesce a token refresh across processes.

        ``refresh(presented)`` performs the refresh with the refresh token to present and
        returns ``(result, new refresh token or None)``. One process at a time refreshes a
        given refresh token (a lock on its hash); others wait and reuse the result for the
        same ``resource`` (audience and scope), or, for another resource, present the token
        that replaced it, so a rotating provider never sees one token used twice.
        """
        digest = _digest(refresh_token)
        result_key = self._key("result", _digest(refresh_token, resource))
        deadline = time.monotonic() + wait
        while True:
            cached = await self.redis.get(result_key)
            if cached is not None:
                return cached.encode() if isinstance(cached, str) else cached
            presented = await self._newest(refresh_token)
            lock_key = self._key("lock", _digest(presented))
            owner = secrets.token_hex(16)
            if await self.redis.set(lock_key, owner, nx=True, px=int(wait * 1000)):
                try:
                    cached = await self.redis.get(result_key)
                    if cached is not None:
                        return cached.encode() if isinstance(cached, str) else cached
                    if await self._newest(refresh_token) != presented:
                        continue  # rotated while we took the lock: lock the new token
                    value, issued = await refresh(presented)
                    ttl = int(remember_for * 1000)
                    async with self.redis.pipeline(transaction=True) as pipe:
                        pipe.set(result_key, value, px=ttl)
                        if presented != refresh_token:
                            pipe.set(
                                self._key("result", _digest(presented, resource)), value, px=ttl
                            )
                        if issued is not None and issued != presented:
                            pipe.set(self._key("rot", _digest(presented)), issued, px=ttl)
                            if digest != _digest(presented):
                                pipe.set(self._key("rot", digest), issued, px=ttl)
                        await pipe.execute()
                    return value
                finally:
                    await self.redis.eval(_RELEASE, 1, lock_key, owner)
            if time.monotonic() > deadline:
                # The holder vanished without a result: refresh ourselves.
                value, _ = await refresh(await self._newest(refresh_token))
                return value
            await asyncio.sleep(0.02)

    async def _newest(self, refresh_token: str) -> str:
        for _ in range(16):
            newer = await self.redis.get(self._key("rot", _digest(refresh_token)))
            if newer is None:
                break
            refresh_token = newer.decode() if isinstance(newer, bytes) else str(newer)
        return refresh_token


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
