"""Shared steps and assertions for the attack tests.

Redirect targets are judged with a WHATWG URL parser (``ada_url``), i.e. the way a browser
reads them, not with :mod:`urllib.parse` (which misreads ``/\\evil`` and friends).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import ada_url
import httpx
from fastapi import FastAPI
from starlette.responses import PlainTextResponse

from auth0_web import Auth0Client
from auth0_web.session._codec import CookieCodec
from tests.support.apps import APP_BASE, SECRET, Browser, parse_set_cookie
from tests.support.scripted_op import ScriptedOP

APP_ORIGIN = APP_BASE

# The SDK's fixed callback / login messages.
MSG_STATE_MISSING = "The state parameter is missing."

#: The OAuth parameters the SDK always sets itself (stated here, not imported from src).
RESERVED = (
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "state",
    "nonce",
)

MISSING: Any = object()


def with_member(document: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with ``key`` set to ``value``, or removed for ``MISSING``."""
    document = dict(document)
    if value is MISSING:
        document.pop(key, None)
    else:
        document[key] = value
    return document


MSG_STATE_INVALID = "The state parameter is invalid."
MSG_AUTHZ = "An error occurred during the authorization flow."
MSG_EXCHANGE = "An error occurred while trying to exchange the authorization code."
MSG_LOGIN_FAIL = "An error occurred while trying to initiate the login request."
MSG_LOGOUT_FAIL = "An error occurred while trying to initiate the logout request."
MSG_DISCOVERY = "Discovery failed for the OpenID Connect configuration."
MSG_BAD_QUERY = "The request's query string is malformed."
MSG_ORIGIN = "APP_BASE_URL does not contain a match for the current request origin."
MSG_NO_BASE = "The application base URL could not be determined."

TXN_PREFIX = "__txn_"
SESSION_NAME = "__session"


# --------------------------------------------------------------------------------------
# Flows
# --------------------------------------------------------------------------------------


async def start_login(browser: Browser, query: str = "", **kwargs: Any) -> str:
    """``GET /auth/login[?query]``; asserts the 307 and returns the authorize URL."""
    url = "/auth/login" + (f"?{query}" if query else "")
    response = await browser.get(url, **kwargs)
    assert response.status_code == 307, (response.status_code, response.text)
    return str(response.headers["location"])


async def login_until_callback(
    browser: Browser, op: ScriptedOP, query: str = "", **kwargs: Any
) -> tuple[str, str]:
    """Start a login and let the OP log the user in; ``(authorize_url, callback_url)``."""
    authorize_url = await start_login(browser, query, **kwargs)
    return authorize_url, await op.alogin(authorize_url)


async def full_login(
    browser: Browser, op: ScriptedOP, query: str = "", **kwargs: Any
) -> httpx.Response:
    """Login + OP login + ``GET`` the callback; returns the callback response."""
    _, callback = await login_until_callback(browser, op, query, **kwargs)
    return await browser.get(callback, **kwargs)


