"""Test apps and a browser-like HTTP client for driving them.

``Browser`` keeps cookies the way a browser does: the *last* ``Set-Cookie`` for a name in
a response wins, and ``Max-Age=0`` deletes (Python's cookie jars can keep a cookie that a
response sets and then deletes, which chunked session cookies do).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

from auth0_web import Auth0Client, SessionData

SECRET = "test-secret-0123456789abcdef0123456789abcdef"
APP_BASE = "http://127.0.0.1:3000"


def make_client(op: Any, *, client_id: str, client_secret: str, **options: Any) -> Auth0Client:
    """An ``Auth0Client`` pointed at a local OP (``op.issuer`` is ``http://localhost:N/``)."""
    options.setdefault("secret", SECRET)
    options.setdefault("app_base_url", APP_BASE)
    options.setdefault("allow_insecure_requests", True)
    return Auth0Client(
        domain=op.issuer.rstrip("/"),
        client_id=client_id,
        client_secret=client_secret,
        **options,
    )


def make_app(auth0: Auth0Client) -> Any:
    """A FastAPI app using every application-facing helper, wrapped in the middleware."""
    app = FastAPI()

    @app.get("/")
    async def home() -> JSONResponse:
        session = await auth0.get_session()
        return JSONResponse({"user": session.user if session else None})

    @app.get("/protected")
    @auth0.with_page_auth_required
    async def protected() -> PlainTextResponse:
        session = await auth0.get_session()
        assert session is not None
        return PlainTextResponse("hello " + session.user["sub"])

    @app.get("/api/private")
    @auth0.with_api_auth_required
    async def api_private() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/me")
    async def me(session: SessionData = Depends(auth0.require_session)) -> JSONResponse:  # noqa: B008
        return JSONResponse({"sub": session.user["sub"], "extra": session.extra})

    @app.get("/maybe")
    async def maybe(session: SessionData | None = Depends(auth0.optional_session)) -> JSONResponse:  # noqa: B008
        return JSONResponse({"logged_in": session is not None})

    @app.post("/update")
    async def update(request: Request) -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({"error": "no session"}, status_code=401)
        session.extra["theme"] = (await request.json()).get("theme")
        await auth0.update_session(session)
        return JSONResponse({"ok": True})

    @app.get("/tokens")
    async def tokens() -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({}, status_code=401)
        return JSONResponse(
            {
                "has_refresh_token": bool(session.token_set.refresh_token),
                "has_id_token": bool(session.token_set.id_token),
                "expires_at": session.token_set.expires_at,
                "token_type": session.token_set.token_type,
                "sid": session.internal.sid,
            }
        )

    return auth0.middleware(app)


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    first, *attrs = header.split(";")
    name, _, value = first.partition("=")
    attributes: dict[str, str] = {}
    for attr in attrs:
        key, _, val = attr.strip().partition("=")
        attributes[key.lower()] = val
    return name.strip(), value.strip(), attributes


class Browser:
    """An async HTTP client with browser cookie semantics and no redirect following."""

    def __init__(self, app: Any = None, base_url: str = APP_BASE) -> None:
        transport = httpx.ASGITransport(app=app) if app is not None else None
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.client = httpx.AsyncClient(
            transport=transport, base_url=base_url, follow_redirects=False, timeout=30
        )

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    def absorb(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, value, attrs = parse_set_cookie(header)
            max_age = attrs.get("max-age")
            if max_age is not None and int(max_age) <= 0:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # Only ``self.cookies`` is the browser's jar; httpx's own jar must never add to it.
        self.client.cookies.clear()
        if url.startswith(self.base_url):
            url = url[len(self.base_url) :] or "/"
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.cookies and "cookie" not in {k.lower() for k in headers}:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await self.client.request(method, url, headers=headers, **kwargs)
        self.absorb(response)
        return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    def session_cookie_names(self) -> list[str]:
        return sorted(n for n in self.cookies if n == "__session" or n.startswith("__session__"))

    def txn_cookie_names(self) -> list[str]:
        return sorted(n for n in self.cookies if n.startswith("__txn_"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Run ``app`` under a real uvicorn server on 127.0.0.1 in a thread; yield its URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def query_of(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def run_in_thread(func: Any, *args: Any) -> Any:
    return await asyncio.to_thread(func, *args)
