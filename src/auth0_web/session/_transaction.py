"""The transaction cookie: what a login in flight must remember until its callback.

One cookie per login (``__txn_<state>``) so several tabs can log in at once, or a single
``__txn_`` cookie when parallel transactions are off. The value is
``<unix seconds>:<JWE>``; the timestamp orders eviction: before a new one is written, the
oldest are deleted until all transaction cookies fit in :data:`MAX_TXN_BYTES`, so abandoned
logins cannot grow the Cookie header until the server answers 431.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._config import TransactionCookieConfig
from .._http import CookieOptions, Response
from ._codec import CookieCodec

__all__ = ["TransactionState", "TransactionStore", "is_valid_state"]

MAX_TXN_BYTES = 3500
#: What a ``state`` we issued looks like (43 base64url characters); anything else is
#: refused before a cookie name is built from it.
_STATE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
#: Transaction fields copied from request parameters are clamped to this many bytes.
MAX_FIELD_BYTES = 2048
MAX_DELETIONS = 64


def is_valid_state(state: str) -> bool:
    return _STATE_RE.fullmatch(state) is not None


def _clamp(value: str | None) -> str | None:
    if value is None or len(value.encode("utf-8", "surrogatepass")) > MAX_FIELD_BYTES:
        return None
    return value


@dataclass(frozen=True, slots=True)
class TransactionState:
    """A login in flight (field names in JSON are the reference's)."""

    state: str
    nonce: str
    code_verifier: str
    return_to: str
    response_type: str = "code"
    max_age: int | None = None
    scope: str | None = None
    audience: str | None = None
    organization: str | None = None
    #: Connect-account flow (``response_type == "connect_code"``, no ``nonce``): the My
    #: Account API's ``auth_session``, and the ``sub``/``sid`` of the session that started
    #: it, so the callback can refuse to finish it for another user.
    auth_session: str | None = None
    sub: str | None = None
    sid: str | None = None

    def __repr__(self) -> str:
        # state, nonce, PKCE verifier and auth_session are the login's secrets: never shown.
        return (
            f"TransactionState(state='***', return_to={self.return_to!r}, "
            f"response_type={self.response_type!r}, scope={self.scope!r}, "
            f"audience={self.audience!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "state": self.state,
            "codeVerifier": self.code_verifier,
            "responseType": self.response_type,
            "returnTo": self.return_to,
        }
        if self.nonce:
            out["nonce"] = self.nonce
        if self.max_age is not None:
            out["maxAge"] = self.max_age
        for key, value in (
            ("scope", _clamp(self.scope)),
            ("audience", _clamp(self.audience)),
            ("organization", _clamp(self.organization)),
            ("authSession", _clamp(self.auth_session)),
            ("sub", _clamp(self.sub)),
            ("sid", _clamp(self.sid)),
        ):
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransactionState | None:
        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        state, nonce, verifier = text("state"), text("nonce"), text("codeVerifier")
        return_to = text("returnTo") or "/"
        response_type = text("responseType") or "code"
        if not state or not verifier:
            return None
        if response_type == "connect_code":
            # A connect-account transaction has no nonce (no ID token comes back).
            if not text("authSession"):
                return None
        elif not nonce:
            return None
        max_age = data.get("maxAge")
        if max_age is not None and (
            not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0
        ):
            return None
        return cls(
            state=state,
            nonce=nonce or "",
            code_verifier=verifier,
            return_to=return_to,
            response_type=response_type,
            max_age=max_age,
            scope=text("scope"),
            audience=text("audience"),
            organization=text("organization"),
            auth_session=text("authSession"),
            sub=text("sub"),
            sid=text("sid"),
        )


class TransactionStore:
    def __init__(
        self,
        config: TransactionCookieConfig,
        codec: CookieCodec,
        *,
        parallel: bool,
    ) -> None:
        self.config = config
        self.codec = codec
        self.parallel = parallel
        self.prefix = config.prefix

    def cookie_name(self, state: str) -> str:
        return self.prefix + state if self.parallel else self.prefix

    def save(
        self,
        response: Response,
        txn: TransactionState,
        request_cookies: Mapping[str, str],
        now: int,
        options: CookieOptions,
    ) -> None:
        name = self.cookie_name(txn.state)
        value = f"{now}:" + self.codec.encrypt(txn.to_dict(), exp=now + self.config.max_age)
        self._evict(response, name, value, request_cookies, options)
        response.set_cookie(name, value, options, self.config.max_age)

    def _evict(
        self,
        response: Response,
        new_name: str,
        new_value: str,
        cookies: Mapping[str, str],
        options: CookieOptions,
    ) -> None:
        others = [
            (name, value)
            for name, value in cookies.items()
            if name.startswith(self.prefix) and name != new_name
        ]
        total = sum(len(n) + len(v) + 1 for n, v in others) + len(new_name) + len(new_value) + 1
        if total < MAX_TXN_BYTES:
            return

        def created(item: tuple[str, str]) -> int:
            stamp, sep, _ = item[1].partition(":")
            # isascii(): str.isdigit() also accepts "²", which int() refuses.
            digits = stamp.isascii() and stamp.isdigit()
            return int(stamp) if sep and digits and len(stamp) <= 12 else 0

        to_free = total - MAX_TXN_BYTES + 1
        for deleted, (name, value) in enumerate(sorted(others, key=created)):
            if to_free <= 0 or deleted >= MAX_DELETIONS:
                break
            response.delete_cookie(name, options)
            to_free -= len(name) + len(value) + 1

    def load(self, cookies: Mapping[str, str], state: str, now: float) -> TransactionState | None:
        """The transaction for ``state``, if its cookie decrypts, is unexpired and matches."""
        raw = cookies.get(self.cookie_name(state))
        if not raw:
            return None
        _, sep, jwe = raw.partition(":")
        payload = self.codec.decrypt(jwe if sep else raw, now=now)
        if payload is None:
            return None
        txn = TransactionState.from_dict(payload)
        if txn is None or txn.state != state:
            return None
        return txn

    def delete(self, response: Response, state: str, options: CookieOptions) -> None:
        response.delete_cookie(self.cookie_name(state), options)

    def delete_all(
        self, response: Response, cookies: Mapping[str, str], options: CookieOptions
    ) -> None:
        """Delete the transaction cookies the request carries (at most
        :data:`MAX_DELETIONS`, so a flood of cookies cannot make a flood of headers)."""
        names = [name for name in cookies if name.startswith(self.prefix)]
        for name in names[:MAX_DELETIONS]:
            response.delete_cookie(name, options)
