"""Access tokens against the real ``oidc-provider``: refresh, rotation, coalescing, MRRT.

The provider issues 4-second access tokens, rotates refresh tokens on every use and treats
reuse of a rotated one as theft (the grant, with every token of that login, is revoked).
Three APIs are registered as resource servers (JWT access tokens): the login's default
audience and two more that the tests reach through Auth0's ``audience`` parameter (see
``token_helpers`` for how that parameter reaches the provider's token endpoint).

Each test runs its own ``Auth0Client`` and app under uvicorn; refresh grants are counted
twice, by the SDK (``_rt.refreshes.calls``) and on the wire (the SDK's outbound transport).
Most tests freeze the SDK's clock and move it forward to expire tokens, which keeps every
expiry computation exact; the first one waits for a real expiry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from auth0_web import AccessTokenError, Auth0Client
from tests.support.apps import SECRET, Browser, free_port, make_client, serve
from tests.support.oidc_provider import OidcProvider
from tests.support.op_fixtures import ALICE, BOB, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata

from .helpers import NO_STORE, set_cookies
from .token_helpers import (
    API_DEFAULT,
    API_ONE,
    API_TWO,
    RESOURCE_SERVERS,
    TestClock,
    TokenEndpoint,
    cookie_header,
    cookies_after,
    install_token_endpoint,
    login,
    provider_keys,
    provider_refresh,
    provider_revoke,
    resource_server,
    same,
    stored_session,
    verified_claims,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CLIENT_ID = "tok-app"
CLIENT_SECRET = new_client_secret()
CREDENTIALS = (CLIENT_ID, CLIENT_SECRET)
TTL = 4  # the provider's access-token lifetime (seconds)
SCOPE = "openid profile email offline_access"  # the SDK's default scope
SESSION_COOKIE = {"path": "/", "max-age": "86400", "httponly": "", "samesite": "Lax"}
ENTRY_KEYS = {"accessToken", "expiresAt", "audience", "scope", "requestedScope", "token_type"}

FAILED = "The access token has expired and there was an error while trying to refresh it."
EXPIRED_NO_RT = (
    "The access token has expired and a refresh token was not provided, "
    "the user needs to re-authenticate."
)
NO_AT_NO_RT = (
    "No access token found and a refresh token was not provided, the user needs to re-authenticate."
)
NO_SESSION = {
    "error": {"message": "The user does not have an active session.", "code": "missing_session"}
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    clients = [client_metadata(CLIENT_ID, CLIENT_SECRET, "client_secret_post")]
    with OidcProvider(
        clients=clients,
        users=[ALICE, BOB],
        access_token_ttl=TTL,
        resource_servers=RESOURCE_SERVERS,
    ) as provider:
        yield provider


@pytest.fixture(scope="module")
def keys(op: OidcProvider) -> KeySet:
    return provider_keys(op)


@pytest.fixture(scope="module")
def api(op: OidcProvider) -> Iterator[str]:
    """The URL of a resource server that checks the provider's JWT access tokens."""
    with serve(resource_server(op)) as url:
        yield url


@dataclass
class Sdk:
    """One ``Auth0Client`` with its clock, its recorded token endpoint and its app port."""

    auth0: Auth0Client
    wire: TokenEndpoint
    clock: TestClock
    port: int
    base: str

    @property
    def refreshes(self) -> int:
        """Refresh grants the SDK says it sent."""
        return self.auth0._rt.refreshes.calls

    def stored(self, cookies: dict[str, str]) -> dict[str, Any]:
        return stored_session(SECRET, cookies, self.clock())

    def token_set(self, cookies: dict[str, str]) -> dict[str, Any]:
        token_set: dict[str, Any] = self.stored(cookies)["tokenSet"]
        return token_set

    def entries(self, cookies: dict[str, str]) -> dict[str, dict[str, Any]]:
        """``accessTokens`` of the stored session by audience (one entry each, asserted)."""
        entries = self.stored(cookies).get("accessTokens", [])
        by_audience = {entry["audience"]: entry for entry in entries}
        assert len(by_audience) == len(entries), entries
        return by_audience


def new_sdk(
    op: OidcProvider,
    *,
    clock: TestClock | None = None,
    refresh_delay: float = 0.0,
    **options: Any,
) -> Sdk:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock = clock or TestClock()
    options.setdefault("authorization_parameters", {"audience": API_DEFAULT})
    auth0 = make_client(
        op,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        app_base_url=base,
        clock=clock,
        **options,
    )
    wire = install_token_endpoint(auth0, refresh_delay=refresh_delay)
    return Sdk(auth0, wire, clock, port, base)


