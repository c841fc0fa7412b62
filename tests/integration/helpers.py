"""Small helpers for the integration tests: cookies, logins, an outbound-call recorder."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import Request as FastAPIRequest
from fastapi.responses import JSONResponse

from auth0_web import Auth0Client, Request, SessionData, filter_default_id_token_claims
from tests.support.apps import Browser, make_app, make_client, parse_set_cookie, query_of
from tests.support.oidc_provider import complete_login_async

ROLES = "https://example.com/roles"
#: The claims ``/auth/profile`` returns by default (Alice and Bob have all of them).
DEFAULT_PROFILE_KEYS = (
    "sub",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "email",
    "email_verified",
)
NO_STORE = "private, no-cache, no-store, must-revalidate, max-age=0"
#: Attributes of a cookie the SDK deletes on a plain-http app.
DELETED = {
    "path": "/",
    "max-age": "0",
    "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
    "httponly": "",
    "samesite": "Lax",
}


def default_profile(user: dict[str, Any]) -> dict[str, Any]:
    return {key: user[key] for key in DEFAULT_PROFILE_KEYS}


def set_cookies(response: httpx.Response) -> dict[str, tuple[str, dict[str, str]]]:
    """``name -> (value, attributes)`` of every Set-Cookie header (the last one wins)."""
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for header in response.headers.get_list("set-cookie"):
        name, value, attrs = parse_set_cookie(header)
        out[name] = (value, attrs)
    return out


def set_cookie_names(response: httpx.Response) -> list[str]:
    return [parse_set_cookie(h)[0] for h in response.headers.get_list("set-cookie")]


def deleted_names(response: httpx.Response) -> set[str]:
    return {name for name, (_, attrs) in set_cookies(response).items() if attrs == DELETED}


def form_of(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))


class Clock:
    """The SDK's clock: real time plus an adjustable offset (seconds)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


# --------------------------------------------------------------------------- outbound calls


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: httpx.Headers
    body: bytes
    status: int


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes every request of the SDK to the real provider and records it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: list[Call] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        self.calls.append(
            Call(request.method, str(request.url), request.headers, body, response.status_code)
        )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def to(self, url: str) -> list[Call]:
        return [call for call in self.calls if call.url.split("?")[0] == url]


def record_outbound(auth0: Auth0Client) -> RecordingTransport:
    """Route the SDK's outbound calls through a recorder.

    Uses a private attribute (``HttpClient._transport``, read when the pooled client is
    first created): the only way to see which client authentication the SDK really sends,
    because the test provider accepts client_secret_post and client_secret_basic alike.
    """
    transport = RecordingTransport()
    http = auth0._rt.http
    assert http._client is None, "install the recorder before the first outbound call"
    http._transport = transport
    return transport


# --------------------------------------------------------------------------- apps


def client_credentials(op: Any, kind: str) -> tuple[str, str]:
    client_id = op.post_client_id if kind == "post" else op.basic_client_id
    return client_id, op.secret_for(client_id)


def new_client(op: Any, base: str, kind: str = "post", **options: Any) -> Auth0Client:
    client_id, client_secret = client_credentials(op, kind)
    options.setdefault(
        "token_endpoint_auth_method",
        "client_secret_post" if kind == "post" else "client_secret_basic",
    )
    return make_client(
        op, client_id=client_id, client_secret=client_secret, app_base_url=base, **options
    )


def make_app_plus(auth0: Auth0Client) -> Any:
    """``make_app`` plus ``POST /grow`` (adds ~6 KB to the user) and ``POST /shrink``."""
    middleware = make_app(auth0)
    inner = middleware.app

    @inner.post("/grow")
    async def grow(request: FastAPIRequest) -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({"error": "no session"}, status_code=401)
        session.user["bio"] = secrets.token_urlsafe(4500)
        await auth0.update_session(session)
        return JSONResponse({"ok": True})

    @inner.post("/shrink")
    async def shrink(request: FastAPIRequest) -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({"error": "no session"}, status_code=401)
        session.user = filter_default_id_token_claims(session.user)
        await auth0.update_session(session)
        return JSONResponse({"ok": True})

    return middleware


async def session_of(auth0: Auth0Client, cookies: dict[str, str]) -> SessionData | None:
    """What ``auth0`` reads from these browser cookies (public ``get_session(request)``)."""
    request = Request(method="GET", scheme="http", host="127.0.0.1", path="/", cookies=cookies)
    return await auth0.get_session(request)


# --------------------------------------------------------------------------- flows


async def start_login(browser: Browser, query: str = "") -> tuple[str, str]:
    """GET the login route; return (authorize URL, state)."""
    response = await browser.get("/auth/login" + (f"?{query}" if query else ""))
    assert response.status_code == 307, response.text
    location = response.headers["location"]
    return location, query_of(location)["state"]


async def login(
    browser: Browser,
    op_http: httpx.AsyncClient,
    query: str = "",
    sub: str = "auth0|alice",
) -> httpx.Response:
    """A whole login; returns the callback's response (asserted to be a 307)."""
    authorize_url, _ = await start_login(browser, query)
    callback_url = await complete_login_async(authorize_url, sub, client=op_http)
    response = await browser.get(callback_url)
    assert response.status_code == 307, response.text
    return response


async def profile(browser: Browser) -> tuple[int, Any]:
    response = await browser.get("/auth/profile")
    body = json.loads(response.content) if response.content else None
    return response.status_code, body


async def refresh_grant(
    op: Any, op_http: httpx.AsyncClient, kind: str, refresh_token: str
) -> httpx.Response:
    """Use ``refresh_token`` at the provider's token endpoint directly."""
    client_id, client_secret = client_credentials(op, kind)
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if kind == "post":
        form.update(client_id=client_id, client_secret=client_secret)
        return await op_http.post(op.url("/oauth/token"), data=form)
    return await op_http.post(
        op.url("/oauth/token"), data=form, auth=httpx.BasicAuth(client_id, client_secret)
    )
