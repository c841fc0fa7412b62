"""A burst of concurrent requests larger than the Redis connection pool waits for a
connection; it never turns into store failures (users who suddenly read as logged out).

Found by the 1,000-user load test (``tests/load``): redis-py's own pool refuses the 101st
concurrent command at once (``MaxConnectionsError``), so a :class:`RedisSessionStore` made
from a URL read hundreds of live sessions as "no session" under load.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from auth0_web import Auth0Client, SessionData, SessionInternal, TokenSet
from auth0_web.session._codec import CookieCodec
from auth0_web.stores.redis import RedisSessionStore
from tests.support.apps import APP_BASE, SECRET, make_app
from tests.support.redis_server import delete_prefixed, unique_prefix

pytestmark = pytest.mark.anyio

BURST = 400  # well beyond the pool (100 connections)
ISSUER = "https://tenant.example.com/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def url_store(redis_url: str) -> AsyncIterator[RedisSessionStore]:
    """A store built the documented simple way: from a URL."""
    store = RedisSessionStore(redis_url, prefix=unique_prefix())
    try:
        yield store
    finally:
        await delete_prefixed(store)
        await store.aclose()


def a_session(sub: str) -> SessionData:
    now = int(time.time())
    return SessionData(
        user={"sub": sub},
        token_set=TokenSet(access_token="at-" + sub, expires_at=now + 3600, token_type="Bearer"),
        internal=SessionInternal(sid="sid-" + sub, created_at=now, extra={"iss": ISSUER}),
    )


async def test_store_commands_beyond_the_pool_wait_for_a_connection(
    url_store: RedisSessionStore,
) -> None:
    ids = [secrets.token_hex(16) for _ in range(BURST)]
    expires = int(time.time()) + 600
    await asyncio.gather(
        *(url_store.set(i, a_session(f"auth0|u{n}"), expires_at=expires) for n, i in enumerate(ids))
    )
    loaded = await asyncio.gather(*(url_store.get(i) for i in ids))
    assert [s.user["sub"] if s else None for s in loaded] == [f"auth0|u{n}" for n in range(BURST)]


async def test_a_burst_of_requests_never_reads_a_live_session_as_logged_out(
    url_store: RedisSessionStore,
) -> None:
    auth0 = Auth0Client(
        domain=ISSUER,
        client_id="client-id",
        client_secret="client-secret",
        secret=SECRET,
        app_base_url=APP_BASE,
        session_store=url_store,
    )
    codec = CookieCodec([SECRET])
    expires = int(time.time()) + 600
    cookies = []
    for n in range(BURST):
        session_id = secrets.token_hex(16)
        await url_store.set(session_id, a_session(f"auth0|u{n}"), expires_at=expires)
        cookies.append(codec.encrypt({"id": session_id}, exp=expires))

    transport = httpx.ASGITransport(app=make_app(auth0))
    async with httpx.AsyncClient(transport=transport, base_url=APP_BASE) as client:
        responses = await asyncio.gather(
            *(client.get("/maybe", headers={"cookie": f"__session={c}"}) for c in cookies)
        )
    assert [r.status_code for r in responses] == [200] * BURST
    assert [r.json() for r in responses] == [{"logged_in": True}] * BURST
    await auth0.aclose()
