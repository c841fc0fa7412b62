"""Group F (REF): refresh, multi-resource refresh tokens and ``/auth/access-token``.

Also the ``/auth/access-token`` parts of SES-11 (caching, CORS) and SES-12 (what reaches the
browser). Tokens are expired with the client's ``clock=`` (a settable offset over real time)
rather than by sleeping; the scripted OP issues distinct tokens per call, rotates refresh
tokens and revokes a whole family when a rotated-out refresh token is presented again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from auth0_web import AccessTokenError, Auth0Client, MfaRequiredError, SessionData
from auth0_web.session._chunks import read_chunked
from auth0_web.session._codec import CookieCodec
from tests.support.apps import SECRET, Browser
from tests.support.scripted_op import DEFAULT_USER, RecordedRequest, Scenario, ScriptedOP

from .conftest import Harness
from .helpers import assert_no_set_cookie, full_login, is_deletion, session_set_cookies

pytestmark = pytest.mark.anyio

ROUTE = "/auth/access-token"
APP_ROUTE = "/tok"
ROUTES = [ROUTE, APP_ROUTE]
TOKEN = "/oauth/token"
JSON = {"content-type": "application/json"}
NO_STORE = "private, no-cache, no-store, must-revalidate, max-age=0"
DEFAULT_SCOPE = "openid profile email offline_access"
WIDE_SCOPE = DEFAULT_SCOPE + " read:b write:b"
B = "https://b.example"
C = "https://c.example"
ANSWER_KEYS = {"token", "expires_at", "expires_in", "scope", "token_type"}
FAILED = "failed_to_refresh_token"


# --------------------------------------------------------------------------------------
# Harness pieces
# --------------------------------------------------------------------------------------


class Clock:
    """Real time plus a settable offset (the SDK's ``clock=``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def token_app(auth0: Auth0Client) -> Any:
    """``/tok``: ``get_access_token`` inside the app; ``/fetch``: ``create_fetcher``."""
    app = FastAPI()

    @app.get("/tok")
    async def tok(request: Request) -> JSONResponse:
        q = request.query_params
        try:
            token = await auth0.get_access_token(
                audience=q.get("audience") or None,
                scope=q.get("scope") or None,
                refresh=q.get("refresh") == "1",
                merge_scopes=q.get("merge") != "0",
            )
        except MfaRequiredError as exc:
            return JSONResponse({"error": exc.code, "mfa_token": exc.mfa_token}, status_code=403)
        except AccessTokenError as exc:
            return JSONResponse({"error": exc.code}, status_code=401)
        return JSONResponse(token.to_dict())

    @app.get("/fetch")
    async def fetch() -> JSONResponse:
        def api(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"authorization": request.headers["authorization"]})

        async with httpx.AsyncClient(transport=httpx.MockTransport(api)) as client:
            fetcher = await auth0.create_fetcher(base_url="https://api.example", client=client)
            answer = await fetcher.fetch_with_auth("/me")
        return JSONResponse(answer.json())

    return auth0.middleware(app)


@dataclass
class Ctx:
    browser: Browser
    client: Auth0Client
    clock: Clock
    login: dict[str, Any]  # the OP's token response to the login


async def logged_in(
    h: Harness, op: ScriptedOP, *, ttl: int = 60, clock: Clock | None = None, **options: Any
) -> Ctx:
    op.scenario.access_token_ttl = ttl
    clock = clock or Clock()
    client = h.client(clock=clock, **options)
    browser = h.browser(token_app(client))
    response = await full_login(browser, op)
    assert response.status_code == 307, response.text
    return Ctx(browser, client, clock, dict(op.token_responses[-1]))


def stored(browser: Browser) -> dict[str, Any]:
    """The session the browser's cookie holds (decrypted; the JWE ``exp`` dropped)."""
    value = read_chunked("__session", browser.cookies)
    assert value, "no session cookie"
    claims = CookieCodec([SECRET]).decrypt(value, now=time.time())
    assert claims is not None, "session cookie does not decrypt"
    claims.pop("exp", None)
    return claims


def error_code(response: httpx.Response) -> str:
    error = response.json()["error"]
    return str(error["code"] if isinstance(error, dict) else error)


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers.get_list("cache-control") == [NO_STORE], response.headers
    assert response.headers.get("pragma") == "no-cache"
    assert response.headers.get("expires") == "0"


def assert_no_cors(response: httpx.Response) -> None:
    for name in response.headers:
        assert not name.lower().startswith("access-control-"), name


def assert_session_not_deleted(response: httpx.Response) -> None:
    deleted = [n for n, _, a in session_set_cookies(response) if is_deletion(a)]
    assert not deleted, deleted


def assert_safe_answer(response: httpx.Response, *secrets: str) -> None:
    """A 200 answer holds only the documented members and none of ``secrets``."""
    assert response.status_code == 200, (response.status_code, response.text)
    body = response.json()
    assert set(body) <= ANSWER_KEYS, body
    for key in ("refresh_token", "id_token", "refreshToken", "idToken"):
        assert key not in response.text
    for secret in secrets:
        if secret:
            assert secret not in response.text


