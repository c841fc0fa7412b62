"""EXT-07 (connect-account flow) and EXT-08 (cross-site requests) for ``/auth/connect``.

The scripted OP plays a misbehaving or hostile My Account API (its
``/me/v1/connected-accounts/*`` answers are scripted per test). Sessions are made with
``session_cookies_for`` and already hold a valid My Account API token (an
``access_tokens`` entry for ``<issuer>me/``), so no refresh is needed unless a test wants
one; the OP's request log then shows exactly which API calls were (not) made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from auth0_web import (
    Auth0Client,
    ConnectAccountError,
    ConnectedAccountsError,
    MyAccountApiError,
    Request,
    generate_dpop_key_pair,
)
from auth0_web._connect import (
    MAX_PAGES,
    check_callback,
    prune_connection_tokens,
)
from auth0_web._connect import (
    _connect_redirect as connect_redirect,
)
from auth0_web._connect import (
    _Malformed as Malformed,
)
from auth0_web.session import AccessTokenSet, SessionData, SessionInternal, TokenSet
from auth0_web.session._codec import CookieCodec
from auth0_web.session._transaction import TransactionState
from auth0_web.testing import session_cookies_for
from tests.support.apps import APP_BASE, SECRET, Browser
from tests.support.scripted_op import RecordedRequest, ScriptedOP, b64url_decode, pkce_challenge

from .conftest import Harness
from .helpers import (
    assert_cb_reject,
    assert_error_response,
    assert_no_session_written,
    assert_safe_redirect,
    assert_txn_deleted,
    flip_char,
    query_params,
    txn_set_cookies,
)

pytestmark = pytest.mark.anyio

CONNECT = "/me/v1/connected-accounts/connect"
COMPLETE = "/me/v1/connected-accounts/complete"
ACCOUNTS = "/me/v1/connected-accounts/accounts"
MY_ACCOUNT_SCOPE = (
    "openid profile email offline_access create:me:connected_accounts "
    "read:me:connected_accounts delete:me:connected_accounts"
)
API_TOKEN = "my-account-token-0123456789"

NO_SESSION = "The user does not have an active session."
NO_CONNECTION = "A connection is required."
INITIATE_FAILED = "There was an error while trying to start connecting the account."
COMPLETE_FAILED = "There was an error while trying to finish connecting the account."
SWITCHED = "The session changed since connecting the account started."
NO_CODE = "The connect_code parameter is missing or invalid."
TOKEN_FAILED = "Failed to retrieve a connected account access token."
STATE_INVALID = "The state parameter is invalid."

Answer = Callable[[RecordedRequest], tuple[int, dict[str, str], bytes]]


def answer(body: Any, status: int = 201, content_type: str = "application/json") -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda _request: (status, {"content-type": content_type}, raw)


def started(op: ScriptedOP, **changes: Any) -> dict[str, Any]:
    """A valid answer to ``POST .../connect`` with ``changes`` applied."""
    body: dict[str, Any] = {
        "connect_uri": op.url("/connect"),
        "auth_session": "as_0123456789",
        "connect_params": {"ticket": "tk_0123456789"},
        "expires_in": 300,
    }
    body.update(changes)
    return body


ACCOUNT = {
    "id": "cac_1",
    "connection": "github",
    "access_type": "offline",
    "scopes": ["repo"],
    "created_at": "2025-01-01T00:00:00.000Z",
}


def session_of(op: ScriptedOP, sub: str = "auth0|alice", sid: str = "sid-1", **kw: Any) -> Any:
    now = int(time.time())
    entries = kw.pop(
        "access_tokens",
        [
            AccessTokenSet(
                access_token=API_TOKEN,
                expires_at=now + 3600,
                audience=op.issuer + "me/",
                scope=MY_ACCOUNT_SCOPE,
                requested_scope=MY_ACCOUNT_SCOPE,
                token_type=kw.pop("token_type", "Bearer"),
            )
        ],
    )
    return SessionData(
        user={"sub": sub},
        token_set=TokenSet(
            access_token="login-at",
            expires_at=now + 3600,
            refresh_token=kw.pop("refresh_token", None),
            token_type="Bearer",
        ),
        internal=SessionInternal(sid=sid, created_at=now),
        access_tokens=entries,
    )


@dataclass
class Setup:
    auth0: Auth0Client
    browser: Browser


def setup(h: Harness, op: ScriptedOP, session: Any = None, **options: Any) -> Setup:
    options.setdefault("enable_connect_account_endpoint", True)
    auth0 = h.client(**options)
    browser = h.browser(auth0)
    if session is not None:
        browser.cookies.update(session_cookies_for(auth0, session, max_age=7200))
    return Setup(auth0, browser)


def api_calls(op: ScriptedOP) -> list[RecordedRequest]:
    return [r for r in op.requests if r.path.startswith("/me/") or r.path == "/oauth/token"]


async def start(s: Setup, query: str = "connection=github") -> httpx.Response:
    return await s.browser.get("/auth/connect?" + query)


# --------------------------------------------------------------------------- EXT-07: the route


async def test_no_session_is_401_before_any_call(h: Harness, op: ScriptedOP) -> None:
    s = setup(h, op)
    response = await start(s)
    assert_error_response(response, 401, NO_SESSION)
    assert txn_set_cookies(response) == []
    assert api_calls(op) == []


@pytest.mark.parametrize("query", ["", "connection=", "returnTo=/x", "scopes=repo"])
@pytest.mark.parametrize("logged_in", [True, False])
async def test_no_connection_is_400_before_any_call(
    h: Harness, op: ScriptedOP, query: str, logged_in: bool
) -> None:
    s = setup(h, op, session_of(op) if logged_in else None)
    response = await s.browser.get("/auth/connect" + (f"?{query}" if query else ""))
    assert_error_response(response, 400, NO_CONNECTION)
    assert txn_set_cookies(response) == []
    assert api_calls(op) == []


@pytest.mark.parametrize(
    "query",
    [
        "connection=" + "x" * 129,
        "connection=git%20hub",
        "connection=git%0Ahub",
        "connection=github&max_age=soon",
        "connection=github&scopes=a%20b",
        "connection=github&" + "&".join(f"scopes=s{i}" for i in range(101)),
    ],
)
async def test_invalid_input_is_400_before_any_call(h: Harness, op: ScriptedOP, query: str) -> None:
    s = setup(h, op, session_of(op))
    response = await start(s, query)
    assert response.status_code == 400, response.text
    assert txn_set_cookies(response) == []
    assert api_calls(op) == []


async def test_route_is_not_mounted_unless_enabled(h: Harness, op: ScriptedOP) -> None:
    s = setup(h, op, session_of(op), enable_connect_account_endpoint=False)
    response = await start(s)
    assert response.status_code == 404  # the app's own answer: the SDK did not handle it
    assert api_calls(op) == []


async def test_reserved_parameters_are_not_forwarded(h: Harness, op: ScriptedOP) -> None:
    op.scenario.responses[CONNECT] = answer(started(op))
    s = setup(h, op, session_of(op))
    query = urlencode(
        [
            ("connection", "github"),
            ("redirect_uri", "https://evil.example/cb"),
            ("state", "attacker"),
            ("code_challenge", "A" * 43),
            ("code_challenge_method", "plain"),
            ("client_id", "other"),
            ("response_type", "token"),
            ("scopes", "repo"),
            ("prompt", "consent"),
        ]
    )
    response = await start(s, query)
    assert response.status_code == 307, response.text
    [call] = op.calls(CONNECT)
    body = call.json()
    assert call.headers["authorization"] == f"Bearer {API_TOKEN}"
    assert body["redirect_uri"] == APP_BASE + "/auth/callback"
    assert body["state"] != "attacker" and body["code_challenge"] != "A" * 43
    assert body["code_challenge_method"] == "S256"
    assert body["scopes"] == ["repo"]
    assert body["authorization_params"] == {"prompt": "consent"}
    assert set(body) == {
        "connection",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scopes",
        "authorization_params",
    }


@pytest.mark.parametrize(
    "return_to", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
async def test_return_to_is_validated_like_login(
    h: Harness, op: ScriptedOP, return_to: str
) -> None:
    op.scenario.responses[CONNECT] = answer(started(op))
    op.scenario.responses[COMPLETE] = answer(ACCOUNT)
    s = setup(h, op, session_of(op))
    response = await start(s, urlencode({"connection": "github", "returnTo": return_to}))
    assert response.status_code == 307
    assert query_params(response.headers["location"])["ticket"] == "tk_0123456789"
    state = op.last(CONNECT).json()["state"]
    done = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert done.status_code == 307, done.text
    url = assert_safe_redirect(done.headers["location"])
    assert url.host == "127.0.0.1:3000"


# --------------------------------------------------------------------------- EXT-07: the callback


async def _started_flow(h: Harness, op: ScriptedOP, **session: Any) -> tuple[Setup, str]:
    op.scenario.responses[CONNECT] = answer(started(op))
    op.scenario.responses[COMPLETE] = answer(ACCOUNT)
    s = setup(h, op, session_of(op, **session))
    response = await start(s)
    assert response.status_code == 307, response.text
    return s, op.last(CONNECT).json()["state"]


@pytest.mark.parametrize(
    "other",
    [
        {"sub": "auth0|mallory"},  # another user
        {"sid": "sid-2"},  # the same user, but a new login
        {"sub": "auth0|mallory", "sid": "sid-2"},
    ],
)
async def test_account_switch_is_refused_with_no_call(
    h: Harness, op: ScriptedOP, other: dict[str, str]
) -> None:
    s, state = await _started_flow(h, op)
    for name in [n for n in s.browser.cookies if n.startswith("__session")]:
        del s.browser.cookies[name]
    s.browser.cookies.update(session_cookies_for(s.auth0, session_of(op, **other)))
    response = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert_cb_reject(response, SWITCHED, state=state)
    assert op.calls(COMPLETE) == []
    assert op.calls("/oauth/token") == []


async def test_no_session_at_the_callback_is_refused_with_no_call(
    h: Harness, op: ScriptedOP
) -> None:
    s, state = await _started_flow(h, op)
    for name in [n for n in s.browser.cookies if n.startswith("__session")]:
        del s.browser.cookies[name]
    response = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert_cb_reject(response, NO_SESSION, state=state)
    assert op.calls(COMPLETE) == []


@pytest.mark.parametrize("code", [None, "", "a b", "x" * 257, "a%0Ab"])
async def test_missing_or_bad_connect_code_is_refused_with_no_call(
    h: Harness, op: ScriptedOP, code: str | None
) -> None:
    s, state = await _started_flow(h, op)
    query = f"state={state}" + ("" if code is None else f"&connect_code={code}")
    response = await s.browser.get("/auth/callback?" + query)
    assert_cb_reject(response, NO_CODE, state=state)
    assert op.calls(COMPLETE) == []


async def test_error_from_the_other_provider_is_refused_with_no_call(
    h: Harness, op: ScriptedOP
) -> None:
    s, state = await _started_flow(h, op)
    query = urlencode(
        {"state": state, "connect_code": "cc1", "error": "<b>x</b>", "error_description": "<i>"}
    )
    response = await s.browser.get("/auth/callback?" + query)
    assert_cb_reject(response, COMPLETE_FAILED, state=state)
    assert op.calls(COMPLETE) == []


async def test_tampered_transaction_cookie_is_refused(h: Harness, op: ScriptedOP) -> None:
    s, state = await _started_flow(h, op)
    name = "__txn_" + state
    stamp, _, jwe = s.browser.cookies[name].partition(":")
    s.browser.cookies[name] = stamp + ":" + flip_char(jwe)
    response = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert_error_response(response, 400, STATE_INVALID)
    assert_no_session_written(response)
    assert op.calls(COMPLETE) == []


async def test_expired_transaction_cookie_is_refused(h: Harness, op: ScriptedOP) -> None:
    offset = [0.0]
    s = setup(h, op, session_of(op), clock=lambda: time.time() + offset[0])
    op.scenario.responses[CONNECT] = answer(started(op))
    assert (await start(s)).status_code == 307
    state = op.last(CONNECT).json()["state"]
    offset[0] = 3600 + 300  # the transaction cookie lives an hour; the session two
    response = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert_error_response(response, 400, STATE_INVALID)
    assert op.calls(COMPLETE) == []


async def test_unbound_connect_transaction_is_refused(h: Harness, op: ScriptedOP) -> None:
    """A connect transaction without the session binding (one another SDK wrote, say) is
    never completed."""
    s = setup(h, op, session_of(op))
    state = "S" * 43
    txn = TransactionState(
        state=state,
        nonce="",
        code_verifier="v" * 43,
        return_to="/",
        response_type="connect_code",
        auth_session="as_1",
    )
    now = int(time.time())
    value = f"{now}:" + CookieCodec([SECRET]).encrypt(txn.to_dict(), exp=now + 600)
    s.browser.cookies["__txn_" + state] = value
    response = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert_cb_reject(response, SWITCHED, state=state)
    assert api_calls(op) == []


def test_connect_transaction_round_trip_and_binding_rules() -> None:
    txn = TransactionState(
        state="s" * 43,
        nonce="",
        code_verifier="v" * 43,
        return_to="/x",
        response_type="connect_code",
        auth_session="as_1",
        sub="auth0|a",
        sid="sid-1",
    )
    data = txn.to_dict()
    assert "nonce" not in data and data["authSession"] == "as_1"
    assert TransactionState.from_dict(data) == txn
    assert TransactionState.from_dict({**data, "authSession": ""}) is None
    # A login transaction still needs its nonce.
    assert TransactionState.from_dict({**data, "responseType": "code"}) is None
    session = SessionData(
        user={"sub": "auth0|a"},
        token_set=TokenSet(access_token="a", expires_at=1),
        internal=SessionInternal(sid="sid-1", created_at=1),
    )
    assert check_callback(session, txn, {"connect_code": "c"}) == "c"
    for bad in ({"sub": None}, {"sid": None}, {"sub": ""}):
        with pytest.raises(ConnectAccountError):
            check_callback(
                session, TransactionState(**{**_fields(txn), **bad}), {"connect_code": "c"}
            )


def _fields(txn: TransactionState) -> dict[str, Any]:
    return {name: getattr(txn, name) for name in txn.__dataclass_fields__}


# --------------------------------------------------------------------------- EXT-08


async def test_foreign_callback_cannot_finish_a_flow_in_the_victims_browser(
    h: Harness, op: ScriptedOP
) -> None:
    """The attacker's own connect callback (their state and connect_code) opened in the
    victim's logged-in browser finds no transaction: nothing is linked."""
    attacker, attacker_state = await _started_flow(h, op, sub="auth0|mallory")
    victim = setup(h, op, session_of(op))
    response = await victim.browser.get(
        f"/auth/callback?state={attacker_state}&connect_code=attacker-code"
    )
    assert_error_response(response, 400, STATE_INVALID)
    assert op.calls(COMPLETE) == []


