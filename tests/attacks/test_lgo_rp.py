"""Group G, RP-initiated logout: LGO-02 (refresh-token revocation) and LGO-03 (``state``).

LGO-02: logout revokes the session's refresh token at the discovered
``revocation_endpoint``, best effort. Whatever that endpoint does (fails, hangs, redirects),
the logout itself finishes: the browser is sent to the provider's logout, every session
cookie is deleted, and the refresh token is never sent anywhere else.

LGO-03: the SDK makes no logout ``state`` of its own; a ``state`` the app passes in is
forwarded to the end-session endpoint as one encoded parameter, so it can smuggle in no
other parameter. Checking it on return is the application's job (see the security docs).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest

from auth0_web import Auth0Client
from tests.support.apps import Browser
from tests.support.scripted_op import ScriptedOP

from .conftest import Harness
from .helpers import (
    APP_ORIGIN,
    SESSION_NAME,
    full_login,
    is_deletion,
    query_lists,
    set_cookies,
    start_login,
    txn_set_cookies,
)
from .test_lgo import record_outbound

pytestmark = pytest.mark.anyio

REVOKE = "/oauth/revoke"
DISCOVERY = "/.well-known/openid-configuration"
DEFAULT = APP_ORIGIN + "/"


async def logged_in(h: Harness, op: ScriptedOP, **options: Any) -> tuple[Auth0Client, Browser, str]:
    """A session holding a refresh token; returns the client, the browser and the token."""
    client = h.client(**options)
    browser = h.browser(client)
    response = await full_login(browser, op)
    assert response.status_code == 307, response.text
    refresh_token = op.token_responses[-1]["refresh_token"]
    assert refresh_token
    return client, browser, refresh_token


def assert_logged_out(op: ScriptedOP, browser: Browser, response: httpx.Response) -> None:
    """The logout finished: a redirect to the provider's logout, every session cookie gone."""
    assert response.status_code == 307, (response.status_code, response.text)
    location = response.headers["location"]
    assert location.startswith(op.url("/oidc/logout") + "?"), location
    assert query_lists(location)["post_logout_redirect_uri"] == [DEFAULT]
    assert "no-store" in response.headers["cache-control"]
    deleted = [n for n, _, a in set_cookies(response) if n == SESSION_NAME and is_deletion(a)]
    assert deleted == [SESSION_NAME]
    written = [n for n, v, a in set_cookies(response) if v and not is_deletion(a)]
    assert written == []
    assert browser.session_cookie_names() == []


def token_seen_only_at(op: ScriptedOP, token: str, path: str) -> None:
    """``token`` reached the provider in exactly the requests to ``path`` (form bodies,
    queries and headers all searched)."""
    carriers = [
        r.path
        for r in op.requests
        if token in r.body.decode("utf-8", "replace")
        or token in r.raw_query
        or any(token in v for v in r.headers.values())
    ]
    assert carriers and set(carriers) == {path}, carriers


# --------------------------------------------------------------------------------------
# LGO-02  revocation failures never block the logout
# --------------------------------------------------------------------------------------


async def test_lgo02_refresh_token_is_revoked_at_the_discovered_endpoint(
    h: Harness, op: ScriptedOP
) -> None:
    """LGO-02 control: the refresh token goes to the discovered ``revocation_endpoint``
    (here moved to a custom path), with client authentication, and only there."""
    custom = f"/custom-revoke-{uuid.uuid4().hex}"
    op.scenario.discovery = lambda doc: {**doc, "revocation_endpoint": op.url(custom)}
    op.scenario.responses[custom] = lambda record: (200, {}, b"")
    _, browser, refresh_token = await logged_in(h, op)
    response = await browser.get("/auth/logout")
    assert_logged_out(op, browser, response)
    [revocation] = op.calls(custom)
    assert revocation.method == "POST"
    assert revocation.form["token"] == refresh_token
    assert revocation.form["token_type_hint"] == "refresh_token"
    assert set(revocation.form) <= {"token", "token_type_hint", "client_id", "client_secret"}
    assert revocation.form.get("client_secret") == op.client_secret or revocation.basic_auth()
    assert op.count(REVOKE) == 0
    token_seen_only_at(op, refresh_token, custom)


