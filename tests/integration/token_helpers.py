"""Helpers for the access-token integration tests (``test_access_tokens.py``).

The provider (``tests/op/server.mjs``) turns Auth0's ``audience`` into a resource indicator
only on ``/authorize``. At the token endpoint oidc-provider needs ``resource=`` and, for a
grant that covers several APIs, refuses a request that names none. :class:`TokenEndpoint`
therefore sits on the SDK's outbound transport and does what an Auth0 tenant does: a token
request with ``audience=X`` is for API ``X``, one without it is for the login's (default)
API. It also records every token-endpoint call, so the tests count refresh grants on the
wire, next to the SDK's own counter.

:func:`login` drives a real login at the provider. The authorization request asks for every
test API (``resource`` three times, plus their scopes), like an Auth0 application that
a multi-resource refresh token policy lets use several APIs. So the refresh token it
returns serves all of them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_web import Auth0Client
from auth0_web.session._chunks import read_chunked
from auth0_web.session._codec import CookieCodec
from tests.support.apps import Browser, parse_set_cookie
from tests.support.oidc_provider import complete_login_async

API_DEFAULT = "https://api.default.example"
API_ONE = "https://api.one.example"
API_TWO = "https://api.two.example"
APIS = {API_DEFAULT: "read:default", API_ONE: "read:one", API_TWO: "read:two"}
RESOURCE_SERVERS = [{"identifier": api, "scopes": [scope]} for api, scope in APIS.items()]

TOKEN_PATH = "/oauth/token"


# --------------------------------------------------------------------------- clock


class TestClock:
    """The SDK's clock: real time (or a frozen instant) plus an adjustable offset."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.offset = 0.0
        self.frozen: float | None = None

    def freeze(self) -> float:
        """Stop the clock at the current instant (whole seconds); return it."""
        self.frozen = float(int(time.time()))
        return self.frozen

    def __call__(self) -> float:
        return (self.frozen if self.frozen is not None else time.time()) + self.offset

    def now(self) -> int:
        return int(self())


# --------------------------------------------------------------------------- token endpoint


@dataclass(frozen=True)
class TokenCall:
    """One POST to the provider's token endpoint, as sent (after the audience mapping)."""

    form: dict[str, str]
    status: int
    body: dict[str, Any]

    @property
    def grant_type(self) -> str:
        return self.form.get("grant_type", "")


class TokenEndpoint(httpx.AsyncBaseTransport):
    """The SDK's outbound transport: forwards everything to the provider, maps Auth0's
    ``audience`` to ``resource`` on token requests and records them.

    ``refresh_delay`` holds each refresh grant back before sending it, so concurrent
    requests certainly overlap with the one refresh in flight.
    """

    def __init__(self, default_audience: str, *, refresh_delay: float = 0.0) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.default_audience = default_audience
        self.refresh_delay = refresh_delay
        self.calls: list[TokenCall] = []

    @property
    def refreshes(self) -> list[TokenCall]:
        return [call for call in self.calls if call.grant_type == "refresh_token"]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != TOKEN_PATH:
            return await self.inner.handle_async_request(request)
        form = dict(parse_qsl((await request.aread()).decode("ascii"), keep_blank_values=True))
        form.setdefault("resource", form.get("audience") or self.default_audience)
        if form.get("grant_type") == "refresh_token" and self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
        forwarded = httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=urlencode(form).encode("ascii"),
            extensions=request.extensions,
        )
        response = await self.inner.handle_async_request(forwarded)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        self.calls.append(TokenCall(form, response.status_code, body))
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def install_token_endpoint(auth0: Auth0Client, **options: Any) -> TokenEndpoint:
    """Route ``auth0``'s outbound calls through a :class:`TokenEndpoint` (private hook)."""
    http = auth0._rt.http
    assert http._client is None, "install before the first outbound call"
    transport = TokenEndpoint(
        auth0.config.audience or API_DEFAULT,
        **options,
    )
    http._transport = transport
    return transport


# --------------------------------------------------------------------------- provider calls


