"""Where the provider may send a browser, and how parameters are added on the way.

Registered URLs match exactly (RFC 6749 section 3.1.2.3, OAuth 2.0 Security BCP section
4.1.3), as Auth0's allow-lists do without wildcards. The loopback allowance of RFC 8252
section 7.3 accepts any port, but only on a loopback host written literally, with no
credentials, fragment or characters that browsers and Python parse differently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

from ._models import DevClient
from ._params import is_vschar

__all__ = ["is_allowed_logout_url", "is_allowed_redirect_uri", "with_parameters"]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def _split_authority(authority: str) -> tuple[str, str] | None:
    """``(host, port)`` of an authority without userinfo; ``None`` if malformed."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, rest = authority[: end + 1], authority[end + 1 :]
    else:
        host, colon, port = authority.partition(":")
        rest = colon + port
    if rest and not rest.startswith(":"):
        return None
    return host, rest[1:]


def _is_loopback_url(uri: str) -> bool:
    if not is_vschar(uri) or any(c in uri for c in ' \\#"<>^`{|}'):
        return False
    parts = urlsplit(uri)
    if parts.scheme != "http" or "@" in parts.netloc:
        return False
    split = _split_authority(parts.netloc)
    if split is None:
        return False
    host, port = split
    if host.lower() not in _LOOPBACK_HOSTS:
        return False
    return port == "" or (port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536)


def _matches(uri: str, registered: Sequence[str], allow_loopback: bool) -> bool:
    if uri in registered:
        return True
    return allow_loopback and _is_loopback_url(uri)


def is_allowed_redirect_uri(client: DevClient, uri: str) -> bool:
    """Is ``uri`` one of the client's callback URLs (RFC 6749 section 3.1.2)?"""
    return _matches(uri, client.redirect_uris, client.allow_loopback_redirects)


def is_allowed_logout_url(client: DevClient, uri: str) -> bool:
    """Is ``uri`` one of the client's logout URLs (RP-Initiated Logout 1.0 section 3)?"""
    return _matches(uri, client.logout_urls, client.allow_loopback_redirects)


def with_parameters(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query, keeping the query it already has.

    RFC 6749 section 3.1.2 requires an existing query component to be retained.
    """
    parts = urlsplit(uri)
    added = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{added}" if parts.query and added else parts.query or added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
