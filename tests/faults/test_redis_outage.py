"""Redis going away and coming back, with ``RedisSessionStore`` and a real ``redis-server``.

The server keeps an append-only file (``appendfsync always``), so killing it loses nothing
and starting it again on the same port brings every session back. While it is down (or
paused with ``CLIENT PAUSE``), every request gets a clear answer and no cookie is deleted:

* the SDK's routes that need the store answer 503 ``The session store is unavailable.``
  (``/auth/profile``, ``/auth/access-token``, ``/auth/logout``, ``/auth/callback``,
  ``/auth/backchannel-logout``);
* ``get_session()`` reads the request as having no session (pages render as for an
  anonymous visitor; protected ones send to the login); ``get_access_token()`` raises
  ``SessionStoreUnavailableError`` (``session_store_unavailable``, 503);
* a write on the way out that cannot be made is dropped (the response still goes out).

Afterwards the *same* ``Auth0Client`` and store serve the old session again: no restart.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from auth0_web import Auth0Client, Request
from auth0_web.stores.redis import RedisSessionStore
from tests.attacks.helpers import full_login, start_login
from tests.support.apps import Browser, make_client
from tests.support.redis_server import REDIS_SERVER, ping, unique_prefix

from .helpers import (
    HTTP_TIMEOUT,
    assert_nothing_leaked,
    fault_app,
    plain_http,
    session_cookies,
    token_secrets,
)
from .provider import FaultOP

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

UNAVAILABLE = "The session store is unavailable."
#: How long the store waits for Redis (a paused server is judged against it).
REDIS_TIMEOUT = 0.5


class PersistentRedis:
    """One ``redis-server`` with an append-only file, restartable on the same port."""

    def __init__(self) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="redis-faults-")
        self.port = self._free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            str(REDIS_SERVER),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            self._workdir.name,
        ]
        log = open(Path(self._workdir.name) / "redis.log", "ab")  # noqa: SIM115
        with log:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        """Gone at once, as in a crash (what was written is in the append-only file)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=5)

    def command(self, *args: str) -> bytes:
        """One command over a connection of its own (``CLIENT PAUSE`` and friends)."""
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"".join(parts))
            return sock.recv(256)

    def close(self) -> None:
        self.kill()
        self._workdir.cleanup()


@pytest.fixture
def redis_server() -> Iterator[PersistentRedis]:
    if not REDIS_SERVER.exists():
        pytest.fail(f"{REDIS_SERVER} not found (apt-get install redis-server)", pytrace=False)
    server = PersistentRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


class App:
    def __init__(self, op: FaultOP, url: str) -> None:
        self.op = op
        client = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.store = RedisSessionStore(client, prefix=unique_prefix())
        self.auth0: Auth0Client = plain_http(
            make_client(
                op,
                client_id=op.client_id,
                client_secret=op.client_secret,
                session_store=self.store,
                http_timeout=HTTP_TIMEOUT,
            )
        )
        self.browser = Browser(fault_app(self.auth0))

    async def session_tokens(self) -> list[str]:
        request = Request(
            method="GET",
            scheme="http",
            host="127.0.0.1:3000",
            path="/",
            cookies=self.browser.cookies,
        )
        return token_secrets(await self.auth0.get_session(request))

    async def aclose(self) -> None:
        await self.browser.client.aclose()
        await self.auth0.aclose()
        await self.store.aclose()


@pytest.fixture
async def app(fault_op: FaultOP, redis_server: PersistentRedis) -> AsyncIterator[App]:
    found = App(fault_op, redis_server.url)
    try:
        yield found
    finally:
        await found.aclose()


def assert_unavailable(response: httpx.Response) -> None:
    assert (response.status_code, response.text) == (503, UNAVAILABLE)
    assert "no-store" in response.headers["cache-control"]
    assert response.headers.get_list("set-cookie") == []


async def assert_logged_in(app: App) -> None:
    profile = await app.browser.get("/auth/profile")
    assert profile.status_code == 200, (profile.status_code, profile.text)
    assert profile.json()["sub"] == app.op.scenario.user["sub"]