class Snapshot:
    """The browser's cookies and the stored session, to prove a request changed nothing."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.cookies = dict(browser.cookies)
        self.session = stored(browser)

    def assert_unchanged(self, response: httpx.Response, route: str) -> None:
        assert_session_not_deleted(response)
        if route == ROUTE:
            # The SDK route writes nothing on failure: the cookie is byte-for-byte the same.
            assert_no_set_cookie(response)
            assert self.browser.cookies == self.cookies
        assert stored(self.browser) == self.session


def assert_refused(response: httpx.Response, code: str = FAILED) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert error_code(response) == code
    assert "no-store" in response.headers.get("cache-control", "")


def refresh_calls(op: ScriptedOP) -> list[RecordedRequest]:
    return [r for r in op.calls(TOKEN) if r.form.get("grant_type") == "refresh_token"]


def oauth_error(status: int, body: dict[str, Any]) -> Callable[[RecordedRequest], Any]:
    """A token-endpoint override answering refresh requests only."""

    def answer(record: RecordedRequest) -> Any:
        if record.form.get("grant_type") != "refresh_token":
            return None
        return (status, JSON, json.dumps(body).encode())

    return answer


# --------------------------------------------------------------------------------------
# REF-01  refreshed ID token for another sub
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
async def test_ref01_refreshed_id_token_for_another_user_is_refused(
    h: Harness, op: ScriptedOP, route: str
) -> None:
    ctx = await logged_in(h, op)
    op.scenario.id_token_claims = lambda c: {
        **c,
        "sub": "auth0|someone-else",
        "name": "Someone Else",
        "email": "else@example.com",
    }
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(route)
    assert len(refresh_calls(op)) == 1
    refreshed = op.token_responses[-1]
    assert_refused(response)
    snapshot.assert_unchanged(response, route)
    for value in (refreshed["access_token"], refreshed["refresh_token"], "someone-else"):
        assert value not in response.text
    session = stored(ctx.browser)
    assert session["user"]["sub"] == DEFAULT_USER["sub"]
    assert session["tokenSet"]["accessToken"] == ctx.login["access_token"]
    # And again: still refused, still unchanged (no state was cached for the session).
    again = await ctx.browser.get(route)
    assert_refused(again)
    snapshot.assert_unchanged(again, route)


async def test_ref01_sub_continuity_does_not_depend_on_the_claims_the_app_keeps(
    h: Harness, op: ScriptedOP
) -> None:
    """An app whose ``before_session_saved`` keeps only some claims (no ``sub``) must still
    get a refresh for another user refused: the check cannot rely on ``session.user``."""

    def keep_name_only(session: SessionData, id_token: str | None) -> SessionData:
        return replace(session, user={"name": session.user.get("name")})

    ctx = await logged_in(h, op, before_session_saved=keep_name_only)
    assert "sub" not in stored(ctx.browser)["user"]
    op.scenario.id_token_claims = lambda c: {**c, "sub": "auth0|someone-else", "name": "Else"}
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(ROUTE)
    assert len(refresh_calls(op)) == 1
    assert_refused(response)
    snapshot.assert_unchanged(response, ROUTE)


# --------------------------------------------------------------------------------------
# REF-02  refreshed ID token with another iss, or otherwise invalid
# --------------------------------------------------------------------------------------


def _claims(change: dict[str, Any]) -> Callable[[Scenario], None]:
    def apply(scenario: Scenario) -> None:
        scenario.id_token_claims = lambda c: {**c, **change}

    return apply


def _sign(how: Any) -> Callable[[Scenario], None]:
    def apply(scenario: Scenario) -> None:
        scenario.sign_with = how

    return apply


def _expired(scenario: Scenario) -> None:
    scenario.id_token_claims = lambda c: {**c, "iat": c["iat"] - 7200, "exp": c["iat"] - 3600}


def _truncated_signature(scenario: Scenario) -> None:
    scenario.id_token_raw = lambda parts: parts["token"][:-6]


REF02: dict[str, Callable[[Scenario], None]] = {
    "iss-other": _claims({"iss": "https://evil.example/"}),
    "aud-other": _claims({"aud": "another-client"}),
    "aud-list-without-us": _claims({"aud": ["another-client"]}),
    "exp-past": _expired,
    "alg-none": _sign("none"),
    "wrong-key": _sign("wrong-key"),
    "hs256-client-secret": _sign("HS256-client-secret"),
    "truncated-signature": _truncated_signature,
    "nonce-not-the-logins": _claims({"nonce": "attacker-chosen-nonce"}),
}


@pytest.mark.parametrize("variant", list(REF02))
async def test_ref02_invalid_refreshed_id_token_is_refused(
    h: Harness, op: ScriptedOP, variant: str
) -> None:
    ctx = await logged_in(h, op)
    REF02[variant](op.scenario)
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(ROUTE)
    assert len(refresh_calls(op)) == 1
    assert_refused(response)
    snapshot.assert_unchanged(response, ROUTE)
    refreshed = op.token_responses[-1]
    assert refreshed["access_token"] not in response.text


async def test_ref02_invalid_refreshed_id_token_through_get_access_token(
    h: Harness, op: ScriptedOP
) -> None:
    ctx = await logged_in(h, op)
    op.scenario.id_token_claims = lambda c: {**c, "iss": "https://evil.example/"}
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(APP_ROUTE)
    assert_refused(response)
    snapshot.assert_unchanged(response, APP_ROUTE)


# --------------------------------------------------------------------------------------
# REF-03  refresh-token rotation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [*ROUTES, "/fetch"])
async def test_ref03_rotated_refresh_token_is_stored_and_works(
    h: Harness, op: ScriptedOP, route: str
) -> None:
    ctx = await logged_in(h, op)
    old = ctx.login["refresh_token"]
    for round_ in (1, 2):
        ctx.clock.advance(120)
        response = await ctx.browser.get(route)
        assert response.status_code == 200, response.text
        issued = op.token_responses[-1]
        if route == "/fetch":
            assert response.json() == {"authorization": "Bearer " + issued["access_token"]}
        else:
            assert response.json()["token"] == issued["access_token"]
        token_set = stored(ctx.browser)["tokenSet"]
        assert token_set["refreshToken"] == issued["refresh_token"] != old
        assert token_set["accessToken"] == issued["access_token"]
        assert len(refresh_calls(op)) == round_
        old = issued["refresh_token"]
    assert not op.revoked_families  # never presented a rotated-out token


async def test_ref03_omitted_refresh_token_keeps_the_old_one(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op)
    op.scenario.rotate_refresh_tokens = False
    op.scenario.token_body = lambda b: {k: v for k, v in b.items() if k != "refresh_token"}
    ctx.clock.advance(120)
    response = await ctx.browser.get(ROUTE)
    assert response.status_code == 200, response.text
    token_set = stored(ctx.browser)["tokenSet"]
    assert token_set["refreshToken"] == ctx.login["refresh_token"]
    assert token_set["accessToken"] == response.json()["token"] != ctx.login["access_token"]


async def test_ref03_empty_refresh_token_is_not_stored(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op)
    op.scenario.rotate_refresh_tokens = False
    op.scenario.token_body = lambda b: {**b, "refresh_token": ""}
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(ROUTE)
    assert response.status_code in (200, 401), response.text
    if response.status_code == 401:
        assert error_code(response) == FAILED
        snapshot.assert_unchanged(response, ROUTE)
    assert stored(ctx.browser)["tokenSet"]["refreshToken"] == ctx.login["refresh_token"]


# --------------------------------------------------------------------------------------
# REF-04  concurrent refreshes for one session
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
async def test_ref04_parallel_refreshes_make_one_call(
    h: Harness, op: ScriptedOP, route: str
) -> None:
    ctx = await logged_in(h, op)
    ctx.clock.advance(120)
    op.scenario.delay[TOKEN] = 0.2  # keep the refresh in flight while the others arrive
    responses = await asyncio.gather(*(ctx.browser.get(route) for _ in range(20)))
    assert len(refresh_calls(op)) == 1
    issued = op.token_responses[-1]
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert {r.json()["token"] for r in responses} == {issued["access_token"]}
    assert stored(ctx.browser)["tokenSet"]["refreshToken"] == issued["refresh_token"]
    assert not op.revoked_families
    # The winner's refresh token is the one kept, and it still works.
    op.scenario.delay.clear()
    ctx.clock.advance(120)
    later = await ctx.browser.get(route)
    assert later.status_code == 200, later.text
    assert len(refresh_calls(op)) == 2
    assert not op.revoked_families


async def test_ref04_loser_on_another_worker_fails_cleanly(h: Harness, op: ScriptedOP) -> None:
    """Two SDK instances (two processes) share the cookie secret; the second presents the
    refresh token the first already rotated. The OP answers ``invalid_grant``: a clean 401
    that does not delete the session."""
    ctx = await logged_in(h, op)
    worker_2 = h.browser(token_app(h.client(clock=ctx.clock)))
    worker_2.cookies.update(ctx.browser.cookies)
    ctx.clock.advance(120)
    winner = await ctx.browser.get(ROUTE)
    assert winner.status_code == 200
    snapshot = Snapshot(worker_2)
    loser = await worker_2.get(ROUTE)
    assert_refused(loser)
    snapshot.assert_unchanged(loser, ROUTE)
    assert worker_2.session_cookie_names()
    assert (
        stored(ctx.browser)["tokenSet"]["refreshToken"] == op.token_responses[-1]["refresh_token"]
    )


async def test_ref04_parallel_refreshes_for_two_audiences_keep_the_session_usable(
    h: Harness, op: ScriptedOP
) -> None:
    """One session, expired tokens, two audiences requested at once (a page that calls two
    APIs). The coalescer key includes the audience, so both requests present the same
    refresh token to a rotating OP with reuse detection: one answer must not cost the
    session its refresh token family."""
    ctx = await logged_in(h, op)
    ctx.clock.advance(120)
    op.scenario.delay[TOKEN] = 0.2
    default, other = await asyncio.gather(
        ctx.browser.get(ROUTE), ctx.browser.get(ROUTE, params={"audience": B})
    )
    for response in (default, other):
        assert response.status_code in (200, 401), response.text
        if response.status_code == 401:
            assert error_code(response) == FAILED
        assert_session_not_deleted(response)
    op.scenario.delay.clear()
    ctx.clock.advance(120)
    later = await ctx.browser.get(ROUTE)
    assert later.status_code == 200, (
        f"after two concurrent refreshes the session cannot refresh any more: {later.text} "
        f"(refresh calls: {len(refresh_calls(op))}, revoked families: {len(op.revoked_families)})"
    )


async def test_ref04_remembered_result_never_outlives_the_providers_expiry(
    h: Harness, op: ScriptedOP
) -> None:
    """A non-rotating refresh token keeps the coalescer key, so within the 30 s memory a
    later refresh gets the remembered result. It must not be handed out again with its
    expiry re-computed from the current time (the token is older than that)."""
    ctx = await logged_in(h, op, ttl=1)
    op.scenario.rotate_refresh_tokens = False
    await asyncio.sleep(1.1)
    first = await ctx.browser.get(ROUTE)
    assert first.status_code == 200, first.text
    await asyncio.sleep(1.1)
    second = await ctx.browser.get(ROUTE)
    assert second.status_code == 200, second.text
    assert second.json()["token"] != first.json()["token"] or (
        second.json()["expires_at"] <= first.json()["expires_at"]
    ), (
        "the same access token was handed out again with a later expiry "
        f"({first.json()['expires_at']} -> {second.json()['expires_at']}); the provider "
        f"expires it at {op.access_tokens[first.json()['token']]['exp']:.0f}"
    )


# --------------------------------------------------------------------------------------
# REF-05  token results leaking between users
# --------------------------------------------------------------------------------------


async def test_ref05_concurrent_users_get_only_their_own_tokens(h: Harness, op: ScriptedOP) -> None:
    clock = Clock()
    op.scenario.access_token_ttl = 60
    client = h.client(clock=clock)
    app = token_app(client)
    users = {"alice": DEFAULT_USER["sub"], "bob": "auth0|bob"}
    browsers: dict[str, Browser] = {}
    for name, sub in users.items():
        op.scenario.user = {**DEFAULT_USER, "sub": sub, "name": name, "email": f"{name}@x.test"}
        browsers[name] = h.browser(app)
        assert (await full_login(browsers[name], op)).status_code == 307
    op.scenario.delay[TOKEN] = 0.15

    # Round 1: default audience, both routes; round 2: the same explicit audience and scope
    # for both users (the shape of the global, audience-keyed cache of CVE-2025-67490).
    for params in ({}, {"audience": "https://api.example", "scope": "openid"}):
        clock.advance(120)
        jobs: list[tuple[str, Any]] = []
        for i in range(6):
            for name, browser in browsers.items():
                jobs.append((name, browser.get(ROUTES[i % 2], params=params)))
        answers = await asyncio.gather(*(job for _, job in jobs))
        seen: dict[str, set[str]] = {name: set() for name in users}
        for (name, _), answer in zip(jobs, answers, strict=True):
            assert answer.status_code == 200, answer.text
            token = answer.json()["token"]
            assert op.access_tokens[token]["sub"] == users[name], name
            seen[name].add(token)
        assert not (seen["alice"] & seen["bob"])
        assert all(len(tokens) == 1 for tokens in seen.values()), seen
        for name, browser in browsers.items():
            session = stored(browser)
            assert session["user"]["sub"] == users[name]
            refresh_token = session["tokenSet"]["refreshToken"]
            assert op.refresh_tokens[refresh_token].grant.user["sub"] == users[name]
    assert not op.revoked_families
    assert len(refresh_calls(op)) == 4  # one per user per round


# --------------------------------------------------------------------------------------
# REF-06  keeping MRRT audiences and scopes apart
# --------------------------------------------------------------------------------------


def b_params(scope: str, audience: str = B) -> dict[str, str]:
    return {"audience": audience, "scope": scope, "mergeScopes": "false"}


async def test_ref06_audiences_and_scopes_are_kept_apart(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op, ttl=600, authorization_parameters={"scope": WIDE_SCOPE})
    primary = ctx.login["access_token"]

    token_b = await ctx.browser.get(ROUTE, params=b_params("read:b"))
    assert token_b.status_code == 200, token_b.text
    tb = token_b.json()["token"]
    assert tb != primary
    assert refresh_calls(op)[-1].form["audience"] == B
    assert refresh_calls(op)[-1].form["scope"] == "read:b"

    # The default route still answers with the login's (default audience) token.
    default = await ctx.browser.get(ROUTE)
    assert default.json()["token"] == primary
    # The cached B token is reused for what it covers, without a call.
    again = await ctx.browser.get(ROUTE, params=b_params("read:b"))
    assert again.json()["token"] == tb
    assert len(refresh_calls(op)) == 1

    # More scopes than the cached B token's: a new refresh, not the cached token.
    wider = await ctx.browser.get(ROUTE, params=b_params("read:b write:b"))
    assert wider.status_code == 200
    assert wider.json()["token"] not in (tb, primary)
    assert refresh_calls(op)[-1].form["scope"] == "read:b write:b"
    assert len(refresh_calls(op)) == 2

    # The OP grants fewer scopes than asked: stored (and reported) as granted.
    op.scenario.token_body = lambda body: {**body, "scope": "read:b"}
    fewer = await ctx.browser.get(ROUTE, params=b_params("read:b write:b", audience=C))
    assert fewer.status_code == 200
    assert fewer.json()["scope"] == "read:b"
    [entry_c] = [e for e in stored(ctx.browser)["accessTokens"] if e["audience"] == C]
    assert entry_c["scope"] == "read:b"
    assert entry_c["accessToken"] == fewer.json()["token"]

    # Nothing above changed the default audience's token.
    assert (await ctx.browser.get(ROUTE)).json()["token"] == primary
    assert stored(ctx.browser)["tokenSet"]["accessToken"] == primary


async def test_ref06_token_refreshed_for_fewer_scopes_is_not_reused_for_more(
    h: Harness, op: ScriptedOP
) -> None:
    """B token for ``read:b write:b`` expires; a request for ``read:b`` alone refreshes it
    (scope ``read:b``). A later request for ``read:b write:b`` must not be answered with that
    token: it was neither requested nor granted for ``write:b``."""
    ctx = await logged_in(h, op, ttl=600, authorization_parameters={"scope": WIDE_SCOPE})
    first = await ctx.browser.get(ROUTE, params=b_params("read:b write:b"))
    assert first.json()["scope"] == "read:b write:b"
    ctx.clock.advance(700)
    narrow = await ctx.browser.get(ROUTE, params=b_params("read:b"))
    assert narrow.status_code == 200
    assert refresh_calls(op)[-1].form["scope"] == "read:b"
    narrow_token = narrow.json()["token"]
    assert op.access_tokens[narrow_token]["scope"] == "read:b"
    wide = await ctx.browser.get(ROUTE, params=b_params("read:b write:b"))
    assert wide.status_code == 200
    assert wide.json()["token"] != narrow_token, (
        "a token issued for 'read:b' answered a request for 'read:b write:b' "
        f"(answer scope {wide.json().get('scope')!r})"
    )


@pytest.mark.parametrize("route", ROUTES)
async def test_ref06_attacker_audience_never_gets_the_primary_token(
    h: Harness, op: ScriptedOP, route: str
) -> None:
    api = "https://api.example"
    ctx = await logged_in(h, op, ttl=600, authorization_parameters={"audience": api})
    primary = ctx.login["access_token"]
    assert (await ctx.browser.get(route, params={"audience": api})).json()["token"] == primary
    assert (await ctx.browser.get(route)).json()["token"] == primary
    assert not refresh_calls(op)
    for audience in (
        "https://evil.example",
        api + "/",
        "https://API.example",
        api + "#",
        " " + api,
    ):
        response = await ctx.browser.get(route, params={"audience": audience})
        assert response.status_code == 200, response.text
        assert response.json()["token"] != primary, audience
        assert refresh_calls(op)[-1].form["audience"] == audience
    assert stored(ctx.browser)["tokenSet"]["accessToken"] == primary


@pytest.mark.parametrize("route", ROUTES)
async def test_ref06_audience_and_scope_reach_the_provider_only_on_refresh(
    h: Harness, op: ScriptedOP, route: str
) -> None:
    ctx = await logged_in(h, op)
    # A valid token: no provider call, whatever the query says.
    for params in ({"scope": "openid"}, {"scope": "email profile"}, {"refresh": "true"}):
        response = await ctx.browser.get(route, params=params)
        assert response.json()["token"] == ctx.login["access_token"], params
    assert not refresh_calls(op)

    ctx.clock.advance(120)
    assert (await ctx.browser.get(route)).status_code == 200
    plain = refresh_calls(op)[-1].form
    assert "audience" not in plain and "scope" not in plain

    ctx.clock.advance(120)
    assert (await ctx.browser.get(route, params={"scope": "email"})).status_code == 200
    scoped = refresh_calls(op)[-1].form
    assert scoped["scope"] == DEFAULT_SCOPE  # merged with the configured scope
    assert "audience" not in scoped


@pytest.mark.parametrize(
    "value", ["False", "FALSE", "0", "no", "", "false ", " false", "true", "fals"]
)
async def test_ref06_forged_merge_scopes_values_keep_merging(
    h: Harness, op: ScriptedOP, value: str
) -> None:
    ctx = await logged_in(h, op)
    ctx.clock.advance(120)
    response = await ctx.browser.get(ROUTE, params={"scope": "email", "mergeScopes": value})
    assert response.status_code == 200, response.text
    assert refresh_calls(op)[-1].form["scope"] == DEFAULT_SCOPE


async def test_ref06_literal_false_disables_merging(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op, ttl=600, authorization_parameters={"scope": WIDE_SCOPE})
    response = await ctx.browser.get(ROUTE, params={"audience": B, "scope": "read:b"})
    assert response.status_code == 200, response.text
    merged = refresh_calls(op)[-1].form["scope"].split()
    assert "read:b" in merged and "openid" in merged  # merged with the configured scope
    # A fresh session (the first one's entry, requested for everything, would answer).
    other = await logged_in(h, op, ttl=600, authorization_parameters={"scope": WIDE_SCOPE})
    response = await other.browser.get(ROUTE, params=b_params("write:b"))
    assert response.status_code == 200, response.text
    assert refresh_calls(op)[-1].form["scope"] == "write:b"


async def test_ref06_expired_primary_covering_a_narrow_request_is_refreshed_whole(
    h: Harness, op: ScriptedOP
) -> None:
    """A narrow request the login's token set covers refreshes that set, with its own
    requested scope: the primary set is never narrowed by a page's query."""
    ctx = await logged_in(h, op)
    ctx.clock.advance(120)
    response = await ctx.browser.get(ROUTE, params={"scope": "email", "mergeScopes": "false"})
    assert response.status_code == 200, response.text
    assert refresh_calls(op)[-1].form["scope"].split() == DEFAULT_SCOPE.split()
    assert stored(ctx.browser)["tokenSet"]["requestedScope"].split() == DEFAULT_SCOPE.split()


