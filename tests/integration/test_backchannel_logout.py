"""Several app instances sharing one Redis, and back-channel logout from the real provider.

Three uvicorn processes run :mod:`tests.integration.multi_app`: A and B share sessions
(same secret, Redis and key prefix) as the provider's client ``bcl-app``, whose
back-channel logout URI is B's. C is the client ``bcl-sub``, registered without
``backchannel_logout_session_required``, so its logout tokens name only the user.

httpx keeps cookies per host and port, so a session is carried from A to B by copying the
cookie, which is exactly what a browser does when both instances sit behind one origin.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import redis

from auth0_web import Auth0Client, MemorySessionStore, SessionData, SessionInternal, TokenSet
from auth0_web.session._codec import CookieCodec
from auth0_web.stores.redis import RedisSessionStore
from tests.support.apps import SECRET, Browser, free_port, make_app
from tests.support.oidc_provider import OidcProvider, complete_oidc_logout_async
from tests.support.op_fixtures import ALICE, BOB, make_client, new_client_secret
from tests.support.redis_server import unique_prefix

from .helpers import DELETED, login, set_cookies

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
CODEC = CookieCodec([SECRET])
NO_STORE = "no-store"
LOAD_USERS = [
    {"sub": f"auth0|load-{i:02d}", "name": f"Load {i}", "email": f"load{i}@example.com"}
    for i in range(20)
]


# --------------------------------------------------------------------------- processes


class AppProcess:
    """``python -m uvicorn tests.integration.multi_app:app`` on 127.0.0.1:``port``."""

    def __init__(self, name: str, port: int, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.env = env
        self.log = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.env)
        env["INSTANCE_NAME"] = self.name
        args = [sys.executable, "-m", "uvicorn", "tests.integration.multi_app:app"]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def logs(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app {self.name} exited:\n{self.logs()}")
            try:
                if httpx.get(self.base + "/whoami", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"app {self.name} did not start:\n{self.logs()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Cluster:
    op: OidcProvider
    redis_url: str
    prefix: str  # A and B
    sub_prefix: str  # C
    a: AppProcess
    b: AppProcess
    c: AppProcess
    client_secret: str
    client_id: str = "bcl-app"
    sub_client_id: str = "bcl-sub"

    def logs(self) -> str:
        return (
            "\n".join(f"--- {p.name}\n{p.logs()}" for p in (self.a, self.b, self.c))
            + f"\n--- provider\n{self.op.logs()}"
        )


@pytest.fixture(scope="module")
def cluster(redis_url: str) -> Iterator[Cluster]:
    port_a, port_b, port_c = free_port(), free_port(), free_port()
    while len({port_a, port_b, port_c}) < 3:
        port_b, port_c = free_port(), free_port()
    secret, sub_secret = new_client_secret(), new_client_secret()
    clients = [
        make_client(
            "bcl-app",
            secret,
            "client_secret_post",
            backchannel_logout_uri=f"http://127.0.0.1:{port_b}/auth/backchannel-logout",
            backchannel_logout_session_required=True,
        ),
        make_client(
            "bcl-sub",
            sub_secret,
            "client_secret_post",
            backchannel_logout_uri=f"http://127.0.0.1:{port_c}/auth/backchannel-logout",
        ),
    ]
    prefix, sub_prefix = unique_prefix(), unique_prefix()
    with (
        OidcProvider(clients=clients, users=[ALICE, BOB, *LOAD_USERS]) as op,
        tempfile.TemporaryDirectory(prefix="multi-app-") as tmp,
    ):
        common = {
            "AUTH0_DOMAIN": op.domain,
            "AUTH0_SECRET": SECRET,
            "REDIS_URL": redis_url,
        }
        ab = {
            **common,
            "AUTH0_CLIENT_ID": "bcl-app",
            "AUTH0_CLIENT_SECRET": secret,
            "APP_BASE_URL": f"http://127.0.0.1:{port_a},http://127.0.0.1:{port_b}",
            "REDIS_PREFIX": prefix,
        }
        c_env = {
            **common,
            "AUTH0_CLIENT_ID": "bcl-sub",
            "AUTH0_CLIENT_SECRET": sub_secret,
            "APP_BASE_URL": f"http://127.0.0.1:{port_c}",
            "REDIS_PREFIX": sub_prefix,
        }
        work = Path(tmp)
        apps = [
            AppProcess("A", port_a, ab, work),
            AppProcess("B", port_b, ab, work),
            AppProcess("C", port_c, c_env, work),
        ]
        try:
            for app in apps:
                app.start()
            deadline = time.monotonic() + 30
            for app in apps:
                app.wait_ready(deadline)
            yield Cluster(op, redis_url, prefix, sub_prefix, *apps, client_secret=secret)
        finally:
            for app in apps:
                app.stop()
            client = redis.Redis.from_url(redis_url)
            try:
                for p in (prefix, sub_prefix):
                    keys = list(client.scan_iter(match=p + "*", count=1000))
                    if keys:
                        client.delete(*keys)
            finally:
                client.close()


@pytest.fixture
async def shared(cluster: Cluster) -> AsyncIterator[RedisSessionStore]:
    """The store A and B use, opened on the test's own event loop (for assertions)."""
    store = RedisSessionStore(cluster.redis_url, prefix=cluster.prefix)
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
async def sub_store(cluster: Cluster) -> AsyncIterator[RedisSessionStore]:
    store = RedisSessionStore(cluster.redis_url, prefix=cluster.sub_prefix)
    try:
        yield store
    finally:
        await store.aclose()


