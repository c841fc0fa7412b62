"""Memory under load: 1,000,000 requests spread over 10,000 distinct sessions.

Run with ``python bench/memory.py [--requests N] [--sessions N]``. The auth0-web app
(rolling sessions, the default) is called in-process through ASGI — no network, so the
run takes about a minute — with each request carrying one of the sessions, chosen at
random. RSS is sampled after a warm-up (every session seen at least once) and at the end;
the SDK's caches are bounded, so the difference must stay near zero.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from session_codec import SECRET, realistic_session
from throughput import auth0_app

from auth0_web import SessionConfig
from auth0_web._http import CookieOptions, Response
from auth0_web.session._codec import CookieCodec
from auth0_web.session._stateless import StatelessSessionStore


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cookies(count: int) -> list[bytes]:
    now = int(time.time())
    store = StatelessSessionStore(SessionConfig(), CookieCodec([SECRET]))
    out = []
    for i in range(count):
        session = realistic_session(now)
        session.user["sub"] = f"auth0|user-{i:06d}"
        session.internal.sid = f"sid-{i:06d}"
        written = Response()
        store.write(written, session, {}, now, CookieOptions())
        out.append("; ".join(v.split(";", 1)[0] for _, v in written.cookies).encode())
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()

    app = auth0_app(rolling=True, domain="http://localhost:1")
    jar = cookies(args.sessions)
    rng = random.Random(1)
    statuses: dict[int, int] = {}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            status = int(message["status"])  # type: ignore[call-overload]
            statuses[status] = statuses.get(status, 0) + 1

    async def one(cookie: bytes) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"cookie", cookie)],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)

    warmup = max(args.sessions * 3, args.requests // 10)
    for i in range(warmup):
        await one(jar[i % args.sessions] if i < args.sessions else rng.choice(jar))
    gc.collect()
    before = rss_mib()
    started = time.perf_counter()
    for _ in range(args.requests - warmup):
        await one(rng.choice(jar))
    elapsed = time.perf_counter() - started
    gc.collect()
    after = rss_mib()
    print(f"{args.requests:,} requests, {args.sessions:,} sessions, {elapsed:.0f} s after warm-up")
    print(f"statuses: {statuses}")
    growth = after - before
    print(f"RSS after warm-up {before:.1f} MiB, at the end {after:.1f} MiB ({growth:+.1f} MiB)")
    print("memory target (no growth):", "met" if after - before < 5 else "NOT MET")


if __name__ == "__main__":
    asyncio.run(main())