async def test_cross_site_post_is_not_a_connect_request(h: Harness, op: ScriptedOP) -> None:
    s = setup(h, op, session_of(op))
    response = await s.browser.post(
        "/auth/connect",
        content=b'{"connection":"github"}',
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )
    assert response.status_code in (404, 405)  # the app's answer: no SDK route for POST
    assert txn_set_cookies(response) == []
    assert api_calls(op) == []


# --------------------------------------------------------------------------- hostile My Account API


BAD_CONNECT_URIS: list[Any] = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://evil.example/connect",
    "//evil.example/connect",
    "/relative/connect",
    "evil.example/connect",
    "https://user:pw@evil.example/connect",
    "https://evil.example/connect#frag",
    "https://evil.example\\@good.example/",
    "java\nscript:alert(1)",
    " https://evil.example/",
    "https://evil.example/" + "a" * 3000,
    "",
    None,
    42,
    ["https://evil.example/"],
]


@pytest.mark.parametrize("connect_uri", BAD_CONNECT_URIS)
async def test_unsafe_connect_uri_is_never_followed(
    h: Harness, op: ScriptedOP, connect_uri: Any
) -> None:
    op.scenario.responses[CONNECT] = answer(started(op, connect_uri=connect_uri))
    s = setup(h, op, session_of(op))
    response = await start(s)
    assert_error_response(response, 500, INITIATE_FAILED)
    assert txn_set_cookies(response) == []


