"""Token Vault tokens of a stateless session: one encrypted ``__FC_<i>`` cookie each.

The reference's layout, so a Next.js front end and a Python back end sharing the secret read
each other's: the session cookie never holds ``connectionTokenSets``; entry ``i`` is a JWE
(same key, expiry and attributes as the session cookie) named ``__FC_<i>``. The prefix is
fixed, not derived from the session cookie's name.

Reading is forgiving per cookie and strict per entry: a cookie that does not decrypt (a
rotated-out secret, tampering, expiry) or does not hold a valid entry is skipped and the
others are kept, so one bad cookie never costs the user their session. At most
:data:`MAX_CONNECTION_TOKEN_SETS` are read or written: a browser sends every cookie on
every request, and servers refuse request headers past 8-16 KB.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from .._http import CookieOptions, Response
from ._codec import CookieCodec
from ._model import ConnectionTokenSet

__all__ = [
    "CONNECTION_COOKIE_PREFIX",
    "MAX_CONNECTION_TOKEN_SETS",
    "connection_cookie_names",
    "delete_connection_cookies",
    "read_connection_cookies",
    "write_connection_cookies",
]

logger = logging.getLogger("auth0_web")

CONNECTION_COOKIE_PREFIX = "__FC_"
#: The most Token Vault tokens one session keeps (and the most ``__FC_*`` cookies read).
MAX_CONNECTION_TOKEN_SETS = 10
#: Browsers may drop a single cookie larger than this (name, value and attributes).
_COOKIE_SIZE_WARNING = 4096


def _index(name: str) -> int | None:
    """``i`` for a cookie named ``__FC_<i>`` (digits only), else ``None``."""
    if not name.startswith(CONNECTION_COOKIE_PREFIX):
        return None
    digits = name[len(CONNECTION_COOKIE_PREFIX) :]
    if not digits or len(digits) > 6 or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


def connection_cookie_names(cookies: Mapping[str, str]) -> list[str]:
    """Names of the ``__FC_<digits>`` cookies present (any other ``__FC`` name is not ours)."""
    return [name for name in cookies if _index(name) is not None]


def read_connection_cookies(
    codec: CookieCodec, cookies: Mapping[str, str], now: float
) -> list[ConnectionTokenSet]:
    """The entries of every live, decryptable ``__FC_<i>`` cookie, in index order."""
    found: list[tuple[int, str]] = []
    for name, value in cookies.items():
        index = _index(name)
        if index is not None and index < MAX_CONNECTION_TOKEN_SETS:
            found.append((index, value))
    entries: list[ConnectionTokenSet] = []
    for _, value in sorted(found):
        payload = codec.decrypt(value, now=now)
        if payload is None:
            continue
        try:
            entries.append(ConnectionTokenSet.from_dict(payload))
        except ValueError:
            continue
    return entries


def write_connection_cookies(
    response: Response,
    codec: CookieCodec,
    entries: Sequence[ConnectionTokenSet],
    request_cookies: Mapping[str, str],
    options: CookieOptions,
    *,
    exp: int,
    max_age: int | None,
) -> None:
    """Write ``entries`` as ``__FC_0..`` and delete every other ``__FC_<i>`` the browser has.

    Called on every write of the session (a rolling one too), so the cookies always live
    exactly as long as the session cookie they belong to.
    """
    written: set[str] = set()
    for index, entry in enumerate(entries[:MAX_CONNECTION_TOKEN_SETS]):
        name = f"{CONNECTION_COOKIE_PREFIX}{index}"
        value = codec.encrypt(entry.to_dict(), exp=exp)
        if len(name) + len(value) >= _COOKIE_SIZE_WARNING:
            logger.warning(
                "the %s cookie is over %d bytes and some browsers drop such cookies; a "
                "session_store keeps connection tokens on the server instead",
                name,
                _COOKIE_SIZE_WARNING,
            )
        response.set_cookie(name, value, options, max_age)
        written.add(name)
    for name in sorted(connection_cookie_names(request_cookies)):
        if name not in written:
            response.delete_cookie(name, options)


def delete_connection_cookies(
    response: Response, request_cookies: Mapping[str, str], options: CookieOptions
) -> None:
    """Delete every ``__FC_<i>`` cookie the request carries (logout, expired session)."""
    for name in sorted(connection_cookie_names(request_cookies)):
        response.delete_cookie(name, options)