# --------------------------------------------------------------------------------------
# REF-07  MRRT error paths and MFA step-up
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("access_denied", 403),
        ("invalid_target", 400),
        ("invalid_grant", 400),
        ("invalid_scope", 400),
        ("server_error", 500),
        ("temporarily_unavailable", 503),
    ],
)
async def test_ref07_error_for_one_audience_leaves_other_tokens_alone(
    h: Harness, op: ScriptedOP, error: str, status: int
) -> None:
    ctx = await logged_in(h, op, ttl=600, authorization_parameters={"scope": WIDE_SCOPE})
    tb = (await ctx.browser.get(ROUTE, params=b_params("read:b"))).json()["token"]
    op.scenario.responses[TOKEN] = lambda record: (
        (
            status,
            JSON,
            json.dumps(
                {"error": error, "error_description": "<script>alert(1)</script> nope"}
            ).encode(),
        )
        if record.form.get("audience") == C
        else None
    )
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(ROUTE, params=b_params("read:b", audience=C))
    assert_refused(response)
    assert "<script" not in response.text and "nope" not in response.text
    snapshot.assert_unchanged(response, ROUTE)
    calls = len(refresh_calls(op))
    assert (await ctx.browser.get(ROUTE, params=b_params("read:b"))).json()["token"] == tb
    assert (await ctx.browser.get(ROUTE)).json()["token"] == ctx.login["access_token"]
    assert len(refresh_calls(op)) == calls