FAILURES: dict[str, Callable[[ScriptedOP, str], None]] = {
    "500-html": lambda op, trap: op.scenario.responses.__setitem__(
        REVOKE, lambda r: (500, {"content-type": "text/html"}, b"<h1>down</h1>")
    ),
    "503-json": lambda op, trap: op.scenario.status.__setitem__(REVOKE, 503),
    "400-unsupported": lambda op, trap: op.scenario.responses.__setitem__(
        REVOKE,
        lambda r: (
            400,
            {"content-type": "application/json"},
            b'{"error":"unsupported_token_type"}',
        ),
    ),
    "hang": lambda op, trap: op.scenario.delay.__setitem__(REVOKE, 2.0),
    "302-same-host": lambda op, trap: op.scenario.responses.__setitem__(
        REVOKE, lambda r: (302, {"location": op.url(trap)}, b"")
    ),
    "307-same-host": lambda op, trap: op.scenario.responses.__setitem__(
        REVOKE, lambda r: (307, {"location": op.url(trap)}, b"")
    ),
    "308-other-host": lambda op, trap: op.scenario.responses.__setitem__(
        REVOKE, lambda r: (308, {"location": f"http://127.0.0.1:{op.port}{trap}"}, b"")
    ),
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_lgo02_revocation_failure_does_not_block_logout(
    h: Harness, op: ScriptedOP, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    """LGO-02: the revocation endpoint fails, hangs past the timeout, or redirects (to the
    same or another host). Logout still finishes, the redirect is not followed, and the
    refresh token reaches no other URL and no log line."""
    trap = f"/revoke-elsewhere-{uuid.uuid4().hex}"
    _, browser, refresh_token = await logged_in(h, op, http_timeout=0.5)
    FAILURES[failure](op, trap)
    with caplog.at_level(logging.DEBUG, logger="auth0_web"):
        response = await browser.get("/auth/logout")
    assert_logged_out(op, browser, response)
    assert op.count(REVOKE) == 1  # one attempt, no retry
    assert op.count(trap) == 0
    token_seen_only_at(op, refresh_token, REVOKE)
    assert refresh_token not in response.text and refresh_token not in str(response.headers)
    for record in caplog.records:
        assert refresh_token not in record.getMessage()
        assert op.client_secret not in record.getMessage()
    # The session is over: the old cookie (if replayed) gives nothing either way.
    assert (await browser.get("/auth/profile")).status_code == 401


async def test_lgo02_no_revocation_endpoint_no_call(h: Harness, op: ScriptedOP) -> None:
    """LGO-02: without a discovered ``revocation_endpoint`` nothing is revoked (the SDK
    does not guess a URL) and the logout finishes."""
    op.scenario.discovery = lambda doc: {k: v for k, v in doc.items() if k != "revocation_endpoint"}
    client = h.client()
    transport = record_outbound(client)
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    response = await browser.get("/auth/logout")
    assert_logged_out(op, browser, response)
    assert op.count(REVOKE) == 0
    assert all(not url.split("?")[0].endswith("revoke") for url in transport.urls)


async def test_lgo02_session_without_refresh_token_revokes_nothing(
    h: Harness, op: ScriptedOP
) -> None:
    """LGO-02: nothing to revoke, no call; a tampered or absent session revokes nothing."""
    client = h.client(authorization_parameters={"scope": "openid profile email"})
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    assert "refresh_token" not in op.token_responses[-1]
    assert_logged_out(op, browser, await browser.get("/auth/logout"))
    anonymous = h.browser(client)
    anonymous.cookies[SESSION_NAME] = "garbage"
    assert (await anonymous.get("/auth/logout")).status_code == 307
    assert op.count(REVOKE) == 0


# --------------------------------------------------------------------------------------
# LGO-03  the logout state parameter
# --------------------------------------------------------------------------------------

HOSTILE_STATES = [
    "x&post_logout_redirect_uri=https://evil.example",
    "x%26post_logout_redirect_uri%3Dhttps%3A%2F%2Fevil.example",
    "x#client_id=evil",
    "x?id_token_hint=forged",
    "x\r\nLocation: https://evil.example",
    "\u00e9t\u00e9 \u2603 + /",
    "s" * 2000,
]


def _end_session_items(op: ScriptedOP, location: str) -> list[tuple[str, str]]:
    assert location.startswith(op.url("/oidc/logout") + "?"), location
    parts = urlsplit(location)
    assert parts.fragment == ""
    assert location.isascii() and not any(c in location for c in "\r\n ")
    return parse_qsl(parts.query, keep_blank_values=True)


@pytest.mark.parametrize("state", HOSTILE_STATES)
@pytest.mark.parametrize("logged", [True, False], ids=["session", "anonymous"])
async def test_lgo03_state_is_one_encoded_parameter(
    h: Harness, op: ScriptedOP, state: str, logged: bool
) -> None:
    """LGO-03: whatever ``state`` holds, the end-session URL carries it as exactly one
    ``state`` value and every other parameter once, with the SDK's own values."""
    client = h.client()
    browser = h.browser(client)
    if logged:
        assert (await full_login(browser, op)).status_code == 307
    response = await browser.get("/auth/logout?state=" + quote(state, safe=""))
    assert response.status_code == 307
    items = _end_session_items(op, response.headers["location"])
    names = [name for name, _ in items]
    assert len(names) == len(set(names)), names
    params = dict(items)
    assert params["state"] == state
    assert params["post_logout_redirect_uri"] == DEFAULT
    assert params["client_id"] == op.client_id
    if logged:
        assert params["id_token_hint"] == op.token_responses[-1]["id_token"]
    else:
        assert "id_token_hint" not in params and "logout_hint" not in params
    for _, value, _attrs in set_cookies(response):
        assert "evil" not in value  # the state is reflected nowhere but the provider URL


async def test_lgo03_sdk_makes_no_state_of_its_own(h: Harness, op: ScriptedOP) -> None:
    """LGO-03: without a ``state`` from the app none is sent and nothing is stored to
    check one against, so the provider's answer (another state, or none) changes nothing."""
    browser = h.browser()
    assert (await full_login(browser, op)).status_code == 307
    response = await browser.get("/auth/logout")
    params = dict(_end_session_items(op, response.headers["location"]))
    assert "state" not in params
    assert txn_set_cookies(response) == [] or all(
        is_deletion(a) for _, _, a in txn_set_cookies(response)
    )
    # The provider comes back to the app with a state nobody asked for, or with none.
    for query in ("?state=forged-by-the-provider", ""):
        back = await browser.get("/" + query)
        assert back.status_code == 200 and back.json() == {"user": None}
        assert back.headers.get_list("set-cookie") == []


async def test_lgo03_state_survives_the_round_trip_unchanged(h: Harness, op: ScriptedOP) -> None:
    """LGO-03: the provider returns the state exactly as the app sent it, so the app's own
    check (comparing it with what it stored) works."""
    state = "app-state-" + uuid.uuid4().hex + "&x=1"
    browser = h.browser()
    assert (await full_login(browser, op)).status_code == 307
    response = await browser.get("/auth/logout?state=" + quote(state, safe=""))
    async with httpx.AsyncClient(follow_redirects=False) as plain:
        back = await plain.get(response.headers["location"])
    assert back.status_code == 302
    returned = back.headers["location"]
    assert returned.startswith(DEFAULT)
    assert query_lists(returned)["state"] == [state]


async def test_lgo03_v2_logout_carries_no_state(h: Harness, op: ScriptedOP) -> None:
    """LGO-03: Auth0's ``/v2/logout`` has no ``state``; the value is dropped rather than
    appended where it could add parameters."""
    browser = h.browser(h.client(logout_strategy="v2"))
    state = "x&returnTo=https://evil.example"
    response = await browser.get("/auth/logout?state=" + quote(state, safe=""))
    location = response.headers["location"]
    assert location.startswith(op.url("/v2/logout") + "?")
    lists = query_lists(location)
    assert "state" not in lists
    assert lists["returnTo"] == [DEFAULT]


async def test_lgo03_logout_state_does_not_touch_logins_in_flight(
    h: Harness, op: ScriptedOP
) -> None:
    """LGO-03: a logout ``state`` equal to a login's state is not a transaction lookup:
    the logout deletes transactions by cookie name, never by the query's state."""
    browser = h.browser()
    authorize_url = await start_login(browser)
    login_state = dict(parse_qsl(urlsplit(authorize_url).query))["state"]
    response = await browser.get("/auth/logout?state=" + login_state)
    params = dict(_end_session_items(op, response.headers["location"]))
    assert params["state"] == login_state
    assert response.headers["location"].count(login_state) == 1
