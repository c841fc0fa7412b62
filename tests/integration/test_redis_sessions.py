"""Server-side sessions against a real ``redis-server`` and the real ``oidc-provider``.

Part one drives :class:`RedisSessionStore` directly (key layout, ``SET ... XX`` updates,
TTLs, the ``sid``/``sub`` indexes, back-channel deletions, the ``jti`` guard and
``run_exclusive``). Part two runs the SDK with ``session_store=`` through real logins,
once with the Redis store and once with :class:`MemorySessionStore`: the cookie holds only
an encrypted id, every login gets a new id, rolling moves the record's expiry, logout
deletes the record, and a slow request that started before a logout cannot bring the
session back.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.responses import JSONResponse

from auth0_web import (
    Auth0Client,
    LogoutTokenClaims,
    MemorySessionStore,
    SessionData,
    SessionInternal,
    TokenSet,
)
from auth0_web.session._codec import CookieCodec
from auth0_web.stores.redis import RedisSessionStore
from tests.support.apps import SECRET, Browser, free_port, make_app, serve
from tests.support.redis_server import delete_prefixed, unique_prefix

from .helpers import DELETED, login, new_client, set_cookies

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ISS = "http://localhost:1/"
ISS_Y = "http://localhost:2/"
HEX32 = re.compile(r"[0-9a-f]{32}")


def make_session(
    sub: str, sid: str, *, now: int | None = None, iss: str | None = None, **extra: Any
) -> SessionData:
    now = int(time.time()) if now is None else now
    return SessionData(
        user={"sub": sub, "name": sub.split("|")[-1]},
        token_set=TokenSet(access_token=f"at-{sub}", expires_at=now + 3600, token_type="Bearer"),
        internal=SessionInternal(
            sid=sid, created_at=now, extra={"iss": iss} if iss is not None else {}
        ),
        extra=dict(extra),
    )


def key(store: RedisSessionStore, kind: str, value: str) -> str:
    return f"{store.prefix}{kind}:{value}"


async def members(store: RedisSessionStore, kind: str, value: str) -> set[str]:
    raw = await store.redis.smembers(key(store, kind, value))
    return {m.decode() if isinstance(m, bytes) else m for m in raw}


# =========================================================================== the store


async def test_set_get_and_documented_key(redis_store: RedisSessionStore) -> None:
    store = redis_store
    now = int(time.time())
    session = make_session("auth0|alice", "sid-1", theme="dark")
    sid = secrets.token_hex(16)
    assert await store.get(sid) is None

    await store.set(sid, session, expires_at=now + 600)
    loaded = await store.get(sid)
    assert loaded is not None
    assert loaded.to_dict() == session.to_dict()
    raw = await store.redis.get(key(store, "s", sid))
    assert raw is not None
    document = json.loads(raw)
    assert document == session.to_dict()  # the reference's field names
    assert document["tokenSet"]["accessToken"] == "at-auth0|alice"
    assert document["internal"] == {"sid": "sid-1", "createdAt": now}

    # A record that is not a session reads as "no session", never as an error.
    await store.redis.set(key(store, "s", sid), b"{not json")
    assert await store.get(sid) is None
    await store.redis.set(key(store, "s", sid), json.dumps({"user": "x"}))
    assert await store.get(sid) is None

    await store.delete(sid)
    assert await store.redis.exists(key(store, "s", sid)) == 0
    await store.delete(sid)  # deleting twice is fine


async def test_update_only_replaces_an_existing_record(redis_store: RedisSessionStore) -> None:
    store = redis_store
    now = int(time.time())
    sid = secrets.token_hex(16)
    first = make_session("auth0|alice", "sid-1")
    second = make_session("auth0|alice", "sid-1", theme="dark")

    # SET ... XX: no record, no write (and no index entries pointing at nothing).
    assert await store.update(sid, second, expires_at=now + 600) is False
    assert await store.redis.exists(key(store, "s", sid)) == 0
    assert await store.redis.exists(key(store, "sid", "sid-1"), key(store, "sub", "x")) == 0

    await store.set(sid, first, expires_at=now + 600)
    assert await store.update(sid, second, expires_at=now + 300) is True
    loaded = await store.get(sid)
    assert loaded is not None and loaded.extra == {"theme": "dark"}
    assert 299 <= await store.redis.ttl(key(store, "s", sid)) <= 300  # the new end

    await store.delete(sid)
    assert await store.update(sid, first, expires_at=now + 600) is False
    assert await store.get(sid) is None


@pytest.mark.parametrize("lifetime", [5, 500, 86400])
async def test_ttl_is_the_session_end(redis_store: RedisSessionStore, lifetime: int) -> None:
    store = redis_store
    now = int(time.time())
    sid = secrets.token_hex(16)
    await store.set(sid, make_session("auth0|alice", "sid-1"), expires_at=now + lifetime)
    ttl = await store.redis.ttl(key(store, "s", sid))
    assert lifetime - 1 <= ttl <= lifetime
    expire_time = await store.redis.expiretime(key(store, "s", sid))
    assert abs(expire_time - (now + lifetime)) <= 1


async def test_index_sets_hold_the_ids_and_expire(redis_store: RedisSessionStore) -> None:
    store = redis_store
    now = int(time.time())
    long_id, short_id, tiny_id = (secrets.token_hex(16) for _ in range(3))
    await store.set(long_id, make_session("auth0|alice", "sid-1"), expires_at=now + 500)
    await store.set(short_id, make_session("auth0|alice", "sid-2"), expires_at=now + 100)

    assert await members(store, "sid", "sid-1") == {long_id}
    assert await members(store, "sid", "sid-2") == {short_id}
    assert await members(store, "sub", "auth0|alice") == {long_id, short_id}
    # An index lives as long as the longest-lived session it points to ...
    assert 499 <= await store.redis.ttl(key(store, "sub", "auth0|alice")) <= 500
    assert 99 <= await store.redis.ttl(key(store, "sid", "sid-2")) <= 100
    # ... and a shorter session added later does not shorten it.
    await store.set(tiny_id, make_session("auth0|alice", "sid-1"), expires_at=now + 2)
    assert await members(store, "sub", "auth0|alice") == {long_id, short_id, tiny_id}
    assert 499 <= await store.redis.ttl(key(store, "sub", "auth0|alice")) <= 500
    assert 499 <= await store.redis.ttl(key(store, "sid", "sid-1")) <= 500
    # An update keeps the session in its indexes.
    assert await store.update(short_id, make_session("auth0|alice", "sid-2"), expires_at=now + 50)
    assert short_id in await members(store, "sub", "auth0|alice")

    # A session alone in its indexes takes them with it when it expires.
    lone = secrets.token_hex(16)
    await store.set(lone, make_session("auth0|erin", "sid-erin"), expires_at=int(time.time()) + 1)
    keys = [key(store, "s", lone), key(store, "sid", "sid-erin"), key(store, "sub", "auth0|erin")]
    assert await store.redis.exists(*keys) == 3
    deadline = time.monotonic() + 4
    while await store.redis.exists(*keys) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert await store.redis.exists(*keys) == 0


# --------------------------------------------------------------------------- back-channel

#: name -> (sub, sid): three sessions of Alice (two share a provider session), Bob, Carol,
#: and Dave's session without a ``sid``.
SEEDED = {
    "a1": ("auth0|alice", "sid-a1"),
    "a2": ("auth0|alice", "sid-a2"),
    "a3": ("auth0|alice", "sid-a1"),
    "b1": ("auth0|bob", "sid-b1"),
    "c1": ("auth0|carol", "sid-c1"),
    "d1": ("auth0|dave", ""),
}


async def seed(store: Any) -> dict[str, str]:
    now = int(time.time())
    ids = {}
    for name, (sub, sid) in SEEDED.items():
        ids[name] = secrets.token_hex(16)
        await store.set(ids[name], make_session(sub, sid), expires_at=now + 600)
    return ids


@pytest.mark.parametrize(
    "claims, doomed",
    [
        ({"sid": "sid-a1"}, {"a1", "a3"}),
        ({"sub": "auth0|alice"}, {"a1", "a2", "a3"}),
        ({"sid": "sid-a2", "sub": "auth0|alice"}, {"a2"}),
        ({"sid": "sid-a1", "sub": "auth0|alice"}, {"a1", "a3"}),
        ({"sub": "auth0|dave"}, {"d1"}),
        ({"sid": "sid-unknown"}, set()),
        ({"sub": "auth0|unknown"}, set()),
        ({}, set()),
    ],
    ids=lambda v: (
        (",".join(f"{k}={x}" for k, x in v.items()) or "empty") if isinstance(v, dict) else None
    ),
)
async def test_delete_by_logout_token(
    redis_store: RedisSessionStore, claims: dict[str, str], doomed: set[str]
) -> None:
    store = redis_store
    ids = await seed(store)
    deleted = await store.delete_by_logout_token(LogoutTokenClaims(iss=ISS, **claims))
    assert deleted == len(doomed)
    for name, session_id in ids.items():
        found = await store.get(session_id)
        if name in doomed:
            assert found is None, name
        else:
            assert found is not None, name
            assert found.user["sub"] == SEEDED[name][0]

    # Every surviving session is still reachable through its indexes, so a later logout
    # token for it ends it.
    for name, session_id in ids.items():
        if name in doomed:
            continue
        sub, sid = SEEDED[name]
        assert session_id in await members(store, "sub", sub), name
        if sid:
            assert session_id in await members(store, "sid", sid), (
                f"session {name} ({sub}, {sid}) survived the logout token {claims} but was "
                f"dropped from the {sid} index"
            )


@pytest.mark.parametrize("spared_by", ["another-sub", "another-issuer"])
async def test_a_spared_session_stays_reachable_by_its_own_logout_token(
    redis_store: RedisSessionStore, spared_by: str
) -> None:
    """A logout token that finds a session through an index but does not name it (another
    ``sub`` with the same ``sid``; another tenant's user with the same ``sub`` in a shared
    store) spares it. That session's own logout token must still end it."""
    store = redis_store
    now = int(time.time())
    victim = secrets.token_hex(16)
    if spared_by == "another-sub":
        await store.set(victim, make_session("auth0|bob", "sid-b1"), expires_at=now + 600)
        first = LogoutTokenClaims(iss=ISS, sid="sid-b1", sub="auth0|alice")
        own = LogoutTokenClaims(iss=ISS, sid="sid-b1", sub="auth0|bob")
        assert await store.delete_by_logout_token(first) == 0
    else:
        # Two tenants share the store; one social-login user id exists in both.
        user = "google-oauth2|1234567890"
        tenant_x = secrets.token_hex(16)
        await store.set(tenant_x, make_session(user, "sid-x", iss=ISS), expires_at=now + 600)
        await store.set(victim, make_session(user, "sid-y", iss=ISS_Y), expires_at=now + 600)
        first = LogoutTokenClaims(iss=ISS, sub=user)
        own = LogoutTokenClaims(iss=ISS_Y, sub=user)
        assert await store.delete_by_logout_token(first) == 1
        assert await store.get(tenant_x) is None
    assert await store.get(victim) is not None  # spared: the first token does not name it

    assert await store.delete_by_logout_token(own) == 1, (
        f"the session's own logout token {own} did not end it: the first token {first} "
        "dropped it from the index although it did not delete it"
    )
    assert await store.get(victim) is None


