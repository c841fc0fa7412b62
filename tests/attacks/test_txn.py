"""Group B (TXN): state, nonce, PKCE and the transaction cookie."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from tests.support.apps import SECRET
from tests.support.scripted_op import ScriptedOP, pkce_challenge

from .conftest import Harness
from .helpers import (
    MSG_AUTHZ,
    MSG_STATE_INVALID,
    MSG_STATE_MISSING,
    RESERVED,
    TXN_PREFIX,
    assert_cb_reject,
    assert_no_session,
    assert_no_set_cookie,
    decrypt,
    flip_char,
    full_login,
    login_until_callback,
    session_set_cookies,
    start_login,
    state_of,
    txn_set_cookies,
)

pytestmark = pytest.mark.anyio

_UNRESERVED = re.compile(r"^[A-Za-z0-9\-._~]+$")


# --------------------------------------------------------------------------------------
# TXN-01  missing state
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "code=x",
        "code=x&state=",
        "code=x&iss={iss}",
        "state=&code=x&iss={iss}",
        "",
        "error=access_denied",
        "code=x&STATE=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ],
    ids=["code-only", "empty-state", "code-iss", "empty-state-iss", "nothing", "error", "case"],
)
async def test_txn01_missing_state_rejected(h: Harness, op: ScriptedOP, query: str) -> None:
    browser = h.browser()
    await start_login(browser)  # a real login in flight: it must not be touched
    in_flight = dict(browser.cookies)
    response = await browser.get("/auth/callback?" + query.format(iss=quote(op.issuer, safe="")))
    assert_cb_reject(response, MSG_STATE_MISSING)
    assert_no_set_cookie(response)  # no cookie deleted under a name built from input
    assert browser.cookies == in_flight
    assert op.count("/oauth/token") == 0
    await assert_no_session(browser)


# --------------------------------------------------------------------------------------
# TXN-02  unknown state / unsolicited callback
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        "Zm9yZ2VkLXN0YXRlLWZvcmdlZC1zdGF0ZS1mb3JnZWQtc3Q",
        "..%2F..%2Fsession",
        "a%3Bb%3Dc",
        "__session",
        "x" * 200,
        "%00abcdefghijklmnopqrstuvwxyz",
        "abc",
    ],
    ids=["random", "path", "cookie-syntax", "session-name", "too-long", "nul", "short"],
)
async def test_txn02_unknown_state_rejected(h: Harness, op: ScriptedOP, state: str) -> None:
    browser = h.browser()
    await start_login(browser)
    in_flight = dict(browser.cookies)
    response = await browser.get(
        f"/auth/callback?code=attacker-code&state={state}&iss={quote(op.issuer, safe='')}"
    )
    assert_cb_reject(response, MSG_STATE_INVALID)
    assert_no_set_cookie(response)
    assert browser.cookies == in_flight  # other transaction cookies are left alone
    assert op.count("/oauth/token") == 0
    await assert_no_session(browser)


async def test_txn02_state_from_another_browser_rejected(h: Harness, op: ScriptedOP) -> None:
    client = h.client()
    attacker, victim = h.browser(client), h.browser(client)
    _, callback = await login_until_callback(attacker, op)
    await start_login(victim)  # the victim has a login of their own in flight
    response = await victim.get(callback)
    assert_cb_reject(response, MSG_STATE_INVALID)
    assert_no_set_cookie(response)
    assert op.count("/oauth/token") == 0
    await assert_no_session(victim)


# --------------------------------------------------------------------------------------
# TXN-03  login CSRF / session swap
# --------------------------------------------------------------------------------------


async def test_txn03_login_csrf_session_unchanged(h: Harness, op: ScriptedOP) -> None:
    client = h.client()
    victim, attacker = h.browser(client), h.browser(client)
    assert (await full_login(victim, op)).status_code == 307
    before = dict(victim.cookies)
    victim_sub = (await victim.get("/auth/profile")).json()["sub"]
    tokens_before = op.count("/oauth/token")

    op.scenario.user = {"sub": "auth0|attacker", "name": "Attacker"}
    _, attacker_callback = await login_until_callback(attacker, op)

    response = await victim.get(attacker_callback)
    assert_cb_reject(response, MSG_STATE_INVALID)
    assert session_set_cookies(response) == []  # not logged out, not swapped
    assert victim.cookies == before
    assert op.count("/oauth/token") == tokens_before  # the attacker's code is never redeemed
    profile = await victim.get("/auth/profile")
    assert profile.status_code == 200 and profile.json()["sub"] == victim_sub


# --------------------------------------------------------------------------------------
# TXN-04  cookie tossing
# --------------------------------------------------------------------------------------


async def test_txn04_txn_cookie_of_other_state_rejected(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser()
    url_a = await start_login(browser)
    url_b, callback_b = await login_until_callback(browser, op)
    state_a, state_b = state_of(url_a), state_of(url_b)
    # The payload of login A under the name of login B.
    browser.cookies[TXN_PREFIX + state_b] = browser.cookies[TXN_PREFIX + state_a]
    response = await browser.get(callback_b)
    assert_cb_reject(response, MSG_STATE_INVALID)
    assert session_set_cookies(response) == []
    assert op.count("/oauth/token") == 0
    await assert_no_session(browser)


async def test_txn04_single_txn_cookie_state_mismatch_rejected(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser(h.client(enable_parallel_transactions=False))
    await start_login(browser)
    cookie_a = browser.cookies[TXN_PREFIX]
    _, callback_b = await login_until_callback(browser, op)  # overwrites the single cookie
    browser.cookies[TXN_PREFIX] = cookie_a
    response = await browser.get(callback_b)
    assert_cb_reject(response, MSG_STATE_INVALID)
    assert session_set_cookies(response) == []
    assert op.count("/oauth/token") == 0
    await assert_no_session(browser)


# --------------------------------------------------------------------------------------
# TXN-05  callback replay
# --------------------------------------------------------------------------------------


async def test_txn05_callback_replay_rejected(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser()
    _, callback = await login_until_callback(browser, op)
    first = await browser.get(callback)
    assert first.status_code == 307
    session_before = dict(browser.cookies)
    assert not browser.txn_cookie_names()  # used up on success

    replay = await browser.get(callback)
    assert_cb_reject(replay, MSG_STATE_INVALID)
    assert session_set_cookies(replay) == []
    assert browser.cookies == session_before
    assert op.count("/oauth/token") == 1
    assert (await browser.get("/auth/profile")).status_code == 200


# --------------------------------------------------------------------------------------
# TXN-08  mix-up through iss
# --------------------------------------------------------------------------------------


def _iss_variant(variant: str, op: ScriptedOP, params: dict[str, str]) -> dict[str, str]:
    params = dict(params)
    if variant == "other-op":
        params["iss"] = "https://other-op.example/"
    elif variant == "no-trailing-slash":
        params["iss"] = op.base_url
    elif variant == "extra-trailing-slash":
        params["iss"] = op.issuer + "/"
    elif variant == "host-case":
        params["iss"] = op.issuer.replace("localhost", "LOCALHOST")
    elif variant == "empty":
        params["iss"] = ""
    elif variant == "missing":
        params.pop("iss")
    elif variant == "error-with-wrong-iss":
        params.pop("code")
        params["error"] = "access_denied"
        params["iss"] = "https://evil.example/"
    return params


@pytest.mark.parametrize(
    "variant",
    [
        "other-op",
        "no-trailing-slash",
        "extra-trailing-slash",
        "host-case",
        "empty",
        "missing",
        "error-with-wrong-iss",
    ],
)
async def test_txn08_iss_mixup_rejected(h: Harness, op: ScriptedOP, variant: str) -> None:
    op.scenario.authorize_params = lambda params: _iss_variant(variant, op, params)
    browser = h.browser()
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_AUTHZ, state=state_of(authorize_url))
    assert op.count("/oauth/token") == 0  # NO-TOKEN-CALL
    await assert_no_session(browser)


async def test_txn08_control_iss_optional_when_not_advertised(h: Harness, op: ScriptedOP) -> None:
    op.scenario.discovery = lambda doc: {
        **doc,
        "authorization_response_iss_parameter_supported": False,
    }
    op.scenario.authorize_params = lambda params: _iss_variant("missing", op, params)
    response = await full_login(h.browser(), op)
    assert response.status_code == 307


# --------------------------------------------------------------------------------------
# TXN-09  error response and reflected XSS
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "description"),
    [
        ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>"),
        ("access_denied", "</script><script>alert(document.cookie)</script>"),
        ("access_denied\r\nSet-Cookie: x=1", "line\r\nbreak"),
    ],
    ids=["script-error", "script-description", "crlf"],
)
async def test_txn09_error_not_reflected(
    h: Harness, op: ScriptedOP, error: str, description: str
) -> None:
    def to_error(params: dict[str, str]) -> dict[str, str]:
        return {
            "state": params["state"],
            "iss": params["iss"],
            "error": error,
            "error_description": description,
        }

    op.scenario.authorize_params = to_error
    browser = h.browser()
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_AUTHZ, state=state_of(authorize_url), secrets=("alert", "x=1"))
    assert "<" not in response.text and ">" not in response.text
    assert op.count("/oauth/token") == 0
    await assert_no_session(browser)


# --------------------------------------------------------------------------------------
# TXN-10  PKCE, state and nonce generation
# --------------------------------------------------------------------------------------

ATTACKER_PARAMS = (
    "code_challenge_method=plain&code_challenge=x&state=a&nonce=b&code_verifier=v"
    "&response_type=token"
)


async def test_txn10_pkce_state_nonce_generation(h: Harness, op: ScriptedOP) -> None:
    browser = h.browser()
    states: set[str] = set()
    nonces: set[str] = set()
    verifiers: set[str] = set()
    for i in range(1000):
        browser.cookies.clear()
        query = ATTACKER_PARAMS if i % 2 else ""
        response = await browser.get("/auth/login" + (f"?{query}" if query else ""))
        assert response.status_code == 307
        url = response.headers["location"]
        items = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        counts = Counter(name for name, _ in items)
        assert all(counts[name] == 1 for name in RESERVED), counts
        params = dict(items)
        assert params["code_challenge_method"] == "S256"
        assert params["response_type"] == "code"
        state, nonce = params["state"], params["nonce"]
        for value in (state, nonce):
            assert len(value) >= 43 and _UNRESERVED.match(value)
        assert (
            state not in ("a", "b") and nonce not in ("a", "b") and params["code_challenge"] != "x"
        )

        cookies = txn_set_cookies(response)
        assert len(cookies) == 1, (i, response.headers.get_list("set-cookie"))
        [(name, value, _)] = cookies
        assert name == TXN_PREFIX + state
        txn = decrypt(value)
        assert txn is not None and txn["state"] == state and txn["nonce"] == nonce
        verifier = txn["codeVerifier"]
        assert 43 <= len(verifier) <= 128 and _UNRESERVED.match(verifier)
        assert pkce_challenge(verifier) == params["code_challenge"]
        assert verifier not in url and verifier not in (state, nonce)
        states.add(state)
        nonces.add(nonce)
        verifiers.add(verifier)
    assert len(states) == len(nonces) == len(verifiers) == 1000
    assert not states & nonces and not states & verifiers and not nonces & verifiers


async def test_txn10_token_request_carries_matching_verifier(h: Harness, op: ScriptedOP) -> None:
    client = h.client()
    for _ in range(3):
        browser = h.browser(client)
        _, callback = await login_until_callback(browser, op, ATTACKER_PARAMS)
        response = await browser.get(callback)
        assert response.status_code == 307  # the OP enforced S256 at /token
        authorize = op.last("/authorize")
        token = op.last("/oauth/token")
        verifier = token.form["code_verifier"]
        assert pkce_challenge(verifier) == authorize.query["code_challenge"]
        assert authorize.query["code_challenge_method"] == "S256"
        assert verifier not in authorize.raw_query and verifier not in callback
        assert verifier not in response.headers["location"]


# --------------------------------------------------------------------------------------
# TXN-12  expired or tampered transaction cookie
# --------------------------------------------------------------------------------------


async def _reject_with_cookie(
    h: Harness, op: ScriptedOP, browser: Any, callback: str, tokens_before: int = 0
) -> None:
    response = await browser.get(callback)
    assert response.status_code != 500
    assert_cb_reject(response, MSG_STATE_INVALID)
    assert session_set_cookies(response) == []
    assert op.count("/oauth/token") == tokens_before
    await assert_no_session(browser)


@pytest.mark.parametrize("elapsed", [3600 + 60, 86400 * 30])
async def test_txn12_expired_txn_cookie_rejected(h: Harness, op: ScriptedOP, elapsed: int) -> None:
    fake_now = [time.time()]
    browser = h.browser(h.client(clock=lambda: fake_now[0]))
    _, callback = await login_until_callback(browser, op)
    fake_now[0] += elapsed  # the browser dropped it; the attacker kept it
    await _reject_with_cookie(h, op, browser, callback)


async def test_txn12_control_unexpired_txn_cookie_accepted(h: Harness, op: ScriptedOP) -> None:
    fake_now = [time.time()]
    browser = h.browser(h.client(clock=lambda: fake_now[0]))
    _, callback = await login_until_callback(browser, op)
    fake_now[0] += 600
    assert (await browser.get(callback)).status_code == 307


def _tamper(value: str, how: str) -> str:
    stamp, _, jwe = value.partition(":")
    parts = jwe.split(".")
    if how == "flip-ciphertext":
        parts[3] = flip_char(parts[3])
    elif how == "flip-tag":
        parts[4] = flip_char(parts[4], 5)
    elif how == "flip-iv":
        parts[2] = flip_char(parts[2], 3)
    elif how == "truncate":
        return value[: len(value) // 2]
    elif how == "drop-tag":
        parts = parts[:4]
    elif how == "empty":
        return ""
    elif how == "no-timestamp-garbage":
        return "garbage"
    elif how == "timestamp-only":
        return stamp + ":"
    return stamp + ":" + ".".join(parts)


@pytest.mark.parametrize(
    "how",
    [
        "flip-ciphertext",
        "flip-tag",
        "flip-iv",
        "truncate",
        "drop-tag",
        "empty",
        "no-timestamp-garbage",
        "timestamp-only",
    ],
)
async def test_txn12_tampered_txn_cookie_rejected(h: Harness, op: ScriptedOP, how: str) -> None:
    browser = h.browser()
    authorize_url, callback = await login_until_callback(browser, op)
    name = TXN_PREFIX + state_of(authorize_url)
    browser.cookies[name] = _tamper(browser.cookies[name], how)
    await _reject_with_cookie(h, op, browser, callback)


async def test_txn12_txn_cookie_from_other_secret_rejected(h: Harness, op: ScriptedOP) -> None:
    ours = h.browser(h.client())
    theirs = h.browser(h.client(secret="another-app-secret-0123456789abcdef0123"))
    # A genuine JWE for this very state, but encrypted by an app with another secret.
    authorize_url, callback = await login_until_callback(theirs, op)
    name = TXN_PREFIX + state_of(authorize_url)
    ours.cookies[name] = theirs.cookies[name]
    await _reject_with_cookie(h, op, ours, callback)


@pytest.mark.parametrize("with_timestamp", [False, True])
async def test_txn12_session_value_pasted_into_txn_cookie(
    h: Harness, op: ScriptedOP, with_timestamp: bool
) -> None:
    client = h.client()
    donor = h.browser(client)
    assert (await full_login(donor, op)).status_code == 307
    session_value = donor.cookies["__session"]
    assert decrypt(session_value, SECRET) is not None

    browser = h.browser(client)
    authorize_url, callback = await login_until_callback(browser, op)
    name = TXN_PREFIX + state_of(authorize_url)
    browser.cookies[name] = (f"{int(time.time())}:" if with_timestamp else "") + session_value
    await _reject_with_cookie(h, op, browser, callback, tokens_before=1)