def test_plain_http_connect_uri_needs_allow_insecure_requests() -> None:
    strict = Auth0Client(
        domain="tenant.example.com",
        client_id="c",
        client_secret="s",
        secret=SECRET,
        app_base_url=APP_BASE,
    )
    with pytest.raises(Malformed):
        connect_redirect(strict._rt, "http://tenant.example.com/connect", "t")
    url = connect_redirect(strict._rt, "https://tenant.example.com/connect?x=1&ticket=old", "a&b")
    assert url == "https://tenant.example.com/connect?x=1&ticket=a%26b"


@pytest.mark.parametrize(
    "body",
    [
        {"connect_params": None},
        {"connect_params": {}},
        {"connect_params": {"ticket": ""}},
        {"connect_params": {"ticket": 7}},
        {"connect_params": {"ticket": "t" * 3000}},
        {"connect_params": {"ticket": "a\x00b"}},
        {"auth_session": None},
        {"auth_session": ""},
        {"auth_session": "s" * 600},
        {"auth_session": {"x": 1}},
        {"expires_in": None},
        {"expires_in": 0},
        {"expires_in": -5},
        {"expires_in": "300"},
        {"expires_in": True},
        {"expires_in": 10**9},
    ],
)
async def test_malformed_connect_answer_is_a_clean_error(
    h: Harness, op: ScriptedOP, body: dict[str, Any]
) -> None:
    op.scenario.responses[CONNECT] = answer(started(op, **body))
    s = setup(h, op, session_of(op))
    response = await start(s)
    assert_error_response(response, 500, INITIATE_FAILED)
    assert txn_set_cookies(response) == []


