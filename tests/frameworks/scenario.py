"""The one end-to-end scenario every framework integration must pass.

An example app (``examples/<framework>_app.py``, built by its ``create_app(**options)``) is
served by its framework's real server on 127.0.0.1 against the real ``oidc-provider``. Every
example offers the same pages, so one scenario drives them all:

* ``GET /``             public; ``{"user": <sub or null>}``
* ``GET /protected``    page: anonymous users are redirected to log in; else ``hello <sub>``
* ``GET /api/private``  API: 401 JSON when anonymous; else ``{"sub": ...}``
* ``GET /api/token``    ``{"token", "expires_at"}`` from ``get_access_token()``; with
                        ``?refresh=1`` a refresh is forced (and must be persisted)
* the SDK's ``/auth/*`` routes.
"""

from __future__ import annotations

import httpx

from tests.support.apps import Browser
from tests.support.oidc_provider import complete_login_async

SECRET = "framework-secret-0123456789abcdef0123456789ab"


def auth0_options(
    domain: str, client_id: str, client_secret: str, app_url: str
) -> dict[str, object]:
    """What each example's ``create_app(**options)`` receives to use the test provider."""
    return {
        "domain": domain,
        "client_id": client_id,
        "client_secret": client_secret,
        "secret": SECRET,
        "app_base_url": app_url,
        "allow_insecure_requests": True,  # the test provider is plain http on localhost
        "authorization_parameters": {"scope": "openid profile email offline_access"},
    }


async def run_scenario(app_url: str, user: str) -> None:
    """Login → protected page → access token (cached, then refreshed) → logout."""
    async with Browser(base_url=app_url) as browser, httpx.AsyncClient(timeout=30) as op:
        # Anonymous.
        home = await browser.get("/")
        assert home.status_code == 200, home.text
        assert home.json() == {"user": None}
        page = await browser.get("/protected")
        assert page.status_code in (302, 307), page.text
        location = page.headers["location"]
        assert location.endswith("/auth/login?returnTo=%2Fprotected"), location
        api = await browser.get("/api/private")
        assert api.status_code == 401, api.text
        assert api.headers["content-type"].startswith("application/json")
        assert (await browser.get("/auth/profile")).status_code == 401

        # Log in through the provider's pages.
        start = await browser.get("/auth/login?returnTo=/protected")
        assert start.status_code in (302, 307), start.text
        callback_url = await complete_login_async(start.headers["location"], user, client=op)
        assert callback_url.startswith(app_url + "/auth/callback?"), callback_url
        callback = await browser.get(callback_url)
        assert callback.status_code in (302, 307), callback.text
        assert callback.headers["location"] in ("/protected", app_url + "/protected")
        assert browser.session_cookie_names() == ["__session"]
        assert browser.txn_cookie_names() == []

        # Logged in.
        assert (await browser.get("/")).json() == {"user": user}
        page = await browser.get("/protected")
        assert page.status_code == 200, page.text
        assert page.text == f"hello {user}"
        api = await browser.get("/api/private")
        assert api.status_code == 200, api.text
        assert api.json() == {"sub": user}
        profile = await browser.get("/auth/profile")
        assert profile.status_code == 200 and profile.json()["sub"] == user

        # Access tokens: the cached one, the same through the SDK route, then a forced
        # refresh whose result the next request sees (it was written to the cookie).
        first = await browser.get("/api/token")
        assert first.status_code == 200, first.text
        token = first.json()["token"]
        route = await browser.get("/auth/access-token")
        assert route.status_code == 200 and route.json()["token"] == token
        refreshed = await browser.get("/api/token?refresh=1")
        assert refreshed.status_code == 200, refreshed.text
        new_token = refreshed.json()["token"]
        assert new_token != token
        assert any(h.startswith("__session=") for h in refreshed.headers.get_list("set-cookie")), (
            "the refreshed token set was not persisted"
        )
        again = await browser.get("/api/token")
        assert again.json()["token"] == new_token

        # Log out: the session cookie goes, the pages are closed again.
        logout = await browser.get("/auth/logout")
        assert logout.status_code in (302, 307), logout.text
        assert browser.session_cookie_names() == []
        page = await browser.get("/protected")
        assert page.status_code in (302, 307)
        assert (await browser.get("/api/private")).status_code == 401
