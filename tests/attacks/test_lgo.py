"""Group G (LGO): RP-initiated logout with a store, back-channel logout, SES-08 and SES-09.

Back-channel cases post logout tokens signed with the scripted OP's keys to
``/auth/backchannel-logout`` of an app whose sessions live in a ``MemorySessionStore``.
The sessions are real: each user logs in through the scripted OP, so every record carries
the ``sid`` the OP put in its ID token.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import JSONResponse

from auth0_web import Auth0Client, MemorySessionStore, SessionData
from tests.support.apps import SECRET, Browser, make_app, make_client
from tests.support.scripted_op import (
    DEFAULT_USER,
    ScriptedOP,
    b64url,
    jws_compact,
    signer,
)

from .conftest import Harness
from .helpers import (
    MISSING,
    SESSION_NAME,
    decrypt,
    flip_char,
    full_login,
    is_deletion,
    query_params,
    session_set_cookies,
    set_cookies,
    start_login,
)

pytestmark = pytest.mark.anyio

BCL = "/auth/backchannel-logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
INVALID = "Invalid logout token:"

ALICE = {**DEFAULT_USER, "sub": "auth0|alice", "name": "Alice", "email": "alice@example.com"}
BOB = {**DEFAULT_USER, "sub": "auth0|bob", "name": "Bob", "email": "bob@example.com"}


# --------------------------------------------------------------------------------------
# Logout tokens
# --------------------------------------------------------------------------------------


def lt_claims(op: ScriptedOP, **changes: Any) -> dict[str, Any]:
    """Valid logout-token claims (``sid``/``sub`` to be added); ``MISSING`` removes one."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": op.issuer,
        "aud": op.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {EVENT: {}},
    }
    for name, value in changes.items():
        if value is MISSING:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def mint(
    op: ScriptedOP,
    claims: dict[str, Any] | str,
    *,
    sign_with: Any = "RS256",
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """Sign ``claims`` like the OP would; ``header`` adds members, ``drop`` removes them."""
    default_header, sign = op.variant(sign_with)
    protected = {**default_header, **(header or {})}
    for name in drop:
        protected.pop(name, None)
    return jws_compact(protected, claims, sign)


# --------------------------------------------------------------------------------------
# A world with several logged-in users
# --------------------------------------------------------------------------------------


@dataclass
class Login:
    browser: Browser
    sub: str
    sid: str
    session_id: str


@dataclass
class World:
    client: Auth0Client
    store: MemorySessionStore
    alice1: Login
    alice2: Login
    bob: Login
    provider: Browser  # the OP's back-channel caller: no cookies
    transport: RecordingTransport | None = None

    @property
    def outbound(self) -> list[str]:
        assert self.transport is not None, "use the watched fixture"
        return self.transport.urls

    @property
    def logins(self) -> list[Login]:
        return [self.alice1, self.alice2, self.bob]


def session_id_of(browser: Browser) -> str:
    payload = decrypt(browser.cookies[SESSION_NAME])
    assert payload is not None
    return str(payload["id"])


async def log_in(
    h: Harness, op: ScriptedOP, client: Auth0Client, store: Any, user: dict[str, Any]
) -> Login:
    op.scenario.user = dict(user)
    browser = h.browser(client)
    response = await full_login(browser, op)
    assert response.status_code == 307, response.text
    session_id = session_id_of(browser)
    record = await store.get(session_id)
    assert record is not None and record.user["sub"] == user["sub"]
    assert record.internal.sid
    return Login(browser, user["sub"], record.internal.sid, session_id)


async def build_world(h: Harness, op: ScriptedOP, *, record: bool = False) -> World:
    store = MemorySessionStore()
    client = h.client(session_store=store)
    transport = record_outbound(client) if record else None
    alice1 = await log_in(h, op, client, store, ALICE)
    alice2 = await log_in(h, op, client, store, ALICE)
    bob = await log_in(h, op, client, store, BOB)
    assert len({alice1.sid, alice2.sid, bob.sid}) == 3
    assert len(store) == 3
    op.scenario.user = dict(DEFAULT_USER)
    return World(client, store, alice1, alice2, bob, h.browser(client), transport)


@pytest.fixture
async def world(h: Harness, op: ScriptedOP) -> World:
    return await build_world(h, op)


@pytest.fixture
async def watched(h: Harness, op: ScriptedOP) -> World:
    """A world whose client's every outbound request is recorded (``world.outbound``)."""
    return await build_world(h, op, record=True)


async def post_token(browser: Browser, token: str, **kwargs: Any) -> httpx.Response:
    return await browser.post(BCL, data={"logout_token": token}, **kwargs)


async def alive(store: Any, login: Login) -> bool:
    return await store.get(login.session_id) is not None


async def assert_sessions(world: World, *, gone: tuple[Login, ...] = ()) -> None:
    """Exactly the ``gone`` sessions were deleted; the others are intact."""
    for login in world.logins:
        assert await alive(world.store, login) is (login not in gone), login.sub
    assert len(world.store) == len(world.logins) - len(gone)


def assert_204(response: httpx.Response) -> None:
    assert response.status_code == 204, (response.status_code, response.text)
    assert response.content == b""
    assert "no-store" in response.headers.get("cache-control", "")
    assert response.headers.get_list("set-cookie") == []


def assert_400(response: httpx.Response, reason: str | None = None) -> None:
    """BCL-REJECT's response half (the caller checks that no session was deleted)."""
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith(INVALID), response.text
    if reason is not None:
        assert response.text == f"{INVALID} {reason}.", response.text
    assert "no-store" in response.headers.get("cache-control", "")
    assert response.headers.get_list("set-cookie") == []
    assert "traceback" not in response.text.lower()


async def assert_rejected(world: World, response: httpx.Response, reason: str | None = None):
    assert_400(response, reason)
    await assert_sessions(world)


async def expect_rejected(world: World, tokens: dict[str, str], reason: str | None = None) -> None:
    """BCL-REJECT for every token (all are posted; every miss is reported together)."""
    misses = []
    for name, token in tokens.items():
        response = await post_token(world.provider, token)
        try:
            assert_400(response, reason)
        except AssertionError:
            misses.append(f"{name}: {response.status_code} {response.text!r}")
    await assert_sessions(world)
    assert not misses, misses


def good_token(world: World, op: ScriptedOP, target: Login, **changes: Any) -> str:
    return mint(op, lt_claims(op, sid=target.sid, **changes))


# --------------------------------------------------------------------------------------
# Outbound recording (which hosts the SDK contacts)
# --------------------------------------------------------------------------------------


class RecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def record_outbound(client: Auth0Client) -> RecordingTransport:
    """Route the SDK's outbound calls through a recorder (private attribute, tests only)."""
    http = client._rt.http
    assert http._client is None, "install before the first outbound call"
    transport = RecordingTransport()
    http._transport = transport
    return transport


def assert_only_configured_endpoints(op: ScriptedOP, urls: list[str]) -> None:
    allowed = {op.url(DISCOVERY_PATH), op.url(JWKS_PATH), op.url("/oauth/token")}
    strays = [url for url in urls if url.split("?")[0] not in allowed]
    assert not strays, f"outbound requests outside the configured provider: {strays}"


def op_hits(op: ScriptedOP, prefix: str) -> list[str]:
    return [r.path for r in op.requests if r.path.startswith(prefix)]


# ======================================================================================
# LGO-01  RP-initiated logout clears everything (with a store)
# ======================================================================================


async def test_lgo01_logout_clears_cookies_chunks_txns_and_record(
    world: World, op: ScriptedOP
) -> None:
    browser = world.alice1.browser
    record = await world.store.get(world.alice1.session_id)
    assert record is not None
    id_token = record.token_set.id_token
    # Two logins in flight (parallel transactions) and stale stateless chunks.
    await start_login(browser)
    await start_login(browser)
    txns = browser.txn_cookie_names()
    assert len(txns) == 2
    browser.cookies[f"{SESSION_NAME}__0"] = "stale-chunk-0"
    browser.cookies[f"{SESSION_NAME}__1"] = "stale-chunk-1"
    sent_cookie = browser.cookies[SESSION_NAME]

    response = await browser.get("/auth/logout")

    assert response.status_code == 307
    location = response.headers["location"]
    assert location.startswith(op.url("/oidc/logout") + "?")
    params = query_params(location)
    assert params["id_token_hint"] == id_token
    assert params["logout_hint"] == world.alice1.sid
    assert "no-store" in response.headers["cache-control"]
    deleted = {name: attrs for name, value, attrs in set_cookies(response) if is_deletion(attrs)}
    expected = {SESSION_NAME, f"{SESSION_NAME}__0", f"{SESSION_NAME}__1", *txns}
    assert set(deleted) >= expected, deleted
    for name in expected:
        attrs = deleted[name]
        assert attrs.get("path") == "/" and attrs.get("samesite") == "Lax"
        assert "httponly" in attrs
    written = [n for n, v, a in set_cookies(response) if v and not is_deletion(a)]
    assert written == []
    assert browser.session_cookie_names() == [] and browser.txn_cookie_names() == []
    # The record is gone; the other users' records are not.
    await assert_sessions(world, gone=(world.alice1,))
    # The old cookie value, replayed, is worthless.
    replay = await world.provider.get(
        "/auth/profile", headers={"cookie": f"__session={sent_cookie}"}
    )
    assert replay.status_code == 401


async def test_lgo01_logout_while_discovery_is_down(h: Harness, op: ScriptedOP, world: World):
    # A second app instance sharing the store, whose discovery has not been fetched yet.
    other = h.client(session_store=world.store)
    browser = h.browser(other)
    browser.cookies.update(world.alice1.browser.cookies)
    op.scenario.status[DISCOVERY_PATH] = 500
    response = await browser.get("/auth/logout")
    assert response.status_code == 500
    assert "no-store" in response.headers["cache-control"]
    deleted = [n for n, v, a in session_set_cookies(response) if is_deletion(a)]
    assert SESSION_NAME in deleted
    await assert_sessions(world, gone=(world.alice1,))


async def test_lgo01_logout_with_tampered_cookie_deletes_nothing_else(
    world: World, op: ScriptedOP
) -> None:
    browser = world.alice1.browser
    browser.cookies[SESSION_NAME] = flip_char(browser.cookies[SESSION_NAME])
    response = await browser.get("/auth/logout")
    assert response.status_code == 307
    params = query_params(response.headers["location"])
    assert "id_token_hint" not in params and "logout_hint" not in params
    deleted = [n for n, v, a in session_set_cookies(response) if is_deletion(a)]
    assert deleted == [SESSION_NAME]
    await assert_sessions(world)


async def test_lgo01_logout_after_backchannel_logout(world: World, op: ScriptedOP) -> None:
    assert_204(await post_token(world.provider, good_token(world, op, world.alice1)))
    response = await world.alice1.browser.get("/auth/logout")
    assert response.status_code == 307
    assert "id_token_hint" not in query_params(response.headers["location"])
    assert world.alice1.browser.session_cookie_names() == []
    await assert_sessions(world, gone=(world.alice1,))


# ======================================================================================
# LGO-04  the happy path
# ======================================================================================


@pytest.mark.parametrize(
    "typ",
    [MISSING, "JWT", "logout+jwt", "application/logout+jwt"],
    ids=["absent", "JWT", "logout+jwt", "application/logout+jwt"],
)
async def test_lgo04_valid_token_deletes_the_sid(world: World, op: ScriptedOP, typ: Any) -> None:
    claims = lt_claims(op, sid=world.alice1.sid, sub=world.alice1.sub)
    claims["https://example.com/unknown-claim"] = {"nested": [1, 2]}
    if typ is MISSING:
        token = mint(op, claims, drop=("typ",))
    else:
        token = mint(op, claims, header={"typ": typ})
    response = await post_token(world.provider, token)
    assert_204(response)
    await assert_sessions(world, gone=(world.alice1,))
    # The deleted session's cookie gives NO-SESSION everywhere; the others still work.
    profile = await world.alice1.browser.get("/auth/profile")
    assert profile.status_code == 401
    assert (await world.alice1.browser.get("/")).json() == {"user": None}
    assert (await world.alice2.browser.get("/auth/profile")).json()["sub"] == ALICE["sub"]
    assert (await world.bob.browser.get("/auth/profile")).json()["sub"] == BOB["sub"]


async def test_lgo04_sub_only_deletes_every_session_of_the_user(
    world: World, op: ScriptedOP
) -> None:
    response = await post_token(world.provider, mint(op, lt_claims(op, sub=ALICE["sub"])))
    assert_204(response)
    await assert_sessions(world, gone=(world.alice1, world.alice2))
    assert (await world.bob.browser.get("/auth/profile")).status_code == 200


async def test_lgo04_key_rotation_is_followed_with_one_refetch(
    world: World, op: ScriptedOP
) -> None:
    op.rotate_keys(keep_old=False)
    before = op.count(JWKS_PATH)
    response = await post_token(world.provider, good_token(world, op, world.bob))
    assert_204(response)
    assert op.count(JWKS_PATH) == before + 1
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo04_content_type_is_not_required(world: World, op: ScriptedOP) -> None:
    body = urlencode({"logout_token": good_token(world, op, world.bob)})
    response = await world.provider.post(BCL, content=body.encode())
    assert_204(response)
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo04_exp_within_clock_tolerance_is_accepted(world: World, op: ScriptedOP):
    now = int(time.time())
    token = good_token(world, op, world.bob, iat=now - 100, exp=now - 5)
    assert_204(await post_token(world.provider, token))
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo04_lifetime_of_exactly_one_hour_is_accepted(world: World, op: ScriptedOP):
    now = int(time.time())
    token = good_token(world, op, world.bob, iat=now, exp=now + 3600)
    assert_204(await post_token(world.provider, token))


# ======================================================================================
# LGO-05  alg none
# ======================================================================================


async def test_lgo05_alg_none(world: World, op: ScriptedOP) -> None:
    claims = lt_claims(op, sid=world.alice1.sid)
    header = b64url(b'{"alg":"none"}')
    payload = b64url(jws_payload(claims))
    tokens = {
        f"{alg}": mint(op, claims, sign_with="none", header={"alg": alg})
        for alg in ("none", "None", "NONE", "nOnE")
    }
    tokens["none-with-kid-and-junk-signature"] = jws_compact(
        {"alg": "none", "kid": "k1", "typ": "JWT"}, claims, b"junk"
    )
    tokens["none-two-segments"] = f"{header}.{payload}"
    tokens["none-empty-signature"] = f"{header}.{payload}."
    tokens["alg-missing"] = mint(op, claims, drop=("alg",))
    tokens["alg-null"] = mint(op, claims, header={"alg": None})
    tokens["alg-empty"] = mint(op, claims, header={"alg": ""})
    await expect_rejected(world, tokens)


def jws_payload(claims: dict[str, Any]) -> bytes:
    return json.dumps(claims, separators=(",", ":")).encode()


# ======================================================================================
# LGO-06  wrong algorithm / algorithm confusion
# ======================================================================================


async def test_lgo06_wrong_algorithm(world: World, op: ScriptedOP) -> None:
    claims = lt_claims(op, sid=world.alice1.sid)
    tokens = {
        sign_with: mint(op, claims, sign_with=sign_with)
        for sign_with in ("ES256", "HS256-client-secret", "HS256-public-pem", "PS256", "RS512")
    }
    # HS256 without a kid, keyed with the client secret or the app's cookie secret.
    tokens["HS256-secret-no-kid"] = jws_compact(
        {"alg": "HS256"}, claims, signer("HS256", op.client_secret)
    )
    tokens["HS256-app-secret"] = jws_compact({"alg": "HS256"}, claims, signer("HS256", SECRET))
    # RS256 header naming the EC key; RS256 header over an ES256 signature.
    tokens["RS256-kid-ec1"] = mint(op, claims, header={"kid": "ec1"})
    tokens["ES256-sig-RS256-header"] = mint(op, claims, sign_with="ES256", header={"alg": "RS256"})
    tokens["lowercase-rs256"] = mint(op, claims, header={"alg": "rs256"})
    await expect_rejected(world, tokens)


# ======================================================================================
# LGO-07  bad signature, unknown key, embedded key
# ======================================================================================


async def test_lgo07_tampered_payload(world: World, op: ScriptedOP) -> None:
    # A genuine token for bob, with its payload swapped for one naming alice.
    genuine = good_token(world, op, world.bob)
    forged_payload = b64url(jws_payload(lt_claims(op, sid=world.alice1.sid)))
    header, _, signature = genuine.split(".")
    token = f"{header}.{forged_payload}.{signature}"
    await assert_rejected(world, await post_token(world.provider, token))
    # One flipped character in the payload or the signature.
    parts = genuine.split(".")
    for index in (1, 2):
        changed = list(parts)
        changed[index] = flip_char(changed[index])
        await assert_rejected(world, await post_token(world.provider, ".".join(changed)))
    # The genuine token still works (nothing above burned its jti).
    assert_204(await post_token(world.provider, genuine))
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo07_bad_signatures(world: World, op: ScriptedOP) -> None:
    claims = lt_claims(op, sid=world.alice1.sid)
    header, payload, signature = mint(op, claims).split(".")
    tokens = {
        "unpublished-key": mint(op, claims, sign_with="wrong-key"),
        "unpublished-key-no-kid": mint(op, claims, sign_with="wrong-key", drop=("kid",)),
        "empty-signature": f"{header}.{payload}.",
        "truncated-signature": f"{header}.{payload}.{signature[:40]}",
        "doubled-signature": f"{header}.{payload}.{signature}{signature}",
        "signature-not-base64url": f"{header}.{payload}.{signature[:-4]}+/==",
        "k2-kid-on-k1-signature": mint(op, claims, header={"kid": "k2"}),
    }
    await expect_rejected(world, tokens)


async def test_lgo07_unknown_kid_refetches_jwks_at_most_once(world: World, op: ScriptedOP):
    before = op.count(JWKS_PATH)
    for n in range(4):
        token = mint(
            op,
            lt_claims(op, sid=world.alice1.sid),
            sign_with="wrong-key",
            header={"kid": f"unknown-{n}"},
        )
        await assert_rejected(
            world, await post_token(world.provider, token), "no matching signing key"
        )
    assert op.count(JWKS_PATH) - before <= 1


@pytest.mark.parametrize("member", ["jku", "x5u"])
async def test_lgo07_jku_and_x5u_are_never_fetched(
    watched: World, op: ScriptedOP, member: str
) -> None:
    world = watched
    marker = f"/attacker-{member}-{uuid.uuid4().hex}"
    start = len(world.outbound)
    for kid in ("k1", f"attacker-{uuid.uuid4().hex}"):
        token = mint(
            op,
            lt_claims(op, sid=world.alice1.sid),
            sign_with="wrong-key",
            header={"kid": kid, member: op.url(marker + "/keys.json")},
        )
        await assert_rejected(world, await post_token(world.provider, token))
    assert op_hits(op, marker) == []
    assert_only_configured_endpoints(op, world.outbound[start:])


async def test_lgo07_embedded_jwk_is_ignored(watched: World, op: ScriptedOP) -> None:
    world = watched
    start = len(world.outbound)
    token = mint(op, lt_claims(op, sid=world.alice1.sid), sign_with="jwk-header")
    await assert_rejected(world, await post_token(world.provider, token))
    # The same with an unknown kid, and with an x5c chain that means nothing.
    token = mint(
        op,
        lt_claims(op, sid=world.alice1.sid),
        sign_with="jwk-header",
        header={"kid": "attacker", "x5c": [b64url(b"not a certificate")]},
    )
    await assert_rejected(world, await post_token(world.provider, token))
    assert_only_configured_endpoints(op, world.outbound[start:])


# ======================================================================================
# LGO-08  wrong issuer, SSRF through iss
# ======================================================================================


async def test_lgo08_wrong_issuer(watched: World, op: ScriptedOP):
    world = watched
    start = len(world.outbound)
    variants: dict[str, Any] = {
        "other": "https://evil.example/",
        "no-trailing-slash": op.issuer.rstrip("/"),
        "double-slash": op.issuer + "/",
        "prefix": op.issuer[:-3],
        "suffix": op.issuer + "x",
        "upper": op.issuer.upper(),
        "ip-literal": op.issuer.replace("localhost", "127.0.0.1"),
        "missing": MISSING,
        "null": None,
        "array": [op.issuer],
        "object": {"iss": op.issuer},
        "metadata-ip": "http://169.254.169.254/",
        "localhost-1": "http://localhost:1/",
    }
    tokens = {
        name: mint(op, lt_claims(op, sid=world.alice1.sid, iss=iss))
        for name, iss in variants.items()
    }
    await expect_rejected(world, tokens, "issuer mismatch")
    assert world.outbound[start:] == []  # not even a JWKS fetch


async def test_lgo08_iss_on_the_provider_host_is_never_fetched(
    watched: World, op: ScriptedOP
) -> None:
    world = watched
    marker = f"/ssrf-{uuid.uuid4().hex}"
    start = len(world.outbound)
    for iss in (op.url(marker + "/"), op.url(marker)):
        token = mint(op, lt_claims(op, sid=world.alice1.sid, iss=iss))
        await assert_rejected(world, await post_token(world.provider, token), "issuer mismatch")
        # Also with an unknown kid, so a key lookup would be tempted to go to iss.
        token = mint(op, lt_claims(op, sid=world.alice1.sid, iss=iss), header={"kid": "nope"})
        await assert_rejected(world, await post_token(world.provider, token))
    assert op_hits(op, marker) == []
    assert_only_configured_endpoints(op, world.outbound[start:])


async def test_lgo08_discovery_is_configured_not_token_driven(h: Harness, op: ScriptedOP):
    """A fresh app instance: the first post fetches discovery from the configured issuer."""
    store = MemorySessionStore()
    client = h.client(session_store=store)
    transport = record_outbound(client)
    marker = f"/cold-{uuid.uuid4().hex}"
    token = mint(op, lt_claims(op, sid="some-sid", iss=op.url(marker + "/")))
    response = await post_token(h.browser(client), token)
    assert_400(response, "issuer mismatch")
    assert transport.urls == [op.url(DISCOVERY_PATH)]
    assert op_hits(op, marker) == []


# ======================================================================================
# LGO-09  wrong audience
# ======================================================================================


async def test_lgo09_wrong_audience(world: World, op: ScriptedOP) -> None:
    cid = op.client_id
    variants: dict[str, Any] = {
        "other": "other-client",
        "suffix": cid + "x",
        "prefix": cid[:-1],
        "contains": "x" + cid + "x",
        "upper": cid.upper(),
        "missing": MISSING,
        "null": None,
        "empty-string": "",
        "empty-array": [],
        "array-other": ["other-client"],
        "array-superstring": [cid + "x", "y"],
        "nested-array": [[cid]],
        "array-with-number": [cid, 7],
        "object": {cid: True},
        "number": 12,
    }
    tokens = {
        name: mint(op, lt_claims(op, sid=world.alice1.sid, aud=aud))
        for name, aud in variants.items()
    }
    await expect_rejected(world, tokens)


async def test_lgo09_array_with_an_extra_audience_is_rejected(world: World, op: ScriptedOP):
    """OIDC Core 3.1.3.7 (applied by BCL 2.6): extra untrusted audiences are rejected."""
    token = mint(op, lt_claims(op, sid=world.alice1.sid, aud=[op.client_id, "another-rp"]))
    await assert_rejected(world, await post_token(world.provider, token))


async def test_lgo09_single_element_array_is_accepted(world: World, op: ScriptedOP) -> None:
    token = mint(op, lt_claims(op, sid=world.bob.sid, aud=[op.client_id]))
    assert_204(await post_token(world.provider, token))
    await assert_sessions(world, gone=(world.bob,))


# ======================================================================================
# LGO-10  events
# ======================================================================================


async def test_lgo10_bad_events(world: World, op: ScriptedOP) -> None:
    variants: dict[str, Any] = {
        "missing": MISSING,
        "null": None,
        "string": EVENT,
        "array": [EVENT],
        "array-of-object": [{EVENT: {}}],
        "empty-object": {},
        "trailing-slash-member": {EVENT + "/": {}},
        "other-event": {"http://schemas.openid.net/event/other": {}},
        "upper-member": {EVENT.upper(): {}},
        "member-empty-string": {EVENT: ""},
        "member-null": {EVENT: None},
        "member-array": {EVENT: []},
        "member-string": {EVENT: "x"},
        "member-true": {EVENT: True},
        "member-number": {EVENT: 1},
        "json-text": "{}",
    }
    tokens = {
        name: mint(op, lt_claims(op, sid=world.alice1.sid, events=events))
        for name, events in variants.items()
    }
    await expect_rejected(world, tokens)


async def test_lgo10_extra_event_members_are_allowed(world: World, op: ScriptedOP) -> None:
    events = {EVENT: {"detail": "x"}, "https://example.com/event/other": {}}
    token = mint(op, lt_claims(op, sid=world.bob.sid, events=events))
    assert_204(await post_token(world.provider, token))
    await assert_sessions(world, gone=(world.bob,))


# ======================================================================================
# LGO-11  nonce
# ======================================================================================


async def test_lgo11_nonce_present(world: World, op: ScriptedOP) -> None:
    tokens = {
        repr(nonce): mint(op, lt_claims(op, sid=world.alice1.sid, nonce=nonce))
        for nonce in ("n-0S6_WzA2Mj", "", None, 0, {"n": 1})
    }
    await expect_rejected(world, tokens)


# ======================================================================================
# LGO-13  explicit typing and cross-JWT confusion
# ======================================================================================


async def test_lgo13_wrong_typ(world: World, op: ScriptedOP) -> None:
    claims = lt_claims(op, sid=world.alice1.sid)
    types = [
        "at+jwt",
        "application/at+jwt",
        "dpop+jwt",
        "secevent+jwt",
        "application/secevent+jwt",
        "id_token+jwt",
        "logout+jwt ",
        "JOSE",
        "",
        123,
        ["logout+jwt"],
    ]
    tokens = {repr(typ): mint(op, claims, header={"typ": typ}) for typ in types}
    await expect_rejected(world, tokens, "unexpected token type")
    # JSON null is not a type either (any 400 will do).
    await expect_rejected(world, {"null": mint(op, claims, header={"typ": None})})


async def test_lgo13_id_token_posted_as_logout_token(world: World, op: ScriptedOP) -> None:
    id_tokens = [body["id_token"] for body in op.token_responses if "id_token" in body]
    assert len(id_tokens) == 3  # the world's three logins
    for id_token in id_tokens:
        await assert_rejected(world, await post_token(world.provider, id_token))


async def test_lgo13_id_token_shape_with_events_still_has_nonce(
    world: World, op: ScriptedOP
) -> None:
    claims = lt_claims(op, sid=world.alice1.sid, sub=ALICE["sub"], nonce="abc")
    claims.update({"auth_time": int(time.time()), "name": "Alice"})
    token = mint(op, claims)
    await assert_rejected(world, await post_token(world.provider, token))


async def test_lgo13_unsupported_header_members(world: World, op: ScriptedOP) -> None:
    claims = lt_claims(op, sid=world.alice1.sid)
    tokens = {
        member: mint(op, claims, header={member: value})
        for member, value in (("crit", ["exp"]), ("b64", False), ("zip", "DEF"))
    }
    tokens["kid-number"] = mint(op, claims, header={"kid": 1})
    await expect_rejected(world, tokens)


# ======================================================================================
# LGO-14  replay and lifetime
# ======================================================================================


async def test_lgo14_replayed_jti(world: World, op: ScriptedOP) -> None:
    token = good_token(world, op, world.bob)
    assert_204(await post_token(world.provider, token))
    second = await post_token(world.provider, token)
    assert_400(second, "already used")
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo14_same_jti_in_another_token_is_a_replay(world: World, op: ScriptedOP):
    jti = uuid.uuid4().hex
    assert_204(await post_token(world.provider, good_token(world, op, world.bob, jti=jti)))
    other = good_token(world, op, world.alice1, jti=jti)
    assert_400(await post_token(world.provider, other), "already used")
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo14_rejected_token_does_not_burn_its_jti(world: World, op: ScriptedOP):
    jti = uuid.uuid4().hex
    forged = mint(op, lt_claims(op, sid=world.bob.sid, jti=jti), sign_with="wrong-key")
    await assert_rejected(world, await post_token(world.provider, forged))
    assert_204(await post_token(world.provider, good_token(world, op, world.bob, jti=jti)))
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo14_without_jti_a_second_post_is_a_harmless_no_op(
    world: World, op: ScriptedOP
) -> None:
    token = good_token(world, op, world.bob, jti=MISSING)
    assert_204(await post_token(world.provider, token))
    assert_204(await post_token(world.provider, token))
    await assert_sessions(world, gone=(world.bob,))


async def test_lgo14_lifetime(world: World, op: ScriptedOP) -> None:
    now = int(time.time())
    year = 365 * 24 * 3600
    variants: dict[str, dict[str, Any]] = {
        "exp-missing": {"exp": MISSING},
        "exp-null": {"exp": None},
        "exp-string": {"exp": str(now + 120)},
        "exp-bool": {"exp": True},
        "exp-huge": {"exp": 10**30},
        "exp-negative": {"exp": -1},
        "expired": {"iat": now - 300, "exp": now - 120},
        "expired-past-leeway": {"iat": now - 300, "exp": now - 31},
        "year-long": {"exp": now + year},
        "lifetime-3601": {"exp": now + 3601},
        "old-iat-long-lifetime": {"iat": now - 7200, "exp": now + 60},
        "iat-missing": {"iat": MISSING},
        "iat-null": {"iat": None},
        "iat-string": {"iat": str(now)},
        "iat-future": {"iat": now + 300, "exp": now + 600},
        "iat-after-exp": {"iat": now + 600, "exp": now + 120},
    }
    tokens = {
        name: mint(op, lt_claims(op, sid=world.alice1.sid, **changes))
        for name, changes in variants.items()
    }
    claims = lt_claims(op, sid=world.alice1.sid)
    for raw in ("NaN", "Infinity", "-Infinity", "1e400"):
        text = json.dumps({**claims, "exp": "__EXP__"}).replace('"__EXP__"', raw)
        tokens[f"exp-{raw}"] = mint(op, text)
    await expect_rejected(world, tokens)


# ======================================================================================
# sid / sub
# ======================================================================================


async def test_sid_and_sub_shapes(world: World, op: ScriptedOP) -> None:
    variants: dict[str, dict[str, Any]] = {
        "both-missing": {},
        "sid-null": {"sid": None},
        "both-null": {"sid": None, "sub": None},
        "sid-number": {"sid": 123},
        "sid-empty": {"sid": ""},
        "sid-array": {"sid": [world.alice1.sid]},
        "sid-object": {"sid": {"sid": world.alice1.sid}},
        "sub-number": {"sub": 123},
        "sub-empty": {"sub": ""},
        "sub-array": {"sub": [ALICE["sub"]]},
        "good-sub-bad-sid": {"sub": ALICE["sub"], "sid": 5},
        "good-sid-bad-sub": {"sid": world.alice1.sid, "sub": False},
        "jti-number": {"sid": world.alice1.sid, "jti": 5},
        "jti-empty": {"sid": world.alice1.sid, "jti": ""},
        "jti-huge": {"sid": world.alice1.sid, "jti": "j" * 300},
    }
    tokens = {name: mint(op, lt_claims(op, **changes)) for name, changes in variants.items()}
    await expect_rejected(world, tokens)


# ======================================================================================
# LGO-15  request shape
# ======================================================================================


async def test_lgo15_other_methods_fall_through_to_the_app(world: World, op: ScriptedOP):
    token = good_token(world, op, world.bob)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = await world.provider.request(method, BCL, data={"logout_token": token})
        assert response.status_code in (404, 405), (method, response.status_code)
        assert response.headers["content-type"].startswith("application/json")  # FastAPI's
    get = await world.provider.get(BCL + "?logout_token=" + token)
    assert get.status_code == 404
    await assert_sessions(world)


def multipart_body(token: str) -> tuple[bytes, str]:
    boundary = "----lgo15boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="logout_token"\r\n\r\n'
        f"{token}\r\n--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def test_lgo15_malformed_requests(world: World, op: ScriptedOP) -> None:
    token = good_token(world, op, world.bob)
    multipart, multipart_type = multipart_body(token)
    cases: list[tuple[bytes, dict[str, str]]] = [
        (b"", {}),
        (b"", {"content-type": "application/x-www-form-urlencoded"}),
        (b"logout_token=", {"content-type": "application/x-www-form-urlencoded"}),
        (b"logout_token", {"content-type": "application/x-www-form-urlencoded"}),
        (b"other=" + token.encode(), {"content-type": "application/x-www-form-urlencoded"}),
        (
            f"logout_token={token}&logout_token={token}".encode(),
            {"content-type": "application/x-www-form-urlencoded"},
        ),
        (
            f"logout_token={token}&logout_token=".encode(),
            {"content-type": "application/x-www-form-urlencoded"},
        ),
        (f'{{"logout_token": "{token}"}}'.encode(), {"content-type": "application/json"}),
        (multipart, {"content-type": multipart_type}),
        (b"logout_token=\xff\xfe" + token.encode(), {}),
        ("&".join(f"f{i}=x" for i in range(50)).encode() + b"&logout_token=" + token.encode(), {}),
    ]
    for body, headers in cases:
        response = await world.provider.post(BCL, content=body, headers=headers)
        assert response.status_code == 400, (body[:60], response.status_code, response.text)
        assert response.headers["content-type"].startswith("text/plain")
        assert "no-store" in response.headers.get("cache-control", "")
        assert response.headers.get_list("set-cookie") == []
    await assert_sessions(world)


async def test_lgo15_two_megabyte_token_is_413(world: World, op: ScriptedOP) -> None:
    huge = good_token(world, op, world.bob, pad="A" * (2 * 1024 * 1024))
    response = await post_token(world.provider, huge)
    assert response.status_code == 413, response.status_code
    # The cap is the body size (64 KiB): one byte over is 413, exactly at it is not.
    prefix = b"logout_token="
    at_cap = prefix + b"A" * (64 * 1024 - len(prefix))
    assert (await world.provider.post(BCL, content=at_cap)).status_code == 400
    assert (await world.provider.post(BCL, content=at_cap + b"A")).status_code == 413
    await assert_sessions(world)


async def test_lgo15_oversized_but_under_body_cap_is_400(world: World, op: ScriptedOP) -> None:
    big = good_token(world, op, world.bob, pad="A" * (32 * 1024))
    await assert_rejected(world, await post_token(world.provider, big), "token too large")


async def test_lgo15_cookies_on_the_request_are_ignored(world: World, op: ScriptedOP) -> None:
    # Alice's browser posts a token naming bob: bob's session goes, alice's stays.
    browser = world.alice1.browser
    response = await post_token(browser, good_token(world, op, world.bob))
    assert_204(response)
    await assert_sessions(world, gone=(world.bob,))
    # Alice's cookie does not make an invalid token (or one without sid/sub) work.
    bad = mint(op, lt_claims(op), sign_with="wrong-key")
    response = await post_token(browser, bad)
    assert_400(response)
    response = await post_token(browser, mint(op, lt_claims(op)))
    assert_400(response)
    assert await alive(world.store, world.alice1)
    assert (await browser.get("/auth/profile")).status_code == 200


# ======================================================================================
# LGO-16  only the right sessions are deleted
# ======================================================================================


async def test_lgo16_sid_deletes_only_that_session(world: World, op: ScriptedOP) -> None:
    assert_204(await post_token(world.provider, good_token(world, op, world.alice2)))
    await assert_sessions(world, gone=(world.alice2,))
    assert (await world.alice1.browser.get("/auth/profile")).json()["sub"] == ALICE["sub"]
    assert (await world.bob.browser.get("/auth/profile")).json()["sub"] == BOB["sub"]
    assert (await world.alice2.browser.get("/auth/profile")).status_code == 401


async def test_lgo16_sid_with_someone_elses_sub_never_touches_that_user(
    world: World, op: ScriptedOP
) -> None:
    token = mint(op, lt_claims(op, sid=world.alice1.sid, sub=BOB["sub"]))
    response = await post_token(world.provider, token)
    assert response.status_code in (204, 400)
    assert await alive(world.store, world.bob)
    assert await alive(world.store, world.alice2)


async def test_lgo16_unknown_sid_or_sub_deletes_nothing(world: World, op: ScriptedOP) -> None:
    for claims in (
        lt_claims(op, sid="no-such-sid"),
        lt_claims(op, sub="auth0|nobody"),
        lt_claims(op, sid=world.alice1.sid.upper() + "x"),
        lt_claims(op, sub=ALICE["sub"].upper()),
    ):
        assert_204(await post_token(world.provider, mint(op, claims)))
    await assert_sessions(world)


async def test_lgo16_other_issuer_sharing_the_store_is_untouched(
    h: Harness, op: ScriptedOP, world: World
) -> None:
    """Two custom domains (two issuers) whose apps share one store: a logout token of
    issuer A naming a ``sub`` must not end the session issuer B holds for the same ``sub``."""
    other_op = ScriptedOP(client_id=op.client_id, client_secret=op.client_secret)
    other_op.start()
    other = make_client(
        other_op,
        client_id=op.client_id,
        client_secret=op.client_secret,
        session_store=world.store,
    )
    browser = Browser(make_app(other))
    try:
        other_op.scenario.user = dict(ALICE)  # the same sub at the other issuer
        response = await full_login(browser, other_op)
        assert response.status_code == 307, response.text
        other_id = session_id_of(browser)
        assert await world.store.get(other_id) is not None
        # Issuer A logs alice out of A.
        token = mint(op, lt_claims(op, sub=ALICE["sub"]))
        assert_204(await post_token(world.provider, token))
        assert not await alive(world.store, world.alice1)
        assert not await alive(world.store, world.alice2)
        assert await alive(world.store, world.bob)
        assert await world.store.get(other_id) is not None, (
            "issuer A's logout token deleted a session of issuer B"
        )
    finally:
        await browser.client.aclose()
        await other.aclose()
        other_op.stop()


# ======================================================================================
# LGO-17  no store, store without support, JWE-shaped tokens, provider unreachable
# ======================================================================================


async def test_lgo17_no_store_is_501(h: Harness, op: ScriptedOP) -> None:
    client = h.client()
    response = await post_token(h.browser(client), mint(op, lt_claims(op, sid="x")))
    assert response.status_code == 501
    assert response.headers["content-type"].startswith("text/plain")
    assert "no-store" in response.headers["cache-control"]
    assert op.requests == []  # no token-driven (or any) outbound call


class StoreWithoutLogoutTokens:
    def __init__(self) -> None:
        self.inner = MemorySessionStore()

    async def get(self, id: str) -> SessionData | None:
        return await self.inner.get(id)

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None:
        await self.inner.set(id, session, expires_at=expires_at)

    async def delete(self, id: str) -> None:
        await self.inner.delete(id)


async def test_lgo17_store_without_delete_by_logout_token_is_501(h: Harness, op: ScriptedOP):
    store = StoreWithoutLogoutTokens()
    client = h.client(session_store=store)
    login = await log_in(h, op, client, store, ALICE)
    response = await post_token(h.browser(client), mint(op, lt_claims(op, sid=login.sid)))
    assert response.status_code == 501
    assert response.headers["content-type"].startswith("text/plain")
    assert "no-store" in response.headers["cache-control"]
    assert await store.get(login.session_id) is not None


async def test_lgo17_jwe_shaped_token_is_400(world: World, op: ScriptedOP) -> None:
    header = b64url(b'{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1","cty":"JWT"}')
    jwe = ".".join(
        [header, b64url(b"k" * 256), b64url(b"i" * 12), b64url(b"c" * 64), b64url(b"t" * 16)]
    )
    await assert_rejected(world, await post_token(world.provider, jwe))
    # A JWE whose ciphertext is a genuine logout token does not help either.
    inner = good_token(world, op, world.alice1)
    nested = ".".join([header, "", b64url(b"i" * 12), inner.replace(".", ""), b64url(b"t" * 16)])
    await assert_rejected(world, await post_token(world.provider, nested))
    # rsa1_5 / dir headers change nothing.
    for alg in ("RSA1_5", "dir", "ECDH-ES"):
        hdr = b64url(f'{{"alg":"{alg}","enc":"A128CBC-HS256"}}'.encode())
        token = ".".join([hdr, "", b64url(b"i" * 16), b64url(b"c" * 32), b64url(b"t" * 16)])
        await assert_rejected(world, await post_token(world.provider, token))


async def test_lgo17_malformed_compact_tokens(world: World, op: ScriptedOP) -> None:
    variants = ["a", "a.b", "a.b.c.d", "....", "..", "e30.e30.", "W10.e30.", "e30.W10."]
    variants += ["%%%.e30.e30", "e30.e30.e30 ", " " + good_token(world, op, world.bob)]
    await expect_rejected(world, {repr(v[:20]): v for v in variants})


async def test_lgo17_discovery_unreachable_is_503(h: Harness, op: ScriptedOP, world: World):
    other = h.client(session_store=world.store)  # a fresh instance: nothing cached
    op.scenario.status[DISCOVERY_PATH] = 503
    response = await post_token(h.browser(other), good_token(world, op, world.alice1))
    assert response.status_code == 503
    assert "no-store" in response.headers["cache-control"]
    await assert_sessions(world)


async def test_lgo17_jwks_unreachable_is_503(h: Harness, op: ScriptedOP, world: World) -> None:
    other = h.client(session_store=world.store)
    op.scenario.status[JWKS_PATH] = 500
    response = await post_token(h.browser(other), good_token(world, op, world.alice1))
    assert response.status_code == 503
    assert "no-store" in response.headers["cache-control"]
    await assert_sessions(world)


async def test_lgo17_provider_host_down_is_503(h: Harness, op: ScriptedOP) -> None:
    store = MemorySessionStore()
    client = Auth0Client(
        domain="http://localhost:1",
        client_id=op.client_id,
        client_secret=op.client_secret,
        secret=SECRET,
        app_base_url="http://127.0.0.1:3000",
        allow_insecure_requests=True,
        session_store=store,
        http_timeout=2,
    )
    try:
        response = await post_token(h.browser(client), mint(op, lt_claims(op, sid="s")))
        assert response.status_code == 503
        assert "no-store" in response.headers["cache-control"]
    finally:
        await client.aclose()


# ======================================================================================
# SES-08  session fixation with a store
# ======================================================================================


@pytest.mark.parametrize(
    "planted",
    [
        "0123456789abcdef0123456789abcdef",
        "attacker-chosen-value",
        "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
async def test_ses08_planted_value_is_not_reused(h: Harness, op: ScriptedOP, planted: str):
    store = MemorySessionStore()
    client = h.client(session_store=store)
    victim = h.browser(client)
    victim.cookies[SESSION_NAME] = planted
    op.scenario.user = dict(ALICE)
    response = await full_login(victim, op)
    assert response.status_code == 307
    assert victim.cookies[SESSION_NAME] != planted
    new_id = session_id_of(victim)
    assert new_id != planted
    assert await store.get(planted) is None
    assert len(store) == 1
    # The planted value still means nothing.
    attacker = h.browser(client)
    attacker.cookies[SESSION_NAME] = planted
    assert (await attacker.get("/auth/profile")).status_code == 401


async def test_ses08_attackers_own_session_cookie_is_replaced(h: Harness, op: ScriptedOP):
    store = MemorySessionStore()
    client = h.client(session_store=store)
    attacker = await log_in(h, op, client, store, BOB)
    # The attacker plants their own valid cookie in the victim's browser.
    victim = h.browser(client)
    victim.cookies[SESSION_NAME] = attacker.browser.cookies[SESSION_NAME]
    assert (await victim.get("/auth/profile")).json()["sub"] == BOB["sub"]
    op.scenario.user = dict(ALICE)
    response = await full_login(victim, op)
    assert response.status_code == 307
    victim_id = session_id_of(victim)
    assert victim_id != attacker.session_id
    record = await store.get(victim_id)
    assert record is not None and record.user["sub"] == ALICE["sub"]
    assert await store.get(attacker.session_id) is None  # the login dropped the planted id
    # The attacker's cookie does not see the victim's session.
    profile = await attacker.browser.get("/auth/profile")
    assert profile.status_code == 401
    assert (await victim.get("/auth/profile")).json()["sub"] == ALICE["sub"]


# ======================================================================================
# SES-09  a slow request does not bring a logged-out session back
# ======================================================================================


class MinimalStore:
    """Only get/set/delete (no atomic update): the SDK must re-read before writing."""

    def __init__(self) -> None:
        self.inner = MemorySessionStore()
        self.sets: list[str] = []

    async def get(self, id: str) -> SessionData | None:
        return await self.inner.get(id)

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None:
        self.sets.append(id)
        await self.inner.set(id, session, expires_at=expires_at)

    async def delete(self, id: str) -> None:
        await self.inner.delete(id)

    async def delete_by_logout_token(self, claims: Any) -> int:
        return await self.inner.delete_by_logout_token(claims)

    def __len__(self) -> int:
        return len(self.inner)


DELAY = 0.2


def slow_app(auth0: Auth0Client) -> Any:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> JSONResponse:
        session = await auth0.get_session()
        await asyncio.sleep(DELAY)
        return JSONResponse({"sub": session.user["sub"] if session else None})

    @app.get("/slow-update")
    async def slow_update() -> JSONResponse:
        session = await auth0.get_session()
        await asyncio.sleep(DELAY)
        assert session is not None
        session.extra["theme"] = "dark"
        await auth0.update_session(session)
        return JSONResponse({"ok": True})

    @app.get("/")
    async def home() -> JSONResponse:
        session = await auth0.get_session()
        return JSONResponse({"sub": session.user["sub"] if session else None})

    return auth0.middleware(app)


async def slow_then(browser: Browser, path: str, action: Any) -> tuple[httpx.Response, Any]:
    async def later() -> Any:
        await asyncio.sleep(DELAY / 3)
        return await action()

    slow, result = await asyncio.gather(browser.get(path), later())
    return slow, result


@pytest.mark.parametrize("store_kind", ["memory", "minimal"])
@pytest.mark.parametrize("path", ["/slow", "/slow-update"])
async def test_ses09_rp_logout_during_slow_request(
    h: Harness, op: ScriptedOP, store_kind: str, path: str
) -> None:
    store: Any = MemorySessionStore() if store_kind == "memory" else MinimalStore()
    client = h.client(session_store=store)
    browser = h.browser(slow_app(client))
    op.scenario.user = dict(ALICE)
    assert (await full_login(browser, op)).status_code == 307
    session_id = session_id_of(browser)
    old_cookie = browser.cookies[SESSION_NAME]
    other = h.browser(slow_app(client))
    other.cookies[SESSION_NAME] = old_cookie

    slow, logout = await slow_then(other, path, lambda: browser.get("/auth/logout"))

    assert logout.status_code == 307
    assert slow.status_code == 200, slow.text
    if path == "/slow":  # the slow request did hold the session when it started
        assert slow.json() == {"sub": ALICE["sub"]}
    assert session_set_cookies(slow) == [], slow.headers.get_list("set-cookie")
    assert await store.get(session_id) is None
    assert len(store) == 0
    if isinstance(store, MinimalStore):
        assert store.sets.count(session_id) == 1  # only the login's write
    replay = h.browser(slow_app(client))
    replay.cookies[SESSION_NAME] = old_cookie
    assert (await replay.get("/")).json() == {"sub": None}


async def test_ses09_backchannel_logout_during_slow_request(h: Harness, op: ScriptedOP):
    store = MemorySessionStore()
    client = h.client(session_store=store)
    app = slow_app(client)
    browser = h.browser(app)
    op.scenario.user = dict(ALICE)
    assert (await full_login(browser, op)).status_code == 307
    session_id = session_id_of(browser)
    record = await store.get(session_id)
    assert record is not None
    provider = h.browser(app)
    token = mint(op, lt_claims(op, sid=record.internal.sid))

    slow, bcl = await slow_then(browser, "/slow-update", lambda: post_token(provider, token))

    assert_204(bcl)
    assert slow.status_code == 200
    assert session_set_cookies(slow) == []
    assert await store.get(session_id) is None and len(store) == 0
    assert (await browser.get("/")).json() == {"sub": None}


async def test_ses09_control_slow_request_without_logout_rolls(h: Harness, op: ScriptedOP):
    store = MemorySessionStore()
    client = h.client(session_store=store)
    browser = h.browser(slow_app(client))
    op.scenario.user = dict(ALICE)
    assert (await full_login(browser, op)).status_code == 307
    session_id = session_id_of(browser)
    response = await browser.get("/slow-update")
    assert response.status_code == 200
    written = [n for n, v, a in session_set_cookies(response) if v and not is_deletion(a)]
    assert written == [SESSION_NAME]
    assert session_id_of(browser) == session_id  # same id, rolled
    record = await store.get(session_id)
    assert record is not None and record.extra["theme"] == "dark"
