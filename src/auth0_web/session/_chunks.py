"""Splitting a large cookie value over several cookies, and joining it back.

Browsers cap one cookie at about 4 KB, so a value over :data:`MAX_CHUNK_SIZE` bytes is
written as ``<name>__0``, ``<name>__1``, ... (the reference's naming). Reading is strict: a
non-empty ``<name>`` wins over chunks; chunks must form a contiguous ``0..k`` run with
``k < MAX_CHUNKS``, or there is no value at all (a spliced or partial set never decrypts
into something half-valid, and no allocation depends on an index from the request).
"""

from __future__ import annotations

from collections.abc import Mapping

from .._http import CookieOptions, Response

__all__ = ["MAX_CHUNKS", "MAX_CHUNK_SIZE", "read_chunked", "write_chunked"]

MAX_CHUNK_SIZE = 3500
#: More chunks than this is not a session we wrote (the codec caps values at 64 KiB).
MAX_CHUNKS = 20


def chunk_indices(name: str, cookies: Mapping[str, str]) -> list[int]:
    """Indices of the ``<name>__<digits>`` cookies present.

    A suffix of digits that is not a small canonical number (``01``, ``999999999``) is
    returned as ``-1``: it is not a chunk we wrote, and its presence makes the set invalid.
    """
    prefix = name + "__"
    found: list[int] = []
    for key in cookies:
        if key.startswith(prefix):
            digits = key[len(prefix) :]
            if not (digits.isascii() and digits.isdigit()):
                continue
            found.append(int(digits) if _is_canonical(digits) else -1)
    return found


def _is_canonical(digits: str) -> bool:
    return len(digits) <= 3 and (digits == "0" or not digits.startswith("0"))


def stray_chunk_names(name: str, cookies: Mapping[str, str]) -> list[str]:
    """Names of the ``<name>__<digits>`` cookies that are not chunks we write (``__01``,
    ``__999999999``): each makes every chunk set unreadable, so every write deletes them
    (at most :data:`MAX_CHUNKS` per response, so a flood of them cannot make a flood of
    headers)."""
    prefix = name + "__"
    strays = []
    for key in cookies:
        digits = key[len(prefix) :] if key.startswith(prefix) else ""
        if digits.isascii() and digits.isdigit() and not _is_canonical(digits):
            strays.append(key)
    return sorted(strays)[:MAX_CHUNKS]


def read_chunked(name: str, cookies: Mapping[str, str]) -> str | None:
    """The value stored under ``name``, joined from chunks if need be, or ``None``."""
    whole = cookies.get(name)
    if whole:
        return whole
    indices = chunk_indices(name, cookies)
    if not indices:
        return None
    if len(indices) > MAX_CHUNKS or sorted(indices) != list(range(len(indices))):
        return None
    return "".join(cookies[f"{name}__{i}"] for i in range(len(indices)))


def write_chunked(
    response: Response,
    name: str,
    value: str,
    options: CookieOptions,
    max_age: int | None,
    request_cookies: Mapping[str, str],
) -> None:
    """Write ``value`` under ``name`` and delete whatever stale form the browser holds."""
    existing = {i for i in chunk_indices(name, request_cookies) if i >= 0}
    for stray in stray_chunk_names(name, request_cookies):
        response.delete_cookie(stray, options)
    if len(value) <= MAX_CHUNK_SIZE:
        response.set_cookie(name, value, options, max_age)
        for index in sorted(existing):
            response.delete_cookie(f"{name}__{index}", options)
        return
    count = 0
    for count, start in enumerate(range(0, len(value), MAX_CHUNK_SIZE), start=1):
        response.set_cookie(
            f"{name}__{count - 1}", value[start : start + MAX_CHUNK_SIZE], options, max_age
        )
    for index in sorted(i for i in existing if i >= count):
        response.delete_cookie(f"{name}__{index}", options)
    if name in request_cookies:
        response.delete_cookie(name, options)


def delete_chunked(
    response: Response, name: str, options: CookieOptions, request_cookies: Mapping[str, str]
) -> None:
    """Delete ``name`` and all its chunks that the request carries (``name`` always)."""
    response.delete_cookie(name, options)
    for index in sorted(i for i in chunk_indices(name, request_cookies) if i >= 0):
        response.delete_cookie(f"{name}__{index}", options)
    for stray in stray_chunk_names(name, request_cookies):
        response.delete_cookie(stray, options)