def error_body(exc: AccessTokenError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "cause": getattr(exc.cause, "code", None)}


def token_app(auth0: Auth0Client, api_url: str) -> Any:
    """``/token`` returns ``get_access_token(...)``; ``/fetch`` calls the API's whoami."""
    app = FastAPI()

    @app.get("/token")
    async def token(
        audience: str | None = None, scope: str | None = None, refresh: bool = False
    ) -> JSONResponse:
        try:
            result = await auth0.get_access_token(refresh=refresh, scope=scope, audience=audience)
        except AccessTokenError as exc:
            return JSONResponse(error_body(exc), status_code=401)
        return JSONResponse(result.to_dict())

    @app.get("/fetch")
    async def fetch(audience: str | None = None) -> JSONResponse:
        try:
            async with await auth0.create_fetcher(base_url=api_url + "/api/") as fetcher:
                response = await fetcher.fetch_with_auth("whoami", audience=audience)
        except AccessTokenError as exc:
            return JSONResponse(error_body(exc), status_code=401)
        return JSONResponse({"status": response.status_code, "body": response.json()})

    return auth0.middleware(app)


def assert_session_written(response: httpx.Response) -> None:
    """The response (re)writes the session cookie: whole or in chunks, with the usual
    attributes (chunking also deletes the other form, which is not a "write")."""
    written = {
        name: attrs
        for name, (_, attrs) in set_cookies(response).items()
        if (name == "__session" or name.startswith("__session__")) and attrs.get("max-age") != "0"
    }
    assert written, response.headers.get_list("set-cookie")
    assert all(attrs == SESSION_COOKIE for attrs in written.values()), written


def query(**params: str) -> str:
    return "?" + urlencode(params)


# --------------------------------------------------------------------------- 1. lifecycle


async def test_token_reused_until_expiry_then_refreshed_and_rotated(
    op: OidcProvider, api: str, keys: KeySet
) -> None:
    sdk = new_sdk(op)  # real time: the token really expires
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            before = int(time.time())
            await login(browser, http, ALICE["sub"])
            after = int(time.time())
            assert [call.grant_type for call in sdk.wire.calls] == ["authorization_code"]
            first = sdk.token_set(browser.cookies)
            assert before + TTL <= first["expiresAt"] <= after + TTL
            claims = verified_claims(keys, first["accessToken"])
            assert (claims["sub"], claims["aud"], claims["scope"]) == (
                ALICE["sub"],
                API_DEFAULT,
                "read:default",
            )

            # -- unexpired: the login's token, no call to the provider
            response = await browser.get("/token")
            assert response.status_code == 200
            assert response.json() == {
                "token": first["accessToken"],
                "expires_at": first["expiresAt"],
                "scope": "read:default",
                "token_type": "Bearer",
                "audience": API_DEFAULT,
            }
            assert sdk.refreshes == 0 and len(sdk.wire.calls) == 1

            # -- the token really expires (the API refuses it), then the SDK refreshes
            await asyncio.sleep(max(0.0, first["expiresAt"] - time.time()) + 0.2)
            refused = await http.get(
                f"{api}/api/whoami", headers={"authorization": f"Bearer {first['accessToken']}"}
            )
            assert refused.status_code == 401
            assert refused.json()["error"] == "invalid_token"

            before = int(time.time())
            response = await browser.get("/token")
            after = int(time.time())
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["token"] != first["accessToken"]
            assert before + TTL <= body["expires_at"] <= after + TTL
            assert body["expires_at"] > first["expiresAt"]
            assert (body["scope"], body["token_type"], body["audience"]) == (
                "read:default",
                "Bearer",
                API_DEFAULT,
            )
            assert sdk.refreshes == 1
            (grant,) = sdk.wire.refreshes
            assert grant.status == 200
            # No scope and no audience were asked for, so none is sent (reference 7.2 step 5);
            # ``resource`` is the test transport's mapping to the default API.
            assert grant.form == {
                "grant_type": "refresh_token",
                "refresh_token": first["refreshToken"],
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "resource": API_DEFAULT,
            }
            rotated = grant.body["refresh_token"]
            assert rotated != first["refreshToken"]
            assert grant.body["access_token"] == body["token"]

            # -- persisted: new access token, its expiry and the rotated refresh token
            stored = sdk.token_set(browser.cookies)
            assert stored["accessToken"] == body["token"]
            assert stored["expiresAt"] == body["expires_at"]
            assert stored["refreshToken"] == rotated
            assert stored["idToken"] == grant.body["id_token"]
            accepted = await http.get(
                f"{api}/api/whoami", headers={"authorization": f"Bearer {body['token']}"}
            )
            assert accepted.status_code == 200
            assert accepted.json()["claims"]["sub"] == ALICE["sub"]

            # -- the next call uses the stored token
            response = await browser.get("/token")
            assert response.json() == body
            assert sdk.refreshes == 1 and len(sdk.wire.refreshes) == 1

            # -- refresh=True forces one, with the rotated refresh token
            response = await browser.get("/token?refresh=true")
            assert response.status_code == 200
            forced = response.json()
            assert forced["token"] not in (first["accessToken"], body["token"])
            assert sdk.refreshes == 2
            assert sdk.wire.refreshes[1].form["refresh_token"] == rotated
            assert sdk.wire.refreshes[1].status == 200
            stored = sdk.token_set(browser.cookies)
            assert stored["accessToken"] == forced["token"]
            assert stored["refreshToken"] == sdk.wire.refreshes[1].body["refresh_token"]

        # -- token_refresh_buffer=3600: every call refreshes (a 4 s token is always "due")
        eager = new_sdk(op, token_refresh_buffer=3600)
        with serve(token_app(eager.auth0, api), eager.port):
            async with Browser(base_url=eager.base) as other:
                other.cookies = dict(browser.cookies)
                seen = {first["accessToken"], body["token"], forced["token"]}
                for count in (1, 2):
                    presented = sdk.token_set(other.cookies)["refreshToken"]
                    response = await other.get("/token")
                    assert response.status_code == 200, response.text
                    token = response.json()["token"]
                    assert token not in seen
                    seen.add(token)
                    assert eager.refreshes == count
                    assert len(eager.wire.refreshes) == count
                    assert eager.wire.refreshes[-1].form["refresh_token"] == presented
                    assert eager.wire.refreshes[-1].status == 200
                    assert eager.token_set(other.cookies)["accessToken"] == token


