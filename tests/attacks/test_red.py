"""Group C (RED): redirects, ``returnTo`` and authorization-parameter injection."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.support.apps import Browser
from tests.support.scripted_op import ScriptedOP

from .conftest import Harness
from .helpers import (
    APP_ORIGIN,
    MSG_BAD_QUERY,
    RESERVED,
    TXN_PREFIX,
    assert_error_response,
    assert_no_set_cookie,
    assert_safe_redirect,
    catchall_app,
    full_login,
    query_lists,
    query_params,
    start_login,
    state_of,
    txn_set_cookies,
)

pytestmark = pytest.mark.anyio

DEFAULT = APP_ORIGIN + "/"

#: Cross-origin or otherwise unsafe ``returnTo`` values: all must fall back to the default.
CROSS_ORIGIN = [
    "https://evil.example",
    "http://evil.example/",
    "HTTP://EVIL.EXAMPLE",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "https:evil.example",
    "http:evil.example",
    "http:/evil.example",
    "https://127.0.0.1:3000",
    "http://127.0.0.1:8443",
    "http://127.0.0.1",
    "http://127.0.0.1:3000.evil.example",
    "http://127.0.0.1:3000@evil.example",
    "http://user:pass@127.0.0.1:3000/x",
    "http://evil.example#@127.0.0.1:3000",
    "http://evil.example?@127.0.0.1:3000",
    "http://evil.example\\@127.0.0.1:3000",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "  //evil.example",
    "http://127.0.0.1:3000%2F@evil.example",
    "http://[::1]:3000/",
    "http://0x7f.0.0.1:3000/",
]

#: Values that may stay on the app's origin: only SAFE-REDIRECT is required.
SAME_ORIGIN_ODDITIES = [
    "http://127.0.0.1:3000\\@evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "http://127.0.0.1.:3000/x",
    "/./evil.example",
    "dashboard",
    "?tab=1",
    "#frag",
]

DANGEROUS_SCHEMES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\r\nscript:alert(1)",
    "\tjavascript:alert(1)",
    " javascript:alert(1)",
    "javascript://%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "blob:http://127.0.0.1:3000/x",
]


async def login_with_return_to(h: Harness, op: ScriptedOP, value: str) -> httpx.Response:
    browser = h.browser()
    response = await full_login(browser, op, "returnTo=" + quote(value, safe=""))
    assert response.status_code == 307, (response.status_code, response.text)
    return response


# --------------------------------------------------------------------------------------
# RED-01  cross-origin returnTo
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", CROSS_ORIGIN)
async def test_red01_cross_origin_return_to_falls_back(
    h: Harness, op: ScriptedOP, value: str
) -> None:
    response = await login_with_return_to(h, op, value)
    location = response.headers["location"]
    assert_safe_redirect(location)
    assert location == DEFAULT


@pytest.mark.parametrize("value", SAME_ORIGIN_ODDITIES)
async def test_red01_same_origin_oddities_stay_on_app(
    h: Harness, op: ScriptedOP, value: str
) -> None:
    response = await login_with_return_to(h, op, value)
    assert_safe_redirect(response.headers["location"])


async def test_red01_control_same_origin_kept(h: Harness, op: ScriptedOP) -> None:
    for value in ("/dashboard?tab=1#x", APP_ORIGIN + "/dashboard?tab=1#x"):
        response = await login_with_return_to(h, op, value)
        assert response.headers["location"] == APP_ORIGIN + "/dashboard?tab=1#x"


# --------------------------------------------------------------------------------------
# RED-02  triple slash after a same-origin prefix
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        APP_ORIGIN + "///evil.example",
        APP_ORIGIN + "////evil.example",
        APP_ORIGIN + "//evil.example",
        APP_ORIGIN + "/\\evil.example",
        APP_ORIGIN + "/\\/evil.example",
        APP_ORIGIN + "\\\\evil.example",
        APP_ORIGIN + "///evil.example/path?q=1#f",
        "/\\/evil.example",
    ],
)
async def test_red02_slash_runs_normalised(h: Harness, op: ScriptedOP, value: str) -> None:
    response = await login_with_return_to(h, op, value)
    url = assert_safe_redirect(response.headers["location"])
    assert url.host == "127.0.0.1:3000"
    assert url.pathname in ("/", "/evil.example", "/evil.example/path")


DOT_SEGMENT_PAYLOADS = [
    "/..//evil.example",
    "/.//evil.example",
    "/%2e%2e//evil.example",
    "/a/../..//evil.example",
    APP_ORIGIN + "/..//evil.example",
]


@pytest.mark.parametrize("value", DOT_SEGMENT_PAYLOADS)
async def test_red02_dot_segments_cannot_make_double_slash(
    h: Harness, op: ScriptedOP, value: str
) -> None:
    """A browser removes dot segments: ``/..//evil.example`` is read as ``//evil.example``,
    so the stored path must not start with ``//`` once dot segments are resolved."""
    response = await login_with_return_to(h, op, value)
    assert_safe_redirect(response.headers["location"])


