"""The core's own request and response values.

Routes and the client work on these, never on a web framework's objects: adapters translate
a framework request into :class:`Request` and a :class:`Response` back into the framework's,
which is what lets one core serve every framework.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["CookieOptions", "Request", "Response", "parse_cookie_header"]

#: Query strings longer than this are refused by the SDK routes (HTTP 414 territory).
MAX_QUERY_LENGTH = 16 * 1024
MAX_QUERY_FIELDS = 200

_NO_STORE_HEADERS = (
    ("cache-control", "private, no-cache, no-store, must-revalidate, max-age=0"),
    ("pragma", "no-cache"),
    ("expires", "0"),
)


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the way browsers send it; never raises.

    The first occurrence of a name wins (browsers send the most specific path first).
    Pairs without ``=`` and names with characters outside the RFC 6265 token set are ignored.
    """
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            continue
        name = name.strip()
        if not name or name in cookies or not _is_token(name):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        cookies[name] = value
    return cookies


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


def _is_token(name: str) -> bool:
    return _TOKEN_CHARS.issuperset(name)


class QueryError(ValueError):
    """The query string cannot be parsed safely."""


def parse_query(query: str) -> dict[str, str]:
    """Parse a query string strictly: ``&`` separates, last value of a name wins.

    Invalid UTF-8 in percent escapes, too many fields or an oversized query raise
    :class:`QueryError`, which routes answer with a 400.
    """
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError("query string too long")
    try:
        pairs = parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_QUERY_FIELDS,
            separator="&",
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise QueryError("malformed query string") from exc
    result: dict[str, str] = {}
    for name, value in pairs:
        if not name:
            continue
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
            raise QueryError("control character in query")
        result[name] = value
    return result


@dataclass(frozen=True, slots=True)
class Request:
    """An incoming HTTP request as the core sees it (immutable)."""

    method: str
    scheme: str
    host: str
    path: str
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query(self) -> dict[str, str]:
        return parse_query(self.query_string)

    @property
    def path_and_query(self) -> str:
        return self.path + ("?" + self.query_string if self.query_string else "")

    def __repr__(self) -> str:
        # Names only: query values (code, state), headers (Authorization, Cookie), cookie
        # values and bodies (logout tokens) are credentials.
        query = sorted({name for name, _ in parse_qsl(self.query_string, keep_blank_values=True)})
        return (
            f"Request(method={self.method!r}, scheme={self.scheme!r}, host={self.host!r}, "
            f"path={self.path!r}, query={query!r}, headers={sorted(self.headers)!r}, "
            f"cookies={sorted(self.cookies)!r}, body=<{len(self.body)} bytes>)"
        )


@dataclass(frozen=True, slots=True)
class CookieOptions:
    """Attributes of a cookie the SDK writes (and repeats when deleting it)."""

    path: str = "/"
    secure: bool = False
    same_site: str = "lax"
    domain: str | None = None
    http_only: bool = True

    def serialize(self, name: str, value: str, max_age: int | None) -> str:
        parts = [f"{name}={value}", f"Path={self.path}"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
            if max_age <= 0:
                parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.http_only:
            parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        parts.append("SameSite=" + self.same_site.capitalize())
        return "; ".join(parts)


@dataclass(slots=True)
class Response:
    """An outgoing response: status, headers, body and the cookies to set or delete."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: Set-Cookie header values, in order; the last one for a name is the one that counts.
    cookies: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Response:
        return cls(status=status, headers=[("location", location)])

    @classmethod
    def text(cls, body: str, status: int = 200) -> Response:
        return cls(
            status=status,
            headers=[("content-type", "text/plain; charset=utf-8")],
            body=body.encode("utf-8"),
        )

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(
            status=status,
            headers=[("content-type", "application/json")],
            body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        )

    def set_cookie(
        self, name: str, value: str, options: CookieOptions, max_age: int | None
    ) -> None:
        self.cookies.append((name, options.serialize(name, value, max_age)))

    def delete_cookie(self, name: str, options: CookieOptions) -> None:
        self.cookies.append((name, options.serialize(name, "", 0)))

    def __repr__(self) -> str:
        # Names only: Set-Cookie values are sessions, a Location may carry an ID token hint
        # and a body may be an access token.
        return (
            f"Response(status={self.status}, headers={[k for k, _ in self.headers]!r}, "
            f"cookies={[name for name, _ in self.cookies]!r}, body=<{len(self.body)} bytes>)"
        )

    def no_store(self) -> None:
        """Forbid caching: the response carries a session or a token (CVE-2025-48947)."""
        self.headers = [
            (k, v) for k, v in self.headers if k not in ("cache-control", "pragma", "expires")
        ]
        self.headers.extend(_NO_STORE_HEADERS)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Send this response as an ASGI app (so a Starlette endpoint can return it)."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in self.header_items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})

    def header_items(self) -> list[tuple[str, str]]:
        """All headers including Set-Cookie, ready to send."""
        items = list(self.headers)
        items.extend(("set-cookie", value) for _, value in self.cookies)
        if self.body and not any(k == "content-length" for k, _ in items):
            items.append(("content-length", str(len(self.body))))
        elif not self.body:
            items.append(("content-length", "0"))
        return items


NO_STORE_HEADERS = _NO_STORE_HEADERS