# --------------------------------------------------------------------------- helpers


def cookie_id(value: str) -> str:
    payload = CODEC.decrypt(value, now=time.time())
    assert payload is not None and set(payload) == {"id", "exp"}, payload
    return str(payload["id"])


def jwt_claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def with_cookie(value: str) -> dict[str, str]:
    return {"cookie": f"__session={value}"}


@dataclass
class User:
    """One user agent: an app-side Browser and its provider-side client."""

    browser: Browser
    op_http: httpx.AsyncClient
    sub: str
    cookie: str = ""
    id: str = ""
    sid: str = ""


async def log_in(stack: AsyncExitStack, store: RedisSessionStore, base: str, sub: str) -> User:
    browser = await stack.enter_async_context(Browser(base_url=base))
    op_http = await stack.enter_async_context(httpx.AsyncClient())
    await login(browser, op_http, sub=sub)
    user = User(browser, op_http, sub, cookie=browser.cookies["__session"])
    user.id = cookie_id(user.cookie)
    session = await store.get(user.id)
    assert session is not None and session.user["sub"] == sub
    user.sid = session.internal.sid
    return user


async def me(http: httpx.AsyncClient, base: str, cookie: str) -> httpx.Response:
    return await http.get(base + "/me", headers=with_cookie(cookie))


async def backchannel_log(http: httpx.AsyncClient, base: str) -> list[dict[str, Any]]:
    response = await http.get(base + "/_test/backchannel")
    assert response.status_code == 200
    return list(response.json())


async def refresh_calls(http: httpx.AsyncClient, cluster: Cluster) -> int:
    total = 0
    for app in (cluster.a, cluster.b):
        total += (await http.get(app.base + "/_test/stats")).json()["refresh_calls"]
    return total


async def wait_until_gone(
    http: httpx.AsyncClient, bases: list[str], cookie: str, timeout: float = 5.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        statuses = [(await me(http, base, cookie)).status_code for base in bases]
        if all(s == 401 for s in statuses):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"session still readable after {timeout} s: {statuses}")
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- a. shared


async def test_session_from_one_instance_works_on_the_other(
    cluster: Cluster, shared: RedisSessionStore
) -> None:
    a, b = cluster.a.base, cluster.b.base
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient())
        pids = {(await http.get(base + "/whoami")).json()["pid"] for base in (a, b)}
        assert len(pids) == 2  # two processes

        alice = await log_in(stack, shared, a, "auth0|alice")
        assert (await alice.browser.get("/me")).json()["sub"] == "auth0|alice"

        on_b = await stack.enter_async_context(Browser(base_url=b))
        on_b.cookies["__session"] = alice.cookie  # the same browser, now routed to B
        response = await on_b.get("/me")
        assert response.status_code == 200
        assert response.json()["sub"] == "auth0|alice"
        rolled = set_cookies(response).get("__session")  # fresh: rolling may skip the write
        assert rolled is None or cookie_id(rolled[0]) == alice.id  # never a new id
        response = await on_b.get("/tokens")
        assert response.json()["sid"] == alice.sid

        # A write on B is read on A.
        response = await on_b.post("/update", json={"theme": "dark"})
        assert response.status_code == 200
        response = await alice.browser.get("/me")
        assert response.json() == {"sub": "auth0|alice", "extra": {"theme": "dark"}}

        # A logout on B ends the session on A.
        response = await on_b.get("/auth/logout")
        assert response.status_code == 307
        assert set_cookies(response)["__session"] == ("", DELETED)
        assert await shared.get(alice.id) is None
        response = await me(http, a, alice.cookie)
        assert response.status_code == 401
        assert "set-cookie" not in response.headers


