"""Groups J (HTTP) and K (DOS-01): hostile requests to the app itself."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import httpx
import pytest

from tests.support.scripted_op import ScriptedOP

from .conftest import Harness
from .helpers import (
    APP_ORIGIN,
    MSG_NO_BASE,
    MSG_ORIGIN,
    MSG_STATE_MISSING,
    SESSION_NAME,
    TXN_PREFIX,
    assert_cb_reject,
    assert_error_response,
    assert_no_set_cookie,
    full_login,
    is_deletion,
    login_until_callback,
    query_lists,
    query_params,
    session_set_cookies,
    set_cookies,
    state_of,
    txn_set_cookies,
)

pytestmark = pytest.mark.anyio

ROUTES = ("/auth/login", "/auth/callback", "/auth/logout", "/auth/profile")


# --------------------------------------------------------------------------------------
# HTTP-01  Host and forwarded-header spoofing with a fixed base URL
# --------------------------------------------------------------------------------------

SPOOFS = {
    "host": {"host": "evil.example"},
    "x-forwarded-host": {"x-forwarded-host": "evil.example", "x-forwarded-proto": "https"},
    "x-forwarded-proto-javascript": {"x-forwarded-proto": "javascript"},
    "forwarded": {"forwarded": "host=evil.example;proto=https"},
    "all": {
        "host": "evil.example:8443",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "forwarded": "for=1.2.3.4;host=evil.example;proto=https",
    },
}


@pytest.mark.parametrize("spoof", list(SPOOFS))
async def test_http01_static_base_ignores_spoofed_headers(
    h: Harness, op: ScriptedOP, spoof: str
) -> None:
    headers = SPOOFS[spoof]
    browser = h.browser()
    login = await browser.get("/auth/login?returnTo=/after", headers=headers)
    assert login.status_code == 307
    params = query_params(login.headers["location"])
    assert params["redirect_uri"] == APP_ORIGIN + "/auth/callback"
    for _, _, attrs in set_cookies(login):
        assert "secure" not in attrs and "domain" not in attrs

    callback = await op.alogin(login.headers["location"])
    final = await browser.get(callback, headers=headers)
    assert final.status_code == 307
    assert final.headers["location"] == APP_ORIGIN + "/after"
    assert op.last("/oauth/token").form["redirect_uri"] == APP_ORIGIN + "/auth/callback"
    for _, _, attrs in set_cookies(final):
        assert "secure" not in attrs and "domain" not in attrs

    logout = await browser.get("/auth/logout?returnTo=/bye", headers=headers)
    assert query_lists(logout.headers["location"])["post_logout_redirect_uri"] == [
        APP_ORIGIN + "/bye"
    ]


# --------------------------------------------------------------------------------------
# HTTP-02  allow-list of base URLs
# --------------------------------------------------------------------------------------

ALLOW_LIST = ["http://good.example:3000", "http://127.0.0.1:3000"]

ACCEPTED_HOSTS = {
    "127.0.0.1:3000": "http://127.0.0.1:3000",
    "good.example:3000": "http://good.example:3000",
    "GOOD.EXAMPLE:3000": "http://good.example:3000",  # host names are case-insensitive
    "Good.Example:3000": "http://good.example:3000",
}

REJECTED_HOSTS = [
    "evil.example",
    "evil.example:3000",
    "good.example.evil.example:3000",
    "good.example.:3000",
    "good.example:3001",
    "good.example",
    "good.example:80",
    "good.example:03000",
    "good.example:3000@evil.example",
    "evil.example\\.good.example:3000",
    "good.example:3000, evil.example",
    "good.example:3000/evil",
    "xn--gd-nia.example:3000",
    "g\u043e\u043ed.example:3000",
    "[::1]:3000",
    "127.0.0.1:3000.evil.example",
    "",
]


def assert_origin_refused(response: httpx.Response) -> None:
    """400 with one of the two fixed origin messages, and no cookie at all."""
    assert response.status_code == 400, (response.status_code, response.text)
    message = MSG_ORIGIN if response.text == MSG_ORIGIN else MSG_NO_BASE
    assert_error_response(response, 400, message)
    assert_no_set_cookie(response)


@pytest.mark.parametrize("host", list(ACCEPTED_HOSTS))
async def test_http02_allow_list_accepts_exact_origin(
    h: Harness, op: ScriptedOP, host: str
) -> None:
    browser = h.browser(h.client(app_base_url=ALLOW_LIST))
    login = await browser.get("/auth/login", headers={"host": host})
    assert login.status_code == 307
    expected = ACCEPTED_HOSTS[host]
    assert query_params(login.headers["location"])["redirect_uri"] == expected + "/auth/callback"
    assert len(txn_set_cookies(login)) == 1


@pytest.mark.parametrize("host", REJECTED_HOSTS)
async def test_http02_allow_list_rejects_other_origins(
    h: Harness, op: ScriptedOP, host: str
) -> None:
    client = h.client(app_base_url=ALLOW_LIST)
    browser = h.browser(client)
    headers = {"host": host.encode("utf-8")}
    login = await browser.get("/auth/login", headers=headers)
    assert_origin_refused(login)
    assert op.count("/authorize") == 0

    # The other routes refuse the origin too, before any token call or cookie change.
    session_browser = h.browser(client)
    assert (await full_login(session_browser, op)).status_code == 307
    _, callback = await login_until_callback(session_browser, op)
    for path in (callback, "/auth/logout?returnTo=/x"):
        response = await session_browser.request("GET", path, headers=headers)
        assert_origin_refused(response)
    assert op.count("/oauth/token") == 1
    # App routes keep working but never write cookies for a foreign origin.
    home = await session_browser.get("/", headers=headers)
    assert home.status_code == 200
    assert_no_set_cookie(home)


@pytest.mark.parametrize(
    ("host", "forwarded_host", "expected"),
    [
        ("127.0.0.1:3000", "evil.example", "http://127.0.0.1:3000"),
        ("127.0.0.1:3000", "good.example:3000", "http://127.0.0.1:3000"),
        ("evil.example", "good.example:3000", None),
    ],
)
async def test_http02_forwarded_host_not_trusted(
    h: Harness, op: ScriptedOP, host: str, forwarded_host: str, expected: str | None
) -> None:
    browser = h.browser(h.client(app_base_url=ALLOW_LIST))
    headers = {"host": host, "x-forwarded-host": forwarded_host, "forwarded": "host=" + host}
    login = await browser.get("/auth/login", headers=headers)
    if expected is None:
        assert_origin_refused(login)
    else:
        assert login.status_code == 307
        redirect_uri = query_params(login.headers["location"])["redirect_uri"]
        assert redirect_uri == expected + "/auth/callback"


# --------------------------------------------------------------------------------------
# HTTP-04  method confusion and prefetch
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "DELETE", "OPTIONS"])
async def test_http04_wrong_method_falls_through(h: Harness, op: ScriptedOP, method: str) -> None:
    client = h.client()
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    authorize_url, callback = await login_until_callback(browser, op)
    state = state_of(authorize_url)
    tokens = op.count("/oauth/token")
    for path in ROUTES:
        target = callback if path == "/auth/callback" else path
        kwargs = {}
        if method == "POST" and path == "/auth/callback":  # a form_post-style callback
            kwargs = {"data": query_params(callback)}
            target = path
        response = await browser.request(method, target, **kwargs)
        assert response.status_code in (404, 405), (method, path, response.status_code)
        for name, _, attrs in set_cookies(response):
            assert not is_deletion(attrs), (method, path, name)  # nothing logged out/cleared
            assert not name.startswith(TXN_PREFIX), (method, path, name)
    assert op.count("/oauth/token") == tokens  # NO-TOKEN-CALL for the form_post attempt
    assert TXN_PREFIX + state in browser.cookies
    assert (await browser.get("/auth/profile")).status_code == 200


PREFETCH_HEADERS = [
    {"sec-purpose": "prefetch"},
    {"purpose": "prefetch"},
    {"next-router-prefetch": "1"},
    {"Sec-Purpose": "Prefetch"},
]


@pytest.mark.parametrize("headers", PREFETCH_HEADERS, ids=lambda h: "-".join(h))
@pytest.mark.parametrize("path", ["/auth/login", "/auth/logout"])
async def test_http04_prefetch_has_no_side_effects(
    h: Harness, op: ScriptedOP, headers: dict[str, str], path: str
) -> None:
    browser = h.browser()
    assert (await full_login(browser, op)).status_code == 307
    before = dict(browser.cookies)
    response = await browser.get(path, headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_no_set_cookie(response)
    assert "location" not in response.headers
    assert browser.cookies == before
    assert (await browser.get("/auth/profile")).status_code == 200


# --------------------------------------------------------------------------------------
# HTTP-05  malformed query strings
# --------------------------------------------------------------------------------------

MALFORMED_QUERIES = {
    "bad-escape": "state=%ZZ&code=x&returnTo=%ZZ",
    "lone-percent": "state=%&code=%&returnTo=%",
    "nul": "state=%00&code=%00&returnTo=/%00",
    "nul-in-name": "st%00ate=x&return%00To=/x",
    "overlong-utf8": "state=%C0%AF&returnTo=%C0%AF",
    "surrogate": "state=%ED%A0%80&returnTo=%ED%A0%80",
    "semicolons": "code=x;state=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG;returnTo=//evil",
    "plus-vs-space": "state=a+b&returnTo=/a+b%20c",
    "5000-params": "&".join(f"p{i}=1" for i in range(5000)),
    "60KB": "returnTo=/" + "a" * 60_000,
    "empty-name": "=x&==&=",
    "array-syntax": "state[]=a&returnTo[]=//evil&max_age[]=1",
    "only-ampersands": "&&&&",
    "repeated": "returnTo=/a&returnTo=//evil.example&returnTo=/b",
}


@pytest.mark.parametrize("variant", list(MALFORMED_QUERIES))
async def test_http05_malformed_query_never_500(h: Harness, op: ScriptedOP, variant: str) -> None:
    client = h.client()
    browser = h.browser(client)
    query = MALFORMED_QUERIES[variant]
    for path in ROUTES:
        response = await browser.client.get(httpx.URL(APP_ORIGIN + path + "?" + query))
        assert response.status_code in (204, 307, 400, 401), (path, response.status_code)
        assert response.status_code != 500
        assert "traceback" not in response.text.lower()
        if response.status_code == 400:
            assert response.headers["content-type"].startswith("text/plain")
            assert_no_set_cookie(response)
        if path == "/auth/login" and response.status_code == 307:
            location = response.headers["location"]
            assert location.startswith(op.base_url + "/authorize?")
            lists = query_lists(location)
            assert lists["redirect_uri"] == [APP_ORIGIN + "/auth/callback"]
            assert len(lists["state"]) == 1 and len(lists["response_type"]) == 1
        if path == "/auth/callback":
            assert response.status_code == 400
    assert op.count("/oauth/token") == 0


async def test_http05_no_smuggling_through_semicolon(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser()
    authorize_url, callback = await login_until_callback(browser, op)
    state = state_of(authorize_url)
    code = query_params(callback)["code"]
    response = await browser.get(f"/auth/callback?code={code};state={state}")
    assert_cb_reject(response, MSG_STATE_MISSING)
    assert op.count("/oauth/token") == 0
    login = await browser.get("/auth/login?returnTo=/ok;returnTo=//evil.example")
    final = await browser.get(await op.alogin(login.headers["location"]))
    assert final.headers["location"] == APP_ORIGIN + "/ok;returnTo=//evil.example"


# --------------------------------------------------------------------------------------
# HTTP-06  malformed or oversized headers and cookies
# --------------------------------------------------------------------------------------


def _cookie_variants(session: str) -> dict[str, bytes]:
    many = "; ".join(f"c{i}={secrets.token_hex(8)}" for i in range(200))
    return {
        "200-cookies": f"{many}; __session={session}".encode(),
        "64KB-cookie": f"big={'a' * 64 * 1024}; __session={session}".encode(),
        "quoted-names": f'"q"=1; a"b=2; __session={session}'.encode(),
        "unicode-names": f"\u00fcn\u00ef=1; \u2603=2; __session={session}".encode(),
        "quoted-value-semicolon": f'x="a;b"; __session={session}'.encode(),
        "no-equals": f"garbage; __session={session}; =novalue; ==; ;;".encode(),
        "latin1-bytes": b"\xe9t\xe9=caf\xe9; __session=" + session.encode(),
        "quoted-session": f'__session="{session}"'.encode(),
        "whitespace": f"   __session  =  {session}  ".encode(),
        "duplicate-session": f"__session={session}; __session=garbage".encode(),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "200-cookies",
        "64KB-cookie",
        "quoted-names",
        "unicode-names",
        "quoted-value-semicolon",
        "no-equals",
        "latin1-bytes",
        "quoted-session",
        "whitespace",
        "duplicate-session",
    ],
)
async def test_http06_hostile_cookie_headers(h: Harness, op: ScriptedOP, variant: str) -> None:
    client = h.client()
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    header = _cookie_variants(browser.cookies[SESSION_NAME])[variant]
    for path in ("/auth/profile", "/", "/auth/callback?state=abcdefghijklmnopqrstuvwxyz012"):
        browser.client.cookies.clear()
        response = await browser.client.get(path, headers={"cookie": header})
        assert response.status_code in (200, 307, 400, 401, 431), (path, response.status_code)
        assert "traceback" not in response.text.lower()
        if path == "/auth/profile":
            assert response.status_code == 200  # the SDK cookie is still read
        for value in response.headers.values():
            assert "caf" not in value and "garbage" not in value  # nothing echoed


async def test_http06_repeated_and_odd_host_headers(h: Harness, op: ScriptedOP) -> None:
    static = h.browser(h.client())
    listed = h.browser(h.client(app_base_url=ALLOW_LIST))
    raw = [("host", "127.0.0.1:3000"), ("host", "evil.example")]
    response = await static.client.get("/auth/login", headers=raw)
    assert response.status_code == 307
    assert query_params(response.headers["location"])["redirect_uri"] == (
        APP_ORIGIN + "/auth/callback"
    )
    response = await listed.client.get("/auth/login", headers=raw)
    assert_origin_refused(response)
    response = await listed.client.get("/auth/login", headers={"host": b"good.example:3000\xff"})
    assert_origin_refused(response)


# --------------------------------------------------------------------------------------
# DOS-01  piling up transaction cookies
# --------------------------------------------------------------------------------------


def _txn_bytes(cookies: dict[str, str]) -> int:
    return sum(len(n) + 1 + len(v) for n, v in cookies.items() if n.startswith(TXN_PREFIX))


async def test_dos01_abandoned_logins_stay_bounded(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser()
    last = ""
    for _ in range(200):
        response = await browser.get("/auth/login?returnTo=" + quote("/" + "p" * 200))
        assert response.status_code == 307
        assert len(response.headers.get_list("set-cookie")) <= 8
        last = response.headers["location"]
        assert TXN_PREFIX + state_of(last) in browser.cookies  # the newest is never evicted
        assert _txn_bytes(browser.cookies) < 4096
    header = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    assert len(header) < 8192
    # The user is not locked out: the latest login still completes.
    final = await browser.get(await op.alogin(last))
    assert final.status_code == 307 and final.headers["location"] == APP_ORIGIN + "/" + "p" * 200


def _flood(count: int) -> dict[str, str]:
    return {f"{TXN_PREFIX}{secrets.token_urlsafe(32)}": "1:" + "x" * 40 for _ in range(count)}


async def test_dos01_logout_with_500_txn_cookies_bounded(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser()
    assert (await full_login(browser, op)).status_code == 307
    browser.cookies.update(_flood(500))
    response = await browser.get("/auth/logout")
    assert response.status_code == 307
    txn_deletions = [n for n, _, a in txn_set_cookies(response) if is_deletion(a)]
    assert 0 < len(txn_deletions) <= 64
    assert [n for n, v, a in session_set_cookies(response) if is_deletion(a)] == [SESSION_NAME]


async def test_dos01_login_with_500_txn_cookies_bounded(h: Harness, op: ScriptedOP) -> None:
    """Eviction before a new login is cleanup too: its Set-Cookie count must be bounded."""
    browser = h.browser()
    browser.cookies.update(_flood(500))
    response = await browser.get("/auth/login")
    assert response.status_code == 307
    assert len(response.headers.get_list("set-cookie")) <= 65
