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
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .oidc._token import TokenResponse

__all__ = ["REMEMBER_SECONDS", "RefreshCoalescer", "RefreshResult"]


@dataclass(frozen=True, slots=True)
class RefreshResult:
    tokens: TokenResponse
    claims: dict[str, Any] | None


REMEMBER_SECONDS = 30.0
MAX_REMEMBERED = 10_000


class RefreshCoalescer:
    """Single flight plus a short memory of results, keyed by refresh token + resource."""

    def __init__(
        self, *, remember_for: float = REMEMBER_SECONDS, max_entries: int = MAX_REMEMBERED
    ) -> None:
        self.remember_for = remember_for
        self.max_entries = max_entries
        self._results: OrderedDict[str, tuple[float, RefreshResult]] = OrderedDict()
        self._inflight: dict[tuple[int, str], asyncio.Future[RefreshResult]] = {}
        #: Token-endpoint calls made (for tests and benchmarks).
        self.calls = 0

    @staticmethod
    def key(refresh_token: str, audience: str | None, scope: str) -> str:
        material = "\x00".join((refresh_token, audience or "", scope))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _remembered(self, key: str) -> RefreshResult | None:
        hit = self._results.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            del self._results[key]
            return None
        return hit[1]

    def _remember(self, key: str, result: RefreshResult) -> None:
        self._results[key] = (time.monotonic() + self.remember_for, result)
        self._results.move_to_end(key)
        while len(self._results) > self.max_entries:
            self._results.popitem(last=False)

    async def run(self, key: str, factory: Callable[[], Awaitable[RefreshResult]]) -> RefreshResult:
        remembered = self._remembered(key)
        if remembered is not None:
            return remembered
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        inflight = self._inflight.get(slot)
        if inflight is not None:
            return await asyncio.shield(inflight)
        future: asyncio.Future[RefreshResult] = loop.create_future()
        self._inflight[slot] = future
        try:
            self.calls += 1
            result = await factory()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: there may be no other waiter
            raise
        else:
            self._remember(key, result)
            future.set_result(result)
            return result
        finally:
            del self._inflight[slot]