# --------------------------------------------------------------------------- 2. rotation


async def test_replayed_pre_refresh_cookie_and_reuse_detection(op: OidcProvider, api: str) -> None:
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(op, clock=clock)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            old_cookies = dict(browser.cookies)
            old = sdk.token_set(old_cookies)

            clock.offset = TTL + 1
            response = await browser.get("/token")
            assert response.status_code == 200, response.text
            refreshed = response.json()
            assert refreshed["token"] != old["accessToken"]
            assert sdk.refreshes == 1
            (grant,) = sdk.wire.refreshes
            rotated = grant.body["refresh_token"]
            assert sdk.token_set(browser.cookies)["refreshToken"] == rotated

            # -- a request that left the browser before the new cookie arrived (1 s later)
            clock.offset = TTL + 2
            response = await http.get(
                f"{sdk.base}/token", headers={"cookie": cookie_header(old_cookies)}
            )
            assert response.status_code == 200, response.text
            assert response.json()["token"] == refreshed["token"]
            assert sdk.refreshes == 1 and len(sdk.wire.refreshes) == 1
            healed = sdk.token_set(cookies_after(old_cookies, response))
            assert healed["accessToken"] == refreshed["token"]
            assert healed["refreshToken"] == rotated

            # -- what the SDK avoided: the provider really detects reuse. The pre-refresh
            # refresh token, presented once more, is refused ...
            reused = await provider_refresh(op, http, CREDENTIALS, old["refreshToken"])
            assert reused.status_code == 400
            assert reused.json()["error"] == "invalid_grant"
            # ... and the whole grant is revoked: the session's current token is dead too.
            current = await provider_refresh(op, http, CREDENTIALS, rotated)
            assert current.status_code == 400
            assert current.json()["error"] == "invalid_grant"

            clock.offset = 3 * TTL
            response = await browser.get("/token")
            assert response.status_code == 401
            assert response.json() == {
                "code": "failed_to_refresh_token",
                "message": FAILED,
                "cause": "invalid_grant",
            }
            assert sdk.refreshes == 2
            assert sdk.wire.refreshes[1].form["refresh_token"] == rotated
            assert sdk.wire.refreshes[1].status == 400


async def test_replayed_pre_refresh_cookie_keeps_the_tokens_expiry(
    op: OidcProvider, api: str
) -> None:
    """The remembered refresh answers a late request with the same token, and that token
    expires when the provider said it does, not ``expires_in`` after the late request."""
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(op, clock=clock)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            old_cookies = dict(browser.cookies)

            clock.offset = TTL + 1
            refreshed = (await browser.get("/token")).json()
            assert refreshed["expires_at"] == clock.now() + TTL

            clock.offset = TTL + 3  # two seconds later, the token has two seconds left
            response = await http.get(
                f"{sdk.base}/token", headers={"cookie": cookie_header(old_cookies)}
            )
            assert response.status_code == 200
            late = response.json()
            assert late["token"] == refreshed["token"]
            assert sdk.refreshes == 1
            assert late["expires_at"] == refreshed["expires_at"]
            stored = sdk.token_set(cookies_after(old_cookies, response))
            assert stored["expiresAt"] == refreshed["expires_at"]


