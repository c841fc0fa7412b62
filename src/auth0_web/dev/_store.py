"""An in-memory map with expiry and a size cap, keyed by the SHA-256 of secret values.

Everything the provider remembers (codes, interactions, sessions, tokens) is reachable by
anyone who can send it requests, so every store is bounded: expired entries are pruned on
each write and, at capacity, the oldest entry is evicted. Keys are hashed so the map's
lookup timing says nothing about the secret values and a memory dump holds no usable one.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["DEFAULT_CAPACITY", "BoundedStore"]

DEFAULT_CAPACITY = 10_000

V = TypeVar("V")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class BoundedStore(Generic[V]):
    """At most ``capacity`` live entries, each forgotten once its expiry time has passed."""

    def __init__(self, clock: Callable[[], float], capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self._clock = clock
        self._capacity = capacity
        self._items: OrderedDict[bytes, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: str, value: V, expires_at: float) -> None:
        """Store (or replace) ``value``; a replaced entry moves to the newest position."""
        digest = _digest(key)
        self._items.pop(digest, None)
        self._prune()
        while len(self._items) >= self._capacity:
            self._items.popitem(last=False)
        self._items[digest] = (expires_at, value)

    def get(self, key: str) -> V | None:
        digest = _digest(key)
        entry = self._items.get(digest)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._items[digest]
            return None
        return value

    def pop(self, key: str) -> V | None:
        value = self.get(key)
        if value is not None:
            del self._items[_digest(key)]
        return value

    def _prune(self) -> None:
        """Drop expired entries from the oldest end; entries mostly expire in that order."""
        now = self._clock()
        while self._items:
            digest, (expires_at, _) = next(iter(self._items.items()))
            if expires_at > now:
                break
            del self._items[digest]
