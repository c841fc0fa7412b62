"""OAuth 2.0 error values (RFC 6749 sections 4.1.2.1 and 5.2) as one exception.

Endpoint code raises :class:`OAuthError` where it finds a problem; each endpoint decides
how it travels (a redirect for ``/authorize``, a JSON body for the token endpoint).
Descriptions are written for the developer reading them and never contain a token or a
secret.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["OAuthError"]


class OAuthError(Exception):
    """An error code from the RFC 6749 registry, its description and the HTTP status."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})