async def test_straggler_after_a_second_rotation_gets_a_live_refresh_token(
    op: OidcProvider, api: str
) -> None:
    """Two rotations within the remembered window (an expiry refresh, then a forced one),
    then a request still carrying the pre-refresh cookie: the cookie written back to it must
    hold a refresh token the provider still honours, not the one already rotated out."""
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(op, clock=clock)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            old_cookies = dict(browser.cookies)

            clock.offset = TTL + 1
            assert (await browser.get("/token")).status_code == 200
            assert (await browser.get("/token?refresh=true")).status_code == 200
            assert sdk.refreshes == 2
            first, second = sdk.wire.refreshes
            assert second.form["refresh_token"] == first.body["refresh_token"]
            newest = second.body["refresh_token"]
            assert sdk.token_set(browser.cookies)["refreshToken"] == newest

            response = await http.get(
                f"{sdk.base}/token", headers={"cookie": cookie_header(old_cookies)}
            )
            assert response.status_code == 200, response.text
            assert sdk.refreshes == 2  # served from memory, nothing sent
            handed_back = sdk.token_set(cookies_after(old_cookies, response))["refreshToken"]
            # Asked of the provider itself: is that refresh token still good?
            check = await provider_refresh(op, http, CREDENTIALS, handed_back)
            assert check.status_code == 200, (
                "the straggler's cookie holds a rotated-out refresh token "
                f"(first rotation's: {handed_back == first.body['refresh_token']}); "
                f"provider: {check.text}"
            )


# --------------------------------------------------------------------------- 3. concurrency


async def test_fifty_concurrent_requests_share_one_refresh(op: OidcProvider, api: str) -> None:
    clock = TestClock()
    clock.freeze()
    # Each refresh grant is held back 0.5 s so that all 50 requests overlap with it.
    sdk = new_sdk(op, clock=clock, refresh_delay=0.5)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as op_http:
            await login(browser, op_http, ALICE["sub"])
            cookies = dict(browser.cookies)
            old = sdk.token_set(cookies)

            clock.offset = TTL + 1
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
            async with httpx.AsyncClient(base_url=sdk.base, timeout=30, limits=limits) as http:
                responses = await asyncio.gather(
                    *(
                        http.get("/token", headers={"cookie": cookie_header(cookies)})
                        for _ in range(50)
                    )
                )
            assert [r.status_code for r in responses] == [200] * 50, responses[0].text
            bodies = [r.json() for r in responses]
            token = same([body["token"] for body in bodies])
            assert token != old["accessToken"]
            assert same([body["expires_at"] for body in bodies]) == clock.now() + TTL

            # Exactly one refresh grant: by the SDK's count and on the wire.
            assert sdk.refreshes == 1
            (grant,) = sdk.wire.refreshes
            assert grant.status == 200
            assert grant.form["refresh_token"] == old["refreshToken"]
            rotated = grant.body["refresh_token"]

            # Every response carries the refreshed session.
            for response in responses:
                stored = sdk.token_set(cookies_after(cookies, response))
                assert stored["accessToken"] == token
                assert stored["refreshToken"] == rotated

            # The app goes on with any of those cookies; a forced refresh proves that the
            # provider still honours the rotated token (a second use of the old one would
            # have revoked it).
            browser.cookies = cookies_after(cookies, responses[37])
            response = await browser.get("/token")
            assert response.json()["token"] == token
            assert sdk.refreshes == 1
            response = await browser.get("/token?refresh=true")
            assert response.status_code == 200, response.text
            assert response.json()["token"] != token
            assert sdk.refreshes == 2
            assert [(c.form["refresh_token"], c.status) for c in sdk.wire.refreshes] == [
                (old["refreshToken"], 200),
                (rotated, 200),
            ]


