"""Micro-benchmark: what auth0-web adds to each request of a FastAPI or Starlette app.

One process, no network: each request is a direct call of the ASGI app (scope in, messages
out), so what is measured is the framework plus the middleware, not a server. The same JSON
endpoint runs bare and behind ``auth0.middleware``, for:

* an anonymous request (the endpoint asks for the session and gets ``None``);
* a logged-in request (a realistic 3.5 KB session in 2 cookie chunks) calling
  ``get_session()`` with rolling off, rolling as configured by default (a cookie issued
  moments ago is not re-issued; only the no-store headers are added), and rolling with the
  cookie re-set on every response (``rolling_write_interval=0``);
* ``get_access_token()`` with a cached, valid token.

Medians of interleaved batches, µs per request. ``bench/throughput.py`` measures the same
through a real server and load generator.

    python bench/asgi_overhead.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi import FastAPI
from session_codec import SECRET, realistic_session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_web import Auth0Client
from auth0_web._http import CookieOptions, Response

SESSIONS: dict[str, dict[str, Any]] = {
    "rolling off": {"rolling": False},
    "rolling (default)": {"rolling": True},
    "rolling, re-set always": {"rolling": True, "rolling_write_interval": 0},
}


def client(session: dict[str, Any]) -> Auth0Client:
    return Auth0Client(
        domain="tenant.example.com",
        client_id="bench",
        client_secret="bench-secret",
        secret=SECRET,
        app_base_url="http://127.0.0.1:3000",
        session=session,
    )


def starlette_app(auth0: Auth0Client | None, token: bool = False) -> Any:
    async def home(request: Request) -> JSONResponse:
        if auth0 is None:
            return JSONResponse({"user": None})
        if token:
            access = await auth0.get_access_token()
            return JSONResponse({"expires_at": access.expires_at})
        session = await auth0.get_session()
        return JSONResponse({"user": session.user["sub"] if session else None})

    app = Starlette(routes=[Route("/", home)])
    return app if auth0 is None else auth0.middleware(app)


def fastapi_app(auth0: Auth0Client | None, token: bool = False) -> Any:
    app = FastAPI()

    @app.get("/")
    async def home() -> dict[str, Any]:
        if auth0 is None:
            return {"user": None}
        if token:
            access = await auth0.get_access_token()
            return {"expires_at": access.expires_at}
        session = await auth0.get_session()
        return {"user": session.user["sub"] if session else None}

    return app if auth0 is None else auth0.middleware(app)


def cookie_header(auth0: Auth0Client) -> bytes:
    now = int(time.time())
    written = Response()
    auth0._rt.sessions.write(written, realistic_session(now), {}, now, CookieOptions())  # type: ignore[union-attr]
    return "; ".join(v.split(";", 1)[0] for _, v in written.cookies).encode()


async def per_request(app: Any, cookie: bytes | None, number: int) -> float:
    headers = [(b"host", b"127.0.0.1:3000"), (b"user-agent", b"bench")]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    started = time.perf_counter()
    for _ in range(number):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / number * 1e6


async def main() -> None:
    rounds, number = 7, 3000
    for name, build in (("Starlette", starlette_app), ("FastAPI", fastapi_app)):
        cases: list[tuple[str, Any, Any, bytes | None]] = []
        anonymous = client({})
        cases.append(("anonymous", build(None), build(anonymous), None))
        for label, options in SESSIONS.items():
            auth0 = client(options)
            cases.append(
                (f"get_session(), {label}", build(None), build(auth0), cookie_header(auth0))
            )
        auth0 = client({})
        cases.append(
            (
                "get_access_token(), cached",
                build(None),
                build(auth0, token=True),
                cookie_header(auth0),
            )
        )
        print(f"\n{name}: µs per request (median of {rounds} interleaved batches of {number})")
        print(f"{'case':<42} {'bare':>7} {'auth0-web':>10} {'added':>7}")
        for label, bare, ours, cookie in cases:
            await per_request(bare, cookie, 300)
            await per_request(ours, cookie, 300)
            bare_t, ours_t = [], []
            for _ in range(rounds):
                bare_t.append(await per_request(bare, cookie, number))
                ours_t.append(await per_request(ours, cookie, number))
            b, o = statistics.median(bare_t), statistics.median(ours_t)
            print(f"{label:<42} {b:>7.1f} {o:>10.1f} {o - b:>+7.1f}")


if __name__ == "__main__":
    asyncio.run(main())
