"""Shared pieces of the fault tests: the app under test, sessions, leak checks."""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Depends
from starlette.responses import JSONResponse

from auth0_web import AccessToken, Auth0Client, Auth0Error, SessionData
from auth0_web._ciba import get_token_by_backchannel_auth
from auth0_web.session._codec import CookieCodec
from tests.attacks.helpers import is_session_name
from tests.support.apps import SECRET, Browser, make_app, make_client

#: How long the SDK waits for the provider in these tests (faults are judged against it;
#: short, yet long enough for a healthy local answer on a busy machine).
HTTP_TIMEOUT = 0.5
CIBA_USER = "auth0|mallory-victim"


async def _no_wait(seconds: float) -> None:
    """CIBA's polling interval, skipped: the tests judge answers, not pacing."""


def fault_app(auth0: Auth0Client) -> Any:
    """``make_app`` plus routes an application would write around the SDK's calls; an SDK
    error becomes ``{"error": code}`` with the error's status (never its message)."""
    middleware = make_app(auth0)
    inner = middleware.app

    def refused(exc: Auth0Error) -> JSONResponse:
        return JSONResponse({"error": exc.code}, status_code=exc.status)

    @inner.get("/t/token")
    async def token() -> JSONResponse:
        try:
            found = await auth0.get_access_token()
        except Auth0Error as exc:
            return refused(exc)
        return JSONResponse({"expires_at": found.expires_at})

    @inner.get("/t/dependency")
    async def dependency(
        token: AccessToken = Depends(auth0.access_token_dependency()),  # noqa: B008
    ) -> JSONResponse:
        return JSONResponse({"expires_at": token.expires_at})

    @inner.get("/t/refresh")
    async def forced_refresh() -> JSONResponse:
        try:
            found = await auth0.get_access_token(refresh=True)
        except Auth0Error as exc:
            return refused(exc)
        return JSONResponse({"expires_at": found.expires_at})

    @inner.get("/t/vault")
    async def vault() -> JSONResponse:
        try:
            found = await auth0.get_access_token_for_connection(connection="google-oauth2")
        except Auth0Error as exc:
            return refused(exc)
        return JSONResponse({"connection": found.connection})

    @inner.get("/t/accounts")
    async def accounts() -> JSONResponse:
        try:
            found = await auth0.get_connected_accounts()
        except Auth0Error as exc:
            return refused(exc)
        return JSONResponse({"connections": [account.connection for account in found]})

    @inner.get("/t/ciba")
    async def ciba() -> JSONResponse:
        try:
            result = await get_token_by_backchannel_auth(
                auth0._rt,
                binding_message="Approve the transfer 42",
                login_hint={"sub": CIBA_USER},
                requested_expiry=60,
                sleep=_no_wait,
            )
        except Auth0Error as exc:
            return refused(exc)
        return JSONResponse({"sub": result.id_token_claims["sub"]})

    return middleware


def session_cookies(browser: Browser) -> dict[str, str]:
    return {name: value for name, value in browser.cookies.items() if is_session_name(name)}


def cookie_session(browser: Browser) -> dict[str, Any] | None:
    """The stateless session the browser's cookie holds (decrypted, as JSON)."""
    value = "".join(v for _, v in sorted(session_cookies(browser).items()))
    if not value:
        return None
    return CookieCodec([SECRET]).decrypt(value, now=time.time())


def token_secrets(session: SessionData | dict[str, Any] | None) -> list[str]:
    """Every token a session holds (none of them may ever show up in an answer or a log)."""
    if session is None:
        return []
    data = session.to_dict() if isinstance(session, SessionData) else session
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and key.lower() in (
                    "accesstoken",
                    "access_token",
                    "refreshtoken",
                    "refresh_token",
                    "idtoken",
                    "id_token",
                ):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return [token for token in found if token]


def log_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def assert_nothing_leaked(
    response: httpx.Response | None, records: list[logging.LogRecord], secrets: list[str]
) -> None:
    """No token or secret in the answer (body, headers but Set-Cookie) or in any log record;
    no traceback in the answer."""
    logged = log_text(records)
    for secret in secrets:
        assert secret not in logged, f"secret in the logs: {secret[:10]}..."
    if response is None:
        return
    body = response.text
    assert "traceback" not in body.lower() and 'file "' not in body.lower(), body[:300]
    for secret in secrets:
        assert secret not in body, f"secret in the answer: {secret[:10]}..."
        for name, value in response.headers.items():
            if name.lower() != "set-cookie":
                assert secret not in value, f"secret in header {name}"


@dataclass
class Env:
    """One test's application: the client under test, a second instance sharing its secret
    (and store) that makes sessions without warming the first one's caches, and a browser."""

    op: Any
    auth0: Auth0Client
    seed: Auth0Client
    browser: Browser
    seed_browser: Browser
    #: Answer overrides that make the scripted OP play Auth0's extra APIs (MFA, Token Vault,
    #: CIBA, My Account); restored whenever a fault is removed.
    normal: dict[str, Any] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    #: The user's browser at the provider (plain http; see :func:`plain_http`).
    user_agent: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(verify=False))

    async def authorize(self, authorize_url: str) -> str:
        """The user logs in at the provider: the callback URL it redirects to."""
        response = await self.user_agent.get(authorize_url)
        assert response.status_code in (302, 303), (response.status_code, response.text)
        return str(response.headers["location"])

    def install_normal(self) -> None:
        self.op.scenario.responses = dict(self.normal)

    async def aclose(self) -> None:
        await self.user_agent.aclose()
        for browser in (self.browser, self.seed_browser):
            await browser.client.aclose()
        for client in (self.auth0, self.seed):
            await client.aclose()


def plain_http(auth0: Auth0Client) -> Auth0Client:
    """Give the SDK's outbound client a transport without TLS set-up: the default one loads
    the CA bundle (tens of milliseconds per client) and these tests speak plain http."""
    http = auth0._rt.http
    assert http._client is None, "before the first outbound call"
    http._transport = httpx.AsyncHTTPTransport(verify=False)
    return auth0


def new_env(op: Any, **options: Any) -> Env:
    options.setdefault("http_timeout", HTTP_TIMEOUT)
    options.setdefault("client_id", op.client_id)
    options.setdefault("client_secret", op.client_secret)
    auth0 = plain_http(make_client(op, **options))
    seed = plain_http(make_client(op, **options))
    return Env(
        op=op,
        auth0=auth0,
        seed=seed,
        browser=Browser(fault_app(auth0)),
        seed_browser=Browser(fault_app(seed)),
        secrets=[op.client_secret, SECRET],
    )