async def test_two_users_in_parallel_never_share_tokens(
    op: OidcProvider, api: str, keys: KeySet
) -> None:
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(op, clock=clock, refresh_delay=0.5)
    users = {"alice": ALICE["sub"], "bob": BOB["sub"]}
    with serve(token_app(sdk.auth0, api), sdk.port):
        cookies: dict[str, dict[str, str]] = {}
        for name, sub in users.items():
            async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as op_http:
                await login(browser, op_http, sub)
                cookies[name] = dict(browser.cookies)
                assert sdk.stored(cookies[name])["user"]["sub"] == sub
        old = {name: sdk.token_set(cookies[name]) for name in users}
        assert old["alice"]["refreshToken"] != old["bob"]["refreshToken"]

        clock.offset = TTL + 1
        order = ["alice", "bob"] * 25
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=sdk.base, timeout=30, limits=limits) as http:
            responses = await asyncio.gather(
                *(http.get("/token", headers={"cookie": cookie_header(cookies[n])}) for n in order)
            )
        assert [r.status_code for r in responses] == [200] * 50

        assert sdk.refreshes == 2
        assert len(sdk.wire.refreshes) == 2
        assert all(call.status == 200 for call in sdk.wire.refreshes)
        rotated = {call.form["refresh_token"]: call.body for call in sdk.wire.refreshes}
        assert set(rotated) == {old["alice"]["refreshToken"], old["bob"]["refreshToken"]}

        tokens: dict[str, set[str]] = {name: set() for name in users}
        for name, response in zip(order, responses, strict=True):
            token = response.json()["token"]
            tokens[name].add(token)
            claims = verified_claims(keys, token)
            assert (claims["sub"], claims["aud"]) == (users[name], API_DEFAULT)
            after = cookies_after(cookies[name], response)
            assert sdk.stored(after)["user"]["sub"] == users[name]
            stored = sdk.token_set(after)
            assert stored["accessToken"] == token
            assert stored["refreshToken"] == rotated[old[name]["refreshToken"]]["refresh_token"]
        assert len(tokens["alice"]) == 1 and len(tokens["bob"]) == 1
        assert tokens["alice"] != tokens["bob"]
        assert tokens["alice"] == {rotated[old["alice"]["refreshToken"]]["access_token"]}
        assert tokens["bob"] == {rotated[old["bob"]["refreshToken"]]["access_token"]}


async def test_concurrent_refreshes_for_two_audiences_never_reuse_a_refresh_token(
    op: OidcProvider, api: str, keys: KeySet
) -> None:
    """One session, requests for api.one and api.two at the same moment: two refresh grants
    are needed, and with rotation each must present a different refresh token (presenting
    one twice is reuse, and the provider revokes the login)."""
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(op, clock=clock, refresh_delay=0.3)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            cookies = dict(browser.cookies)
            wanted = [(API_ONE, "read:one"), (API_TWO, "read:two")] * 5
            responses = await asyncio.gather(
                *(
                    http.get(
                        f"{sdk.base}/token" + query(audience=audience, scope=scope),
                        headers={"cookie": cookie_header(cookies)},
                    )
                    for audience, scope in wanted
                )
            )
            grants = sdk.wire.refreshes
            presented = [call.form["refresh_token"] for call in grants]
            assert len(presented) == 2 and sdk.refreshes == 2
            outcome = [(c.form["audience"], c.status, c.body.get("error")) for c in grants]
            assert len(set(presented)) == 2, f"one refresh token presented twice: {outcome}"
            assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
            for (audience, _), response in zip(wanted, responses, strict=True):
                assert verified_claims(keys, response.json()["token"])["aud"] == audience


# --------------------------------------------------------------------------- 5. MRRT


