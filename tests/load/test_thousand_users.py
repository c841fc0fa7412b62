"""Load: a thousand users log in, refresh and log out at once, through a real app server and
the real provider; not one request may fail, cross to another user or lose a session.

The app (``tests/load/app.py``) runs under uvicorn in its own process, once with the cookie
store and once with the Redis store (a real ``redis-server``); the provider is
``oidc-provider`` with 1,000 users (``auth0|user-0000`` ... ``auth0|user-0999``). Each
virtual user is an asyncio task with its own cookie jars (a :class:`Browser` for the app,
an ``httpx`` client for the provider) and goes through three phases, every user of a phase
running at the same time, so that all thousand sessions are live together:

1. log in: ``/auth/login``, the provider's login page (submitting its own form among the
   thousand), ``/auth/callback``, then ``/me``;
2. tokens: ``/me``, ``/token``, ``/token?refresh=1`` (a refresh grant, a new token),
   ``/token`` again (the refreshed one), the token checked at the provider's
   ``/userinfo`` (it names this user), ``/me``;
3. log out: ``/auth/logout``, the provider's logout page, then ``/me`` is anonymous.

Counted, and asserted to be zero: errors (any unexpected status or failure), cross-user
leaks (a ``sub``, ``sid``, access token or session cookie value that belongs to another
user, or a ``/userinfo`` answer for someone else) and lost sessions (a logged-in user who
is suddenly anonymous). Latencies per operation are measured and reported (a table on the
terminal and a JSON file under the test's tmp dir), never asserted.

Concurrency limits keep a small machine (2 cores for the provider, the app and the
thousand clients) from drowning in its own queues: visits to the provider's pages (one
Node process, the bottleneck) are limited to ``LOAD_PROVIDER_SLOTS`` at once (default
24), and requests in flight to the app (one uvicorn worker) to ``LOAD_APP_SLOTS`` (default
128), as a reverse proxy in front of one worker would; the users themselves all run at
once. Latencies are measured from sending a request to its answer (time spent waiting for
a slot is not in them; the phase and wall times include it). ``LOAD_USERS`` (default
1000) scales the run. Marked ``slow``: the default ``pytest`` run skips it, ``make
test-all`` (or ``pytest -m slow``) runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.support.apps import Browser, free_port, parse_set_cookie
from tests.support.oidc_provider import (
    OidcProvider,
    complete_login_async,
    complete_oidc_logout_async,
)
from tests.support.op_fixtures import make_client as client_metadata
from tests.support.op_fixtures import new_client_secret
from tests.support.redis_server import unique_prefix

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.anyio]

USERS = int(os.environ.get("LOAD_USERS", "1000"))
PROVIDER_SLOTS = int(os.environ.get("LOAD_PROVIDER_SLOTS", "24"))
APP_SLOTS = int(os.environ.get("LOAD_APP_SLOTS", "128"))
CLIENT_ID = "load-app"
APP_SECRET = secrets.token_hex(32)
REPO = Path(__file__).resolve().parents[2]
SESSION = "__session"

T = TypeVar("T")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def user_sub(index: int) -> str:
    return f"auth0|user-{index:04d}"


@dataclass
class LoadProvider:
    op: OidcProvider
    client_secret: str


@pytest.fixture(scope="module")
def load_op() -> Iterator[LoadProvider]:
    client_secret = new_client_secret()
    users = [
        {
            "sub": user_sub(i),
            "name": f"User {i:04d}",
            "email": f"user{i:04d}@example.com",
            "email_verified": True,
        }
        for i in range(USERS)
    ]
    clients = [client_metadata(CLIENT_ID, client_secret, "client_secret_post")]
    with OidcProvider(clients=clients, users=users) as op:
        yield LoadProvider(op, client_secret)


# --------------------------------------------------------------------------- the app server


class AppServer:
    """``uvicorn --factory tests.load.app:create_app`` in a subprocess."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"app-{self.port}.log"
        self.env = {**os.environ, **env, "LOAD_APP_BASE_URL": self.url, "PYTHONPATH": str(REPO)}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AppServer:
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tests.load.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",
            "120",
            "--backlog",
            "4096",
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app server exited:\n{self.logs()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"the app server did not start:\n{self.logs()}")

    def __exit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""