async def test_mark_logout_token_used_once_across_instances(
    redis_store: RedisSessionStore, redis_url: str
) -> None:
    store = redis_store
    other = RedisSessionStore(redis_url, prefix=store.prefix)  # another "app process"
    try:
        expires_at = int(time.time()) + 120
        results = await asyncio.gather(
            *(
                (store if i % 2 else other).mark_logout_token_used("jti-1", expires_at=expires_at)
                for i in range(20)
            )
        )
        assert results.count(True) == 1
        assert await store.mark_logout_token_used("jti-1", expires_at=expires_at) is False
        assert await other.mark_logout_token_used("jti-2", expires_at=expires_at) is True
        assert 119 <= await store.redis.ttl(key(store, "jti", "jti-1")) <= 120
    finally:
        await other.aclose()


async def test_refresh_once_coalesces_across_instances(
    redis_store: RedisSessionStore, redis_url: str
) -> None:
    store = redis_store
    other = RedisSessionStore(redis_url, prefix=store.prefix)  # another "app process"
    presented: list[str] = []

    async def refresh(token: str) -> tuple[bytes, str | None]:
        presented.append(token)
        await asyncio.sleep(0.2)
        n = len(presented)
        return f"result-{n}".encode(), f"rt-{n + 1}"

    try:
        results = await asyncio.gather(
            *(
                (store if i % 2 else other).refresh_once("rt-1", "api\x00read", refresh)
                for i in range(20)
            )
        )
        assert presented == ["rt-1"]  # one token-endpoint call for 20 callers
        assert results == [b"result-1"] * 20
        # Remembered for late callers, in any instance, without another call.
        assert await other.refresh_once("rt-1", "api\x00read", refresh) == b"result-1"
        assert presented == ["rt-1"]
        # Another audience/scope with the old token presents the token that replaced it.
        assert await store.refresh_once("rt-1", "other\x00read", refresh) == b"result-2"
        assert presented == ["rt-1", "rt-2"]

        keys = [k.decode() async for k in store.redis.scan_iter(match=store.prefix + "*")]
        assert not [k for k in keys if ":lock:" in k]  # locks released
        assert all("rt-" not in k for k in keys), keys  # hashes, never tokens, in key names
        for k in keys:
            assert k.split(":")[1] in {"result", "rot"}, k
            assert 0 < await store.redis.pttl(k) <= 30_000, k
    finally:
        await other.aclose()


