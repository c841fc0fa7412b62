"""End-to-end flows against the real ``oidc-provider`` and real uvicorn servers.

Every test runs the app under uvicorn on its own port and drives it over real HTTP with a
``Browser`` (app side) and a separate ``httpx.AsyncClient`` (the same user agent's provider
side, holding the provider's session cookie).
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.responses import JSONResponse, RedirectResponse

from auth0_web import CallbackContext, SessionData, filter_default_id_token_claims
from auth0_web.oidc._authorize import code_challenge_s256
from tests.support.apps import Browser, free_port, make_app, query_of, serve
from tests.support.oidc_provider import complete_login_async, complete_oidc_logout_async

from .helpers import (
    DELETED,
    NO_STORE,
    ROLES,
    Clock,
    client_credentials,
    default_profile,
    deleted_names,
    form_of,
    login,
    make_app_plus,
    new_client,
    profile,
    record_outbound,
    refresh_grant,
    session_of,
    set_cookie_names,
    set_cookies,
    start_login,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SESSION_COOKIE = {"path": "/", "max-age": "86400", "httponly": "", "samesite": "Lax"}


def _base() -> tuple[int, str]:
    port = free_port()
    return port, f"http://127.0.0.1:{port}"


async def _provider_session_ended(browser: Browser, op_http: httpx.AsyncClient) -> bool:
    """True when the provider asks who is logging in again (its session is gone).

    Offers Bob on the login page: a live provider session (Alice's) skips that page.
    """
    await login(browser, op_http, sub="auth0|bob")
    status, body = await profile(browser)
    assert status == 200
    return bool(body["sub"] == "auth0|bob")


# --------------------------------------------------------------------------- 1. full flow


@pytest.mark.parametrize(
    "kind, method",
    [("post", "client_secret_post"), ("basic", "client_secret_basic")],
    ids=["app-post", "app-basic"],
)
async def test_full_login_and_logout(oidc_provider: Any, kind: str, method: str) -> None:
    op = oidc_provider
    client_id, client_secret = client_credentials(op, kind)
    port, base = _base()
    auth0 = new_client(op, base, kind, token_endpoint_auth_method=method)
    outbound = record_outbound(auth0)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            # -- login: redirect to /authorize with a transaction cookie
            response = await browser.get("/auth/login?returnTo=/protected")
            assert response.status_code == 307
            authorize_url = response.headers["location"]
            assert authorize_url.startswith(op.issuer + "authorize?")
            query = query_of(authorize_url)
            state, nonce = query["state"], query["nonce"]
            assert query == {
                "scope": "openid profile email offline_access",
                "client_id": client_id,
                "redirect_uri": f"{base}/auth/callback",
                "response_type": "code",
                "code_challenge": query["code_challenge"],
                "code_challenge_method": "S256",
                "state": state,
                "nonce": nonce,
            }
            assert len(state) >= 43 and len(nonce) >= 43 and state != nonce
            assert len(query["code_challenge"]) == 43
            cookies = set_cookies(response)
            assert list(cookies) == [f"__txn_{state}"]
            txn_value, txn_attrs = cookies[f"__txn_{state}"]
            assert txn_value
            assert txn_attrs == {"path": "/", "max-age": "3600", "httponly": "", "samesite": "Lax"}

            # -- the provider logs Alice in and sends the browser back
            callback_url = await complete_login_async(authorize_url, "auth0|alice", client=op_http)
            assert callback_url.startswith(f"{base}/auth/callback?")
            callback_query = query_of(callback_url)
            assert callback_query["state"] == state
            assert callback_query["iss"] == op.issuer
            assert callback_query["code"]

            response = await browser.get(callback_url)
            assert response.status_code == 307, response.text
            assert response.headers["location"] == f"{base}/protected"
            assert "no-store" in response.headers["cache-control"]
            cookies = set_cookies(response)
            assert sorted(cookies) == sorted(["__session", f"__txn_{state}"])
            assert cookies["__session"][0]
            assert cookies["__session"][1] == SESSION_COOKIE
            assert cookies[f"__txn_{state}"] == ("", DELETED)
            assert browser.session_cookie_names() == ["__session"]
            assert browser.txn_cookie_names() == []

            # -- the code exchange: PKCE verifier, redirect_uri, the configured client auth
            (token_call,) = outbound.to(op.url("/oauth/token"))
            assert token_call.method == "POST" and token_call.status == 200
            form = form_of(token_call.body)
            assert form["grant_type"] == "authorization_code"
            assert form["code"] == callback_query["code"]
            assert form["redirect_uri"] == f"{base}/auth/callback"
            assert code_challenge_s256(form["code_verifier"]) == query["code_challenge"]
            if method == "client_secret_post":
                assert form["client_id"] == client_id
                assert form["client_secret"] == client_secret
                assert "authorization" not in token_call.headers
            else:
                expected = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
                assert token_call.headers["authorization"] == f"Basic {expected}"
                assert "client_secret" not in form and "client_id" not in form

            # -- the session
            response = await browser.get("/auth/profile")
            assert response.status_code == 200
            assert "no-store" in response.headers["cache-control"]
            assert response.json() == default_profile(op.alice)  # no roles, sid, iss, aud, nonce

            response = await browser.get("/protected")
            assert response.status_code == 200
            assert response.text == "hello auth0|alice"

            response = await browser.get("/tokens")
            assert response.status_code == 200
            tokens = response.json()
            assert tokens["has_refresh_token"] is True
            assert tokens["has_id_token"] is True
            assert tokens["token_type"] == "Bearer"
            assert isinstance(tokens["sid"], str) and tokens["sid"]
            assert abs(tokens["expires_at"] - (time.time() + 3600)) < 60

            session = await session_of(auth0, dict(browser.cookies))
            assert session is not None
            refresh_token = session.token_set.refresh_token
            assert refresh_token

            # -- logout: RP-initiated logout URL, session cookie deleted, token revoked
            logs_before = len(op.logs())
            response = await browser.get("/auth/logout")
            assert response.status_code == 307
            logout_url = response.headers["location"]
            assert logout_url.startswith(op.issuer + "oidc/logout?")
            assert query_of(logout_url) == {
                "client_id": client_id,
                "post_logout_redirect_uri": f"{base}/",
                "logout_hint": tokens["sid"],
                "id_token_hint": session.token_set.id_token,
            }
            assert set_cookies(response) == {"__session": ("", DELETED)}
            assert "no-store" in response.headers["cache-control"]
            assert browser.session_cookie_names() == []

            (revoke_call,) = outbound.to(op.url("/oauth/revoke"))
            assert revoke_call.status == 200
            revoke_form = form_of(revoke_call.body)
            assert revoke_form["token"] == refresh_token
            assert revoke_form["token_type_hint"] == "refresh_token"
            # The provider no longer honours the refresh token (test_update_session shows
            # the same request succeeding with a live one).
            refreshed = await refresh_grant(op, op_http, kind, refresh_token)
            assert refreshed.status_code == 400
            assert refreshed.json()["error"] == "invalid_grant"
            assert "revocation.error" not in op.logs()[logs_before:]

            end = await complete_oidc_logout_async(logout_url, client=op_http)
            assert end == f"{base}/"
            assert await profile(browser) == (401, None)

            # The provider session ended too: the next login asks for the user again.
            assert await _provider_session_ended(browser, op_http)


# --------------------------------------------------------------------------- 2. hooks


@pytest.mark.parametrize("flavour", ["async", "sync"])
async def test_before_session_saved_keeps_roles(oidc_provider: Any, flavour: str) -> None:
    op = oidc_provider
    seen: list[tuple[dict[str, Any], str | None]] = []

    def keep_roles(session: SessionData, id_token: str | None) -> SessionData:
        seen.append((dict(session.user), id_token))
        roles = session.user[ROLES]
        session.user = filter_default_id_token_claims(session.user)
        session.user[ROLES] = roles
        session.internal.sid = "forged"  # internal is the SDK's: must not stick
        return session

    async def keep_roles_async(session: SessionData, id_token: str | None) -> SessionData:
        return keep_roles(session, id_token)

    hook = keep_roles_async if flavour == "async" else keep_roles
    port, base = _base()
    auth0 = new_client(op, base, before_session_saved=hook)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            status, body = await profile(browser)
            assert status == 200
            assert body == {**default_profile(op.alice), ROLES: ["admin"]}

            (claims, id_token), *_ = seen
            assert len(seen) == 1
            # The hook sees every validated claim and the raw ID token.
            assert {"sid", "iss", "aud", "nonce", ROLES} <= set(claims)
            session = await session_of(auth0, dict(browser.cookies))
            assert session is not None
            assert id_token == session.token_set.id_token
            assert session.internal.sid == claims["sid"] != "forged"


async def test_on_callback_custom_responses(oidc_provider: Any) -> None:
    op = oidc_provider
    calls: list[tuple[Any, CallbackContext, dict[str, Any] | None]] = []

    def on_callback(error: Any, ctx: CallbackContext, session: SessionData | None) -> Any:
        calls.append((error, ctx, None if session is None else dict(session.user)))
        if error is None:
            return RedirectResponse("/welcome", status_code=303)
        return JSONResponse({"code": error.code, "cause": error.cause.code}, status_code=403)

    port, base = _base()
    auth0 = new_client(op, base, on_callback=on_callback)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            # -- success: the hook's redirect carries the session cookie
            authorize_url, state = await start_login(browser, "returnTo=/protected")
            callback_url = await complete_login_async(authorize_url, "auth0|alice", client=op_http)
            response = await browser.get(callback_url)
            assert response.status_code == 303
            assert response.headers["location"] == "/welcome"
            cookies = set_cookies(response)
            assert cookies["__session"][1] == SESSION_COOKIE
            assert cookies[f"__txn_{state}"] == ("", DELETED)
            assert "no-store" in response.headers["cache-control"]
            error, ctx, user = calls[-1]
            assert error is None
            assert ctx.return_to == "/protected"
            assert ctx.return_to_url == f"{base}/protected"
            assert ctx.app_base_url == f"{base}/"
            assert user is not None and user["sub"] == "auth0|alice"
            assert "sid" in user  # unfiltered: the hook runs before the claim filter
            status, body = await profile(browser)
            assert (status, body) == (200, default_profile(op.alice))

            # -- error: the provider answers prompt=none with login_required
            async with Browser(base_url=base) as fresh, httpx.AsyncClient() as fresh_op:
                authorize_url, state = await start_login(fresh, "prompt=none")
                callback_url = await complete_login_async(authorize_url, "-", client=fresh_op)
                assert query_of(callback_url)["error"] == "login_required"
                response = await fresh.get(callback_url)
                assert response.status_code == 403
                assert response.json() == {
                    "code": "authorization_error",
                    "cause": "login_required",
                }
                assert set_cookies(response) == {f"__txn_{state}": ("", DELETED)}
                assert "no-store" in response.headers["cache-control"]
                error, ctx, user = calls[-1]
                assert error is not None and user is None
                assert ctx.return_to == "/"
                assert fresh.session_cookie_names() == [] and fresh.txn_cookie_names() == []
                assert await profile(fresh) == (401, None)


# --------------------------------------------------------------------------- 3. profile 204


async def test_profile_no_content_when_unauthenticated(oidc_provider: Any) -> None:
    port, base = _base()
    auth0 = new_client(oidc_provider, base, no_content_profile_response_when_unauthenticated=True)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser:
            response = await browser.get("/auth/profile")
            assert response.status_code == 204
            assert response.content == b""
            assert "no-store" in response.headers["cache-control"]


# --------------------------------------------------------------------------- 4. rolling


async def test_rolling_session_is_reissued(oidc_provider: Any) -> None:
    op = oidc_provider
    clock = Clock()
    port, base = _base()
    auth0 = new_client(op, base, clock=clock)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            response = await browser.get("/")
            assert response.json() == {"user": None}
            assert "set-cookie" not in response.headers  # nothing to roll

            t0 = time.time()
            response = await login(browser, op_http)
            first = set_cookies(response)["__session"][0]

            clock.offset = 3600  # an hour of inactivity later
            response = await browser.get("/")
            assert response.status_code == 200
            assert response.json()["user"]["sub"] == "auth0|alice"
            cookies = set_cookies(response)
            assert list(cookies) == ["__session"]
            rolled, attrs = cookies["__session"]
            assert attrs == SESSION_COOKIE  # a full inactivity window again
            assert rolled != first
            assert response.headers["cache-control"] == NO_STORE
            assert response.headers["pragma"] == "no-cache"
            assert response.headers["expires"] == "0"

            # The rolled cookie lives past the first one's end (t0 + 1 day).
            late = new_client(op, base, clock=lambda: t0 + 86400 + 1800)
            assert await session_of(late, {"__session": first}) is None
            rolled_session = await session_of(late, {"__session": rolled})
            assert rolled_session is not None
            assert rolled_session.user["sub"] == "auth0|alice"

            # Rolling never passes the absolute duration (3 days from login).
            created = rolled_session.internal.created_at
            for hours in (20, 40, 60):
                clock.offset = hours * 3600
                before = int(clock())
                response = await browser.get("/")
                after = int(clock())
                assert response.json()["user"]["sub"] == "auth0|alice"
                max_age = int(set_cookies(response)["__session"][1]["max-age"])
                absolute_end = created + 3 * 86400
                assert min(86400, absolute_end - after) <= max_age, hours
                assert max_age <= min(86400, absolute_end - before), hours
            assert max_age <= 12 * 3600
            clock.offset = 72 * 3600 + 60
            assert await profile(browser) == (401, None)
            response = await browser.get("/")
            assert response.json() == {"user": None}


async def test_inactive_session_expires(oidc_provider: Any) -> None:
    clock = Clock()
    port, base = _base()
    auth0 = new_client(oidc_provider, base, clock=clock)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            clock.offset = 86400 - 120
            assert (await profile(browser))[0] == 200
            clock.offset = 86400 + 120  # a day since the last request that rolled it
            assert await profile(browser) == (401, None)
            response = await browser.get("/")
            assert response.json() == {"user": None}


async def test_non_rolling_session_is_not_reissued(oidc_provider: Any) -> None:
    op = oidc_provider
    clock = Clock()
    port, base = _base()
    auth0 = new_client(op, base, clock=clock, session={"rolling": False})
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            response = await login(browser, op_http)
            _, attrs = set_cookies(response)["__session"]
            assert 259200 - 5 <= int(attrs["max-age"]) <= 259200  # the absolute duration
            session = await session_of(auth0, dict(browser.cookies))
            assert session is not None
            created = session.internal.created_at

            for offset in (0, 3600):
                clock.offset = offset
                response = await browser.get("/")
                assert response.status_code == 200
                assert response.json()["user"]["sub"] == "auth0|alice"
                assert "set-cookie" not in response.headers

            # A write does not extend a non-rolling session: Max-Age counts from login.
            before = int(clock())
            response = await browser.post("/update", json={"theme": "dark"})
            after = int(clock())
            assert response.status_code == 200
            _, attrs = set_cookies(response)["__session"]
            absolute_end = created + 259200
            assert absolute_end - after <= int(attrs["max-age"]) <= absolute_end - before
            assert int(attrs["max-age"]) < 259200 - 3000


# --------------------------------------------------------------------------- 5. update_session


async def test_update_session_through_middleware(oidc_provider: Any) -> None:
    op = oidc_provider
    port, base = _base()
    auth0 = new_client(op, base)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            before = await session_of(auth0, dict(browser.cookies))
            assert before is not None and before.internal.sid

            response = await browser.post("/update", json={"theme": "dark"})
            assert response.status_code == 200
            assert response.json() == {"ok": True}
            assert set_cookie_names(response) == ["__session"]
            assert set_cookies(response)["__session"][1] == SESSION_COOKIE
            assert "no-store" in response.headers["cache-control"]

            response = await browser.get("/me")
            assert response.status_code == 200
            assert response.json() == {"sub": "auth0|alice", "extra": {"theme": "dark"}}
            response = await browser.get("/tokens")
            assert response.json()["sid"] == before.internal.sid

            after = await session_of(auth0, dict(browser.cookies))
            assert after is not None
            assert after.internal == before.internal
            assert after.token_set == before.token_set
            assert after.user == before.user

            # Control for the revocation check of test_full_login_and_logout: a live
            # refresh token is accepted by the same request.
            assert before.token_set.refresh_token
            refreshed = await refresh_grant(op, op_http, "post", before.token_set.refresh_token)
            assert refreshed.status_code == 200, refreshed.text
            assert refreshed.json()["refresh_token"]


# --------------------------------------------------------------------------- 6. chunking


async def test_large_session_is_chunked_and_unchunked(oidc_provider: Any) -> None:
    op = oidc_provider

    def big(session: SessionData, id_token: str | None) -> SessionData:
        session.user = filter_default_id_token_claims(session.user)
        session.user["bio"] = "x" * 6000
        return session

    port, base = _base()
    auth0 = new_client(op, base, before_session_saved=big)
    with serve(make_app_plus(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            response = await login(browser, op_http)
            cookies = set_cookies(response)
            chunks = sorted(n for n in cookies if n.startswith("__session__"))
            assert len(chunks) >= 3
            assert chunks == [f"__session__{i}" for i in range(len(chunks))]
            assert "__session" not in cookies
            for name in chunks:
                value, attrs = cookies[name]
                assert 0 < len(value) <= 3500
                assert attrs == SESSION_COOKIE
            assert browser.session_cookie_names() == chunks

            status, body = await profile(browser)
            assert status == 200
            assert body == {**default_profile(op.alice), "bio": "x" * 6000}

            # Shrinking the session: one plain cookie, every chunk deleted.
            response = await browser.post("/shrink")
            assert response.status_code == 200
            cookies = set_cookies(response)
            assert cookies["__session"][1] == SESSION_COOKIE
            assert deleted_names(response) == set(chunks)
            assert browser.session_cookie_names() == ["__session"]
            assert await profile(browser) == (200, default_profile(op.alice))

            # Growing it again: chunks, and the plain cookie deleted.
            response = await browser.post("/grow")
            assert response.status_code == 200
            assert deleted_names(response) == {"__session"}
            names = browser.session_cookie_names()
            assert len(names) >= 2 and "__session" not in names
            status, body = await profile(browser)
            assert status == 200 and len(body["bio"]) == 6000

            # Logout deletes every chunk.
            response = await browser.get("/auth/logout")
            assert response.status_code == 307
            assert deleted_names(response) == {"__session", *names}
            assert browser.session_cookie_names() == []


# --------------------------------------------------------------------------- 7. parallel logins


async def test_parallel_transactions_complete_in_reverse_order(oidc_provider: Any) -> None:
    op = oidc_provider
    port, base = _base()
    auth0 = new_client(op, base)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            first_url, first = await start_login(browser, "returnTo=/first")
            second_url, second = await start_login(browser, "returnTo=/second&prompt=login")
            assert browser.txn_cookie_names() == sorted([f"__txn_{first}", f"__txn_{second}"])

            first_callback = await complete_login_async(first_url, "auth0|alice", client=op_http)
            second_callback = await complete_login_async(second_url, "auth0|bob", client=op_http)

            response = await browser.get(second_callback)
            assert response.status_code == 307, response.text
            assert response.headers["location"] == f"{base}/second"
            assert sorted(set_cookie_names(response)) == sorted(["__session", f"__txn_{second}"])
            assert deleted_names(response) == {f"__txn_{second}"}
            assert browser.txn_cookie_names() == [f"__txn_{first}"]
            assert await profile(browser) == (200, default_profile(op.bob))

            response = await browser.get(first_callback)
            assert response.status_code == 307, response.text
            assert response.headers["location"] == f"{base}/first"
            assert sorted(set_cookie_names(response)) == sorted(["__session", f"__txn_{first}"])
            assert deleted_names(response) == {f"__txn_{first}"}
            assert browser.txn_cookie_names() == []
            assert browser.session_cookie_names() == ["__session"]
            assert await profile(browser) == (200, default_profile(op.alice))


async def test_single_transaction_cookie(oidc_provider: Any) -> None:
    op = oidc_provider
    port, base = _base()
    auth0 = new_client(op, base, enable_parallel_transactions=False)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            older_url, _ = await start_login(browser, "returnTo=/older")
            newer_url, _ = await start_login(browser, "returnTo=/newer")
            assert browser.txn_cookie_names() == ["__txn_"]
            older_callback = await complete_login_async(older_url, "auth0|alice", client=op_http)
            newer_callback = await complete_login_async(newer_url, "auth0|alice", client=op_http)

            # The newer login replaced the older one's transaction.
            response = await browser.get(older_callback)
            assert response.status_code == 400
            assert response.text == "The state parameter is invalid."
            assert browser.session_cookie_names() == []

            response = await browser.get(newer_callback)
            assert response.status_code == 307, response.text
            assert response.headers["location"] == f"{base}/newer"
            assert deleted_names(response) == {"__txn_"}
            assert browser.txn_cookie_names() == []
            assert await profile(browser) == (200, default_profile(op.alice))


async def test_abandoned_transactions_are_evicted(oidc_provider: Any) -> None:
    op = oidc_provider
    port, base = _base()
    auth0 = new_client(op, base)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            started = [await start_login(browser, f"returnTo=/n{i}") for i in range(12)]
            names = browser.txn_cookie_names()
            size = sum(len(n) + len(browser.cookies[n]) + 1 for n in names)
            assert size < 3500
            assert 1 < len(names) < 12
            first_url, first_state = started[0]
            last_url, last_state = started[-1]
            assert f"__txn_{last_state}" in names
            assert f"__txn_{first_state}" not in names

            callback = await complete_login_async(last_url, "auth0|alice", client=op_http)
            response = await browser.get(callback)
            assert response.status_code == 307, response.text
            assert response.headers["location"] == f"{base}/n11"

            callback = await complete_login_async(first_url, "auth0|alice", client=op_http)
            response = await browser.get(callback)
            assert response.status_code == 400
            assert response.text == "The state parameter is invalid."


# --------------------------------------------------------------------------- 8. logout


async def test_logout_url_variants(oidc_provider: Any) -> None:
    op = oidc_provider
    client_id = op.post_client_id
    port, base = _base()
    auth0 = new_client(op, base)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            session = await session_of(auth0, dict(browser.cookies))
            assert session is not None
            _, pending = await start_login(browser)  # a login left unfinished
            logged_in = dict(browser.cookies)
            hints = {
                "logout_hint": session.internal.sid,
                "id_token_hint": session.token_set.id_token,
            }

            async def logout(query: str, cookies: dict[str, str]) -> httpx.Response:
                browser.cookies = dict(cookies)
                response = await browser.get("/auth/logout" + query)
                assert response.status_code == 307
                assert response.headers["location"].startswith(op.issuer + "oidc/logout?")
                return response

            response = await logout("", logged_in)
            assert query_of(response.headers["location"]) == {
                "client_id": client_id,
                "post_logout_redirect_uri": f"{base}/",
                **hints,
            }
            assert deleted_names(response) == {"__session", f"__txn_{pending}"}
            assert browser.cookies == {}

            response = await logout("?federated", logged_in)
            assert query_of(response.headers["location"]) == {
                "client_id": client_id,
                "post_logout_redirect_uri": f"{base}/",
                **hints,
                "federated": "",
            }
            response = await logout("?federated=false", logged_in)
            assert "federated" not in query_of(response.headers["location"])
            response = await logout("?state=xyz", logged_in)
            assert query_of(response.headers["location"])["state"] == "xyz"

            for return_to, expected in [
                ("https://evil.example/", f"{base}/"),
                ("//evil.example/", f"{base}/"),
                ("/bye", f"{base}/bye"),
                (f"{base}/bye?x=1", f"{base}/bye?x=1"),
            ]:
                response = await logout("?" + urlencode({"returnTo": return_to}), logged_in)
                query = query_of(response.headers["location"])
                assert query["post_logout_redirect_uri"] == expected, return_to

            # Without a session: still to the provider, without hints.
            response = await logout("", {})
            assert query_of(response.headers["location"]) == {
                "client_id": client_id,
                "post_logout_redirect_uri": f"{base}/",
            }
            assert deleted_names(response) == {"__session"}


async def test_logout_without_id_token_hint(oidc_provider: Any) -> None:
    op = oidc_provider
    port, base = _base()
    auth0 = new_client(op, base, include_id_token_hint_in_oidc_logout_url=False)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            session = await session_of(auth0, dict(browser.cookies))
            assert session is not None
            response = await browser.get("/auth/logout?state=xyz")
            assert response.status_code == 307
            logout_url = response.headers["location"]
            assert query_of(logout_url) == {
                "client_id": op.post_client_id,
                "post_logout_redirect_uri": f"{base}/",
                "state": "xyz",
                "logout_hint": session.internal.sid,
            }
            # The provider accepts it (client_id identifies the client) and hands the
            # forwarded state back.
            end = await complete_oidc_logout_async(logout_url, client=op_http)
            assert end == f"{base}/?state=xyz"
            assert await _provider_session_ended(browser, op_http)


async def test_logout_v2_strategy(oidc_provider: Any) -> None:
    op = oidc_provider
    client_id = op.basic_client_id
    port, base = _base()
    auth0 = new_client(op, base, "basic", logout_strategy="v2")
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            logged_in = dict(browser.cookies)

            response = await browser.get("/auth/logout?federated")
            assert response.status_code == 307
            assert response.headers["location"] == f"{op.issuer}v2/logout?" + urlencode(
                {"returnTo": f"{base}/", "client_id": client_id, "federated": ""}
            )

            browser.cookies = dict(logged_in)
            response = await browser.get("/auth/logout")
            assert response.status_code == 307
            logout_url = response.headers["location"]
            assert logout_url == f"{op.issuer}v2/logout?" + urlencode(
                {"returnTo": f"{base}/", "client_id": client_id}
            )
            assert deleted_names(response) == {"__session"}
            assert await complete_oidc_logout_async(logout_url, client=op_http) == f"{base}/"
            assert await profile(browser) == (401, None)
            assert await _provider_session_ended(browser, op_http)


# --------------------------------------------------------------------------- 9. max_age


async def test_max_age(oidc_provider: Any, caplog: pytest.LogCaptureFixture) -> None:
    op = oidc_provider
    clock = Clock()
    port, base = _base()
    # A transaction cookie that outlives the clock jump, so only auth_time can fail.
    auth0 = new_client(op, base, clock=clock, transaction_cookie={"max_age": 4 * 3600})
    with serve(make_app(auth0), port):
        async with httpx.AsyncClient() as op_http:

            async def as_alice(authorize_url: str) -> str:
                return await complete_login_async(authorize_url, "auth0|alice", client=op_http)

            async with Browser(base_url=base) as browser:
                authorize_url, _ = await start_login(browser, "max_age=3600")
                assert query_of(authorize_url)["max_age"] == "3600"
                callback_url = await as_alice(authorize_url)
                response = await browser.get(callback_url)
                assert response.status_code == 307, response.text
                assert await profile(browser) == (200, default_profile(op.alice))

            # Two hours pass between the provider's login and the callback.
            async with Browser(base_url=base) as browser:
                authorize_url, state = await start_login(browser, "max_age=60")
                callback_url = await as_alice(authorize_url)
                clock.offset = 2 * 3600
                with caplog.at_level(logging.WARNING, logger="auth0_web"):
                    response = await browser.get(callback_url)
                assert response.status_code == 400
                assert response.text == (
                    "An error occurred while trying to exchange the authorization code."
                )
                assert any(
                    "authentication too old for max_age" in r.getMessage() for r in caplog.records
                )
                assert set_cookies(response) == {f"__txn_{state}": ("", DELETED)}
                assert browser.session_cookie_names() == []
                assert await profile(browser) == (401, None)

            # Control: the same clock jump without max_age logs in fine.
            clock.offset = 0
            async with Browser(base_url=base) as browser:
                authorize_url, _ = await start_login(browser)
                callback_url = await as_alice(authorize_url)
                clock.offset = 2 * 3600
                response = await browser.get(callback_url)
                assert response.status_code == 307, response.text
                assert await profile(browser) == (200, default_profile(op.alice))


# --------------------------------------------------------------------------- 10. switch user


async def test_switching_user_replaces_session(oidc_provider: Any) -> None:
    op = oidc_provider
    port, base = _base()
    auth0 = new_client(op, base)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            alice = await session_of(auth0, dict(browser.cookies))
            assert alice is not None
            assert await profile(browser) == (200, default_profile(op.alice))

            # Without prompt=login the provider session (Alice's) is reused.
            await login(browser, op_http, sub="auth0|bob")
            assert (await profile(browser))[1]["sub"] == "auth0|alice"

            await login(browser, op_http, "prompt=login", sub="auth0|bob")
            assert await profile(browser) == (200, default_profile(op.bob))
            assert browser.session_cookie_names() == ["__session"]
            bob = await session_of(auth0, dict(browser.cookies))
            assert bob is not None
            assert bob.user == default_profile(op.bob)
            assert bob.token_set.id_token != alice.token_set.id_token
            assert bob.token_set.refresh_token != alice.token_set.refresh_token
            assert bob.extra == {}
            response = await browser.get("/protected")
            assert response.text == "hello auth0|bob"


# --------------------------------------------------------------------------- 11. protection


async def test_protected_routes(oidc_provider: Any) -> None:
    op = oidc_provider
    port, base = _base()
    auth0 = new_client(op, base)
    with serve(make_app(auth0), port):
        async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
            response = await browser.get("/api/private")
            assert response.status_code == 401
            assert response.json() == {
                "error": "not_authenticated",
                "description": "The user does not have an active session or is not authenticated",
            }
            assert "no-store" in response.headers["cache-control"]
            response = await browser.get("/me")
            assert response.status_code == 401
            response = await browser.get("/maybe")
            assert response.json() == {"logged_in": False}

            response = await browser.get("/protected?x=1")
            assert response.status_code == 307
            assert response.headers["location"] == "/auth/login?returnTo=%2Fprotected%3Fx%3D1"

            response = await browser.get(response.headers["location"])
            assert response.status_code == 307
            callback_url = await complete_login_async(
                response.headers["location"], "auth0|alice", client=op_http
            )
            response = await browser.get(callback_url)
            assert response.status_code == 307
            assert response.headers["location"] == f"{base}/protected?x=1"
            response = await browser.get(response.headers["location"])
            assert response.status_code == 200
            assert response.text == "hello auth0|alice"

            response = await browser.get("/api/private")
            assert (response.status_code, response.json()) == (200, {"ok": True})
            response = await browser.get("/me")
            assert response.status_code == 200
            assert response.json() == {"sub": "auth0|alice", "extra": {}}
            response = await browser.get("/maybe")
            assert response.json() == {"logged_in": True}

            # returnTo off the app's origin falls back to the default.
            for return_to in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
                response = await login(browser, op_http, urlencode({"returnTo": return_to}))
                assert response.headers["location"] == f"{base}/", return_to


# --------------------------------------------------------------------------- 12. secrets


async def test_secret_rotation(oidc_provider: Any) -> None:
    op = oidc_provider
    a, b, c = "A" * 40, "B" * 40, "C" * 40
    servers = [_base() for _ in range(4)]
    clients = [
        new_client(op, base, secret=secret)
        for (_, base), secret in zip(servers, [a, [b, a], b, c], strict=True)
    ]
    apps = [make_app(client) for client in clients]
    (port_a, base_a), (port_b, base_b), (port_c, base_c), (port_d, base_d) = servers

    with serve(apps[0], port_a):
        async with Browser(base_url=base_a) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http)
            cookie_a = browser.cookies["__session"]

    with serve(apps[1], port_b), serve(apps[2], port_c), serve(apps[3], port_d):
        async with (
            Browser(base_url=base_b) as on_b,
            Browser(base_url=base_c) as on_c,
            Browser(base_url=base_d) as on_d,
        ):
            # [B, A] reads the A cookie and re-issues it (rolling), encrypted with B.
            on_b.cookies = {"__session": cookie_a}
            response = await on_b.get("/")
            assert response.status_code == 200
            assert response.json()["user"]["sub"] == "auth0|alice"
            cookie_b, attrs = set_cookies(response)["__session"]
            assert attrs == SESSION_COOKIE and cookie_b != cookie_a

            # B alone reads the re-issued cookie but not the original.
            on_c.cookies = {"__session": cookie_b}
            assert await profile(on_c) == (200, default_profile(op.alice))
            on_c.cookies = {"__session": cookie_a}
            assert await profile(on_c) == (401, None)

            # C alone: logged out, no error.
            on_d.cookies = {"__session": cookie_b}
            assert await profile(on_d) == (401, None)
            response = await on_d.get("/")
            assert (response.status_code, response.json()) == (200, {"user": None})
            response = await on_d.get("/me")
            assert response.status_code == 401
            response = await on_d.get("/protected")
            assert response.status_code == 307
            assert response.headers["location"] == "/auth/login?returnTo=%2Fprotected"