# --------------------------------------------------------------------------- b. back-channel


async def _provider_logout(how: str, cluster: Cluster, user: User) -> None:
    """End ``user``'s session at the provider (which then POSTs the logout token)."""
    op = cluster.op
    if how == "sdk":
        response = await user.browser.get("/auth/logout")
        assert response.status_code == 307
        url = response.headers["location"]
        assert url.startswith(op.issuer + "oidc/logout?")
    elif how == "oidc":
        url = op.url("/oidc/logout") + "?" + urlencode({"client_id": cluster.client_id})
    else:
        url = op.url("/v2/logout") + "?" + urlencode({"client_id": cluster.client_id})
    await complete_oidc_logout_async(url, client=user.op_http)


@pytest.mark.parametrize("how", ["sdk", "oidc", "v2"])
async def test_provider_logout_ends_the_session_on_every_instance(
    cluster: Cluster, shared: RedisSessionStore, how: str
) -> None:
    a, b = cluster.a.base, cluster.b.base
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient())
        alice = await log_in(stack, shared, a, "auth0|alice")
        # Alice again in another browser: another provider session, another sid.
        alice_elsewhere = await log_in(stack, shared, b, "auth0|alice")
        bob = await log_in(stack, shared, a, "auth0|bob")
        assert len({alice.sid, alice_elsewhere.sid, bob.sid}) == 3
        for user in (alice, alice_elsewhere, bob):
            for base in (a, b):
                assert (await me(http, base, user.cookie)).json()["sub"] == user.sub
        seen = len(await backchannel_log(http, b))

        await _provider_logout(how, cluster, alice)

        # The provider POSTed the logout token to B; the session is gone everywhere.
        await wait_until_gone(http, [a, b], alice.cookie)
        assert await shared.get(alice.id) is None
        log = (await backchannel_log(http, b))[seen:]
        assert len(log) == 1, (log, cluster.logs())
        entry = log[0]
        assert entry["status"] == 204, (entry, cluster.logs())
        assert NO_STORE in entry["headers"]["cache-control"]
        form = dict(pair.split("=", 1) for pair in entry["body"].split("&"))
        token = form["logout_token"]
        claims = jwt_claims(token)
        assert claims["iss"] == cluster.op.issuer
        assert claims["aud"] == cluster.client_id
        assert claims["sub"] == "auth0|alice"
        assert claims["sid"] == alice.sid
        assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
        assert "nonce" not in claims and claims["jti"]

        # Alice's other session (another sid) and Bob's survive, on both instances.
        for user in (alice_elsewhere, bob):
            assert await shared.get(user.id) is not None
            for base in (a, b):
                response = await me(http, base, user.cookie)
                assert response.status_code == 200
                assert response.json()["sub"] == user.sub

        # The same token again, at either instance: refused (the jti is kept in Redis).
        for base in (a, b):
            response = await http.post(
                base + "/auth/backchannel-logout", data={"logout_token": token}
            )
            assert response.status_code == 400
            assert "already used" in response.text
            assert NO_STORE in response.headers["cache-control"]
        assert await shared.get(alice_elsewhere.id) is not None


async def test_backchannel_logout_is_not_undone_by_a_slow_request(
    cluster: Cluster, shared: RedisSessionStore
) -> None:
    """A request on A that read the session before the provider's logout token reached B
    answers after it: no session cookie, and the record stays deleted."""
    a, b = cluster.a.base, cluster.b.base
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        alice = await log_in(stack, shared, a, "auth0|alice")

        async def logout_at_provider() -> None:
            await asyncio.sleep(0.3)
            await _provider_logout("v2", cluster, alice)

        slow, _ = await asyncio.gather(
            http.get(a + "/slow?delay=1", headers=with_cookie(alice.cookie)),
            logout_at_provider(),
        )
        assert slow.status_code == 200 and slow.json()["sub"] == "auth0|alice"
        assert "set-cookie" not in slow.headers, slow.headers.get_list("set-cookie")
        assert await shared.get(alice.id) is None
        for base in (a, b):
            response = await me(http, base, alice.cookie)
            assert response.status_code == 401
            assert "set-cookie" not in response.headers


