"""Every SDK route through the ASGI middleware, in-process, against the scripted provider.

Arbitrary query strings (percent escapes, repeated keys, ``;``, control characters, huge
values), arbitrary Cookie headers around a real session or transaction cookie, arbitrary
bodies for the POST routes, and arbitrary provider answers at the callback. For every
response (``harness.check_response``): a documented status (no 500 except the documented
"provider unreachable" answers), no traceback or secret in the body or headers, any
``Location`` on the app's origin or the provider's authorize/logout/connect endpoint (judged
by a WHATWG parser), and a session the request carried is never deleted by junk in other
parameters (only logout deletes it) nor rewritten for anyone else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ada_url
import httpx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from auth0_web import Auth0Client
from auth0_web._config import parse_app_base_url
from auth0_web._errors import AuthorizationCodeGrantRequestError, SessionTooLargeError
from auth0_web._http import CookieOptions, Response, parse_cookie_header
from auth0_web._mfa import seal_context
from auth0_web._urls import absolute, safe_return_to
from auth0_web.session._model import SessionData, SessionInternal, TokenSet
from auth0_web.session._store import MemorySessionStore
from tests.attacks.helpers import catchall_app
from tests.support.apps import APP_BASE, SECRET, make_app, make_client
from tests.support.scripted_op import DEFAULT_USER, ScriptedOP

from .harness import (
    Aio,
    Expect,
    asgi_request,
    check_response,
    cookies_set,
    fuzz,
    header_pairs,
    is_deletion,
)
from .strategies import (
    MISSING,
    cookie_jars,
    corrupted,
    dump,
    hostile_numbers,
    json_values,
    latin1_text,
    logout_bodies,
    mfa_requests,
    query_strings,
    url_like,
)

ALICE = "auth0|alice-fuzz"
RAW_MFA_TOKEN = "raw-provider-mfa-token-0123456789abcdef"
ACCESS_TOKEN = "session-access-token-0123456789"
REFRESH_TOKEN = "session-refresh-token-0123456789"
ID_TOKEN = "session.id.token-0123456789"
ORIGIN = APP_BASE
BASE = parse_app_base_url(APP_BASE)
GET, POST = "GET", "POST"


class Site:
    """One application under test and what a logged-in browser of it holds."""

    def __init__(
        self,
        *,
        op: ScriptedOP,
        client: Auth0Client,
        app: Any,
        session_cookies: dict[str, str],
        txn_name: str,
        txn_value: str,
        state: str,
        sealed_mfa: str,
        store: MemorySessionStore | None = None,
    ) -> None:
        self.op, self.client, self.app, self.store = op, client, app, store
        self.session_cookies = session_cookies
        self.txn_name, self.txn_value, self.state = txn_name, txn_value, state
        self.sealed_mfa = sealed_mfa

    def __repr__(self) -> str:
        return f"Site(stateful={self.store is not None})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (
            SECRET,
            self.op.client_secret,
            ACCESS_TOKEN,
            REFRESH_TOKEN,
            ID_TOKEN,
            RAW_MFA_TOKEN,
            self.txn_value[-40:],  # the end of the transaction JWE (its tag)
        )

    @property
    def op_origin(self) -> str:
        return self.op.base_url

    def session_header(self) -> list[tuple[str, str]]:
        return list(self.session_cookies.items())


def alice_session(now: int) -> SessionData:
    return SessionData(
        user={"sub": ALICE, "name": "Alice"},
        token_set=TokenSet(
            access_token=ACCESS_TOKEN,
            expires_at=now + 3600,
            id_token=ID_TOKEN,
            refresh_token=REFRESH_TOKEN,
            scope="openid profile offline_access",
            token_type="Bearer",
        ),
        internal=SessionInternal(sid="sid-alice", created_at=now - 60),
    )


def scripted_answers(op: ScriptedOP) -> None:
    """The provider answers the calls a route can make with well-formed documents."""

    def token(record: Any) -> Any:
        grant = record.form.get("grant_type", "")
        if grant == "refresh_token" or "mfa-" in grant:
            body = {
                "access_token": "fresh-" + grant.rsplit("-", 1)[-1],
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": record.form.get("scope", "openid"),
            }
            return 200, {"content-type": "application/json"}, json.dumps(body).encode()
        return None  # the authorization-code grant: the strict default behaviour

    def answer(body: Any, status: int = 200) -> Any:
        return lambda _: (status, {"content-type": "application/json"}, json.dumps(body).encode())

    op.scenario.responses.update(
        {
            "/oauth/token": token,
            "/me/v1/connected-accounts/connect": answer(
                {
                    "connect_uri": op.url("/connect"),
                    "auth_session": "as-1",
                    "connect_params": {"ticket": "tk-1"},
                    "expires_in": 300,
                },
                201,
            ),
            "/mfa/authenticators": answer(
                [{"id": "totp|1", "authenticator_type": "otp", "active": True}]
            ),
            "/mfa/challenge": answer({"challenge_type": "otp"}),
            "/mfa/associate": answer(
                {"authenticator_type": "otp", "secret": "S", "barcode_uri": "otpauth://x"}
            ),
        }
    )


def build_site(aio: Aio, op: ScriptedOP, **options: Any) -> Site:
    client = make_client(
        op,
        client_id=op.client_id,
        client_secret=op.client_secret,
        enable_connect_account_endpoint=True,
        **options,
    )
    rt = client._rt
    now = rt.now()
    response = Response()
    aio.run(rt.sessions.save(response, alice_session(now), {}, now, CookieOptions(), is_new=True))
    session_cookies = {n: h.split(";", 1)[0].split("=", 1)[1] for n, h in response.cookies}
    app = make_app(client)
    login = aio.run(asgi_request(app, GET, "/auth/login", query=b"returnTo=/after"))
    assert login.status_code == 307, login.text
    state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
    txn_name, txn_value, _ = next(c for c in cookies_set(login) if c[0].startswith("__txn_"))
    sealed = seal_context(
        rt,
        raw_token=RAW_MFA_TOKEN,
        audience="https://api.example",
        scope="read:x",
        requested_scope="read:x",
        requirements=None,
        session=alice_session(now),
    )
    return Site(
        op=op,
        client=client,
        app=app,
        session_cookies=session_cookies,
        txn_name=txn_name,
        txn_value=txn_value,
        state=state,
        sealed_mfa=sealed,
        store=options.get("session_store"),
    )


@pytest.fixture(scope="module")
def op(scripted_op_server: ScriptedOP) -> Iterator[ScriptedOP]:
    scripted_op_server.reset()
    scripted_answers(scripted_op_server)
    try:
        yield scripted_op_server
    finally:
        scripted_op_server.reset()


@pytest.fixture(scope="module")
def site(aio: Aio, op: ScriptedOP) -> Iterator[Site]:
    built = build_site(aio, op)
    yield built
    aio.run(built.client.aclose())


@pytest.fixture(scope="module")
def stateful_site(aio: Aio, op: ScriptedOP) -> Iterator[Site]:
    built = build_site(aio, op, session_store=MemorySessionStore())
    yield built
    aio.run(built.client.aclose())


# ------------------------------------------------------------------ shared checks


def jar_for(site: Site, *, with_txn: bool = False) -> st.SearchStrategy[tuple[str, bool]]:
    txn = (site.txn_name, site.txn_value) if with_txn else None
    return cookie_jars(site.session_header(), txn)


def session_still_alice(site: Site, sent_cookie: str, response: httpx.Response) -> None:
    """The browser's session after the response is Alice's whenever it was before, and any
    session the response writes is Alice's (junk never ends, blanks or swaps it)."""
    sessions = site.client._rt.sessions
    before = parse_cookie_header(sent_cookie)
    after = dict(before)
    written = False
    for name, value, attrs in cookies_set(response):
        if is_deletion(attrs):
            after.pop(name, None)
        else:
            after[name] = value
            written = written or name.startswith("__session")
    now = time.time()
    was = sessions.read(before, now)  # type: ignore[union-attr]
    now_is = sessions.read(after, now)  # type: ignore[union-attr]
    if was is not None or written:
        assert now_is is not None and now_is.user.get("sub") == ALICE, cookies_set(response)