RAW_MFA = "raw-mfa-token-Fe26.2**0123456789abcdef"


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("audience", [None, B])
async def test_ref07_mfa_required_gives_an_encrypted_time_limited_token(
    h: Harness, op: ScriptedOP, route: str, audience: str | None
) -> None:
    ctx = await logged_in(h, op)
    requirements = {"challenge": [{"type": "otp"}]}
    op.scenario.responses[TOKEN] = oauth_error(
        403,
        {
            "error": "mfa_required",
            "error_description": "Multifactor authentication required",
            "mfa_token": RAW_MFA,
            "mfa_requirements": requirements,
        },
    )
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    params = {"audience": audience} if audience else {}
    response = await ctx.browser.get(route, params=params)
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "mfa_required"
    sealed = body["mfa_token"]
    assert isinstance(sealed, str) and sealed
    assert sealed != RAW_MFA and RAW_MFA not in sealed
    assert RAW_MFA not in response.text
    assert "0123456789abcdef" not in response.text
    assert "no-store" in response.headers.get("cache-control", "")
    if route == ROUTE:
        assert set(body) == {"error", "error_description", "mfa_token", "mfa_requirements"}
        assert isinstance(body["error_description"], str) and body["error_description"]
        assert body["mfa_requirements"] == requirements
        assert_no_store(response)
    snapshot.assert_unchanged(response, route)
    # Only this app can open it, and only for a short while.
    codec = CookieCodec([SECRET])
    context = codec.decrypt(sealed, now=ctx.clock())
    assert context is not None and context["mfa_token"] == RAW_MFA
    assert context["exp"] <= ctx.clock() + 301
    assert codec.decrypt(sealed, now=ctx.clock() + 3600) is None
    assert CookieCodec(["another-secret-" + "y" * 32]).decrypt(sealed, now=ctx.clock()) is None


