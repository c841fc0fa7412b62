"""Sessions kept in a server-side store; the cookie holds only an encrypted session id.

The cookie is the reference's stateful format: a JWE of ``{id, exp}`` with the same key,
name, attributes and expiry math as a stateless session, never chunked. Every login gets a
new random id and the previous record is deleted (no session fixation). Writes to an
existing session use the store's atomic ``update`` when it has one, so a request racing a
logout cannot bring the session back; without it, a re-read narrows the window.

A store that fails (Redis down, a timeout, any exception) raises
:class:`~auth0_web.SessionStoreUnavailableError` here: no cookie is written or deleted, so
the same session works again once the store is back.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import replace

from .._config import SessionConfig
from .._http import CookieOptions, Response, parse_cookie_header
from ._chunks import chunk_indices
from ._codec import CookieCodec
from ._model import SessionData
from ._stateless import LoadedSession, StatelessSessionStore, session_max_age
from ._store import SessionDataStore, SupportsTouch, SupportsUpdate, guarded

__all__ = ["StatefulSessionStore"]

_ID_RE = re.compile(r"[0-9a-f]{32}")


class StatefulSessionStore:
    """The stateful counterpart of :class:`StatelessSessionStore` (same async surface)."""

    def __init__(
        self, config: SessionConfig, codec: CookieCodec, store: SessionDataStore, *, issuer: str
    ) -> None:
        self.issuer = issuer
        self.config = config
        self.codec = codec
        self.store = store
        self.name = config.cookie.name
        # Liveness rules (absolute duration, IdP ceiling) are the stateless store's.
        self._rules = StatelessSessionStore(config, codec)

    def session_id(self, cookies: Mapping[str, str], now: float) -> str | None:
        found = self._id_cookie(cookies, now)
        return None if found is None else found[0]

    def _id_cookie(self, cookies: Mapping[str, str], now: float) -> tuple[str, float | None] | None:
        """The session id and the id cookie's expiry (``None``: sealed with a retired
        secret, so the next rolling write re-issues it)."""
        value = cookies.get(self.name)
        if not value:
            return None
        opened = self.codec.open_with_key(value)
        if opened is None:
            return None
        payload = self.codec.claims(opened[0], now=now)
        if payload is None:
            return None
        session_id = payload.get("id")
        if not isinstance(session_id, str) or not _ID_RE.fullmatch(session_id):
            return None
        return session_id, float(payload["exp"]) if opened[1] else None

    async def load(self, cookies: Mapping[str, str], now: float) -> LoadedSession | None:
        found = self._id_cookie(cookies, now)
        if found is None:
            return None
        session = await guarded("get", self.store.get(found[0]))
        if session is None or not self._rules.is_live(session, now):
            return None
        return LoadedSession(session, json.dumps(session.to_dict()).encode("utf-8"), found[1])

    async def load_header(self, header: str, now: float) -> LoadedSession | None:
        return await self.load(parse_cookie_header(header), now)

    def from_plaintext(self, plaintext: bytes, now: float) -> SessionData | None:
        try:
            session = SessionData.from_dict(json.loads(plaintext))
        except (ValueError, TypeError):
            return None
        return session if self._rules.is_live(session, now) else None

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
        """Store the session and set the id cookie; ``False`` if nothing was written
        because the session was deleted meanwhile (e.g. by a logout).

        ``roll``: the session is unchanged, only its expiry moves; with a store that can
        ``touch``, the record is not rewritten (its tokens may be newer than this copy).
        """
        max_age = session_max_age(self.config, session.internal.created_at, now)
        if max_age <= 0:
            await self.remove(response, request_cookies, options, now=now)
            return False
        expires_at = now + max_age
        # The record names its issuer, so a store shared by several tenants deletes only
        # the right tenant's sessions on a back-channel logout.
        if session.internal.extra.get("iss") != self.issuer:
            internal = replace(
                session.internal, extra={**session.internal.extra, "iss": self.issuer}
            )
            session = replace(session, internal=internal)
        existing = self.session_id(request_cookies, now)
        if is_new or existing is None:
            if existing is not None:
                await guarded("delete", self.store.delete(existing))  # never reuse an id
            session_id = secrets.token_hex(16)
            await guarded("set", self.store.set(session_id, session, expires_at=expires_at))
        else:
            session_id = existing
            if roll and isinstance(self.store, SupportsTouch):
                touch = self.store.touch(session_id, session, expires_at=expires_at)
                if not await guarded("touch", touch):
                    return False
            elif isinstance(self.store, SupportsUpdate):
                update = self.store.update(session_id, session, expires_at=expires_at)
                if not await guarded("update", update):
                    return False
            else:
                if await guarded("get", self.store.get(session_id)) is None:
                    return False
                await guarded("set", self.store.set(session_id, session, expires_at=expires_at))
        value = self.codec.encrypt({"id": session_id}, exp=expires_at)
        cookie_max_age = None if self.config.cookie.transient else max_age
        response.set_cookie(self.name, value, options, cookie_max_age)
        for index in sorted(i for i in chunk_indices(self.name, request_cookies) if i >= 0):
            response.delete_cookie(f"{self.name}__{index}", options)  # stale stateless chunks
        response.no_store()
        return True

    async def remove(
        self,
        response: Response,
        request_cookies: Mapping[str, str],
        options: CookieOptions,
        *,
        now: float,
    ) -> None:
        session_id = self.session_id(request_cookies, now)
        self._rules.delete(response, request_cookies, options)
        if session_id is not None:
            await guarded("delete", self.store.delete(session_id))
