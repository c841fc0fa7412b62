"""Sessions kept entirely in the browser: an encrypted, chunked ``__session`` cookie.

Expiry is enforced on the server on every read, not left to the cookie's ``Max-Age``: the
JWE ``exp`` (the inactivity deadline) and ``createdAt + absolute_duration`` are both checked,
so a saved cookie value replayed later is worthless.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._config import SessionConfig
from .._http import CookieOptions, Response
from ._chunks import delete_chunked, read_chunked, write_chunked
from ._codec import CookieCodec
from ._model import SessionData

__all__ = ["StatelessSessionStore", "session_max_age"]

#: The upstream IdP's ``session_expiry`` is treated as reached this many seconds early.
SESSION_CEILING_LEEWAY = 30


def session_max_age(config: SessionConfig, created_at: int, now: int) -> int:
    """Seconds the session may live from ``now`` (0 means it is over).

    Rolling: until the sooner of ``now + inactivity`` and ``created_at + absolute``.
    Not rolling: until ``created_at + absolute`` (the reference measures from ``now``,
    which lets every write extend a non-rolling session; we do not).
    """
    absolute_end = created_at + config.absolute_duration
    end = min(now + config.inactivity_duration, absolute_end) if config.rolling else absolute_end
    return max(0, end - now)


class StatelessSessionStore:
    """Reads and writes the session cookie (and its chunks)."""

    def __init__(self, config: SessionConfig, codec: CookieCodec) -> None:
        self.config = config
        self.codec = codec
        self.name = config.cookie.name

    def read(self, cookies: Mapping[str, str], now: float) -> SessionData | None:
        found = self.read_with_plaintext(cookies, now)
        return None if found is None else found[0]

    def read_with_plaintext(
        self, cookies: Mapping[str, str], now: float
    ) -> tuple[SessionData, bytes] | None:
        """The live session and the decrypted bytes it came from.

        The bytes let a caller rebuild an untouched copy later (for a rolling re-write, or
        to restore ``internal``) however the application mutated the object it was given.
        """
        value = read_chunked(self.name, cookies)
        if value is None:
            return None
        plaintext = self.codec.open(value)
        if plaintext is None:
            return None
        session = self.from_plaintext(plaintext, now)
        return None if session is None else (session, plaintext)

    def from_plaintext(self, plaintext: bytes, now: float) -> SessionData | None:
        payload = self.codec.claims(plaintext, now=now)
        if payload is None:
            return None
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
        value = self.codec.encrypt(session.to_dict(), exp=now + max_age)
        cookie_max_age = None if self.config.cookie.transient else max_age
        write_chunked(response, self.name, value, options, cookie_max_age, request_cookies)
        response.no_store()

    # -- the async surface shared with StatefulSessionStore ---------------------------------

    async def load(
        self, cookies: Mapping[str, str], now: float
    ) -> tuple[SessionData, bytes] | None:
        return self.read_with_plaintext(cookies, now)

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
        response.no_store()
