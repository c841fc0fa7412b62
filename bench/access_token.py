"""Micro-benchmark: ``get_access_token()`` when the cached token is still valid.

Measured inside a request context, as an app calls it: the session is decoded once per
request (that cost is ``bench/session_codec.py``'s "session read"), so this is the extra
cost of asking for the token, for the default audience and for a second (MRRT) audience.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from session_codec import SECRET, realistic_session

from auth0_web import AccessTokenSet, Auth0Client
from auth0_web._context import RequestState
from auth0_web._http import CookieOptions, Response


async def bench(fn, *, rounds: int = 7, number: int = 5000) -> float:  # type: ignore[no-untyped-def]
    for _ in range(500):
        await fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            await fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


async def main() -> None:
    auth0 = Auth0Client(
        domain="tenant.example.com",
        client_id="bench",
        client_secret="bench-secret",
        secret=SECRET,
        app_base_url="http://127.0.0.1:3000",
    )
    now = int(time.time())
    session = realistic_session(now)
    session.access_tokens.append(
        AccessTokenSet(
            access_token="eyJ" + "d" * 800,
            expires_at=now + 3600,
            audience="https://api.example.com",
            scope="read:data",
            requested_scope="openid profile email offline_access read:data",
        )
    )
    written = Response()
    auth0._rt.sessions.write(written, session, {}, now, CookieOptions())
    cookie = "; ".join(value.split(";", 1)[0] for _, value in written.cookies)
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:3000"), (b"cookie", cookie.encode())],
    }
    state = RequestState(scope)
    token = state.enter()
    try:
        assert await auth0.get_session() is not None  # decoded once, as in a request

        async def session_only() -> object:
            return await auth0.get_session()

        async def default_audience() -> object:
            return await auth0.get_access_token()

        async def other_audience() -> object:
            return await auth0.get_access_token(audience="https://api.example.com")

        base = await bench(session_only)
        rows = [
            ("get_session() (already decoded this request)", base),
            ("get_access_token(), default audience", await bench(default_audience)),
            ("get_access_token(audience=...), MRRT entry", await bench(other_audience)),
        ]
    finally:
        state.exit(token)
    assert auth0._rt.refreshes.calls == 0
    width = max(len(name) for name, _ in rows)
    for name, micros in rows:
        extra = "" if micros is base else f"   (+{micros - base:.1f} µs over get_session)"
        print(f"{name:<{width}}  {micros:6.2f} µs{extra}")


if __name__ == "__main__":
    asyncio.run(main())