def query_params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def query_lists(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def state_of(url: str) -> str:
    return query_params(url)["state"]


# --------------------------------------------------------------------------------------
# Cookies
# --------------------------------------------------------------------------------------


def set_cookies(response: httpx.Response) -> list[tuple[str, str, dict[str, str]]]:
    return [parse_set_cookie(h) for h in response.headers.get_list("set-cookie")]


def is_session_name(name: str) -> bool:
    return name == SESSION_NAME or name.startswith(SESSION_NAME + "__")


def session_set_cookies(response: httpx.Response) -> list[tuple[str, str, dict[str, str]]]:
    return [c for c in set_cookies(response) if is_session_name(c[0])]


def txn_set_cookies(response: httpx.Response) -> list[tuple[str, str, dict[str, str]]]:
    return [c for c in set_cookies(response) if c[0].startswith(TXN_PREFIX)]


def is_deletion(attrs: dict[str, str]) -> bool:
    return attrs.get("max-age") is not None and int(attrs["max-age"]) <= 0


def assert_no_session_written(response: httpx.Response) -> None:
    """No ``Set-Cookie`` creates or changes a session (deletions are allowed)."""
    written = [n for n, v, a in session_set_cookies(response) if v and not is_deletion(a)]
    assert not written, f"session cookie written: {written}"


def assert_no_set_cookie(response: httpx.Response) -> None:
    assert response.headers.get_list("set-cookie") == [], response.headers.get_list("set-cookie")


def assert_txn_deleted(response: httpx.Response, state: str) -> None:
    name = TXN_PREFIX + state
    matches = [a for n, v, a in txn_set_cookies(response) if n == name]
    assert matches, f"transaction cookie {name} not deleted"
    assert is_deletion(matches[-1]) and matches[-1].get("path") == "/"


def session_cookie_header(browser: Browser) -> str:
    return "; ".join(f"{k}={v}" for k, v in browser.cookies.items() if is_session_name(k))


def decrypt(value: str, secret: str | list[str] = SECRET) -> dict[str, Any] | None:
    """Decrypt one of the SDK's cookie values (a txn value may carry a ``<ts>:`` prefix)."""
    secrets = [secret] if isinstance(secret, str) else secret
    _, sep, rest = value.partition(":")
    return CookieCodec(secrets).decrypt(rest if sep else value, now=time.time())


# --------------------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------------------


async def assert_no_session(browser: Browser, response: httpx.Response | None = None) -> None:
    """NO-SESSION: nothing created a session and the browser is anonymous."""
    if response is not None:
        assert_no_session_written(response)
    profile = await browser.get("/auth/profile")
    assert profile.status_code == 401, (profile.status_code, profile.text)
    assert_no_session_written(profile)


def assert_safe_text(response: httpx.Response, *secrets: str) -> None:
    """The body is inert: no markup, no token or secret, no traceback."""
    body = response.text
    lowered = body.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered and "onerror" not in lowered
    assert "traceback" not in lowered and 'file "' not in lowered
    for secret in secrets:
        if secret:
            assert secret not in body, f"secret echoed: {secret[:12]}..."
    for name, value in response.headers.items():
        if name.lower() == "set-cookie":
            continue
        for secret in secrets:
            if secret:
                assert secret not in value, f"secret echoed in header {name}"


def assert_safe_redirect(location: str, app_origin: str = APP_ORIGIN) -> ada_url.URL:
    """SAFE-REDIRECT, judged as a browser would resolve ``location`` on the app."""
    assert location, "empty Location"
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in location), repr(location)
    url = ada_url.URL(location, app_origin + "/")
    assert url.origin == app_origin, f"{location!r} resolves to origin {url.origin}"
    assert url.pathname.startswith("/") and not url.pathname.startswith(("//", "/\\"))
    # The absolute form the SDK emits must itself name the app origin, with a single '/'.
    assert location.startswith(app_origin + "/"), location
    rest = location[len(app_origin) :]
    assert not rest.startswith(("//", "/\\")), location
    return url


def assert_error_response(
    response: httpx.Response, status: int, message: str, *, no_store: bool = True
) -> None:
    """A fixed plain-text error (with ``Cache-Control: no-store``) and no redirect."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.text == message, response.text
    assert response.headers["content-type"].startswith("text/plain")
    if no_store:
        assert "no-store" in response.headers.get("cache-control", "")
    assert "location" not in response.headers
    assert_safe_text(response)


def assert_cb_reject(
    response: httpx.Response,
    message: str,
    *,
    state: str | None = None,
    status: int = 400,
    secrets: tuple[str, ...] = (),
) -> None:
    """CB-REJECT; with ``state`` the matching transaction cookie must be deleted."""
    assert_error_response(response, status, message)
    assert_safe_text(response, *secrets)
    assert_no_session_written(response)
    if state is not None:
        assert_txn_deleted(response, state)


# --------------------------------------------------------------------------------------
# Misc
# --------------------------------------------------------------------------------------


def flip_char(segment: str, index: int | None = None) -> str:
    """Change one base64url character (the middle one by default)."""
    i = len(segment) // 2 if index is None else index
    replacement = "A" if segment[i] != "A" else "B"
    return segment[:i] + replacement + segment[i + 1 :]


def catchall_app(auth0: Auth0Client) -> Any:
    """An app whose every path is a protected page (the GHSA-7p99-3798-f85c shape)."""
    app = FastAPI()

    @app.get("/{path:path}")
    @auth0.with_page_auth_required
    async def page(path: str) -> PlainTextResponse:
        return PlainTextResponse("page " + path)

    return auth0.middleware(app)
