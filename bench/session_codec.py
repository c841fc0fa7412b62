"""Micro-benchmark: the cost of one session read and one session write.

Run with ``make bench`` (or ``python bench/session_codec.py``). A realistic session
(~3 KB encrypted: ID token, access token, refresh token, profile claims) is read from a
cookie dict and written to a response, the way every authenticated request does; the raw
AES-256-GCM + JSON work on the same payload is measured alongside as the floor.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auth0_web import SessionConfig
from auth0_web._http import CookieOptions, Response, parse_cookie_header
from auth0_web.session._codec import CookieCodec, derive_key
from auth0_web.session._model import SessionData, SessionInternal, TokenSet
from auth0_web.session._stateless import StatelessSessionStore

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"


def realistic_session(now: int) -> SessionData:
    fake_jwt = "eyJ" + "a" * 1100  # a signed ID token of typical size
    return SessionData(
        user={
            "sub": "auth0|64f0c0ffee0123456789abcd",
            "name": "Alice Example",
            "nickname": "alice",
            "given_name": "Alice",
            "family_name": "Example",
            "picture": "https://s.gravatar.com/avatar/0123456789abcdef0123456789abcdef?s=480",
            "email": "alice@example.com",
            "email_verified": True,
        },
        token_set=TokenSet(
            access_token="eyJ" + "b" * 850,
            id_token=fake_jwt,
            refresh_token="v1." + "c" * 120,
            scope="openid profile email offline_access",
            expires_at=now + 86400,
            token_type="Bearer",
        ),
        internal=SessionInternal(sid="Xk4dPz0Q1d1QbnT8u0bPzSLpZbG7yq2f", created_at=now),
    )


def bench(fn: Callable[[], object], *, rounds: int = 7, number: int = 2000) -> float:
    """Median microseconds per call over ``rounds`` rounds of ``number`` calls."""
    for _ in range(200):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def main() -> None:
    now = int(time.time())
    config = SessionConfig()
    codec = CookieCodec([SECRET])
    store = StatelessSessionStore(config, codec)
    options = CookieOptions()
    session = realistic_session(now)

    written = Response()
    store.write(written, session, {}, now, options)
    cookie_header = "; ".join(value.split(";", 1)[0] for _, value in written.cookies)
    cookies = parse_cookie_header(cookie_header)
    size = sum(len(v) for v in cookies.values())

    payload = session.to_dict()
    payload["exp"] = now + 3600
    aead = AESGCM(derive_key(SECRET))
    iv = os.urandom(12)
    sealed = aead.encrypt(iv, json.dumps(payload).encode(), b"aad")

    uncached = StatelessSessionStore(config, codec)
    uncached.cache.max_entries = 0  # every read decrypts, as the first sight of a cookie does

    def read() -> object:
        return store.read(parse_cookie_header(cookie_header), now)

    def read_first_sight() -> object:
        return uncached.read(parse_cookie_header(cookie_header), now)

    def write() -> object:
        response = Response()
        store.write(response, session, cookies, now, options)
        return response

    def floor_decrypt() -> object:
        return json.loads(aead.decrypt(iv, sealed, b"aad"))

    def floor_encrypt() -> object:
        return aead.encrypt(os.urandom(12), json.dumps(payload).encode(), b"aad")

    rows = [
        ("session read, cookie seen before (decoded-session cache)", bench(read)),
        ("session read, first sight (parse, decrypt, validate)", bench(read_first_sight)),
        ("session write (encrypt, Set-Cookie, no-store headers)", bench(write)),
        ("floor: AES-256-GCM decrypt + json.loads", bench(floor_decrypt)),
        ("floor: json.dumps + AES-256-GCM encrypt", bench(floor_encrypt)),
    ]
    print(f"session cookie: {size} bytes encrypted, {len(cookies)} cookie(s)")
    width = max(len(name) for name, _ in rows)
    for name, micros in rows:
        print(f"{name:<{width}}  {micros:8.1f} µs")


if __name__ == "__main__":
    main()