@pytest.mark.parametrize(
    "raw",
    [
        answer(b"<html>hello</html>", content_type="text/html"),
        answer(b"not json at all"),
        answer([1, 2, 3]),
        answer(b'{"connect_uri": "https://x/"', status=201),
        answer(json.dumps({"connect_uri": "https://x/"}).encode(), content_type="text/plain"),
        answer(b"x" * (2 * 1024 * 1024)),
        lambda _r: (302, {"location": "https://evil.example/"}, b""),
        lambda _r: (200, {"content-type": "application/json"}, b'{"a":' * 50000 + b"1"),
    ],
)
async def test_garbage_and_huge_answers_are_clean_errors(
    h: Harness, op: ScriptedOP, raw: Answer
) -> None:
    op.scenario.responses[CONNECT] = raw
    s = setup(h, op, session_of(op))
    response = await start(s)
    assert response.status_code == 500, response.text
    assert response.text == INITIATE_FAILED
    assert "location" not in response.headers
    assert txn_set_cookies(response) == []


async def test_problem_details_are_parsed_and_kept_out_of_messages(
    h: Harness, op: ScriptedOP
) -> None:
    problem = {
        "type": "https://example/problems/bad",
        "title": "<script>Bad</script>",
        "detail": "connection <b>x</b> is unknown " + "d" * 2000,
        "status": 200,  # a lie: the HTTP status wins
        "validation_errors": [{"field": "connection", "detail": "unknown"}, "junk", {"n": 1}],
    }
    op.scenario.responses[CONNECT] = answer(
        problem, status=422, content_type="application/problem+json"
    )
    s = setup(h, op, session_of(op))
    response = await start(s)
    assert_error_response(response, 422, INITIATE_FAILED)
    request = _request(s.browser.cookies)
    with pytest.raises(ConnectAccountError) as caught:
        await s.auth0.connect_account(request, connection="github")
    error = caught.value
    assert error.code == "failed_to_initiate" and error.status == 422
    cause = error.cause
    assert isinstance(cause, MyAccountApiError) and cause.code == "my_account_api_error"
    assert cause.status == 422 and cause.type == "https://example/problems/bad"
    assert cause.title == "<script>Bad</script>"
    assert cause.detail is not None and len(cause.detail) == 512
    assert cause.validation_errors == ({"field": "connection", "detail": "unknown"}, {})
    for text in (str(error), error.message, str(cause), repr(cause)):
        assert "script" not in text and "unknown" not in text