async def test_redis_down_then_back(
    app: App, redis_server: PersistentRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    op, browser = app.op, app.browser
    op.scenario.access_token_ttl = 0  # every token request needs a refresh
    op.scenario.always_refresh_token = True
    assert (await full_login(browser, op)).status_code == 307
    await assert_logged_in(app)
    cookie = session_cookies(browser)
    held = await app.session_tokens()
    session = await app.auth0.get_session(
        Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=cookie)
    )
    assert session is not None and held
    logout_token = op.logout_token(sid=session.internal.sid, sub=session.user["sub"])
    token_calls = op.count("/oauth/token")

    redis_server.kill()

    answers = [
        await browser.get("/auth/profile"),
        await browser.get("/auth/access-token"),
        await browser.get("/auth/logout"),
        await browser.post("/auth/backchannel-logout", data={"logout_token": logout_token}),
    ]
    for response in answers:
        assert_unavailable(response)
    # The app's own pages: the session reads as absent, nothing is deleted.
    home = await browser.get("/")
    assert (home.status_code, home.json()) == (200, {"user": None})
    protected = await browser.get("/protected")
    assert protected.status_code == 307
    assert protected.headers["location"].startswith("/auth/login?returnTo=")
    assert (await browser.get("/api/private")).status_code == 401
    token = await browser.get("/t/token")
    assert (token.status_code, token.json()) == (503, {"error": "session_store_unavailable"})
    dependency = await browser.get("/t/dependency")  # FastAPI's access-token dependency
    assert (dependency.status_code, dependency.json()) == (
        503,
        {"detail": "session_store_unavailable"},
    )
    answers += [home, protected, token, dependency]
    # A login that completes during the outage cannot store its session: 503, and the
    # session the browser already has is neither replaced nor deleted.
    callback = await op.alogin(await start_login(browser))
    answers.append(await browser.get(callback))
    assert_unavailable(answers[-1])

    for response in answers:
        assert not [h for h in response.headers.get_list("set-cookie") if "__session" in h]
        assert_nothing_leaked(response, [], held)
    assert session_cookies(browser) == cookie
    assert op.count("/oauth/token") == token_calls + 1  # only the outage-time login's code
    assert "session store get failed: ConnectionError" in caplog.text

    redis_server.start()  # same port, same data; nothing in the app is restarted

    await assert_logged_in(app)
    assert session_cookies(browser) == cookie
    refreshed = await browser.get("/auth/access-token")
    assert refreshed.status_code == 200, refreshed.text
    gone = await browser.post("/auth/backchannel-logout", data={"logout_token": logout_token})
    assert gone.status_code == 204, gone.text
    assert (await browser.get("/auth/profile")).status_code == 401
    assert_nothing_leaked(None, caplog.records, held + await app.session_tokens())


async def test_redis_paused(app: App, redis_server: PersistentRedis) -> None:
    op, browser = app.op, app.browser
    op.scenario.access_token_ttl = 0
    op.scenario.always_refresh_token = True
    assert (await full_login(browser, op)).status_code == 307
    cookie = session_cookies(browser)
    token_calls = op.count("/oauth/token")

    # Writes paused (a failover in progress): the session reads, nothing can be written.
    assert redis_server.command("CLIENT", "PAUSE", "3000", "WRITE") == b"+OK\r\n"
    await assert_logged_in(app)
    update = await browser.post("/update", json={"theme": "dark"})
    assert update.status_code == 200  # the app answered; its update was not stored
    assert not [h for h in update.headers.get_list("set-cookie") if "__session" in h]
    token = await browser.get("/t/token")  # the refresh lock cannot be taken: no refresh
    assert (token.status_code, token.json()) == (503, {"error": "session_store_unavailable"})
    assert op.count("/oauth/token") == token_calls, "the refresh token was not spent"
    redis_server.command("CLIENT", "UNPAUSE")

    # Everything paused (even CLIENT UNPAUSE waits): reads time out too, until it ends.
    redis_server.command("CLIENT", "PAUSE", "1500", "ALL")
    assert_unavailable(await browser.get("/auth/profile"))
    while not ping(redis_server.port):
        pass

    await assert_logged_in(app)
    assert session_cookies(browser) == cookie
    assert (await browser.get("/t/token")).status_code == 200
    assert op.count("/oauth/token") == token_calls + 1