async def test_tokens_for_two_audiences_share_one_refresh_token(
    op: OidcProvider, api: str, keys: KeySet
) -> None:
    clock = TestClock()
    t = clock.freeze()
    sdk = new_sdk(op, clock=clock)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            login_set = sdk.token_set(browser.cookies)
            assert sdk.entries(browser.cookies) == {}

            # -- api.one: a refresh with audience and the merged scope, kept as an entry
            response = await browser.get("/token" + query(audience=API_ONE, scope="read:one"))
            assert response.status_code == 200, response.text
            one = response.json()
            assert one == {
                "token": one["token"],
                "expires_at": t + TTL,
                "scope": "read:one",
                "token_type": "Bearer",
                "audience": API_ONE,
            }
            claims = verified_claims(keys, one["token"])
            assert (claims["aud"], claims["sub"], claims["scope"]) == (
                API_ONE,
                ALICE["sub"],
                "read:one",
            )
            assert sdk.refreshes == 1
            (grant,) = sdk.wire.refreshes
            assert grant.form == {
                "grant_type": "refresh_token",
                "refresh_token": login_set["refreshToken"],
                "scope": f"{SCOPE} read:one",
                "audience": API_ONE,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "resource": API_ONE,
            }
            one_entry = {
                "accessToken": one["token"],
                "expiresAt": t + TTL,
                "audience": API_ONE,
                "scope": "read:one",
                "requestedScope": f"{SCOPE} read:one",
                "token_type": "Bearer",
            }
            assert sdk.entries(browser.cookies) == {API_ONE: one_entry}
            stored = sdk.token_set(browser.cookies)
            assert stored["accessToken"] == login_set["accessToken"]  # the default's, untouched
            assert (
                stored["refreshToken"] == grant.body["refresh_token"] != login_set["refreshToken"]
            )

            # -- api.two, two seconds later
            clock.offset = 2
            response = await browser.get("/token" + query(audience=API_TWO, scope="read:two"))
            assert response.status_code == 200, response.text
            two = response.json()
            assert (two["audience"], two["scope"], two["expires_at"]) == (
                API_TWO,
                "read:two",
                t + 2 + TTL,
            )
            assert verified_claims(keys, two["token"])["aud"] == API_TWO
            assert sdk.refreshes == 2
            assert sdk.wire.refreshes[1].form["refresh_token"] == grant.body["refresh_token"]
            assert sdk.wire.refreshes[1].form["audience"] == API_TWO
            two_entry = {
                "accessToken": two["token"],
                "expiresAt": t + 2 + TTL,
                "audience": API_TWO,
                "scope": "read:two",
                "requestedScope": f"{SCOPE} read:two",
                "token_type": "Bearer",
            }
            assert sdk.entries(browser.cookies) == {API_ONE: one_entry, API_TWO: two_entry}
            # One refresh token, in the primary token set only; entries carry none.
            stored = sdk.token_set(browser.cookies)
            assert stored["refreshToken"] == sdk.wire.refreshes[1].body["refresh_token"]
            assert stored["accessToken"] == login_set["accessToken"]
            for entry in sdk.stored(browser.cookies)["accessTokens"]:
                assert set(entry) == ENTRY_KEYS

            # -- cached: api.one again (with and without the scope), and the default audience
            for path in (
                "/token" + query(audience=API_ONE, scope="read:one"),
                "/token" + query(audience=API_ONE),
            ):
                response = await browser.get(path)
                assert response.json()["token"] == one["token"], path
            response = await browser.get("/token")
            assert response.json()["token"] == login_set["accessToken"]
            assert sdk.refreshes == 2 and len(sdk.wire.refreshes) == 2

            # -- api.one expires (t+4), api.two has not (t+6): only api.one's entry changes
            clock.offset = TTL
            response = await browser.get("/token" + query(audience=API_ONE, scope="read:one"))
            assert response.status_code == 200, response.text
            one_again = response.json()
            assert one_again["token"] != one["token"]
            assert one_again["expires_at"] == t + TTL + TTL
            assert verified_claims(keys, one_again["token"])["aud"] == API_ONE
            assert sdk.refreshes == 3
            assert sdk.wire.refreshes[2].form["audience"] == API_ONE
            assert sdk.entries(browser.cookies) == {
                API_ONE: {**one_entry, "accessToken": one_again["token"], "expiresAt": t + 2 * TTL},
                API_TWO: two_entry,
            }
            stored = sdk.token_set(browser.cookies)
            assert (stored["accessToken"], stored["expiresAt"]) == (
                login_set["accessToken"],
                login_set["expiresAt"],
            )
            assert stored["refreshToken"] == sdk.wire.refreshes[2].body["refresh_token"]

            # -- everything expired: a default-audience refresh prunes the stale entries
            clock.offset = 20
            response = await browser.get("/token")
            assert response.status_code == 200, response.text
            default = response.json()
            assert default["token"] != login_set["accessToken"]
            assert (default["audience"], default["expires_at"]) == (API_DEFAULT, t + 20 + TTL)
            assert verified_claims(keys, default["token"])["aud"] == API_DEFAULT
            assert sdk.refreshes == 4
            assert "audience" not in sdk.wire.refreshes[3].form
            assert sdk.entries(browser.cookies) == {}
            assert sdk.token_set(browser.cookies)["accessToken"] == default["token"]


# --------------------------------------------------------------------------- 6. route