async def test_sub_only_logout_token_ends_all_sessions_of_the_user(
    cluster: Cluster, sub_store: RedisSessionStore
) -> None:
    c = cluster.c.base
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient())
        alice = await log_in(stack, sub_store, c, "auth0|alice")
        alice_elsewhere = await log_in(stack, sub_store, c, "auth0|alice")
        bob = await log_in(stack, sub_store, c, "auth0|bob")
        seen = len(await backchannel_log(http, c))

        url = cluster.op.url("/v2/logout") + "?" + urlencode({"client_id": cluster.sub_client_id})
        await complete_oidc_logout_async(url, client=alice.op_http)

        await wait_until_gone(http, [c], alice.cookie)
        await wait_until_gone(http, [c], alice_elsewhere.cookie)
        assert await sub_store.get(alice.id) is None
        assert await sub_store.get(alice_elsewhere.id) is None
        assert (await me(http, c, bob.cookie)).json()["sub"] == "auth0|bob"
        log = (await backchannel_log(http, c))[seen:]
        assert [entry["status"] for entry in log] == [204], cluster.logs()
        claims = jwt_claims(
            dict(p.split("=", 1) for p in log[0]["body"].split("&"))["logout_token"]
        )
        assert claims["sub"] == "auth0|alice"
        assert "sid" not in claims


async def test_invalid_logout_tokens_are_refused(cluster: Cluster) -> None:
    b = cluster.b.base + "/auth/backchannel-logout"
    async with httpx.AsyncClient() as http:
        for data in ({}, {"logout_token": ""}, {"logout_token": "not-a-jwt"}):
            response = await http.post(b, data=data)
            assert response.status_code == 400, data
            assert NO_STORE in response.headers["cache-control"]
        response = await http.post(b, content=b"logout_token=a&logout_token=b")
        assert response.status_code == 400


class _NoBackchannelStore:
    """A store without ``delete_by_logout_token``."""

    def __init__(self) -> None:
        self.inner = MemorySessionStore()

    async def get(self, id: str) -> SessionData | None:
        return await self.inner.get(id)

    async def set(self, id: str, session: SessionData, *, expires_at: int) -> None:
        await self.inner.set(id, session, expires_at=expires_at)

    async def delete(self, id: str) -> None:
        await self.inner.delete(id)


@pytest.mark.parametrize("store", ["none", "no-delete-by-logout-token"])
async def test_backchannel_logout_needs_a_capable_store(store: str) -> None:
    auth0 = Auth0Client(
        domain="http://localhost:1",
        client_id="x",
        client_secret="y",
        secret=SECRET,
        app_base_url="http://127.0.0.1:3000",
        allow_insecure_requests=True,
        session_store=None if store == "none" else _NoBackchannelStore(),
    )
    async with Browser(make_app(auth0)) as browser:
        response = await browser.post("/auth/backchannel-logout", data={"logout_token": "a.b.c"})
        assert response.status_code == 501
        assert NO_STORE in response.headers["cache-control"]
        assert "set-cookie" not in response.headers


# --------------------------------------------------------------------------- refreshes


async def test_concurrent_refreshes_on_two_instances_make_one_call(
    cluster: Cluster, shared: RedisSessionStore
) -> None:
    a, b = cluster.a.base, cluster.b.base
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        user = await log_in(stack, shared, a, "auth0|load-00")
        before = await shared.get(user.id)
        assert before is not None and before.token_set.refresh_token
        for round_ in range(3):
            calls = await refresh_calls(http, cluster)
            on_a, on_b = await asyncio.gather(
                http.get(a + "/refresh", headers=with_cookie(user.cookie)),
                http.get(b + "/refresh", headers=with_cookie(user.cookie)),
            )
            assert on_a.status_code == 200, (round_, on_a.text, cluster.logs())
            assert on_b.status_code == 200, (round_, on_b.text, cluster.logs())
            assert on_a.json()["token_sha"] == on_b.json()["token_sha"], round_
            assert on_a.json()["sub"] == on_b.json()["sub"] == "auth0|load-00"
            assert await refresh_calls(http, cluster) == calls + 1, round_
        after = await shared.get(user.id)
        assert after is not None
        assert after.token_set.refresh_token not in (None, before.token_set.refresh_token)
        # The grant is intact: the token the session now holds works at the provider.
        response = await http.get(a + "/auth/access-token", headers=with_cookie(user.cookie))
        assert response.status_code == 200, response.text
        info = await http.get(
            cluster.op.url("/userinfo"),
            headers={"authorization": f"Bearer {response.json()['token']}"},
        )
        assert info.status_code == 200 and info.json()["sub"] == "auth0|load-00"


