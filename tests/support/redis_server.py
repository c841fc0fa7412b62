"""A real ``redis-server`` for the tests (Debian's package, ``/usr/bin/redis-server``).

``redis_url`` (session scope) starts one server on a free 127.0.0.1 port, without
persistence, and stops it when the test session ends. ``redis_store`` (function scope) is
a :class:`~auth0_web.stores.redis.RedisSessionStore` on it with a key prefix of its own,
so tests never see each other's keys; its keys are deleted and its connections closed
after the test.

Load with ``pytest_plugins = ["tests.support.redis_server"]`` (``tests/conftest.py``).
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported lazily: the redis package is needed only by the tests using it
    from auth0_web.stores.redis import RedisSessionStore

REDIS_SERVER = Path("/usr/bin/redis-server")
STARTUP_TIMEOUT = 10.0


class RedisServerError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server on 127.0.0.1:``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process (no RDB snapshots, no AOF), as a context manager."""

    def __init__(self, executable: Path = REDIS_SERVER) -> None:
        self.executable = executable
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._log: Path | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RedisServerError("redis-server is not running")
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if not self.executable.exists():
            raise RedisServerError(
                f"{self.executable} not found: the Redis tests need the Debian package "
                "redis-server (apt-get install redis-server)"
            )
        self._workdir = tempfile.TemporaryDirectory(prefix="redis-test-")
        self._log = Path(self._workdir.name) / "redis.log"
        problems = []
        for _ in range(5):  # another process may take the free port before we bind it
            port = _free_port()
            if self._launch(port):
                self.port = port
                return self
            problems.append(self.logs())
        self.stop()
        raise RedisServerError("redis-server did not start:\n" + "\n---\n".join(problems))

    def _launch(self, port: int) -> bool:
        assert self._workdir is not None and self._log is not None
        args = [
            str(self.executable),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            self._workdir.name,
        ]
        with open(self._log, "ab") as log:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if ping(port):
                return True
            time.sleep(0.02)
        self._terminate()
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def logs(self) -> str:
        try:
            return self._log.read_text(errors="replace") if self._log else ""
        except OSError:
            return ""

    def stop(self) -> None:
        self._terminate()
        self.port = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a redis-server started for this test session."""
    server = RedisServer()
    try:
        server.start()
    except RedisServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


async def delete_prefixed(store: RedisSessionStore) -> None:
    keys = [key async for key in store.redis.scan_iter(match=store.prefix + "*", count=500)]
    if keys:
        await store.redis.delete(*keys)


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisSessionStore]:
    """A ``RedisSessionStore`` with a key prefix unique to this test (cleaned up after)."""
    from auth0_web.stores.redis import RedisSessionStore

    store = RedisSessionStore(redis_url, prefix=unique_prefix())
    try:
        yield store
    finally:
        try:
            await delete_prefixed(store)
        finally:
            await store.aclose()