# --------------------------------------------------------------------------- bookkeeping


class Failure(Exception):
    """A virtual user's step went wrong: counted as an error."""


class Stats:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.leaks: list[str] = []
        self.lost: list[str] = []
        self.app_requests = 0
        self.provider_requests = 0
        # Who owns what: a second owner is a cross-user leak.
        self.sid_owner: dict[str, str] = {}
        self.token_owner: dict[str, str] = {}
        self.cookie_owner: dict[str, str] = {}

    def claim(self, kind: str, owners: dict[str, str], value: str, sub: str) -> None:
        owner = owners.setdefault(value, sub)
        if owner != sub:
            self.leaks.append(f"{kind} of {owner} handed to {sub}")

    async def timed(self, operation: str, step: Awaitable[T]) -> T:
        start = time.perf_counter()
        result = await step
        self.latencies[operation].append(time.perf_counter() - start)
        return result


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (sorted here)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil(n * p), at least 1
    return ordered[int(rank) - 1]


class LoadBrowser(Browser):
    """A :class:`Browser` (its cookie semantics) whose client reuses one TLS context: a
    thousand default contexts would cost tens of seconds of CPU before the first request."""

    def __init__(self, base_url: str, tls: ssl.SSLContext, stats: Stats) -> None:
        self.base_url = base_url
        self.cookies = {}

        async def count(request: httpx.Request) -> None:
            stats.app_requests += 1

        self.client = httpx.AsyncClient(
            base_url=base_url,
            follow_redirects=False,
            timeout=120,
            verify=tls,
            event_hooks={"request": [count]},
        )


# --------------------------------------------------------------------------- a virtual user