async def test_malformed_complete_answer_is_a_clean_error(h: Harness, op: ScriptedOP) -> None:
    s, state = await _started_flow(h, op)
    op.scenario.responses[COMPLETE] = answer({**ACCOUNT, "created_at": "yesterday"})
    response = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert_cb_reject(response, COMPLETE_FAILED, state=state, status=500)
    assert len(op.calls(COMPLETE)) == 1


async def test_complete_is_sent_with_the_flow_secrets(h: Harness, op: ScriptedOP) -> None:
    s, state = await _started_flow(h, op)
    challenge = op.last(CONNECT).json()["code_challenge"]
    response = await s.browser.get(f"/auth/callback?state={state}&connect_code=cc1")
    assert response.status_code == 307
    assert_txn_deleted(response, state)
    body = op.last(COMPLETE).json()
    assert body["auth_session"] == "as_0123456789" and body["connect_code"] == "cc1"
    assert body["redirect_uri"] == APP_BASE + "/auth/callback"
    assert pkce_challenge(body["code_verifier"]) == challenge


# --------------------------------------------------------------------------- tokens


async def test_no_my_account_token_is_401(h: Harness, op: ScriptedOP) -> None:
    s = setup(h, op, session_of(op, access_tokens=[]))  # and no refresh token
    response = await start(s)
    assert_error_response(response, 401, TOKEN_FAILED)
    assert api_calls(op) == []