async def test_access_token_route(op: OidcProvider, api: str, keys: KeySet) -> None:
    clock = TestClock()
    t = clock.freeze()
    sdk = new_sdk(op, clock=clock)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            response = await browser.get("/auth/access-token")
            assert response.status_code == 401
            assert response.json() == NO_SESSION
            assert response.headers["cache-control"] == NO_STORE

            await login(browser, http, ALICE["sub"])
            login_set = sdk.token_set(browser.cookies)

            clock.offset = 1
            response = await browser.get("/auth/access-token")
            assert response.status_code == 200
            assert response.headers["cache-control"] == NO_STORE
            assert response.json() == {
                "token": login_set["accessToken"],
                "scope": "read:default",
                "expires_at": t + TTL,
                "expires_in": TTL - 1,
                "token_type": "Bearer",
            }
            assert set_cookies(response) == {}
            # The route has no refresh parameter: the browser cannot force a refresh.
            response = await browser.get("/auth/access-token?refresh=true")
            assert response.json()["token"] == login_set["accessToken"]
            assert sdk.refreshes == 0 and sdk.wire.refreshes == []

            # -- another audience and scope
            response = await browser.get(
                "/auth/access-token" + query(audience=API_ONE, scope="read:one")
            )
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == NO_STORE
            one = response.json()
            assert set(one) == {"token", "scope", "expires_at", "expires_in", "token_type"}
            assert (one["scope"], one["expires_at"], one["expires_in"]) == (
                "read:one",
                t + 1 + TTL,
                TTL,
            )
            claims = verified_claims(keys, one["token"])
            assert (claims["aud"], claims["sub"]) == (API_ONE, ALICE["sub"])
            assert sdk.refreshes == 1
            assert_session_written(response)
            assert sdk.entries(browser.cookies)[API_ONE]["accessToken"] == one["token"]

            # -- expired: refreshed and saved
            clock.offset = TTL + 1
            response = await browser.get("/auth/access-token")
            assert response.status_code == 200
            refreshed = response.json()
            assert refreshed["token"] != login_set["accessToken"]
            assert (refreshed["expires_at"], refreshed["expires_in"]) == (t + 2 * TTL + 1, TTL)
            assert sdk.refreshes == 2
            stored = sdk.token_set(browser.cookies)
            assert stored["accessToken"] == refreshed["token"]
            assert stored["refreshToken"] == sdk.wire.refreshes[1].body["refresh_token"]
            logged_in = dict(browser.cookies)

    # -- disabled: the route is not mounted, the request reaches the app
    off = new_sdk(op, clock=clock, enable_access_token_endpoint=False)
    with serve(token_app(off.auth0, api), off.port):
        async with Browser(base_url=off.base) as browser:
            for cookies in ({}, logged_in):
                browser.cookies = dict(cookies)
                response = await browser.get("/auth/access-token")
                assert response.status_code == 404
                assert response.json() == {"detail": "Not Found"}
            assert off.refreshes == 0 and off.wire.calls == []


# --------------------------------------------------------------------------- 7. failures


async def test_refresh_failure_and_missing_refresh_token(op: OidcProvider, api: str) -> None:
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(op, clock=clock)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            before = sdk.stored(browser.cookies)
            revoked = await provider_revoke(
                op, http, CREDENTIALS, before["tokenSet"]["refreshToken"]
            )
            assert revoked.status_code == 200

            clock.offset = TTL + 1
            response = await browser.get("/token")
            assert response.status_code == 401
            assert response.json() == {
                "code": "failed_to_refresh_token",
                "message": FAILED,
                "cause": "invalid_grant",
            }
            assert sdk.refreshes == 1
            (grant,) = sdk.wire.refreshes
            assert (grant.status, grant.body["error"]) == (400, "invalid_grant")
            after = sdk.stored(browser.cookies)
            for key in ("tokenSet", "accessTokens", "user", "internal"):
                assert after.get(key) == before.get(key), key

            response = await browser.get("/auth/access-token")
            assert response.status_code == 401
            assert response.json() == {
                "error": {"message": FAILED, "code": "failed_to_refresh_token"}
            }
            assert response.headers["cache-control"] == NO_STORE
            assert set_cookies(response) == {}
            assert sdk.refreshes == 2  # failures are not remembered

    # -- a login without offline_access: no refresh token
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(
        op,
        clock=clock,
        authorization_parameters={"audience": API_DEFAULT, "scope": "openid profile email"},
    )
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            token_set = sdk.token_set(browser.cookies)
            assert "refreshToken" not in token_set

            response = await browser.get("/token")  # unexpired: fine without one
            assert response.status_code == 200
            assert response.json()["token"] == token_set["accessToken"]

            response = await browser.get("/token" + query(audience=API_ONE))
            assert response.status_code == 401
            assert response.json() == {
                "code": "missing_refresh_token",
                "message": NO_AT_NO_RT,
                "cause": None,
            }

            clock.offset = TTL + 1
            response = await browser.get("/token")
            assert response.status_code == 401
            assert response.json() == {
                "code": "missing_refresh_token",
                "message": EXPIRED_NO_RT,
                "cause": None,
            }
            response = await browser.get("/auth/access-token")
            assert response.status_code == 401
            assert response.json() == {
                "error": {"message": EXPIRED_NO_RT, "code": "missing_refresh_token"}
            }
            assert response.headers["cache-control"] == NO_STORE
            assert sdk.refreshes == 0 and sdk.wire.refreshes == []


