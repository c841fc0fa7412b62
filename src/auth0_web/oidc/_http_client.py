"""The one outbound HTTP client: every call to the authorization server goes through it.

Each call has the configured timeout, never follows redirects (a 307 from the token
endpoint must not carry the client secret or code to another origin), and reads at most
:data:`MAX_RESPONSE_BYTES` of *decoded* body (so a gzip bomb is cut off too). Failures
become :class:`~auth0_web.HttpError` with a fixed message; the URL's query and any secret
never appear in it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .._errors import HttpError
from .._version import __version__
from ..session._codec import loads_strict

__all__ = ["MAX_RESPONSE_BYTES", "HttpClient", "HttpResponse"]

MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        """The body as JSON (strict: no NaN/Infinity); ``ValueError`` if it is not JSON."""
        try:
            return loads_strict(self.body.decode("utf-8"))
        except (UnicodeDecodeError, RecursionError) as exc:
            raise ValueError("response is not JSON") from exc

    def json_object(self) -> dict[str, Any] | None:
        try:
            data = self.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def telemetry_headers() -> dict[str, str]:
    info = json.dumps({"name": "auth0-web", "version": __version__}, separators=(",", ":"))
    return {
        "User-Agent": f"auth0-web/{__version__}",
        "Auth0-Client": base64.b64encode(info.encode("utf-8")).decode("ascii"),
    }


class HttpClient:
    """Wraps one pooled ``httpx.AsyncClient`` per event loop."""

    def __init__(
        self,
        *,
        timeout: float,
        telemetry: bool,
        max_bytes: int = MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._headers = telemetry_headers() if telemetry else {}
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # An httpx connection pool belongs to the loop that opened it; a new loop (a
            # new test, a sync facade's private loop) gets its own pool.
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                headers=self._headers,
                transport=self._transport,
                trust_env=False,
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        client, loop = self._client, self._loop
        self._client = self._loop = None
        if client is None:
            return
        if loop is asyncio.get_running_loop():
            await client.aclose()
        elif loop is not None and loop.is_running():
            # The pool belongs to a loop running elsewhere (a server thread, the sync
            # portal): close it there, without waiting for that loop.
            asyncio.run_coroutine_threadsafe(client.aclose(), loop)
        # else: its loop is closed, and its sockets went with it.

    async def request(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> HttpResponse:
        """Send one request (``data``: a form body; ``content``: raw bytes, e.g. JSON)."""
        client = self._get_client()
        try:
            async with asyncio.timeout(self.timeout):
                async with client.stream(
                    method, url, data=data, content=content, headers=headers
                ) as response:
                    declared = response.headers.get("content-length")
                    if (
                        declared is not None
                        and declared.isdigit()
                        and int(declared) > (self.max_bytes)
                    ):
                        raise HttpError("The authorization server's response is too large.")
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise HttpError("The authorization server's response is too large.")
                        chunks.append(chunk)
                    return HttpResponse(response.status_code, response.headers, b"".join(chunks))
        except HttpError:
            raise
        except TimeoutError as exc:
            raise HttpError("The request to the authorization server timed out.") from exc
        except (httpx.HTTPError, OSError, ValueError) as exc:
            raise HttpError(
                f"The request to the authorization server failed ({type(exc).__name__})."
            ) from exc

    async def get(self, url: str) -> HttpResponse:
        return await self.request("GET", url, headers={"Accept": "application/json"})

    async def post_form(
        self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        all_headers = {"Accept": "application/json"}
        if headers:
            all_headers.update(headers)
        return await self.request("POST", url, data=data, headers=all_headers)