async def test_mfa_step_up_is_403_json_like_the_access_token_route(
    h: Harness, op: ScriptedOP
) -> None:
    op.scenario.responses["/oauth/token"] = answer(
        {"error": "mfa_required", "error_description": "MFA", "mfa_token": "raw-mfa-token"},
        status=403,
    )
    s = setup(h, op, session_of(op, access_tokens=[], refresh_token="rt-1"))
    response = await start(s)
    assert response.status_code == 403
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert body["error"] == "mfa_required"
    assert body["mfa_token"] and "raw-mfa-token" not in response.text
    assert op.calls(CONNECT) == []


async def test_dpop_nonce_challenge_from_the_api_is_retried_once(
    h: Harness, op: ScriptedOP
) -> None:
    seen: list[RecordedRequest] = []

    def nonce_then_ok(request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        seen.append(request)
        if len(seen) == 1:
            return (
                401,
                {"www-authenticate": 'DPoP error="use_dpop_nonce"', "dpop-nonce": "n-1"},
                b"",
            )
        return 201, {"content-type": "application/json"}, json.dumps(started(op)).encode()

    op.scenario.responses[CONNECT] = nonce_then_ok
    s = setup(
        h,
        op,
        session_of(op, token_type="DPoP"),
        use_dpop=True,
        dpop_key_pair=generate_dpop_key_pair(),
        dpop_options={"retry": {"delay": 0, "jitter": False}},
    )
    response = await start(s)
    assert response.status_code == 307, response.text
    assert len(seen) == 2
    proofs = [r.headers["dpop"] for r in seen]
    assert all(r.headers["authorization"] == f"DPoP {API_TOKEN}" for r in seen)
    second = json.loads(b64url_decode(proofs[1].split(".")[1]))
    assert second["nonce"] == "n-1" and second["htm"] == "POST"
    assert second["htu"] == op.url(CONNECT)


# --------------------------------------------------------------------------- list and delete


def _request(cookies: dict[str, str]) -> Request:
    return Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=cookies)


def page(accounts: list[dict[str, Any]], next_cursor: Any = None) -> bytes:
    body: dict[str, Any] = {"accounts": accounts}
    if next_cursor is not None:
        body["next"] = next_cursor
    return json.dumps(body).encode()


async def test_list_follows_cursors_with_from(h: Harness, op: ScriptedOP) -> None:
    pages = {
        None: page([ACCOUNT], "c2"),
        "c2": page([{**ACCOUNT, "id": "cac_2", "connection": "google-oauth2"}], "c3"),
        "c3": page([]),
    }
    op.scenario.responses[ACCOUNTS] = lambda r: (
        200,
        {"content-type": "application/json"},
        pages[r.query.get("from")],
    )
    s = setup(h, op, session_of(op))
    accounts = await s.auth0.get_connected_accounts(_request(s.browser.cookies))
    assert [a.id for a in accounts] == ["cac_1", "cac_2"]
    assert [r.query.get("from") for r in op.calls(ACCOUNTS)] == [None, "c2", "c3"]
    assert {r.query["take"] for r in op.calls(ACCOUNTS)} == {"20"}


async def test_repeated_cursor_fails_instead_of_looping(h: Harness, op: ScriptedOP) -> None:
    op.scenario.responses[ACCOUNTS] = answer(page([ACCOUNT], "same"), status=200)
    s = setup(h, op, session_of(op))
    with pytest.raises(ConnectedAccountsError) as caught:
        await s.auth0.get_connected_accounts(_request(s.browser.cookies))
    assert caught.value.code == "failed_to_list"
    assert op.count(ACCOUNTS) == 2


