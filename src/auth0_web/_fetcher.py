"""``create_fetcher``: an HTTP client for your APIs that adds the user's access token.

Tokens come from :meth:`Auth0Client.get_access_token` (so they refresh themselves, and a
refresh is persisted exactly as there: on the way out inside the middleware, or to the
response you pass), or from your own factory.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._access_tokens import AccessToken
from .oidc._dpop import is_nonce_error, retry_delay
from .oidc._token import DpopSigner

__all__ = ["Fetcher", "TokenFactory"]

#: Returns a token string or an :class:`AccessToken`, sync or async; receives the options
#: given to ``fetch_with_auth`` (``audience``, ``scope``, ``refresh``).
TokenFactory = Callable[..., "str | AccessToken | Awaitable[str | AccessToken]"]


class Fetcher:
    """Sends requests with ``Authorization: <type> <token>``; use as an async context manager
    (or call :meth:`aclose`) unless you passed your own ``client``."""

    def __init__(
        self,
        get_token: TokenFactory,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        dpop: DpopSigner | None = None,
    ) -> None:
        self._get_token = get_token
        self._dpop = dpop
        self.base_url = base_url
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout

    def resolve(self, url: str) -> str:
        """Absolute URLs as given; relative ones joined to ``base_url`` with one slash."""
        if urlsplit(url).scheme.lower() in ("http", "https"):
            return url
        if not self.base_url:
            raise ValueError(f"{url!r} is relative and the fetcher has no base_url")
        return self.base_url.rstrip("/") + "/" + url.lstrip("/")

    async def _token(self, options: Mapping[str, Any]) -> tuple[str, str]:
        value = self._get_token(**options)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, AccessToken):
            return value.token, value.token_type or "Bearer"
        if isinstance(value, str) and value:
            return value, "Bearer"
        raise TypeError("the access token factory must return a token string or an AccessToken")

    async def fetch_with_auth(
        self,
        url: str,
        method: str = "GET",
        *,
        audience: str | None = None,
        scope: str | None = None,
        refresh: bool = False,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send ``method url`` with the access token; other keyword arguments go to httpx."""
        options: dict[str, Any] = {}
        if audience is not None:
            options["audience"] = audience
        if scope is not None:
            options["scope"] = scope
        if refresh:
            options["refresh"] = True
        token, token_type = await self._token(options)
        # Ours replace any Authorization/DPoP headers the caller set, whatever their case.
        base_headers = {
            k: v for k, v in (headers or {}).items() if k.lower() not in ("authorization", "dpop")
        }
        target = self.resolve(url)
        # A DPoP-bound token keeps its scheme (with a proof when we hold the key); a Bearer
        # token never switches scheme, and neither is ever downgraded.
        bound = token_type.lower() == "dpop"
        dpop = self._dpop if bound else None
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        for attempt in (1, 2):
            request_headers = dict(base_headers)
            if dpop is not None:
                request_headers["Authorization"] = f"DPoP {token}"
                request_headers["DPoP"] = dpop.proof(method.upper(), target, access_token=token)
            else:
                request_headers["Authorization"] = f"{'DPoP' if bound else 'Bearer'} {token}"
            response = await self._client.request(method, target, headers=request_headers, **kwargs)
            if dpop is None:
                return response
            dpop.nonces.update(target, response.headers)
            if attempt == 1 and is_nonce_error(response.status_code, response.headers, None):
                await response.aclose()
                await asyncio.sleep(retry_delay(dpop.retry_delay_ms, dpop.retry_jitter))
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
