"""A bounded cache of decoded sessions, keyed by the exact cookie value.

Most requests of a logged-in user carry the same session cookie as the one before, and
decoding it (base64, AES-GCM, JSON, building the objects) is most of what the SDK costs per
request. The cache maps the cookie's exact value to the session decoded from it, so a
repeated value skips all of that. It is safe because it changes nothing about what is
accepted:

* the key is the whole ciphertext, which AES-GCM authenticated when it was first decoded:
  the same bytes can only ever decrypt to the same session;
* expiry is checked on every hit, exactly as on a miss (the JWE ``exp``, the absolute
  duration, the upstream ceiling), so a cached session ends on time;
* each caller gets its own deep copy: an application that mutates the session it was
  given never changes what the next request sees;
* only the cookie-only store uses it — a database-backed session can be ended from
  elsewhere (back-channel logout), so its record is always read.

Bounded (least recently inserted entries are evicted first), so memory stays flat whatever
the number of users.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from ._model import (
    AccessTokenSet,
    ConnectionTokenSet,
    SessionData,
    SessionInternal,
    TokenSet,
)

__all__ = ["DecodedSessionCache", "copy_json", "copy_session"]

#: Entries kept; each holds one decoded session (a few KB).
DEFAULT_MAX_ENTRIES = 1024


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): much faster than
    :func:`copy.deepcopy`, which must handle every kind of object."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else copy_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else copy_json(v) for v in value]
    return value  # str, int, float, bool, None: immutable


def copy_session(s: SessionData) -> SessionData:
    """An independent copy of a session (no mutable object shared with ``s``)."""
    t = s.token_set
    i = s.internal
    return SessionData(
        user=copy_json(s.user),
        token_set=TokenSet(
            access_token=t.access_token,
            expires_at=t.expires_at,
            id_token=t.id_token,
            refresh_token=t.refresh_token,
            scope=t.scope,
            requested_scope=t.requested_scope,
            audience=t.audience,
            token_type=t.token_type,
            extra=copy_json(t.extra),
        ),
        internal=SessionInternal(
            sid=i.sid,
            created_at=i.created_at,
            session_expires_at=i.session_expires_at,
            extra=copy_json(i.extra),
        ),
        access_tokens=[
            AccessTokenSet(
                access_token=a.access_token,
                expires_at=a.expires_at,
                audience=a.audience,
                scope=a.scope,
                requested_scope=a.requested_scope,
                token_type=a.token_type,
            )
            for a in s.access_tokens
        ],
        extra=copy_json(s.extra),
        connection_token_sets=[
            ConnectionTokenSet(
                access_token=c.access_token,
                expires_at=c.expires_at,
                connection=c.connection,
                scope=c.scope,
                login_hint=c.login_hint,
            )
            for c in s.connection_token_sets
        ],
    )


class CachedSession(NamedTuple):
    session: SessionData  # never handed out: callers get copies
    plaintext: bytes
    exp: float
    #: Sealed with the current secret (not a retired one still accepted for reading).
    current_secret: bool


class DecodedSessionCache:
    """Cookie value → decoded session; thread-safe (WSGI servers call it from threads)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, CachedSession] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, value: str) -> CachedSession | None:
        return self._entries.get(value)

    def put(self, value: str, entry: CachedSession) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[value] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