# =========================================================================== the SDK


class StoreView:
    """The store an app is configured with, plus a look inside it for assertions."""

    def __init__(self, store: RedisSessionStore | MemorySessionStore) -> None:
        self.store = store
        self.kind = "redis" if isinstance(store, RedisSessionStore) else "memory"

    async def exists(self, session_id: str) -> bool:
        if isinstance(self.store, RedisSessionStore):
            return bool(await self.store.redis.exists(key(self.store, "s", session_id)))
        return session_id in self.store._records

    async def seconds_left(self, session_id: str) -> float:
        if isinstance(self.store, RedisSessionStore):
            return float(await self.store.redis.ttl(key(self.store, "s", session_id)))
        return self.store._records[session_id][0] - time.time()

    async def expire_in(self, session_id: str, seconds: int) -> None:
        if isinstance(self.store, RedisSessionStore):
            assert await self.store.redis.expire(key(self.store, "s", session_id), seconds)
        else:
            _, raw = self.store._records[session_id]
            self.store._records[session_id] = (int(time.time()) + seconds, raw)


@pytest.fixture(params=["redis", "memory"])
async def view(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[StoreView]:
    if request.param == "memory":
        yield StoreView(MemorySessionStore())
        return
    store = RedisSessionStore(redis_url, prefix=unique_prefix())
    try:
        yield StoreView(store)
    finally:
        await delete_prefixed(store)
        await store.aclose()


CODEC = CookieCodec([SECRET])


def cookie_id(value: str) -> str:
    payload = CODEC.decrypt(value, now=time.time())
    assert payload is not None
    assert set(payload) == {"id", "exp"}
    assert HEX32.fullmatch(payload["id"]), payload
    return str(payload["id"])


def stateful_client(op: Any, view: StoreView, **options: Any) -> Auth0Client:
    return new_client(op, "http://127.0.0.1:3000", session_store=view.store, **options)


async def test_login_cookie_holds_only_an_encrypted_id(oidc_provider: Any, view: StoreView) -> None:
    auth0 = stateful_client(oidc_provider, view)
    async with Browser(make_app(auth0)) as browser, httpx.AsyncClient() as op_http:
        before = int(time.time())
        response = await login(browser, op_http)
        cookies = set_cookies(response)
        assert [n for n in cookies if n.startswith("__session")] == ["__session"]  # no chunks
        value, attrs = cookies["__session"]
        assert len(value) < 200
        session_id = cookie_id(value)
        payload = CODEC.decrypt(value, now=time.time())
        assert payload is not None
        assert before + 86400 <= payload["exp"] <= int(time.time()) + 86400
        assert attrs["max-age"] == "86400"

        record = await view.store.get(session_id)
        assert record is not None
        assert record.user["sub"] == "auth0|alice"
        assert record.token_set.refresh_token and record.token_set.id_token
        assert record.internal.sid
        assert record.internal.extra.get("iss") == oidc_provider.issuer  # names its tenant
        assert 86398 <= await view.seconds_left(session_id) <= 86400
        if isinstance(view.store, RedisSessionStore):
            raw = await view.store.redis.get(key(view.store, "s", session_id))
            assert json.loads(raw)["user"]["sub"] == "auth0|alice"
            assert session_id in await members(view.store, "sid", record.internal.sid)
            assert session_id in await members(view.store, "sub", "auth0|alice")

        response = await browser.get("/me")
        assert response.status_code == 200
        assert response.json()["sub"] == "auth0|alice"
        response = await browser.get("/tokens")
        assert response.json()["sid"] == record.internal.sid


async def test_login_never_reuses_a_session_id(oidc_provider: Any, view: StoreView) -> None:
    auth0 = stateful_client(oidc_provider, view)
    async with Browser(make_app(auth0)) as browser, httpx.AsyncClient() as op_http:
        # An attacker plants their own (valid) session cookie in the victim's browser.
        planted = secrets.token_hex(16)
        now = int(time.time())
        await view.store.set(planted, make_session("auth0|mallory", "sid-m"), expires_at=now + 600)
        browser.cookies["__session"] = CODEC.encrypt({"id": planted}, exp=now + 600)
        assert (await browser.get("/me")).json()["sub"] == "auth0|mallory"

        response = await login(browser, op_http)
        first = cookie_id(set_cookies(response)["__session"][0])
        assert first != planted
        assert not await view.exists(planted)  # the planted session is gone
        assert (await browser.get("/me")).json()["sub"] == "auth0|alice"

        # Logging in again (already logged in) also gets a new id; the old record is gone.
        old_cookie = browser.cookies["__session"]
        response = await login(browser, op_http)
        second = cookie_id(set_cookies(response)["__session"][0])
        assert second not in (first, planted)
        assert not await view.exists(first)
        assert await view.exists(second)
        record = await view.store.get(second)
        assert record is not None and record.user["sub"] == "auth0|alice"

        # The previous cookie is worthless now.
        response = await browser.get("/me", headers={"cookie": f"__session={old_cookie}"})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers


async def test_rolling_moves_the_record_expiry(oidc_provider: Any, view: StoreView) -> None:
    auth0 = stateful_client(
        oidc_provider,
        view,
        # Re-issue on every response: the record's expiry was cut short behind its back.
        session={
            "inactivity_duration": 120,
            "absolute_duration": 3600,
            "rolling_write_interval": 0,
        },
    )
    async with Browser(make_app(auth0)) as browser, httpx.AsyncClient() as op_http:
        response = await login(browser, op_http)
        value, attrs = set_cookies(response)["__session"]
        assert attrs["max-age"] == "120"
        session_id = cookie_id(value)
        assert 118 <= await view.seconds_left(session_id) <= 120

        await view.expire_in(session_id, 10)  # most of the inactivity window has passed
        assert await view.seconds_left(session_id) <= 10
        response = await browser.get("/me")
        assert response.status_code == 200
        rolled, attrs = set_cookies(response)["__session"]
        assert attrs["max-age"] == "120"
        assert cookie_id(rolled) == session_id  # rolling keeps the id
        assert 118 <= await view.seconds_left(session_id) <= 120


async def test_logout_deletes_record_and_cookie(oidc_provider: Any, view: StoreView) -> None:
    auth0 = stateful_client(oidc_provider, view)
    async with Browser(make_app(auth0)) as browser, httpx.AsyncClient() as op_http:
        await login(browser, op_http)
        value = browser.cookies["__session"]
        session_id = cookie_id(value)
        assert await view.exists(session_id)

        response = await browser.get("/auth/logout")
        assert response.status_code == 307
        assert set_cookies(response)["__session"] == ("", DELETED)
        assert "__session" not in browser.cookies
        assert not await view.exists(session_id)
        assert await view.store.get(session_id) is None

        # Replaying the cookie (still cryptographically valid) finds nothing.
        response = await browser.get("/me", headers={"cookie": f"__session={value}"})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert not await view.exists(session_id)


async def test_update_session_persists_to_the_store(oidc_provider: Any, view: StoreView) -> None:
    auth0 = stateful_client(oidc_provider, view)
    app = make_app(auth0)
    async with Browser(app) as browser, httpx.AsyncClient() as op_http:
        await login(browser, op_http)
        session_id = cookie_id(browser.cookies["__session"])

        response = await browser.post("/update", json={"theme": "dark"})
        assert response.status_code == 200
        assert cookie_id(set_cookies(response)["__session"][0]) == session_id
        record = await view.store.get(session_id)
        assert record is not None and record.extra == {"theme": "dark"}
        assert 86398 <= await view.seconds_left(session_id) <= 86400
        if isinstance(view.store, RedisSessionStore):
            raw = json.loads(await view.store.redis.get(key(view.store, "s", session_id)))
            assert raw["theme"] == "dark"

        # Another "device" holding the same cookie sees the change (it lives server-side).
        async with Browser(app) as other:
            other.cookies["__session"] = browser.cookies["__session"]
            response = await other.get("/me")
            assert response.json() == {"sub": "auth0|alice", "extra": {"theme": "dark"}}


def slow_app(auth0: Auth0Client, store: Any) -> Any:
    """``make_app`` plus ``GET /slow`` (reads the session, sleeps, optionally writes it) and
    ``POST /__close-store`` (closes a Redis store's connections on the server's loop)."""
    middleware = make_app(auth0)
    inner = middleware.app

    @inner.get("/slow")
    async def slow(delay: float = 1.0, write: bool = False) -> JSONResponse:
        session = await auth0.get_session()
        if session is None:
            return JSONResponse({"sub": None}, status_code=401)
        await asyncio.sleep(delay)
        if write:
            session.extra["written_by"] = "slow request"
            await auth0.update_session(session)
        return JSONResponse({"sub": session.user["sub"]})

    @inner.post("/__close-store")
    async def close_store() -> JSONResponse:
        if isinstance(store, RedisSessionStore):
            await store.aclose()
        return JSONResponse({})

    return middleware


@pytest.mark.parametrize("write", [False, True], ids=["rolling", "update_session"])
async def test_slow_request_cannot_resurrect_a_logged_out_session(
    oidc_provider: Any, view: StoreView, redis_url: str, write: bool
) -> None:
    # The server runs on its own event loop: with Redis it gets its own connections.
    if isinstance(view.store, RedisSessionStore):
        app_store: Any = RedisSessionStore(redis_url, prefix=view.store.prefix)
    else:
        app_store = view.store
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Rolling writes on every response, so the control request below writes the cookie.
    auth0 = new_client(
        oidc_provider, base, session_store=app_store, session={"rolling_write_interval": 0}
    )
    with serve(slow_app(auth0, app_store), port):
        try:
            async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:
                await login(browser, op_http)
                cookie = {"cookie": f"__session={browser.cookies['__session']}"}
                session_id = cookie_id(browser.cookies["__session"])
                flag = "true" if write else "false"

                # Control: without a logout the slow request writes the session cookie.
                response = await browser.client.get(f"/slow?delay=0&write={flag}", headers=cookie)
                assert response.status_code == 200
                assert cookie_id(set_cookies(response)["__session"][0]) == session_id

                async def logout_meanwhile() -> httpx.Response:
                    await asyncio.sleep(0.3)
                    return await browser.client.get("/auth/logout", headers=cookie)

                started = time.monotonic()
                slow, logout = await asyncio.gather(
                    browser.client.get(f"/slow?delay=1&write={flag}", headers=cookie),
                    logout_meanwhile(),
                )
                assert time.monotonic() - started >= 1.0
                assert logout.status_code == 307
                assert set_cookies(logout)["__session"] == ("", DELETED)
                assert slow.status_code == 200
                assert slow.json() == {"sub": "auth0|alice"}  # it read the session in time
                assert "__session" not in set_cookies(slow), slow.headers.get_list("set-cookie")
                assert not await view.exists(session_id)
                assert await view.store.get(session_id) is None
                response = await browser.client.get("/me", headers=cookie)
                assert response.status_code == 401
                await asyncio.sleep(0.2)
                assert not await view.exists(session_id)
        finally:
            async with httpx.AsyncClient(base_url=base) as http:
                await http.post("/__close-store")