async def test_endless_pagination_stops_at_the_page_cap(h: Harness, op: ScriptedOP) -> None:
    op.scenario.responses[ACCOUNTS] = lambda r: (
        200,
        {"content-type": "application/json"},
        page([], f"c{len(op.calls(ACCOUNTS))}"),
    )
    s = setup(h, op, session_of(op))
    with pytest.raises(ConnectedAccountsError) as caught:
        await s.auth0.get_connected_accounts(_request(s.browser.cookies))
    assert caught.value.code == "failed_to_list"
    assert op.count(ACCOUNTS) == MAX_PAGES


@pytest.mark.parametrize(
    "raw",
    [
        page([{**ACCOUNT, "id": ""}]),
        page([{**ACCOUNT, "connection": None}]),
        page([{**ACCOUNT, "scopes": "repo"}]),
        page([ACCOUNT], next_cursor=7),
        page([ACCOUNT] * 101),
        json.dumps({"accounts": {"a": 1}}).encode(),
        b"[]",
    ],
)
async def test_malformed_list_is_failed_to_list(h: Harness, op: ScriptedOP, raw: bytes) -> None:
    op.scenario.responses[ACCOUNTS] = answer(raw, status=200)
    s = setup(h, op, session_of(op))
    with pytest.raises(ConnectedAccountsError) as caught:
        await s.auth0.get_connected_accounts(_request(s.browser.cookies))
    assert caught.value.code == "failed_to_list" and caught.value.status == 500


async def test_no_session_for_list_and_disconnect(h: Harness, op: ScriptedOP) -> None:
    s = setup(h, op)
    with pytest.raises(ConnectedAccountsError) as listed:
        await s.auth0.get_connected_accounts(_request({}))
    with pytest.raises(ConnectedAccountsError) as removed:
        await s.auth0.disconnect_account(_request({}), connection="github")
    with pytest.raises(ConnectAccountError) as started_:
        await s.auth0.connect_account(_request({}), connection="github")
    for caught in (listed, removed, started_):
        assert caught.value.code == "missing_session" and caught.value.status == 401
    assert api_calls(op) == []


async def test_disconnect_deletes_each_account_of_the_connection(
    h: Harness, op: ScriptedOP
) -> None:
    op.scenario.responses[ACCOUNTS] = answer(
        page([ACCOUNT, {**ACCOUNT, "id": HOSTILE_ID}, {**ACCOUNT, "id": "c3", "connection": "g"}]),
        status=200,
    )
    op.scenario.responses[ACCOUNTS + "/cac_1"] = lambda r: (204, {}, b"")
    # The id is one path segment whatever it holds: no dot-segment removal, no query.
    op.scenario.responses[HOSTILE_PATH] = lambda r: (
        500,
        {"content-type": "application/problem+json"},
        b'{"title":"boom","status":500}',
    )
    s = setup(h, op, session_of(op))
    with pytest.raises(ConnectedAccountsError) as caught:
        await s.auth0.disconnect_account(_request(s.browser.cookies), connection="github")
    assert caught.value.code == "failed_to_delete"
    deleted = [r for r in op.requests if r.method == "DELETE"]
    assert [(r.path, r.raw_query) for r in deleted] == [
        (ACCOUNTS + "/cac_1", ""),
        (HOSTILE_PATH, ""),
    ]
    assert all(r.headers["authorization"] == f"Bearer {API_TOKEN}" for r in deleted)


HOSTILE_ID = "../x y?take=1#f"
#: Where it arrives, as the scripted OP's log spells a path (``%2F`` decoded, ``?``/``#`` not).
HOSTILE_PATH = ACCOUNTS + "/../x y%3Ftake=1%23f"


def test_token_vault_cache_is_pruned_by_connection() -> None:
    @dataclass
    class Entry:
        connection: str

    @dataclass
    class WithCache:
        connection_token_sets: list[Any]

    session: Any = WithCache([Entry("github"), {"connection": "google-oauth2"}, Entry("slack")])
    pruned = prune_connection_tokens(session, lambda name: name != "github")
    assert pruned is not None and pruned is not session
    assert pruned.connection_token_sets == [{"connection": "google-oauth2"}, Entry("slack")]
    assert len(session.connection_token_sets) == 3  # the original is untouched
    assert prune_connection_tokens(session, lambda name: True) is None
    assert prune_connection_tokens(object(), lambda name: False) is None  # type: ignore[arg-type]