async def test_ref07_mfa_required_without_mfa_token(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op)
    op.scenario.responses[TOKEN] = oauth_error(403, {"error": "mfa_required"})
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(ROUTE)
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "mfa_required"
    assert not body["mfa_token"]
    assert "mfa_requirements" not in body
    assert_no_store(response)
    snapshot.assert_unchanged(response, ROUTE)


# --------------------------------------------------------------------------------------
# REF-09  no refresh token, and refresh loops
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
async def test_ref09_no_refresh_token_fails_without_calling_the_provider(
    h: Harness, op: ScriptedOP, route: str
) -> None:
    ctx = await logged_in(h, op, authorization_parameters={"scope": "openid profile email"})
    assert "refresh_token" not in ctx.login
    valid = await ctx.browser.get(route)
    assert valid.json()["token"] == ctx.login["access_token"]
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    for params in ({}, {"audience": B}, {"scope": "email"}):
        response = await ctx.browser.get(route, params=params)
        assert_refused(response, "missing_refresh_token")
        snapshot.assert_unchanged(response, route)
    assert op.count(TOKEN) == 1  # the login only


async def test_ref09_invalid_grant_is_one_call_per_request(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op)
    op.scenario.responses[TOKEN] = oauth_error(
        400, {"error": "invalid_grant", "error_description": "revoked"}
    )
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    for attempt in (1, 2, 3):
        response = await ctx.browser.get(ROUTE)
        assert_refused(response)
        snapshot.assert_unchanged(response, ROUTE)
        assert len(refresh_calls(op)) == attempt  # no retry loop, and failures not cached


