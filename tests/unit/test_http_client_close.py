"""Closing the outbound pool from another event loop than the one that opened it.

An app served by a server thread (or the sync portal) opens the pool on that thread's loop;
``aclose()`` at shutdown often runs on another loop, after the server's loop has closed.
"""

from __future__ import annotations

import asyncio
import threading
import time

from auth0_web.oidc._http_client import HttpClient


def test_aclose_after_the_owning_loop_has_closed() -> None:
    http = HttpClient(timeout=1.0, telemetry=False)

    async def open_pool() -> None:
        http._get_client()

    asyncio.run(open_pool())  # that loop is closed now
    asyncio.run(http.aclose())  # must not raise "Event loop is closed"
    assert http._client is None


def test_aclose_hands_the_close_to_the_loop_that_owns_the_pool() -> None:
    http = HttpClient(timeout=1.0, telemetry=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(_open(http), loop).result(5)
        client = http._client
        assert client is not None
        asyncio.run(http.aclose())
        deadline = time.monotonic() + 5
        while not client.is_closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.is_closed
        assert http._client is None
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def _open(http: HttpClient) -> None:
    http._get_client()