# --------------------------------------------------------------------------- 8. fetcher


async def test_fetcher_sends_the_token_and_persists_a_refresh(op: OidcProvider, api: str) -> None:
    clock = TestClock()
    clock.freeze()
    sdk = new_sdk(op, clock=clock)
    with serve(token_app(sdk.auth0, api), sdk.port):
        async with Browser(base_url=sdk.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            login_set = sdk.token_set(browser.cookies)

            response = await browser.get("/fetch")
            assert response.status_code == 200, response.text
            result = response.json()
            assert result["status"] == 200, result
            echoed = result["body"]
            assert echoed["path"] == "/api/whoami"  # "whoami" resolved against base_url
            assert echoed["authorization"] == f"Bearer {login_set['accessToken']}"
            assert (echoed["claims"]["sub"], echoed["claims"]["aud"]) == (
                ALICE["sub"],
                API_DEFAULT,
            )
            assert sdk.refreshes == 0

            response = await browser.get("/fetch" + query(audience=API_ONE))
            result = response.json()
            assert result["status"] == 200, result
            assert result["body"]["claims"]["aud"] == API_ONE
            one_token = result["body"]["authorization"].removeprefix("Bearer ")
            assert sdk.refreshes == 1
            assert sdk.entries(browser.cookies)[API_ONE]["accessToken"] == one_token

            clock.offset = TTL + 1
            response = await browser.get("/fetch")
            result = response.json()
            assert result["status"] == 200, result  # the API accepted the refreshed token
            token = result["body"]["authorization"].removeprefix("Bearer ")
            assert token != login_set["accessToken"]
            assert result["body"]["claims"]["aud"] == API_DEFAULT
            assert sdk.refreshes == 2
            assert_session_written(response)
            stored = sdk.token_set(browser.cookies)
            assert stored["accessToken"] == token
            assert stored["refreshToken"] == sdk.wire.refreshes[1].body["refresh_token"]


# --------------------------------------------------------------------------- 9. no middleware


async def test_refresh_saved_to_a_response_outside_the_middleware(
    op: OidcProvider, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = TestClock()
    clock.freeze()
    logins = new_sdk(op, clock=clock)
    plain = new_sdk(op, clock=clock)
    auth0 = plain.auth0

    async def token(request: StarletteRequest) -> StarletteResponse:
        response = StarletteResponse(status_code=200)
        result = await auth0.get_access_token(request, response)
        response.headers["x-token"] = result.token
        return response

    async def unsaved(request: StarletteRequest) -> JSONResponse:
        result = await auth0.get_access_token(request)
        return JSONResponse(result.to_dict())

    app = Starlette(routes=[Route("/token", token), Route("/unsaved", unsaved)])
    with serve(token_app(logins.auth0, api), logins.port), serve(app, plain.port):
        async with Browser(base_url=logins.base) as browser, httpx.AsyncClient() as http:
            await login(browser, http, ALICE["sub"])
            cookies = dict(browser.cookies)
        login_set = logins.token_set(cookies)

        async with Browser(base_url=plain.base) as browser:
            browser.cookies = dict(cookies)
            response = await browser.get("/token")  # unexpired: nothing to save
            assert response.status_code == 200, response.text
            assert response.headers["x-token"] == login_set["accessToken"]
            assert set_cookies(response) == {}

            clock.offset = TTL + 1
            response = await browser.get("/token")
            assert response.status_code == 200, response.text
            token = response.headers["x-token"]
            assert token != login_set["accessToken"]
            assert plain.refreshes == 1
            (grant,) = plain.wire.refreshes
            assert grant.form["refresh_token"] == login_set["refreshToken"]
            assert_session_written(response)
            assert response.headers["cache-control"] == NO_STORE
            stored = plain.token_set(browser.cookies)
            assert stored["accessToken"] == token
            assert stored["refreshToken"] == grant.body["refresh_token"]

            response = await browser.get("/token")  # the saved token is used
            assert response.headers["x-token"] == token
            assert set_cookies(response) == {}
            assert plain.refreshes == 1

            # Without a response to write to, the refresh cannot be saved: a warning.
            clock.offset = 2 * TTL + 2
            saved = dict(browser.cookies)
            with caplog.at_level(logging.WARNING, logger="auth0_web"):
                response = await browser.get("/unsaved")
            assert response.status_code == 200, response.text
            assert response.json()["token"] not in (login_set["accessToken"], token)
            assert plain.refreshes == 2
            assert set_cookies(response) == {}
            assert browser.cookies == saved
            assert any(
                "a refreshed token set could not be saved" in record.getMessage()
                for record in caplog.records
            )