@dataclass
class VirtualUser:
    index: int
    app: LoadBrowser
    provider: httpx.AsyncClient
    stats: Stats
    slots: asyncio.Semaphore
    app_slots: asyncio.Semaphore
    op: OidcProvider
    sid: str | None = None
    failed: bool = False

    @property
    def sub(self) -> str:
        return user_sub(self.index)

    async def get(self, operation: str, path: str, expect: int = 200) -> httpx.Response:
        async with self.app_slots:
            response = await self.stats.timed(operation, self.app.get(path))
        if response.status_code == 401 and response.json().get("error") == "missing_session":
            self.stats.lost.append(f"{self.sub} has no session at {operation}")
            raise Failure(f"{operation}: session lost")
        if response.status_code != expect:
            raise Failure(f"{operation}: {response.status_code} {response.text[:200]}")
        for header in response.headers.get_list("set-cookie"):
            name, value, attrs = parse_set_cookie(header)
            is_session = name == SESSION or name.startswith(SESSION + "__")
            if is_session and value and attrs.get("max-age") != "0":
                self.stats.claim("session cookie", self.stats.cookie_owner, value, self.sub)
        return response

    async def provider_step(self, operation: str, step: Callable[[], Awaitable[T]]) -> T:
        async with self.slots:
            return await self.stats.timed(operation, step())

    def check_identity(self, where: str, body: dict[str, Any]) -> None:
        """A logged-in answer: it must be this user's session, nobody else's."""
        sub, sid = body.get("sub"), body.get("sid")
        if sub is None:
            self.stats.lost.append(f"{self.sub} anonymous at {where}")
            raise Failure(f"{where}: session lost")
        if sub != self.sub:
            self.stats.leaks.append(f"{where}: {self.sub} got the session of {sub}")
            raise Failure(f"{where}: another user's session")
        if not isinstance(sid, str) or not sid:
            raise Failure(f"{where}: no sid")
        if self.sid is None:
            self.sid = sid
            self.stats.claim("sid", self.stats.sid_owner, sid, self.sub)
        elif sid != self.sid:
            self.stats.leaks.append(f"{where}: {self.sub} saw sid {sid[:8]}..., not its own")
            raise Failure(f"{where}: sid changed")

    async def token(self, operation: str, path: str) -> str:
        response = await self.get(operation, path)
        body = response.json()
        self.check_identity(operation, body)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise Failure(f"{operation}: no token")
        self.stats.claim("access token", self.stats.token_owner, token, self.sub)
        return token

    async def run(self, phase: Callable[[], Awaitable[None]]) -> None:
        if self.failed:
            return
        try:
            await phase()
        except Failure as exc:
            self.failed = True
            self.stats.errors.append(f"{self.sub}: {exc}")
        except Exception as exc:  # a transport error, a timeout: an error, not a crash
            self.failed = True
            self.stats.errors.append(f"{self.sub}: {type(exc).__name__}: {exc}"[:300])

    async def log_in(self) -> None:
        start = await self.get("GET /auth/login", "/auth/login", expect=307)
        authorize_url = start.headers["location"]
        callback = await self.provider_step(
            "provider login pages",
            lambda: complete_login_async(authorize_url, self.sub, client=self.provider),
        )
        done = await self.get("GET /auth/callback", callback, expect=307)
        if not self.app.session_cookie_names():
            raise Failure(f"callback set no session ({done.headers.get('location')})")
        self.check_identity("GET /me after login", (await self.get("GET /me", "/me")).json())

    async def use_tokens(self) -> None:
        self.check_identity("GET /me", (await self.get("GET /me", "/me")).json())
        first = await self.token("GET /token", "/token")
        refreshed = await self.token("GET /token?refresh=1", "/token?refresh=1")
        if refreshed == first:
            raise Failure("the forced refresh returned the same access token")
        again = await self.token("GET /token", "/token")
        if again != refreshed:
            raise Failure("the refreshed access token was not kept in the session")
        info = await self.provider_step(
            "provider /userinfo",
            lambda: self.provider.get(
                self.op.url("/userinfo"), headers={"authorization": f"Bearer {again}"}
            ),
        )
        if info.status_code != 200:
            raise Failure(f"/userinfo: {info.status_code} {info.text[:200]}")
        if info.json().get("sub") != self.sub:
            self.stats.leaks.append(f"/userinfo: {self.sub}'s token is {info.json().get('sub')}'s")
            raise Failure("/userinfo names another user")
        self.check_identity("GET /me", (await self.get("GET /me", "/me")).json())

    async def log_out(self) -> None:
        response = await self.get("GET /auth/logout", "/auth/logout", expect=307)
        if self.app.session_cookie_names():
            raise Failure("logout left a session cookie")
        back = await self.provider_step(
            "provider logout pages",
            lambda: complete_oidc_logout_async(response.headers["location"], client=self.provider),
        )
        if not back.startswith(self.app.base_url):
            raise Failure(f"the provider's logout ended at {back}")
        after = (await self.get("GET /me", "/me")).json()
        if after.get("sub") is not None:
            raise Failure("still logged in after logout")


# --------------------------------------------------------------------------- the run