async def test_rolling_write_does_not_undo_a_refresh_on_another_instance(
    cluster: Cluster, shared: RedisSessionStore
) -> None:
    """A request on A reads the session, a refresh on B rotates the refresh token, then A's
    response rolls the session: the stored refresh token must still be the new one (the
    old one is spent; presenting it once the 30 s rotation memory is gone makes a rotating
    provider revoke the whole grant)."""
    a, b = cluster.a.base, cluster.b.base
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        user = await log_in(stack, shared, a, "auth0|load-01")
        before = await shared.get(user.id)
        assert before is not None

        async def refresh_meanwhile() -> httpx.Response:
            await asyncio.sleep(0.3)
            return await http.get(b + "/refresh", headers=with_cookie(user.cookie))

        slow, refreshed = await asyncio.gather(
            http.get(a + "/slow?delay=1", headers=with_cookie(user.cookie)),
            refresh_meanwhile(),
        )
        assert refreshed.status_code == 200, refreshed.text
        assert slow.status_code == 200 and slow.json()["sub"] == "auth0|load-01"
        after = await shared.get(user.id)
        assert after is not None and after.token_set.refresh_token
        if after.token_set.refresh_token == before.token_set.refresh_token:
            # Show what that token is worth now (this use also revokes the grant).
            probe = await http.post(
                cluster.op.url("/oauth/token"),
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": after.token_set.refresh_token,
                    "client_id": cluster.client_id,
                    "client_secret": cluster.client_secret,
                },
            )
            raise AssertionError(
                "the slow request's rolling write on A put the spent refresh token back into "
                f"the session; the provider answers {probe.status_code} {probe.text} to it"
            )


# --------------------------------------------------------------------------- c. load


@dataclass
class LoadSession:
    sub: str
    sid: str
    id: str
    cookie: str
    real: bool
    logout: bool
    logged_out: bool = False


def synthetic_session(sub: str, sid: str, now: int) -> SessionData:
    return SessionData(
        user={"sub": sub, "name": sub},
        token_set=TokenSet(access_token="at-" + secrets.token_urlsafe(24), expires_at=now + 7200),
        internal=SessionInternal(sid=sid, created_at=now),
    )