async def test_ref09_narrow_unmerged_request_does_not_start_a_refresh_loop(
    h: Harness, op: ScriptedOP
) -> None:
    """``?scope=email&mergeScopes=false`` (any page script can send it) refreshes for
    ``email`` alone. Afterwards the default token must still be reusable: once refreshed,
    the next default request is answered from the session, not by another refresh."""
    ctx = await logged_in(h, op)
    ctx.clock.advance(120)
    narrow = await ctx.browser.get(ROUTE, params={"scope": "email", "mergeScopes": "false"})
    assert narrow.status_code == 200
    for _ in range(3):
        assert (await ctx.browser.get(ROUTE)).status_code == 200
    refreshes = len(refresh_calls(op))
    audiences = [e.get("audience") for e in stored(ctx.browser).get("accessTokens", [])]
    assert refreshes <= 2, (
        f"{refreshes} refreshes: every default request refreshes (entry audiences {audiences})"
    )


# --------------------------------------------------------------------------------------
# Malformed or failing refresh responses
# --------------------------------------------------------------------------------------


def _raw(status: int, body: bytes, ctype: str = "application/json") -> Callable[[Scenario], None]:
    def apply(scenario: Scenario) -> None:
        scenario.responses[TOKEN] = lambda record: (
            (status, {"content-type": ctype}, body)
            if record.form.get("grant_type") == "refresh_token"
            else None
        )

    return apply