async def run_load(
    app_url: str, op: OidcProvider, after_login: Callable[[], Awaitable[int]] | None = None
) -> dict[str, Any]:
    """Run every user through the phases; ``after_login`` counts server-side sessions."""
    stats = Stats()
    stored_after_login: int | None = None
    tls = ssl.create_default_context()
    slots = asyncio.Semaphore(PROVIDER_SLOTS)
    app_slots = asyncio.Semaphore(APP_SLOTS)

    async def count_provider(request: httpx.Request) -> None:
        stats.provider_requests += 1

    users = [
        VirtualUser(
            index=i,
            app=LoadBrowser(app_url, tls, stats),
            provider=httpx.AsyncClient(
                timeout=120, verify=tls, event_hooks={"request": [count_provider]}
            ),
            stats=stats,
            slots=slots,
            app_slots=app_slots,
            op=op,
        )
        for i in range(USERS)
    ]
    phases: dict[str, float] = {}
    started = time.perf_counter()
    try:
        for name, step in (
            ("log in", VirtualUser.log_in),
            ("tokens", VirtualUser.use_tokens),
            ("log out", VirtualUser.log_out),
        ):
            phase_start = time.perf_counter()
            await asyncio.gather(*(user.run(lambda u=user, s=step: s(u)) for user in users))
            phases[name] = round(time.perf_counter() - phase_start, 2)
            if name == "log in" and after_login is not None:
                stored_after_login = await after_login()
    finally:
        wall = time.perf_counter() - started
        for user in users:
            await user.app.client.aclose()
            await user.provider.aclose()

    operations = {
        name: {
            "count": len(values),
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
        for name, values in stats.latencies.items()
    }
    return {
        "users": USERS,
        "provider_slots": PROVIDER_SLOTS,
        "app_slots": APP_SLOTS,
        "wall_s": round(wall, 2),
        "phases_s": phases,
        "app_requests": stats.app_requests,
        "provider_requests": stats.provider_requests,
        "completed_users": sum(not u.failed for u in users),
        "errors": len(stats.errors),
        "leaks": len(stats.leaks),
        "lost_sessions": len(stats.lost),
        "distinct_sids": len(stats.sid_owner),
        "distinct_access_tokens": len(stats.token_owner),
        "stored_sessions_after_login": stored_after_login,
        "operations": operations,
        "first_errors": stats.errors[:10],
        "first_leaks": stats.leaks[:10],
        "first_lost": stats.lost[:10],
    }


def table(store: str, summary: dict[str, Any]) -> str:
    lines = [
        f"load ({store} store): {summary['users']} users, {summary['app_requests']} app "
        f"requests + {summary['provider_requests']} provider requests in "
        f"{summary['wall_s']} s (phases {summary['phases_s']}), "
        f"{summary['provider_slots']} provider slots, {summary['app_slots']} app slots",
        f"errors {summary['errors']}, cross-user leaks {summary['leaks']}, lost sessions "
        f"{summary['lost_sessions']}",
        f"{'operation':<24}{'count':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}",
    ]
    for name, row in summary["operations"].items():
        lines.append(
            f"{name:<24}{row['count']:>7}{row['p50_ms']:>10}{row['p95_ms']:>10}"
            f"{row['p99_ms']:>10}{row['max_ms']:>10}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("store", ["cookie", "redis"])
async def test_thousand_users_log_in_refresh_and_log_out(
    store: str,
    load_op: LoadProvider,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {
        "LOAD_STORE": store,
        "LOAD_DOMAIN": load_op.op.domain,
        "LOAD_CLIENT_ID": CLIENT_ID,
        "LOAD_CLIENT_SECRET": load_op.client_secret,
        "LOAD_SECRET": APP_SECRET,
    }
    if store == "redis":
        env["LOAD_REDIS_URL"] = request.getfixturevalue("redis_url")
        env["LOAD_REDIS_PREFIX"] = unique_prefix()

    count = (lambda: redis_records(env)) if store == "redis" else None
    with AppServer(env, tmp_path) as app:
        summary = await run_load(app.url, load_op.op, after_login=count)
        app_logs = app.logs()
    summary["store"] = store
    if store == "redis":
        # One record per login, and every logout deleted its own: none is left behind.
        summary["stored_sessions_after_logout"] = await redis_records(env)
    report = tmp_path / f"load-{store}.json"
    report.write_text(json.dumps(summary, indent=2))
    with capsys.disabled():
        print("\n" + table(store, summary) + f"\n(written to {report})")

    context = (
        f"{json.dumps(summary, indent=2)}\napp server log:\n{app_logs}\n"
        f"provider log:\n{load_op.op.logs()[-3000:]}"
    )
    assert summary["errors"] == 0, context
    assert summary["leaks"] == 0, context
    assert summary["lost_sessions"] == 0, context
    # Every user went all the way, each with a session and tokens of their own.
    assert summary["completed_users"] == USERS, context
    assert summary["distinct_sids"] == USERS, context
    assert summary["distinct_access_tokens"] == 2 * USERS, context  # login's + refreshed
    assert summary["operations"]["GET /token?refresh=1"]["count"] == USERS, context
    if store == "redis":
        assert summary["stored_sessions_after_login"] == USERS, context
        assert summary["stored_sessions_after_logout"] == 0, context


async def redis_records(env: dict[str, str]) -> int:
    """Session records left under the run's key prefix."""
    from redis.asyncio import Redis

    client = Redis.from_url(env["LOAD_REDIS_URL"])
    try:
        pattern = env["LOAD_REDIS_PREFIX"] + "s:*"
        return len([key async for key in client.scan_iter(match=pattern, count=1000)])
    finally:
        await client.aclose()