@pytest.mark.parametrize("value", DOT_SEGMENT_PAYLOADS[:2])
async def test_red02_dot_segments_logout(h: Harness, op: ScriptedOP, value: str) -> None:
    browser = h.browser()
    response = await browser.get("/auth/logout?returnTo=" + quote(value, safe=""))
    [target] = query_lists(response.headers["location"])["post_logout_redirect_uri"]
    assert_safe_redirect(target)


# --------------------------------------------------------------------------------------
# RED-04  dangerous schemes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS_SCHEMES)
async def test_red04_dangerous_schemes_fall_back(h: Harness, op: ScriptedOP, value: str) -> None:
    browser = h.browser()
    authorize_url = await start_login(browser, "returnTo=" + quote(value, safe=""))
    assert "script" not in authorize_url.lower() and "returnTo" not in authorize_url
    callback = await op.alogin(authorize_url)
    response = await browser.get(callback)
    location = response.headers["location"]
    assert location == DEFAULT
    for fragment in ("script", "alert", "data:", "file:", "vbscript", "blob:"):
        assert fragment not in location.lower()


# --------------------------------------------------------------------------------------
# RED-06  oversized or malformed returnTo
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_query", "expected"),
    [
        ("returnTo=/" + "a" * 8192, DEFAULT),
        ("returnTo=/" + "a" * 2000, APP_ORIGIN + "/" + "a" * 2000),
        ("returnTo=/" + "%C3%A9" * 1100, DEFAULT),  # 2200 UTF-8 bytes
        ("returnTo=%ZZ", APP_ORIGIN + "/%ZZ"),
        ("returnTo=%", APP_ORIGIN + "/%"),
        ("returnTo=/%25", APP_ORIGIN + "/%"),
    ],
    ids=["8KB", "2000B", "2200B-utf8", "bad-escape", "lone-percent", "encoded-percent"],
)
async def test_red06_oversized_or_odd_return_to(
    h: Harness, op: ScriptedOP, raw_query: str, expected: str
) -> None:
    browser = h.browser()
    response = await browser.get("/auth/login?" + raw_query)
    assert response.status_code == 307
    [(name, value, _)] = txn_set_cookies(response)
    assert len(name) + 1 + len(value) < 4096
    callback = await op.alogin(response.headers["location"])
    final = await browser.get(callback)
    assert final.headers["location"] == expected
    assert_safe_redirect(final.headers["location"])


@pytest.mark.parametrize("raw", ["%C0%AF", "%ED%A0%80", "%FF", "/%C0%AF"])
async def test_red06_invalid_utf8_return_to_400(h: Harness, op: ScriptedOP, raw: str) -> None:
    browser = h.browser()
    response = await browser.get("/auth/login?returnTo=" + raw)
    assert_error_response(response, 400, MSG_BAD_QUERY)
    assert_no_set_cookie(response)
    assert op.count("/authorize") == 0


# --------------------------------------------------------------------------------------
# RED-07  protected page redirect and parameter injection
# --------------------------------------------------------------------------------------