def _body(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Scenario], None]:
    def apply(scenario: Scenario) -> None:
        scenario.token_body = change

    return apply


def _with_nan(scenario: Scenario) -> None:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        text = json.dumps({**body, "expires_in": "__X__"}).replace('"__X__"', "NaN")
        return 200, JSON, text.encode()

    scenario.token_response = answer


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {k: v for k, v in body.items() if k != key}


BAD_REFRESH: dict[str, Callable[[Scenario], None]] = {
    "access_token-missing": _body(_without("access_token")),
    "access_token-empty": _body(lambda b: {**b, "access_token": ""}),
    "access_token-number": _body(lambda b: {**b, "access_token": 42}),
    "token_type-missing": _body(_without("token_type")),
    "token_type-mac": _body(lambda b: {**b, "token_type": "mac"}),
    "expires_in-NaN": _with_nan,
    "expires_in-negative": _body(lambda b: {**b, "expires_in": -60}),
    "expires_in-string": _body(lambda b: {**b, "expires_in": "3600"}),
    "expires_in-huge": _body(lambda b: {**b, "expires_in": 10**30}),
    "id_token-not-a-jwt": _body(lambda b: {**b, "id_token": "not-a-jwt"}),
    "html-200": _raw(200, b"<html><script>x</script></html>", "text/html"),
    "not-json": _raw(200, b"access_token=abc&token_type=Bearer", "text/plain"),
    "json-array": _raw(200, b"[]"),
    "error-in-200": _raw(200, b'{"error":"invalid_grant"}'),
    "500-html": _raw(500, b"<h1>Internal Server Error</h1>", "text/html"),
    "500-json": _raw(500, b'{"error":"server_error"}'),
}


