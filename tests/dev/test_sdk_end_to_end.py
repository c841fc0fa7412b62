"""The real SDK against the dev provider, both served by uvicorn, over real HTTP.

An app made with ``Auth0Client`` logs in (the login page's form is parsed and posted, as a
browser would), reads ``/auth/profile``, and logs out through ``/oidc/logout`` or
``/v2/logout``; the provider's session must be over afterwards. Nothing here is mocked.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from auth0_web import Auth0Client
from auth0_web.dev import DevClient, DevProvider
from tests.support.apps import Browser, free_port, make_app, serve

from .helpers import ROLES, parse_page, query_of, without_query

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

APP_CLIENT_ID = "sdk-app"
APP_CLIENT_SECRET = "sdk-app-secret-0123456789abcdef"


async def _login(browser: Browser, op: httpx.AsyncClient, app_url: str, user: str) -> None:
    start = await browser.get("/auth/login?returnTo=/protected")
    assert start.status_code in (302, 307), start.text
    authorize_url = start.headers["location"]
    assert authorize_url.startswith(op.base_url.join("/authorize").__str__())

    page = await op.get(authorize_url)
    assert page.status_code == 200, page.text
    form = parse_page(page.text).login_form(user)
    chosen = await op.post(form.action, data=form.fields)
    assert chosen.status_code == 302, chosen.text
    callback_url = chosen.headers["location"]
    assert without_query(callback_url) == app_url + "/auth/callback"

    callback = await browser.get(callback_url)
    assert callback.status_code in (302, 307), callback.text
    assert callback.headers["location"] == app_url + "/protected"
    assert browser.session_cookie_names() == ["__session"]


async def _provider_session_ended(op: httpx.AsyncClient, browser: Browser) -> bool:
    """True when a new login shows the login page again."""
    start = await browser.get("/auth/login")
    page = await op.get(start.headers["location"])
    return page.status_code == 200 and "Continue as" in page.text


async def _run(signing_key: RSAKey, logout_strategy: str, **client_options: Any) -> None:
    app_port = free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    registered = DevClient(
        APP_CLIENT_ID,
        APP_CLIENT_SECRET,
        redirect_uris=[app_url + "/auth/callback"],
        logout_urls=[app_url + "/"],
    )
    with DevProvider(clients=[registered], signing_key=signing_key) as provider:
        auth0 = Auth0Client(
            domain=provider.domain,
            allow_insecure_requests=True,
            client_id=APP_CLIENT_ID,
            client_secret=APP_CLIENT_SECRET,
            secret="x" * 40,
            app_base_url=app_url,
            logout_strategy=logout_strategy,
            **client_options,
        )
        # The SDK's HTTP client lives on the app server's event loop (uvicorn's thread) and
        # ends with it, so it is not closed from this loop.
        with serve(make_app(auth0), app_port):
            async with (
                Browser(base_url=app_url) as browser,
                httpx.AsyncClient(base_url=provider.domain, follow_redirects=False) as op,
            ):
                await _scenario(browser, op, provider, app_url, logout_strategy)


async def _scenario(
    browser: Browser, op: httpx.AsyncClient, provider: DevProvider, app_url: str, strategy: str
) -> None:
    assert (await browser.get("/auth/profile")).status_code in (204, 401)
    await _login(browser, op, app_url, "Alice Example")

    profile = await browser.get("/auth/profile")
    assert profile.status_code == 200
    user = profile.json()
    assert user["sub"] == "auth0|alice"
    assert user["name"] == "Alice Example"
    assert user["email"] == "alice@example.com"
    assert (await browser.get("/protected")).text == "hello auth0|alice"
    tokens = (await browser.get("/tokens")).json()
    assert tokens["has_refresh_token"] and tokens["has_id_token"]
    assert tokens["token_type"] == "Bearer" and tokens["sid"]

    # A second login in the same browser reuses the provider session: no login page.
    start = await browser.get("/auth/login")
    silent = await op.get(start.headers["location"])
    assert silent.status_code == 302 and "code" in query_of(silent.headers["location"])

    logout = await browser.get("/auth/logout")
    assert logout.status_code in (302, 307)
    provider_logout = logout.headers["location"]
    expected_path = "/v2/logout" if strategy == "v2" else "/oidc/logout"
    assert without_query(provider_logout) == provider.url(expected_path)
    assert browser.session_cookie_names() == []

    back = await op.get(provider_logout)
    assert back.status_code == 302, back.text
    assert without_query(back.headers["location"]) == app_url + "/"
    assert await _provider_session_ended(op, browser)
    assert (await browser.get("/auth/profile")).status_code in (204, 401)

    # Bob can log in now, and his claims (no roles) come through.
    await _login(browser, op, app_url, "Bob Example")
    bob = (await browser.get("/auth/profile")).json()
    assert bob["sub"] == "auth0|bob" and ROLES not in bob


def _assert_no_sdk_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """The SDK warns when, e.g., revoking the refresh token at logout is refused."""
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []


async def test_sdk_login_profile_and_oidc_logout(
    signing_key: RSAKey, caplog: pytest.LogCaptureFixture
) -> None:
    await _run(signing_key, "oidc")
    _assert_no_sdk_warnings(caplog)


async def test_sdk_login_profile_and_v2_logout(
    signing_key: RSAKey, caplog: pytest.LogCaptureFixture
) -> None:
    await _run(signing_key, "v2")
    _assert_no_sdk_warnings(caplog)


async def test_sdk_with_client_secret_basic(
    signing_key: RSAKey, caplog: pytest.LogCaptureFixture
) -> None:
    await _run(signing_key, "auto", token_endpoint_auth_method="client_secret_basic")
    _assert_no_sdk_warnings(caplog)