async def raw_get(browser: Browser, path_and_query: str) -> httpx.Response:
    """GET a path exactly as given (``//x`` stays a path, not an authority)."""
    headers = {"cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())}
    browser.client.cookies.clear()
    response = await browser.client.get(httpx.URL(APP_ORIGIN + path_and_query), headers=headers)
    browser.absorb(response)
    return response


@pytest.mark.parametrize(
    "path",
    ["//evil.example", "/\\evil.example", "///evil.example", "//evil.example/%2e%2e/x"],
)
async def test_red07_catchall_protected_page_redirects_safely(
    h: Harness, op: ScriptedOP, path: str
) -> None:
    client = h.client()
    browser = h.browser(catchall_app(client))
    response = await raw_get(browser, path)
    assert response.status_code == 307
    location = response.headers["location"]
    assert urlsplit(location).path == "/auth/login"
    assert not location.startswith("//")
    [return_to] = query_lists(location)["returnTo"]
    assert return_to.startswith("/")

    authorize_url = await start_login(browser, urlsplit(location).query)
    final = await browser.get(await op.alogin(authorize_url))
    assert final.status_code == 307
    assert_safe_redirect(final.headers["location"])
    assert final.headers["location"] == DEFAULT


async def test_red07_page_query_params_not_injected(h: Harness, op: ScriptedOP) -> None:
    page = "/protected?x=1&prompt=none&audience=https://other-api&connection=evil"
    browser = h.browser()
    response = await browser.get(page)
    assert response.status_code == 307
    location = response.headers["location"]
    split = urlsplit(location)
    assert split.path == "/auth/login" and not split.netloc
    # Fully encoded: one parameter only, carrying the whole path and query.
    assert query_lists(location) == {"returnTo": [page]}
    assert "&" not in split.query

    authorize_url = await start_login(browser, split.query)
    authorize = query_params(authorize_url)
    for leaked in ("x", "prompt", "audience", "connection"):
        assert leaked not in authorize
    final = await browser.get(await op.alogin(authorize_url))
    seen = op.last("/authorize").query
    for leaked in ("x", "prompt", "audience", "connection"):
        assert leaked not in seen
    assert final.status_code == 307
    assert final.headers["location"] == APP_ORIGIN + page
    assert_safe_redirect(final.headers["location"])
    assert (await browser.get(page)).status_code == 200


# --------------------------------------------------------------------------------------
# RED-08  reserved authorization parameters
# --------------------------------------------------------------------------------------

DROPPED = (
    "request",
    "request_uri",
    "response_mode",
    "dpop_jkt",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
)


def _hostile_params(response_type: str, response_mode: str) -> dict[str, str]:
    return {
        "redirect_uri": "https://evil.example/cb",
        "client_id": "other-client",
        "response_type": response_type,
        "state": "attacker-state",
        "nonce": "attacker-nonce",
        "code_challenge": "attacker-challenge",
        "code_challenge_method": "plain",
        "request": "eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwczovL2V2aWwifQ.",
        "request_uri": "urn:ietf:params:oauth:request_uri:evil",
        "dpop_jkt": "attacker-thumbprint",
        "response_mode": response_mode,
        "client_secret": "guess",
        "client_assertion": "x",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }


@pytest.mark.parametrize("response_type", ["token", "code id_token", "id_token"])
@pytest.mark.parametrize("response_mode", ["fragment", "form_post"])
@pytest.mark.parametrize("source", ["query", "config"])
async def test_red08_reserved_params_sdk_values_win(
    h: Harness, op: ScriptedOP, response_type: str, response_mode: str, source: str
) -> None:
    hostile = _hostile_params(response_type, response_mode)
    if source == "query":
        browser = h.browser()
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in hostile.items())
    else:
        browser = h.browser(h.client(authorization_parameters=hostile))
        query = ""
    authorize_url = await start_login(browser, query)
    lists = query_lists(authorize_url)
    for name in RESERVED:
        assert len(lists[name]) == 1, (name, lists[name])
    for name in DROPPED:
        assert name not in lists, name
    params = query_params(authorize_url)
    assert params["client_id"] == op.client_id
    assert params["redirect_uri"] == APP_ORIGIN + "/auth/callback"
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert params["state"] != "attacker-state" and params["nonce"] != "attacker-nonce"
    assert params["code_challenge"] != "attacker-challenge"
    assert browser.txn_cookie_names() == [TXN_PREFIX + params["state"]]

    final = await browser.get(await op.alogin(authorize_url))
    assert final.status_code == 307 and final.headers["location"] == DEFAULT


# --------------------------------------------------------------------------------------
# RED-09  third-party-initiated login
# --------------------------------------------------------------------------------------