@pytest.mark.parametrize("variant", list(BAD_REFRESH))
async def test_malformed_refresh_response_fails_and_changes_nothing(
    h: Harness, op: ScriptedOP, variant: str
) -> None:
    ctx = await logged_in(h, op)
    BAD_REFRESH[variant](op.scenario)
    ctx.clock.advance(120)
    snapshot = Snapshot(ctx.browser)
    response = await ctx.browser.get(ROUTE)
    assert len(refresh_calls(op)) == 1
    assert_refused(response)
    assert_no_store(response)
    snapshot.assert_unchanged(response, ROUTE)
    assert "<script" not in response.text and "Internal Server Error" not in response.text


async def test_slow_token_endpoint_times_out_cleanly(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op, http_timeout=1)
    ctx.clock.advance(120)
    op.scenario.delay[TOKEN] = 4
    snapshot = Snapshot(ctx.browser)
    started = time.perf_counter()
    response = await ctx.browser.get(ROUTE)
    elapsed = time.perf_counter() - started
    assert elapsed < 3, elapsed
    assert_refused(response)
    assert_no_store(response)
    snapshot.assert_unchanged(response, ROUTE)


# --------------------------------------------------------------------------------------
# SES-11 / SES-12 for /auth/access-token
# --------------------------------------------------------------------------------------


async def test_ses11_every_access_token_answer_is_no_store_without_cors(
    h: Harness, op: ScriptedOP
) -> None:
    evil = {"origin": "https://evil.example"}
    anonymous = h.browser(token_app(h.client()))
    missing = await anonymous.get(ROUTE, headers=evil)
    assert missing.status_code == 401
    assert missing.json() == {
        "error": {"message": "The user does not have an active session.", "code": "missing_session"}
    }
    ctx = await logged_in(h, op)
    ok = await ctx.browser.get(ROUTE, headers=evil)
    assert ok.status_code == 200

    ctx.clock.advance(120)
    op.scenario.status[TOKEN] = 500
    failed = await ctx.browser.get(ROUTE, headers=evil)
    assert failed.status_code == 401
    op.scenario.status.clear()

    op.scenario.responses[TOKEN] = oauth_error(403, {"error": "mfa_required", "mfa_token": "m"})
    mfa = await ctx.browser.get(ROUTE, headers=evil)
    assert mfa.status_code == 403
    op.scenario.responses.clear()

    refreshed = await ctx.browser.get(ROUTE, headers=evil)
    assert refreshed.status_code == 200 and session_set_cookies(refreshed)

    for response in (missing, ok, failed, mfa, refreshed):
        assert_no_store(response)
        assert_no_cors(response)

    malformed = await ctx.browser.get(ROUTE + "?scope=%ff", headers=evil)
    assert malformed.status_code == 400
    assert "no-store" in malformed.headers["cache-control"]
    assert_no_cors(malformed)

    preflight = await ctx.browser.request(
        "OPTIONS",
        ROUTE,
        headers={**evil, "access-control-request-method": "GET"},
    )
    assert_no_cors(preflight)
    assert preflight.status_code >= 400
    posted = await ctx.browser.post(ROUTE, headers=evil)
    assert_no_cors(posted)
    assert posted.status_code >= 400 and "token" not in posted.text


async def test_ses12_access_token_route_never_returns_refresh_or_id_tokens(
    h: Harness, op: ScriptedOP
) -> None:
    ctx = await logged_in(h, op)
    login = ctx.login
    first = await ctx.browser.get(ROUTE)
    assert_safe_answer(first, login["refresh_token"], login["id_token"])
    body = first.json()
    assert body["token"] == login["access_token"]
    assert body["token_type"] == "Bearer"
    assert body["scope"] == DEFAULT_SCOPE
    assert 0 <= body["expires_in"] <= 60
    assert body["expires_at"] - int(ctx.clock()) == body["expires_in"]

    ctx.clock.advance(120)
    second = await ctx.browser.get(ROUTE)
    issued = op.token_responses[-1]
    assert_safe_answer(second, login["refresh_token"], issued["refresh_token"], issued["id_token"])
    assert second.json()["token"] == issued["access_token"]
    assert op.client_secret not in second.text


async def test_ses12_disabled_endpoint_is_not_served(h: Harness, op: ScriptedOP) -> None:
    ctx = await logged_in(h, op, enable_access_token_endpoint=False)
    response = await ctx.browser.get(ROUTE)
    assert response.status_code == 404
    assert ctx.login["access_token"] not in response.text