async def provider_refresh(
    op: Any,
    http: httpx.AsyncClient,
    client: tuple[str, str],
    refresh_token: str,
    audience: str = API_DEFAULT,
) -> httpx.Response:
    """Use ``refresh_token`` at the provider's token endpoint ourselves."""
    client_id, client_secret = client
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "resource": audience,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    return await http.post(op.url(TOKEN_PATH), data=form)


async def provider_revoke(
    op: Any, http: httpx.AsyncClient, client: tuple[str, str], refresh_token: str
) -> httpx.Response:
    client_id, client_secret = client
    form = {
        "token": refresh_token,
        "token_type_hint": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
    }
    return await http.post(op.url("/oauth/revoke"), data=form)


# --------------------------------------------------------------------------- login


def ask_for_every_api(authorize_url: str, apis: Mapping[str, str] = APIS) -> str:
    """The SDK's authorization URL, asking for every API and its scope (see module doc)."""
    parts = urlsplit(authorize_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "audience"]
    query = [(k, f"{v} {' '.join(apis.values())}" if k == "scope" else v) for k, v in query]
    query += [("resource", api) for api in apis]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def login(browser: Browser, op_http: httpx.AsyncClient, sub: str) -> httpx.Response:
    """A whole login of ``sub`` through the SDK's routes and the provider's pages."""
    response = await browser.get("/auth/login")
    assert response.status_code == 307, response.text
    authorize_url = ask_for_every_api(response.headers["location"])
    callback_url = await complete_login_async(authorize_url, sub, client=op_http)
    response = await browser.get(callback_url)
    assert response.status_code == 307, response.text
    return response


# --------------------------------------------------------------------------- cookies


def cookies_after(cookies: Mapping[str, str], response: httpx.Response) -> dict[str, str]:
    """The browser's cookies after ``response`` (last Set-Cookie wins, Max-Age=0 deletes)."""
    out = dict(cookies)
    for header in response.headers.get_list("set-cookie"):
        name, value, attrs = parse_set_cookie(header)
        max_age = attrs.get("max-age")
        if max_age is not None and int(max_age) <= 0:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def cookie_header(cookies: Mapping[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def stored_session(secret: str, cookies: Mapping[str, str], now: float) -> dict[str, Any]:
    """The session cookie's decrypted JSON, exactly as stored (reference field names)."""
    value = read_chunked("__session", cookies)
    assert value is not None, f"no session cookie in {sorted(cookies)}"
    codec = CookieCodec([secret])
    plaintext = codec.open(value)
    assert plaintext is not None, "the session cookie does not decrypt"
    payload = codec.claims(plaintext, now=now)
    assert payload is not None, "the session cookie has expired"
    return payload


# --------------------------------------------------------------------------- JWTs


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def verified_claims(keys: KeySet, token: str) -> dict[str, Any]:
    """The claims of a provider-signed JWT access token (signature checked, not expiry)."""
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def provider_keys(op: Any) -> KeySet:
    return KeySet.import_key_set(httpx.get(op.url("/.well-known/jwks.json")).json())


def resource_server(op: Any) -> Starlette:
    """A tiny API: ``GET /api/whoami`` checks the bearer JWT (signature, issuer, expiry, now)
    against the provider's keys and echoes the ``Authorization`` header and the claims."""
    keys = provider_keys(op)

    async def whoami(request: StarletteRequest) -> JSONResponse:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return JSONResponse({"error": "invalid_request"}, status_code=401)
        try:
            claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": op.issuer},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(claims)
        except JoseError as exc:
            return JSONResponse(
                {"error": "invalid_token", "detail": type(exc).__name__}, status_code=401
            )
        return JSONResponse(
            {"authorization": authorization, "path": request.url.path, "claims": claims}
        )

    return Starlette(routes=[Route("/api/whoami", whoami)])


def same(values: Sequence[Any]) -> Any:
    """The one value every element equals (asserted)."""
    assert values, "no values"
    first = values[0]
    assert all(value == first for value in values), sorted({repr(v) for v in values})
    return first
