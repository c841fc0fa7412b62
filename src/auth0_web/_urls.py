"""Where the SDK may send a browser: base-URL resolution and ``returnTo`` validation.

The rule for every redirect the SDK builds from input is the same: the target is the
trusted app origin concatenated with a path that starts with exactly one ``/``. Input is
judged as a browser would read it (backslashes are slashes, tabs and newlines vanish), and
relative resolution is never used to build the final URL, which is what made
``https://app///evil.com`` an open redirect in the reference (CVE-2026-107369).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ._config import AppBaseUrl, Config
from ._errors import InvalidConfigurationError
from ._http import Request

__all__ = ["resolve_app_base_url", "safe_logout_return_to", "safe_return_to"]

#: Longest ``returnTo`` kept (UTF-8 bytes); longer values fall back to the default.
MAX_RETURN_TO_BYTES = 2048

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")


def resolve_app_base_url(config: Config, request: Request) -> AppBaseUrl:
    """The base URL for this request.

    One configured URL: always that one (request headers are ignored, so a spoofed
    ``Host`` cannot move ``redirect_uri``). An allow-list: the request's origin must equal
    one entry's origin exactly. None configured: inferred from the request's scheme and
    ``Host`` as the ASGI server reports them (enable your server's trusted-proxy handling
    to honour ``X-Forwarded-*``).
    """
    bases = config.app_base_urls
    if len(bases) == 1:
        return bases[0]
    host = request.host
    if not _HOST_RE.fullmatch(host) or request.scheme not in ("http", "https"):
        raise InvalidConfigurationError("The application base URL could not be determined.")
    origin = f"{request.scheme}://{host.lower()}"
    if request.scheme == "https" and origin.endswith(":443"):
        origin = origin[:-4]
    elif request.scheme == "http" and origin.endswith(":80"):
        origin = origin[:-3]
    if not bases:
        return AppBaseUrl(origin=origin, path="", secure=request.scheme == "https")
    for base in bases:
        if base.origin == origin:
            return base
    raise InvalidConfigurationError(
        "APP_BASE_URL does not contain a match for the current request origin."
    )


def _browser_clean(value: str) -> str | None:
    """Apply the WHATWG URL parser's input clean-up; ``None`` for control characters."""
    value = value.strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
    )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        # Browsers silently delete tab/CR/LF (``java\nscript:``); we refuse the value.
        return None
    return value.replace("\\", "/")


_SINGLE_DOT = frozenset({".", "%2e"})
_DOUBLE_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, with ``%2e`` counted as ``.`` as browsers count it.

    Without this, ``/..//evil.example`` would keep one leading slash here and still
    become ``//evil.example`` once a browser resolves the dot segment.
    """
    segments = path.split("/")
    if not any(seg.lower() in _SINGLE_DOT or seg.lower() in _DOUBLE_DOT for seg in segments):
        return path
    output: list[str] = []
    for index, segment in enumerate(segments[1:], start=1):
        lowered = segment.lower()
        last = index == len(segments) - 1
        if lowered in _DOUBLE_DOT:
            if output:
                output.pop()
            if last:
                output.append("")
        elif lowered in _SINGLE_DOT:
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def _normalize_path(path: str) -> str:
    """Resolve dot segments, then collapse any leading run of slashes to one, so the path
    can never be read as an authority."""
    return "/" + _remove_dot_segments("/" + path.lstrip("/")).lstrip("/")


def safe_return_to(value: str | None, base: AppBaseUrl) -> str | None:
    """Validate a post-login ``returnTo``; the safe absolute path (with query) or ``None``.

    Accepted: a path (``/x?y#z``), or an absolute URL whose origin is the app's. Everything
    else (another origin, a scheme-relative or schemeless host, ``javascript:``, credentials
    in the authority, control characters, > 2048 bytes) is ``None``: the caller uses the
    default, as the reference does.
    """
    if value is None or value == "":
        return None
    if len(value.encode("utf-8", "surrogatepass")) > MAX_RETURN_TO_BYTES:
        return None
    cleaned = _browser_clean(value)
    if cleaned is None or not cleaned:
        return None
    if cleaned.startswith("//"):
        # Scheme-relative: an authority follows; judge it as an absolute URL.
        cleaned = base.origin.split(":", 1)[0] + ":" + cleaned
    if _SCHEME_RE.match(cleaned):
        try:
            parts = urlsplit(cleaned)
        except ValueError:  # e.g. an unclosed IPv6 bracket, or NFKC tricks in the netloc
            return None
        if parts.scheme.lower() not in ("http", "https"):
            return None
        if "@" in parts.netloc or not parts.netloc:
            return None
        try:
            port = parts.port
        except ValueError:
            return None
        host = (parts.hostname or "").lower().rstrip(".")
        if ":" in host:  # an IPv6 literal: bracketed in an origin, as the base URL has it
            host = f"[{host}]"
        scheme = parts.scheme.lower()
        default_port = 443 if scheme == "https" else 80
        origin = f"{scheme}://{host}" + ("" if port in (None, default_port) else f":{port}")
        if origin != base.origin:
            return None
        path, query, fragment = parts.path, parts.query, parts.fragment
    else:
        # A path, or a relative reference ("dashboard", "?tab=1") taken from the app's root.
        # The fragment is split off first: a "?" inside it is not a query.
        rest, _, fragment = cleaned.partition("#")
        path, _, query = rest.partition("?")
        if not path.startswith("/"):
            path = "/" + path
    result = _normalize_path(path or "/")
    if query:
        result += "?" + query
    if fragment:
        result += "#" + fragment
    return result


def absolute(base: AppBaseUrl, path: str) -> str:
    """Join the trusted origin with a validated path (never relative resolution)."""
    return base.origin + _normalize_path(path)


def safe_logout_return_to(value: str | None, base: AppBaseUrl) -> str:
    """The post-logout URL: ``returnTo`` when it is on the app's origin, else the base URL."""
    safe = safe_return_to(value, base)
    if safe is None:
        return base.url
    return absolute(base, safe)