async def test_red09_third_party_login_cannot_switch_op(h: Harness, op: ScriptedOP) -> None:
    trap = f"/evil-op-{uuid.uuid4().hex}"
    browser = h.browser()
    query = (
        f"iss={quote(op.url(trap) + '/', safe='')}"
        f"&target_link_uri={quote('https://evil.example/landing', safe='')}&login_hint=x"
    )
    authorize_url = await start_login(browser, query)
    assert authorize_url.startswith(op.base_url + "/authorize?")
    params = query_params(authorize_url)
    assert "iss" not in params and "target_link_uri" not in params
    assert params["login_hint"] == "x"
    final = await browser.get(await op.alogin(authorize_url))
    assert final.status_code == 307 and final.headers["location"] == DEFAULT
    assert not [r for r in op.requests if r.path.startswith(trap)]


# --------------------------------------------------------------------------------------
# RED-10  logout returnTo
# --------------------------------------------------------------------------------------

SAME_ORIGIN_LOGOUT = {
    "/goodbye?x=1": APP_ORIGIN + "/goodbye?x=1",
    APP_ORIGIN + "/goodbye": APP_ORIGIN + "/goodbye",
    APP_ORIGIN + "///evil.example": APP_ORIGIN + "/evil.example",
}
LOGOUT_PAYLOADS = [*CROSS_ORIGIN, *DANGEROUS_SCHEMES, *SAME_ORIGIN_LOGOUT]


def _logout_target(op: ScriptedOP, location: str, strategy: str) -> str:
    if strategy == "oidc":
        assert location.startswith(op.base_url + "/oidc/logout?"), location
        params = query_lists(location)
        assert len(params["post_logout_redirect_uri"]) == 1
        return params["post_logout_redirect_uri"][0]
    assert location.startswith(op.base_url + "/v2/logout?"), location
    params = query_lists(location)
    assert len(params["returnTo"]) == 1
    assert params["client_id"] == [op.client_id]
    return params["returnTo"][0]


def _logout_client(h: Harness, op: ScriptedOP, strategy: str) -> Any:
    if strategy == "v2":
        return h.client(logout_strategy="v2")
    if strategy == "auto-no-end-session":
        op.scenario.discovery = lambda doc: {
            k: v for k, v in doc.items() if k != "end_session_endpoint"
        }
    return h.client()


@pytest.mark.parametrize("strategy", ["auto", "v2", "auto-no-end-session"])
async def test_red10_logout_return_to_no_session(h: Harness, op: ScriptedOP, strategy: str) -> None:
    browser = h.browser(_logout_client(h, op, strategy))
    kind = "oidc" if strategy == "auto" else "v2"
    for value in LOGOUT_PAYLOADS:
        response = await browser.get("/auth/logout?returnTo=" + quote(value, safe=""))
        assert response.status_code == 307, value
        target = _logout_target(op, response.headers["location"], kind)
        assert target == SAME_ORIGIN_LOGOUT.get(value, DEFAULT), value
        assert_safe_redirect(target)


@pytest.mark.parametrize("strategy", ["auto", "v2"])
async def test_red10_logout_return_to_with_session(
    h: Harness, op: ScriptedOP, strategy: str
) -> None:
    client = _logout_client(h, op, strategy)
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    session = dict(browser.cookies)
    for value in LOGOUT_PAYLOADS:
        browser.cookies.clear()
        browser.cookies.update(session)
        response = await browser.get("/auth/logout?returnTo=" + quote(value, safe=""))
        assert response.status_code == 307
        kind = "oidc" if strategy == "auto" else "v2"
        target = _logout_target(op, response.headers["location"], kind)
        assert target == SAME_ORIGIN_LOGOUT.get(value, DEFAULT), value
        assert not browser.session_cookie_names()


async def test_red10_logout_state_is_one_parameter(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser()
    state = "x&post_logout_redirect_uri=https://evil.example"
    response = await browser.get("/auth/logout?state=" + quote(state, safe=""))
    lists = query_lists(response.headers["location"])
    assert lists["state"] == [state]
    assert lists["post_logout_redirect_uri"] == [DEFAULT]


async def test_red10_login_state_unaffected(h: Harness, op: ScriptedOP) -> None:
    """A login started after a hostile logout still completes to the default page."""
    browser = h.browser()
    await browser.get("/auth/logout?returnTo=" + quote("https://evil.example", safe=""))
    authorize_url = await start_login(browser)
    assert browser.txn_cookie_names() == [TXN_PREFIX + state_of(authorize_url)]
    final = await browser.get(await op.alogin(authorize_url))
    assert final.headers["location"] == DEFAULT
