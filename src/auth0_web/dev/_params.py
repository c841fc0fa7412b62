"""Request parameters, parsed the way RFC 6749 section 3.1 and 3.2 say they must be.

Starlette's multi-dicts silently keep the first (or last) of a repeated parameter; OAuth
forbids repeating one, so this parser reports repeats instead. It also caps sizes (the
provider keeps what it receives in memory) and treats an empty value as an absent
parameter, as section 3.1 requires. Scope values are parsed per section 3.3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request

from ._errors import OAuthError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_VALUE_LENGTH",
    "ParameterError",
    "Parameters",
    "is_vschar",
    "parse_parameters",
    "parse_scope",
    "query_parameters",
    "read_form",
]

#: Longest accepted value of any one parameter (ID token hints are the longest, ~1-2 KB).
MAX_VALUE_LENGTH = 8192
#: Most parameters accepted in one request.
MAX_FIELDS = 64
#: Largest accepted form body.
MAX_BODY_BYTES = 64 * 1024

_VSCHAR = re.compile(r"[\x20-\x7e]*")
#: RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def is_vschar(value: str) -> bool:
    """Printable ASCII only: RFC 6749 appendix A's ``VSCHAR`` (``%x20-7E``)."""
    return _VSCHAR.fullmatch(value) is not None


def parse_scope(value: str | None) -> tuple[str, ...]:
    """Space-delimited scope tokens in request order, without repeats (RFC 6749 3.3)."""
    if value is None:
        return ()
    tokens = value.split(" ")
    if any(not _SCOPE_TOKEN.fullmatch(token) for token in tokens):
        raise OAuthError("invalid_scope", "scope must be scope tokens separated by single spaces")
    return tuple(dict.fromkeys(tokens))


class ParameterError(Exception):
    """The parameters cannot be read at all; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Parameters:
    """Non-empty parameters by name, and the names that were sent more than once."""

    values: dict[str, str]
    repeated: frozenset[str]

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.values


def parse_parameters(encoded: str) -> Parameters:
    """Decode ``application/x-www-form-urlencoded`` text (a query string or a form body)."""
    try:
        pairs = parse_qsl(
            encoded,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise ParameterError("parameters are not valid UTF-8") from exc
    except ValueError as exc:
        raise ParameterError("too many parameters") from exc
    values: dict[str, str] = {}
    seen: set[str] = set()
    repeated: set[str] = set()
    for name, value in pairs:
        if len(name) > 128 or len(value) > MAX_VALUE_LENGTH:
            raise ParameterError("a parameter is too long")
        if name in seen:
            repeated.add(name)
        seen.add(name)
        if value:
            values[name] = value
    return Parameters(values=values, repeated=frozenset(repeated))


def query_parameters(request: Request) -> Parameters:
    """The query string's parameters; raw bytes outside ASCII are refused."""
    raw: bytes = request.scope.get("query_string", b"")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ParameterError("the query string must be percent-encoded ASCII") from exc
    return parse_parameters(text)


async def read_form(request: Request) -> Parameters:
    """The form body of a POST; only ``application/x-www-form-urlencoded`` is accepted.

    The body is read with a size cap (a declared ``Content-Length`` over the cap is refused
    before reading) because nothing else bounds what a client may send.
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise ParameterError("the body must be application/x-www-form-urlencoded")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise ParameterError("the body is too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ParameterError("the body is too large")
    try:
        text = bytes(body).decode("ascii")
    except UnicodeDecodeError as exc:
        raise ParameterError("a form body must be percent-encoded ASCII") from exc
    return parse_parameters(text)
