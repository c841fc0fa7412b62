"""Plain WSGI (no framework) through Werkzeug's server: the sync facade and middleware.

Also the places the synchronous path differs from ASGI: the session store that needs I/O
(the in-memory database store goes through the portal's event loop), a refresh run from a
WSGI thread, and many threads at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from auth0_web import Auth0Client, MemorySessionStore
from auth0_web.adapters._portal import SuspendedError, run_inline
from auth0_web.adapters.wsgi import Auth0WSGIMiddleware, SyncAuth0
from tests.support.op_fixtures import ProviderFixture

from .scenario import auth0_options, run_scenario
from .servers import serve_wsgi

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def make_wsgi_app(auth0: Auth0Client) -> Callable[..., Iterable[bytes]]:
    sync = SyncAuth0(auth0)

    def reply(
        start: Any, status: str, body: Any, headers: list[tuple[str, str]] | None = None
    ) -> list[bytes]:
        if isinstance(body, str):
            data, kind = body.encode(), "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(body).encode(), "application/json"
        start(status, [("content-type", kind), *(headers or [])])
        return [data]

    def app(environ: dict[str, Any], start: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        session = sync.get_session()
        if path == "/":
            return reply(start, "200 OK", {"user": session.user["sub"] if session else None})
        if path == "/protected":
            if session is None:
                return reply(
                    start,
                    "307 Temporary Redirect",
                    "",
                    [("location", auth0.login_url("/protected"))],
                )
            return reply(start, "200 OK", f"hello {session.user['sub']}")
        if path == "/api/private":
            if session is None:
                return reply(start, "401 Unauthorized", {"error": "not_authenticated"})
            return reply(start, "200 OK", {"sub": session.user["sub"]})
        if path == "/api/token":
            refresh = parse_qs(environ.get("QUERY_STRING", "")).get("refresh") == ["1"]
            token = sync.get_access_token(refresh=refresh)
            return reply(start, "200 OK", {"token": token.token, "expires_at": token.expires_at})
        return reply(start, "404 Not Found", "not found")

    return Auth0WSGIMiddleware(app, client=auth0)


@pytest.mark.parametrize("store", ["cookie", "memory"])
async def test_login_page_token_logout(
    store: str, oidc_provider: ProviderFixture, app_url: str
) -> None:
    op = oidc_provider
    options = auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    if store == "memory":
        options["session_store"] = MemorySessionStore()
    auth0 = Auth0Client(**options)  # type: ignore[arg-type]
    with serve_wsgi(make_wsgi_app(auth0), port=int(app_url.rsplit(":", 1)[1])):
        await run_scenario(app_url, op.bob["sub"])


async def test_many_threads_share_one_refresh(oidc_provider: ProviderFixture, app_url: str) -> None:
    """16 WSGI threads asking for a refresh of one session at once: the portal's single loop
    coalesces them (one rotation), and every thread gets the same token."""
    op = oidc_provider
    auth0 = Auth0Client(
        **auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    )  # type: ignore[arg-type]
    with serve_wsgi(make_wsgi_app(auth0), port=int(app_url.rsplit(":", 1)[1])):
        from tests.support.apps import Browser
        from tests.support.oidc_provider import complete_login_async

        async with Browser(base_url=app_url) as browser, httpx.AsyncClient(timeout=30) as provider:
            start = await browser.get("/auth/login")
            callback = await complete_login_async(
                start.headers["location"], op.alice["sub"], client=provider
            )
            await browser.get(callback)
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())

        def fetch(_: int) -> str:
            reply = httpx.get(
                app_url + "/api/token?refresh=1", headers={"cookie": cookie}, timeout=30
            )
            assert reply.status_code == 200, reply.text
            return str(reply.json()["token"])

        with ThreadPoolExecutor(16) as pool:
            tokens = set(pool.map(fetch, range(16)))
        assert len(tokens) == 1


def test_run_inline_refuses_a_coroutine_that_waits() -> None:
    import asyncio

    async def waits() -> None:
        await asyncio.sleep(0)

    async def returns() -> int:
        return 7

    assert run_inline(returns()) == 7
    with pytest.raises(SuspendedError):
        run_inline(waits())