def send(
    aio: Aio,
    site: Site,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    cookie: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> httpx.Response:
    raw = header_pairs(headers or [])
    if cookie:
        raw.append((b"cookie", header_bytes(cookie)))
    return aio.run(asgi_request(site.app, method, path, query=query, headers=raw, body=body))


def header_bytes(text: str) -> bytes:
    """The bytes a browser sends: latin-1 when every character fits (a raw ``\xb2`` byte
    reaches the app as ``²``), else UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def expect_for(site: Site, statuses: set[int], **kwargs: Any) -> Expect:
    kwargs.setdefault("secrets", site.secrets)
    return Expect(statuses=frozenset(statuses), **kwargs)


# ------------------------------------------------------------------ GET routes


@fuzz(0.5)
@given(st.data())
def test_login_with_any_query_and_cookies(aio: Aio, site: Site, data: st.DataObject) -> None:
    query = data.draw(
        query_strings(
            keep=data.draw(st.lists(st.tuples(st.just("returnTo"), url_like()), max_size=1))
        )
    )
    cookie, had_session = data.draw(jar_for(site))
    response = send(aio, site, GET, "/auth/login", query=query, cookie=cookie)
    event(f"login {response.status_code}")
    expect = expect_for(site, {307, 400}, targets=frozenset({(site.op_origin, "/authorize")}))
    check_response(response, expect, app_origin=ORIGIN, had_session=had_session)
    if response.status_code == 307:
        params = parse_qs(urlsplit(response.headers["location"]).query, keep_blank_values=True)
        for reserved in ("client_id", "redirect_uri", "response_type", "state", "nonce"):
            assert len(params[reserved]) == 1, reserved
        assert params["redirect_uri"] == [ORIGIN + "/auth/callback"]
        assert params["response_type"] == ["code"]
        assert params["code_challenge_method"] == ["S256"]
        assert not any(n.startswith("__session") for n, _, _ in cookies_set(response))


@fuzz(0.5)
@given(st.data())
def test_callback_with_any_query_and_cookies(aio: Aio, site: Site, data: st.DataObject) -> None:
    keep = data.draw(
        st.lists(
            st.sampled_from(
                [
                    ("state", site.state),
                    ("state", site.state),
                    ("iss", site.op.issuer.replace(":", "%3A").replace("/", "%2F")),
                    ("code", "junk-code"),
                    ("error", "access_denied"),
                ]
            ),
            max_size=4,
        )
    )
    query = data.draw(query_strings(keep=keep))
    cookie, had_session = data.draw(jar_for(site, with_txn=True))
    calls_before = site.op.count("/oauth/token")
    response = send(aio, site, GET, "/auth/callback", query=query, cookie=cookie)
    event(f"callback {response.status_code}")
    expect = expect_for(site, {400, 500})
    check_response(response, expect, app_origin=ORIGIN, had_session=had_session)
    if response.status_code == 500:
        assert response.text in (
            AuthorizationCodeGrantRequestError.default_message,
            SessionTooLargeError.default_message,
        )
    assert not [n for n, v, a in cookies_set(response) if n.startswith("__session") and v]
    if site.txn_name not in cookie:
        assert site.op.count("/oauth/token") == calls_before, "token call without a transaction"


@fuzz(0.4)
@given(st.data())
def test_logout_with_any_query_and_cookies(aio: Aio, site: Site, data: st.DataObject) -> None:
    query = data.draw(
        query_strings(
            keep=data.draw(st.lists(st.tuples(st.just("returnTo"), url_like()), max_size=1))
        )
    )
    cookie, had_session = data.draw(jar_for(site))
    response = send(aio, site, GET, "/auth/logout", query=query, cookie=cookie)
    event(f"logout {response.status_code}")
    targets = frozenset({(site.op_origin, "/oidc/logout"), (site.op_origin, "/v2/logout")})
    expect = expect_for(
        site, {307, 400}, targets=targets, may_delete_session=True, location_allows=(ID_TOKEN,)
    )
    check_response(response, expect, app_origin=ORIGIN, had_session=had_session)
    if response.status_code == 307:
        params = parse_qs(urlsplit(response.headers["location"]).query)
        back = params.get("post_logout_redirect_uri", params.get("returnTo"))
        assert back and ada_url.URL(back[0]).origin == ORIGIN, back
        assert session_deletions_of(response), "logout kept the session cookie"


def session_deletions_of(response: httpx.Response) -> list[str]:
    return [n for n, _, a in cookies_set(response) if n == "__session" and is_deletion(a)]


@fuzz(0.35)
@given(st.data(), st.sampled_from(["/auth/profile", "/auth/profile/", "/", "/protected"]))
def test_profile_and_pages_with_any_cookies(
    aio: Aio, site: Site, data: st.DataObject, path: str
) -> None:
    cookie, had_session = data.draw(jar_for(site))
    query = data.draw(query_strings())
    response = send(aio, site, GET, path, query=query, cookie=cookie)
    event(f"{path} {response.status_code}")
    statuses = {200, 401} if path.startswith("/auth") else {200, 307}
    check_response(response, expect_for(site, statuses), app_origin=ORIGIN, had_session=had_session)
    session_still_alice(site, cookie, response)
    if path.startswith("/auth/profile") and response.status_code == 200:
        assert response.json()["sub"] == ALICE and "tokenSet" not in response.text


@fuzz(0.4)
@given(st.data())
def test_access_token_route_with_any_query_and_cookies(
    aio: Aio, site: Site, data: st.DataObject
) -> None:
    keep = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["audience", "scope", "mergeScopes"]),
                st.sampled_from(["https://api.example", "read:x", "false", ""]),
            ),
            max_size=2,
        )
    )
    query = data.draw(query_strings(keep=keep))
    cookie, had_session = data.draw(jar_for(site))
    response = send(aio, site, GET, "/auth/access-token", query=query, cookie=cookie)
    event(f"access-token {response.status_code}")
    expect = expect_for(site, {200, 400, 401, 403}, body_allows=(ACCESS_TOKEN,))
    check_response(response, expect, app_origin=ORIGIN, had_session=had_session)
    assert "no-store" in response.headers.get("cache-control", "")
    if response.status_code == 200:
        payload = response.json()
        assert set(payload) <= {"token", "expires_at", "expires_in", "scope", "token_type"}
    session_still_alice(site, cookie, response)


@fuzz(0.35)
@given(st.data())
def test_connect_with_any_query_and_cookies(aio: Aio, site: Site, data: st.DataObject) -> None:
    keep = data.draw(
        st.lists(
            st.sampled_from(
                [("connection", "google-oauth2"), ("returnTo", "/x"), ("scopes", "openid")]
            ),
            max_size=3,
        )
    )
    query = data.draw(query_strings(keep=keep))
    cookie, had_session = data.draw(jar_for(site))
    response = send(aio, site, GET, "/auth/connect", query=query, cookie=cookie)
    event(f"connect {response.status_code}")
    expect = expect_for(site, {307, 400, 401}, targets=frozenset({(site.op_origin, "/connect")}))
    check_response(response, expect, app_origin=ORIGIN, had_session=had_session)
    session_still_alice(site, cookie, response)


# ------------------------------------------------------------------ MFA routes

VALID_MFA_BODIES = {
    "/auth/mfa/authenticators": {},
    "/auth/mfa/challenge": {"challenge_type": "otp"},
    "/auth/mfa/associate": {"authenticator_types": ["otp"]},
    "/auth/mfa/verify": {"otp": "123456"},
}


@fuzz(0.6)
@given(
    st.data(),
    st.sampled_from(
        [
            (GET, "/auth/mfa/authenticators"),
            (POST, "/auth/mfa/challenge"),
            (POST, "/auth/mfa/associate"),
            (POST, "/auth/mfa/verify"),
        ]
    ),
)
def test_mfa_routes_with_any_token_body_and_headers(
    aio: Aio, site: Site, data: st.DataObject, route: tuple[str, str]
) -> None:
    method, path = route
    headers, body = data.draw(
        mfa_requests(VALID_MFA_BODIES[path], site.sealed_mfa, RAW_MFA_TOKEN, ORIGIN)
    )
    cookie, had_session = data.draw(jar_for(site))
    response = send(
        aio,
        site,
        method,
        path,
        cookie=cookie,
        headers=headers,
        body=body if method == POST else b"",
    )
    event(f"{path} {response.status_code}")
    expect = expect_for(site, {200, 400, 401, 403, 413})
    check_response(response, expect, app_origin=ORIGIN, had_session=had_session)
    if response.status_code == 413:  # the middleware's body cap, before the route runs
        assert method == POST and len(body) > 64 * 1024
        return
    assert response.headers["content-type"] == "application/json"
    assert "no-store" in response.headers.get("cache-control", "")
    payload = response.json()
    if response.status_code >= 400:
        assert set(payload) <= {"error", "error_description", "mfa_token", "mfa_requirements"}
    session_still_alice(site, cookie, response)


# ------------------------------------------------------------------ back-channel logout


@fuzz(1.0)
@given(st.data())
def test_backchannel_logout_with_any_body(
    aio: Aio, stateful_site: Site, data: st.DataObject
) -> None:
    site = stateful_site
    assert site.store is not None
    body = data.draw(logout_bodies(site.op.issuer, site.op.client_id, int(time.time())))
    cookie, had_session = data.draw(jar_for(site))
    content_type = data.draw(
        st.sampled_from(["application/x-www-form-urlencoded", "application/json", ""])
    )
    headers = [("content-type", content_type)] if content_type else []
    before = len(site.store)
    response = send(
        aio, site, POST, "/auth/backchannel-logout", cookie=cookie, headers=headers, body=body
    )
    event(f"backchannel {response.status_code}")
    check_response(
        response, expect_for(site, {400, 413}), app_origin=ORIGIN, had_session=had_session
    )
    if response.status_code == 400:  # BCL-REJECT (a 413 is the middleware's size cap)
        assert "no-store" in response.headers.get("cache-control", "")
    assert len(site.store) == before, "an unverified logout token ended a session"
    assert not cookies_set(response), "back-channel logout answered with cookies"


# ------------------------------------------------------------------ hosts and paths


ALLOWED = (ORIGIN, "http://localhost:3000")


@fuzz(0.25)
@given(
    st.data(),
    st.one_of(
        st.sampled_from(
            [
                "127.0.0.1:3000",
                "localhost:3000",
                "evil.example",
                "127.0.0.1:3000@evil.example",
                "127.0.0.1:3000, evil.example",
                "LOCALHOST:3000",
                "localhost.:3000",
                "127.0.0.1:3000\r\nx: y",
                "",
            ]
        ),
        latin1_text(30),
    ),
    st.sampled_from(["/auth/login", "/auth/logout", "/auth/profile", "/"]),
)
def test_an_allow_listed_base_url_is_never_left_whatever_the_host(
    aio: Aio, allowlist_site: Site, data: st.DataObject, host: str, path: str
) -> None:
    """HTTP-02: with several base URLs the request's Host picks one; any other host gets
    an error, never a redirect to or a cookie for it."""
    site = allowlist_site
    cookie, had_session = data.draw(jar_for(site))
    response = aio.run(
        asgi_request(
            site.app,
            GET,
            path,
            query=b"returnTo=/x",
            headers=[(b"cookie", header_bytes(cookie))],
            host=host.encode("latin-1"),
        )
    )
    event(f"{path} {response.status_code}")
    location = response.headers.get("location", "")
    landing = ada_url.URL(location, ORIGIN + "/").origin if location else ORIGIN
    targets = {(site.op_origin, p) for p in ("/authorize", "/oidc/logout", "/v2/logout")}
    expect = expect_for(
        site,
        {200, 307, 400, 401},
        targets=frozenset(targets),
        may_delete_session=path == "/auth/logout",
        location_allows=(ID_TOKEN,),
    )
    app_origin = landing if landing in ALLOWED else ORIGIN
    check_response(response, expect, app_origin=app_origin, had_session=had_session)
    if response.status_code == 307 and path == "/auth/login":
        redirect = parse_qs(urlsplit(location).query)["redirect_uri"][0]
        assert ada_url.URL(redirect).origin in ALLOWED


@pytest.fixture(scope="module")
def allowlist_site(aio: Aio, op: ScriptedOP) -> Iterator[Site]:
    built = build_site(aio, op, app_base_url=[ORIGIN, "http://localhost:3000"])
    yield built
    aio.run(built.client.aclose())


@pytest.fixture(scope="module")
def catchall(site: Site) -> Any:
    return catchall_app(site.client)


@fuzz(0.25)
@given(st.one_of(url_like(), latin1_text(30)).map(lambda p: "/" + p.lstrip("/")))
def test_a_protected_page_at_any_path_redirects_to_login_on_origin(
    aio: Aio, site: Site, catchall: Any, path: str
) -> None:
    """RED-07: an app whose every path is protected sends any path to the login route
    with a ``returnTo`` that stays on the origin."""
    response = aio.run(asgi_request(catchall, GET, path))
    assert response.status_code in (307, 404, 200), response.status_code
    location = response.headers.get("location")
    if location is not None:
        check_response(response, expect_for(site, {307}), app_origin=ORIGIN, had_session=False)
        target = ada_url.URL(location, ORIGIN + "/")
        assert target.pathname == "/auth/login"
        # The login route validates the returnTo it is given: a path a browser would read
        # as another host (``/\\host``) falls back to the default, never leaves the origin.
        return_to = ada_url.URLSearchParams(target.search).get("returnTo")
        kept = safe_return_to(return_to or None, BASE)
        assert kept is None or ada_url.URL(absolute(BASE, kept)).origin == ORIGIN


# ------------------------------------------------------------ provider answers at the callback

id_token_claim_changes = {
    "name": st.one_of(json_values, hostile_numbers()),
    "nickname": st.one_of(json_values, hostile_numbers()),
    "email": json_values,
    "picture": st.one_of(json_values, st.just("p" * 70_000)),
    "iss": st.sampled_from([MISSING, "http://evil.example/", None]),
    "aud": st.sampled_from([MISSING, ["other"], {"x": 1}]),
    "exp": hostile_numbers(),
    "iat": hostile_numbers(),
    "nonce": st.sampled_from([MISSING, "other", None]),
    "sid": json_values,
    "session_expiry": st.one_of(hostile_numbers(), st.integers(0, 2 * 10**9)),
    "auth_time": hostile_numbers(),
}
token_body_changes = {
    "access_token": st.one_of(st.just(MISSING), json_values),
    "token_type": st.one_of(
        st.just(MISSING), st.sampled_from(["bearer", "DPoP", "mac"]), json_values
    ),
    "expires_in": st.one_of(st.just(MISSING), hostile_numbers()),
    "refresh_token": json_values,
    "scope": json_values,
    "id_token": st.sampled_from([MISSING, "", "a.b.c", None, 5]),
}


def apply(changes: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is MISSING:
            document.pop(key, None)
        else:
            document[key] = value
    return document


@fuzz(0.2)
@given(
    corrupted({}, id_token_claim_changes, max_changes=3),
    corrupted({}, token_body_changes, max_changes=2),
)
def test_the_callback_survives_any_id_token_and_token_response(
    aio: Aio, site: Site, claim_changes: dict[str, Any], body_changes: dict[str, Any]
) -> None:
    """TOK-01/02, IDT-07..17 at the route: whatever the provider's token response and ID
    token hold, the callback logs the user in (and the session can be written) or fails
    with its documented status."""
    op = site.op
    claim_changes = {k: v for k, v in claim_changes.items() if k in id_token_claim_changes}
    body_changes = {k: v for k, v in body_changes.items() if k in token_body_changes}
    op.scenario.id_token_claims = lambda claims: dump(apply(claim_changes, claims))
    op.scenario.token_response = lambda body: (
        200,
        {"content-type": "application/json"},
        dump(apply(body_changes, body)).encode(),
    )
    try:
        login = send(aio, site, GET, "/auth/login", query=b"returnTo=/welcome")
        assert login.status_code == 307
        txn = next((n, v) for n, v, _ in cookies_set(login) if n.startswith("__txn_"))
        callback = aio.run(op.alogin(login.headers["location"]))
        target = urlsplit(callback)
        response = send(
            aio, site, GET, target.path, query=target.query.encode(), cookie=f"{txn[0]}={txn[1]}"
        )
    finally:
        op.scenario.id_token_claims = None
        op.scenario.token_response = None
    event(f"callback {response.status_code}")
    expect = expect_for(site, {307, 400, 500})
    check_response(response, expect, app_origin=ORIGIN, had_session=False)
    if response.status_code == 500:
        assert response.text in (
            AuthorizationCodeGrantRequestError.default_message,
            SessionTooLargeError.default_message,
        )
    written = {n: v for n, v, _ in cookies_set(response) if n.startswith("__session") and v}
    if response.status_code == 307:
        assert response.headers["location"] == ORIGIN + "/welcome"
        session = site.client._rt.sessions.read(written, time.time())  # type: ignore[union-attr]
        assert session is not None and session.user["sub"] == DEFAULT_USER["sub"]
        json.dumps(session.to_dict(), allow_nan=False)
    else:
        assert not written