async def test_load_two_instances(cluster: Cluster, shared: RedisSessionStore) -> None:
    rng = random.Random(20261127)
    bases = {"A": cluster.a.base, "B": cluster.b.base}
    started = time.monotonic()
    requests = 0
    problems: list[str] = []
    limit = asyncio.Semaphore(64)

    async with AsyncExitStack() as stack:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30, limits=limits))

        # -- 20 real logins (refreshable) and 180 synthetic sessions (written to Redis)
        async def real(i: int) -> LoadSession:
            base = bases["AB"[i % 2]]
            user = await log_in(stack, shared, base, f"auth0|load-{i:02d}")
            return LoadSession(user.sub, user.sid, user.id, user.cookie, True, False)

        sessions = list(await asyncio.gather(*(real(i) for i in range(20))))
        requests += 40  # /auth/login + /auth/callback each
        now = int(time.time())
        for i in range(180):
            sub, sid = f"auth0|synthetic-{i:03d}", secrets.token_urlsafe(16)
            session_id = secrets.token_hex(16)
            await shared.set(session_id, synthetic_session(sub, sid, now), expires_at=now + 86400)
            cookie = CODEC.encrypt({"id": session_id}, exp=now + 86400)
            sessions.append(LoadSession(sub, sid, session_id, cookie, False, False))
        assert len({s.sub for s in sessions}) == 200
        for s in rng.sample(sessions[:20], 5) + rng.sample(sessions[20:], 35):
            s.logout = True

        # -- the traffic
        async def call(s: LoadSession, where: str, path: str) -> httpx.Response:
            nonlocal requests
            logged_out_before = s.logged_out
            async with limit:
                response = await http.get(bases[where] + path, headers=with_cookie(s.cookie))
            requests += 1
            for name, (value, _) in set_cookies(response).items():
                if name != "__session" or not value:
                    continue
                got = cookie_id(value)
                if got != s.id:
                    problems.append(f"{s.sub}: {path} on {where} set a cookie for id {got}")
                if logged_out_before:
                    problems.append(f"{s.sub}: {path} on {where} re-issued a logged-out session")
            return response

        def check_read(s: LoadSession, path: str, where: str, r: httpx.Response) -> None:
            if s.logged_out:
                if r.status_code != 401:
                    problems.append(f"{s.sub}: {path} on {where} after logout: {r.status_code}")
                return
            if r.status_code != 200:
                problems.append(f"{s.sub}: {path} on {where} lost the session: {r.status_code}")
                return
            body = r.json()
            if path == "/me" and body["sub"] != s.sub:
                problems.append(f"{s.sub}: /me on {where} answered for {body['sub']}")
            if path == "/tokens" and (body["sid"] != s.sid or body["has_refresh_token"] != s.real):
                problems.append(f"{s.sub}: /tokens on {where} answered {body}")
            if path == "/refresh" and body["sub"] != s.sub:
                problems.append(f"{s.sub}: /refresh on {where} answered for {body['sub']}")

        async def read(s: LoadSession, path: str, where: str) -> None:
            check_read(s, path, where, await call(s, where, path))

        async def logout(s: LoadSession) -> None:
            here, there = rng.sample(["A", "B"], 2)
            out, *racing = await asyncio.gather(
                call(s, here, "/auth/logout"), call(s, there, "/me"), call(s, there, "/tokens")
            )
            if out.status_code != 307 or set_cookies(out).get("__session") != ("", DELETED):
                problems.append(f"{s.sub}: logout on {here} answered {out.status_code}")
            for path, r in zip(["/me", "/tokens"], racing, strict=True):
                # Racing the logout: either answer is fine, but never someone else's data.
                if r.status_code == 200 and path == "/me" and r.json()["sub"] != s.sub:
                    problems.append(f"{s.sub}: /me racing logout answered {r.json()['sub']}")
                elif r.status_code not in (200, 401):
                    problems.append(f"{s.sub}: {path} racing logout: {r.status_code}")
            s.logged_out = True

        async def double_refresh(s: LoadSession) -> None:
            # Under load the two may or may not overlap (if one has written the rotated
            # token before the other reads the session, that one refreshes again): either
            # way both succeed and no refresh token is presented twice.
            on_a, on_b = await asyncio.gather(call(s, "A", "/refresh"), call(s, "B", "/refresh"))
            for where, r in (("A", on_a), ("B", on_b)):
                check_read(s, "/refresh", where, r)

        async def script(s: LoadSession) -> None:
            await asyncio.sleep(rng.random() * 0.5)  # spread the start
            reads = ["/me", "/tokens"] + (["/refresh"] if s.real else [])
            steps: list[str] = [rng.choice(reads) for _ in range(4)]
            if s.real:
                steps[rng.randrange(4)] = "double-refresh"
            if s.logout:
                steps.insert(rng.randrange(1, 4), "logout")
            for step in steps:
                if step == "logout":
                    await logout(s)
                elif step == "double-refresh":
                    await double_refresh(s)
                else:
                    await read(s, step, rng.choice("AB"))

        await asyncio.gather(*(script(s) for s in sessions))

        # -- afterwards: every session that was not logged out is intact, on both instances
        for s in sessions:
            record = await shared.get(s.id)
            if s.logged_out:
                if record is not None:
                    problems.append(f"{s.sub}: logged out but still in Redis")
            elif record is None or record.user["sub"] != s.sub:
                problems.append(f"{s.sub}: lost from Redis ({record!r})")
        await asyncio.gather(*(read(s, "/me", w) for s in sessions for w in "AB"))

        # Real sessions hold working tokens of their own user (checked at the provider), and
        # their refresh token still works (no token was presented twice, no grant revoked).
        async def owner_of_token(s: LoadSession) -> None:
            await read(s, "/refresh", rng.choice("AB"))
            r = await call(s, "A", "/auth/access-token")
            if r.status_code != 200:
                problems.append(f"{s.sub}: /auth/access-token answered {r.status_code} {r.text}")
                return
            info = await http.get(
                cluster.op.url("/userinfo"),
                headers={"authorization": f"Bearer {r.json()['token']}"},
            )
            if info.status_code != 200 or info.json().get("sub") != s.sub:
                problems.append(f"{s.sub}: its access token is {info.status_code} {info.text}")

        await asyncio.gather(*(owner_of_token(s) for s in sessions if s.real and not s.logged_out))

    elapsed = time.monotonic() - started
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} problems)"
    assert sum(s.logged_out for s in sessions) == 40
    assert requests <= 2000, requests
    assert elapsed < 60, elapsed
    print(f"load: {len(sessions)} sessions, {requests} app requests in {elapsed:.1f} s")
