"""Sessions kept entirely in the browser: an encrypted, chunked ``__session`` cookie.

Expiry is enforced on the server on every read, not left to the cookie's ``Max-Age``: the
JWE ``exp`` (the inactivity deadline) and ``createdAt + absolute_duration`` are both checked,
so a saved cookie value replayed later is worthless.

Token Vault tokens live beside it in ``__FC_<i>`` cookies (:mod:`._connection_cookies`).
The decrypted bytes this store hands out as a session's "plaintext" (the source from which
the middleware rebuilds untouched copies) include them, so a rolling re-write or an
``update_session`` writes them back with the new expiry instead of dropping them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from .._config import SessionConfig
from .._errors import SessionTooLargeError
from .._http import CookieOptions, Response, parse_cookie_header
from ._cache import CachedSession, DecodedSessionCache, copy_session
from ._chunks import delete_chunked, read_chunked, write_chunked
from ._codec import MAX_JWE_LENGTH, CookieCodec
from ._connection_cookies import (
    CONNECTION_COOKIE_PREFIX,
    delete_connection_cookies,
    read_connection_cookies,
    write_connection_cookies,
)
from ._model import SessionData

__all__ = ["LoadedSession", "StatelessSessionStore", "session_max_age"]

#: The upstream IdP's ``session_expiry`` is treated as reached this many seconds early.
SESSION_CEILING_LEEWAY = 30
_CONNECTIONS_KEY = "connectionTokenSets"


def session_max_age(config: SessionConfig, created_at: int, now: int) -> int:
    """Seconds the session may live from ``now`` (0 means it is over).

    Rolling: until the sooner of ``now + inactivity`` and ``created_at + absolute``.
    Not rolling: until ``created_at + absolute`` (the reference measures from ``now``,
    which lets every write extend a non-rolling session; we do not).
    """
    absolute_end = created_at + config.absolute_duration
    end = min(now + config.inactivity_duration, absolute_end) if config.rolling else absolute_end
    return max(0, end - now)


class LoadedSession(NamedTuple):
    """A session read from a request."""

    session: SessionData
    #: The decrypted bytes it came from: the source of untouched copies (see
    #: :meth:`StatelessSessionStore.read_with_plaintext`).
    plaintext: bytes
    #: When the cookie that carried it expires (its JWE ``exp``): how far a rolling write
    #: would move the expiry. ``None`` when the cookie must be re-issued whatever the
    #: expiry (it was sealed with a retired secret).
    expires_at: float | None


class StatelessSessionStore:
    """Reads and writes the session cookie (and its chunks)."""

    def __init__(self, config: SessionConfig, codec: CookieCodec) -> None:
        self.config = config
        self.codec = codec
        self.name = config.cookie.name
        #: Decoded sessions by session-cookie value, and by whole Cookie header.
        self.cache = DecodedSessionCache()
        self.header_cache = DecodedSessionCache()

    def read(self, cookies: Mapping[str, str], now: float) -> SessionData | None:
        found = self.read_with_plaintext(cookies, now)
        return None if found is None else found[0]

    def read_with_plaintext(self, cookies: Mapping[str, str], now: float) -> LoadedSession | None:
        """The live session and the decrypted bytes it came from.

        The bytes let a caller rebuild an untouched copy later (for a rolling re-write, or
        to restore ``internal``) however the application mutated the object it was given.
        They are the session cookie's payload with the ``__FC_*`` entries merged in as
        ``connectionTokenSets`` (re-serialized only when there are any).

        A cookie value seen before comes from :attr:`cache` (see :mod:`._cache`), with
        every expiry rule checked again.
        """
        return self._read(cookies, now)[0]

    def read_header(self, header: str, now: float) -> LoadedSession | None:
        """:meth:`read_with_plaintext` for a raw ``Cookie`` header; a header seen before
        is not even parsed again (the same bytes always yield the same session)."""
        cached = self.header_cache.get(header)
        if cached is not None:
            return self._from_cache(cached, now)
        found, entry = self._read(parse_cookie_header(header), now)
        if entry is not None:
            self.header_cache.put(header, entry)
        return found

    def _from_cache(self, cached: CachedSession, now: float) -> LoadedSession | None:
        if cached.exp <= now - self.codec.clock_tolerance or not self.is_live(cached.session, now):
            return None
        expires_at = cached.exp if cached.current_secret else None
        return LoadedSession(copy_session(cached.session), cached.plaintext, expires_at)

    def _read(
        self, cookies: Mapping[str, str], now: float
    ) -> tuple[LoadedSession | None, CachedSession | None]:
        """The session, and the cache entry made for it (``None`` when not cacheable)."""
        value = read_chunked(self.name, cookies)
        if value is None:
            return None, None
        has_connections = any(name.startswith(CONNECTION_COOKIE_PREFIX) for name in cookies)
        if not has_connections:
            cached = self.cache.get(value)
            if cached is not None:
                return self._from_cache(cached, now), cached
        opened = self.codec.open_with_key(value)
        if opened is None:
            return None, None
        plaintext, current_secret = opened
        payload = self.codec.claims(plaintext, now=now)
        if payload is None:
            return None, None
        exp = float(payload["exp"])
        # A cookie sealed with a retired secret is re-issued at the next rolling write.
        expires_at = exp if current_secret else None
        # The ``__FC_*`` cookies are the only source of connection tokens; a list inside
        # the session cookie itself (which we never write) is ignored.
        entries = read_connection_cookies(self.codec, cookies, now) if has_connections else []
        if entries or _CONNECTIONS_KEY in payload:
            payload.pop(_CONNECTIONS_KEY, None)
            if entries:
                payload[_CONNECTIONS_KEY] = [entry.to_dict() for entry in entries]
            plaintext = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        session = self._from_payload(payload, now)
        if session is None:
            return None, None
        if has_connections:
            return LoadedSession(session, plaintext, expires_at), None
        entry = CachedSession(copy_session(session), plaintext, exp, current_secret)
        self.cache.put(value, entry)
        return LoadedSession(session, plaintext, expires_at), entry

    def from_plaintext(self, plaintext: bytes, now: float) -> SessionData | None:
        """The session in bytes :meth:`read_with_plaintext` returned (``None`` once it has
        expired); connection tokens included."""
        payload = self.codec.claims(plaintext, now=now)
        if payload is None:
            return None
        return self._from_payload(payload, now)

    def _from_payload(self, payload: dict[str, Any], now: float) -> SessionData | None:
        try:
            session = SessionData.from_dict(payload)
        except ValueError:
            return None
        if not self.is_live(session, now):
            return None
        return session

    def is_live(self, session: SessionData, now: float) -> bool:
        internal = session.internal
        if internal.created_at + self.config.absolute_duration <= now:
            return False
        ceiling = internal.session_expires_at
        return not (ceiling is not None and now >= ceiling - SESSION_CEILING_LEEWAY)

    def write(
        self,
        response: Response,
        session: SessionData,
        request_cookies: Mapping[str, str],
        now: int,
        options: CookieOptions,
    ) -> None:
        max_age = session_max_age(self.config, session.internal.created_at, now)
        if max_age <= 0:
            self.delete(response, request_cookies, options)
            return
        payload = session.to_dict()
        payload.pop(_CONNECTIONS_KEY, None)  # each has a cookie of its own
        value = self.codec.encrypt(payload, exp=now + max_age)
        if len(value) > MAX_JWE_LENGTH:
            # Every read refuses a value this large: writing it would log the user in to a
            # session no request can see (a login loop), so nothing is written.
            raise SessionTooLargeError()
        cookie_max_age = None if self.config.cookie.transient else max_age
        write_chunked(response, self.name, value, options, cookie_max_age, request_cookies)
        write_connection_cookies(
            response,
            self.codec,
            session.connection_token_sets,
            request_cookies,
            options,
            exp=now + max_age,
            max_age=cookie_max_age,
        )
        response.no_store()

    # -- the async surface shared with StatefulSessionStore ---------------------------------

    async def load(self, cookies: Mapping[str, str], now: float) -> LoadedSession | None:
        return self.read_with_plaintext(cookies, now)

    async def load_header(self, header: str, now: float) -> LoadedSession | None:
        return self.read_header(header, now)

    async def save(
        self,
        response: Response,
        session: SessionData,
        request_cookies: Mapping[str, str],
        now: int,
        options: CookieOptions,
        *,
        is_new: bool = False,
        roll: bool = False,
    ) -> bool:
        self.write(response, session, request_cookies, now, options)
        return True

    async def remove(
        self,
        response: Response,
        request_cookies: Mapping[str, str],
        options: CookieOptions,
        *,
        now: float,
    ) -> None:
        self.delete(response, request_cookies, options)

    def delete(
        self, response: Response, request_cookies: Mapping[str, str], options: CookieOptions
    ) -> None:
        delete_chunked(response, self.name, options, request_cookies)
        delete_connection_cookies(response, request_cookies, options)
        response.no_store()
