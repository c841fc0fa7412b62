"""Micro-benchmark: the per-request cost of reading a Redis-backed session.

``auth0._rt.sessions.load(cookies, now)`` is what every request with a session cookie pays
before the app runs. With a ``RedisSessionStore`` that is: decrypt the small id cookie,
one ``GET`` round trip to Redis, JSON-decode the record, check liveness. It is measured
next to the stateless read (decrypt and validate the whole ~3 KB session cookie), next to
an in-memory store, and next to a bare ``GET`` of the same record (the network floor).

The script starts its own ``redis-server`` (Debian's package) on a free loopback port,
without persistence, and stops it when done. Run ``python bench/redis_session.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from session_codec import SECRET, realistic_session

from auth0_web import Auth0Client, MemorySessionStore
from auth0_web._http import CookieOptions, Response, parse_cookie_header
from auth0_web.stores.redis import RedisSessionStore

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on 127.0.0.1; yields its URL and always stops it."""
    if not Path(REDIS_SERVER).exists():
        raise SystemExit("redis-server not found (apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir:
        port = _free_port()
        process = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--port", str(port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--daemonize", "no", "--dir", workdir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not _pong(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def bench(
    fn: Callable[[], Awaitable[object]], *, rounds: int = 7, number: int = 2000
) -> float:
    """Median microseconds per call over ``rounds`` rounds of ``number`` sequential calls."""
    for _ in range(200):
        await fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            await fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def client(store: object | None) -> Auth0Client:
    return Auth0Client(
        domain="tenant.example.com",
        client_id="bench",
        client_secret="bench-secret",
        secret=SECRET,
        app_base_url="https://app.example.com",
        session_store=store,  # type: ignore[arg-type]
    )


async def cookies_for(auth0: Auth0Client, now: int) -> dict[str, str]:
    """Save a realistic session the way a login does; return the browser's cookies."""
    response = Response()
    await auth0._rt.sessions.save(
        response, realistic_session(now), {}, now, CookieOptions(secure=True), is_new=True
    )
    header = "; ".join(value.split(";", 1)[0] for _, value in response.cookies)
    return parse_cookie_header(header)


async def run(url: str) -> None:
    now = int(time.time())
    redis_store = RedisSessionStore(url, prefix="bench:")
    try:
        stateless = client(None)
        in_memory = client(MemorySessionStore())
        in_redis = client(redis_store)
        cases = []
        for name, auth0 in (
            ("stateless: decrypt + validate the session cookie", stateless),
            ("MemorySessionStore: decrypt id cookie + get", in_memory),
            ("RedisSessionStore: decrypt id cookie + GET + JSON", in_redis),
        ):
            cookies = await cookies_for(auth0, now)
            size = sum(len(v) for v in cookies.values())
            sessions = auth0._rt.sessions

            async def load(sessions=sessions, cookies=cookies) -> object:  # type: ignore[no-untyped-def]
                found = await sessions.load(cookies, now)
                assert found is not None
                return found

            cases.append((name, size, load))
            if auth0 is in_redis:
                session_id = in_redis._rt.sessions.session_id(cookies, now)  # type: ignore[union-attr]
                key = f"{redis_store.prefix}s:{session_id}"

        async def bare_get() -> object:
            return await redis_store.redis.get(key)

        rows = [(name, size, await bench(load)) for name, size, load in cases]
        rows.append(("floor: redis-py GET of the same record", 0, await bench(bare_get)))
        base = rows[0][2]
        width = max(len(name) for name, _, _ in rows)
        print(f"{'session read':<{width}}  {'cookie':>7}  {'µs/op':>8}  {'vs stateless':>12}")
        for name, size, micros in rows:
            cookie = f"{size} B" if size else "-"
            print(f"{name:<{width}}  {cookie:>7}  {micros:8.1f}  {micros - base:+11.1f}µs")
        await in_redis.aclose()
        await stateless.aclose()
        await in_memory.aclose()
    finally:
        await redis_store.aclose()


def main() -> None:
    with redis_server() as url:
        asyncio.run(run(url))


if __name__ == "__main__":
    main()
