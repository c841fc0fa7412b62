"""Session cookies cross between auth0-web and the real ``@auth0/nextjs-auth0`` (v4).

The Node side is ``nextjs_cookie.mjs``, which drives the package's own code: its
``StatelessSessionStore`` reads and writes cookie jars (so expiry and chunking are the
package's), ``generateSessionCookie`` is its public testing helper, and ``cookies.encrypt``
/ ``cookies.decrypt`` are the primitives both of those use. The Python side is
``CookieCodec``; chunks are split and joined here, 3500 characters per slice.

Needs Node.js and npm: without them these tests fail rather than skip.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auth0_web.session._codec import CookieCodec, derive_key

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
CLI = HERE / "nextjs_cookie.mjs"

SECRET = "interop-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
OTHER_SECRET = "a-different-secret-9876543210-zyxwvutsrqponmlkjihgfedcba"
VECTOR_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
VECTOR_KEY = "48679de198d6c71a096bce60e169d1485a45ec6c1ee21d6edc36e10286e6a040"

CHUNK_SIZE = 3500
SESSION_COOKIE = "__session"
CHUNK_NAME = re.compile(r"^__session__(\d+)$")

NodeRunner = Callable[[dict[str, Any]], dict[str, Any]]


# --------------------------------------------------------------------------- Node side


def _installed() -> bool:
    """True when node_modules holds exactly what package-lock.json pins."""
    hidden = HERE / "node_modules" / ".package-lock.json"
    if not hidden.is_file():
        return False
    try:
        wanted = json.loads((HERE / "package-lock.json").read_text())["packages"]
        have = json.loads(hidden.read_text())["packages"]
    except (OSError, ValueError, KeyError):
        return False
    return bool({name: entry for name, entry in wanted.items() if name} == have)


@pytest.fixture(scope="session")
def node() -> NodeRunner:
    node_bin = shutil.which("node")
    npm_bin = shutil.which("npm")
    if node_bin is None or npm_bin is None:
        pytest.fail("Node.js and npm are required for the nextjs-auth0 interop tests")

    with open(HERE / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            result = subprocess.run(
                [npm_bin, "ci", "--no-audit", "--no-fund"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if result.returncode != 0:
                pytest.fail(f"npm ci failed in {HERE}:\n{result.stdout}\n{result.stderr}")

    def run(request: dict[str, Any]) -> dict[str, Any]:
        result = subprocess.run(
            [node_bin, str(CLI)],
            input=json.dumps(request),
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            pytest.fail(f"nextjs_cookie.mjs failed for op={request.get('op')}:\n{result.stderr}")
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    return run


# --------------------------------------------------------------------------- helpers


def make_session(*, created_at: int | None = None, extra_claims: int = 0) -> dict[str, Any]:
    user: dict[str, Any] = {
        "sub": "auth0|64f1c0ffee",
        "name": "Ada Lövelace",  # non-ASCII on purpose
        "email": "ada@example.com",
    }
    if extra_claims:
        user["https://example.com/groups"] = [
            f"group-{i:04d}-engineering-platform-team" for i in range(extra_claims)
        ]
    return {
        "user": user,
        "tokenSet": {
            "accessToken": "eyJhbGciOiJSUzI1NiJ9.access.token",
            "idToken": "eyJhbGciOiJSUzI1NiJ9.id.token",
            "refreshToken": "v1.refresh-token",
            "scope": "openid profile email offline_access",
            "expiresAt": 1900000000,
        },
        "internal": {
            "sid": "sid-5f2b1a",
            # The store's rolling expiry is min(now + 1 day, createdAt + 3 days): a recent
            # createdAt keeps the cookie valid.
            "createdAt": int(time.time()) if created_at is None else created_at,
        },
    }


def without_exp(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != "exp"}


def split_chunks(value: str) -> dict[str, str]:
    if len(value) <= CHUNK_SIZE:
        return {SESSION_COOKIE: value}
    return {
        f"{SESSION_COOKIE}__{index}": value[start : start + CHUNK_SIZE]
        for index, start in enumerate(range(0, len(value), CHUNK_SIZE))
    }


def join_chunks(cookies: dict[str, str]) -> str:
    if SESSION_COOKIE in cookies:
        return cookies[SESSION_COOKIE]
    indexed = sorted(
        (int(match.group(1)), value)
        for name, value in cookies.items()
        if (match := CHUNK_NAME.match(name))
    )
    assert [index for index, _ in indexed] == list(range(len(indexed))), cookies.keys()
    return "".join(value for _, value in indexed)


def b64url_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def node_encrypt(
    node: NodeRunner, session: dict[str, Any], secret: str = SECRET, **extra: Any
) -> dict[str, Any]:
    return node({"op": "encrypt", "secret": secret, "session": session, **extra})


def node_read(
    node: NodeRunner, cookies: dict[str, str], secret: str = SECRET
) -> dict[str, Any] | None:
    answer = node({"op": "decrypt", "secret": secret, "cookies": cookies})
    session: dict[str, Any] | None = answer["session"]
    return session


# --------------------------------------------------------------------------- key derivation


def test_hkdf_vector_python() -> None:
    assert derive_key(VECTOR_SECRET).hex() == VECTOR_KEY


def test_hkdf_vector_node(node: NodeRunner) -> None:
    # The package does not export its derivation; this calls the @panva/hkdf it depends on
    # with the parameters its cookies.js uses.
    assert node({"op": "derive_key", "secret": VECTOR_SECRET})["key"] == VECTOR_KEY


def test_node_cookie_opens_with_the_vector_key(node: NodeRunner) -> None:
    # End to end through the package's own (private) derivation: a cookie its store wrote
    # with the vector secret opens with the raw vector key and plain AES-GCM.
    session = make_session()
    value = node_encrypt(node, session, VECTOR_SECRET)["cookies"][SESSION_COOKIE]
    header, encrypted_key, iv, ciphertext, tag = value.split(".")
    assert encrypted_key == ""
    raw = AESGCM(bytes.fromhex(VECTOR_KEY)).decrypt(
        base64.urlsafe_b64decode(iv + "=" * (-len(iv) % 4)),
        base64.urlsafe_b64decode(ciphertext + "=" * (-len(ciphertext) % 4))
        + base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)),
        header.encode("ascii"),
    )
    assert without_exp(json.loads(raw)) == session


# --------------------------------------------------------------------------- small sessions


def test_small_session_nextjs_to_python(node: NodeRunner) -> None:
    session = make_session()
    before = int(time.time())
    written = node_encrypt(node, session)

    assert set(written["cookies"]) == {SESSION_COOKIE}
    # Writing an unchunked session also clears any stale chunks.
    assert {f"{SESSION_COOKIE}__{i}" for i in range(5)} <= set(written["deleted"])
    value = written["cookies"][SESSION_COOKIE]
    assert len(value) <= CHUNK_SIZE
    assert b64url_json(value.split(".")[0]) == {"alg": "dir", "enc": "A256GCM"}

    payload = CookieCodec([SECRET]).decrypt(value, now=time.time())
    assert payload is not None
    assert without_exp(payload) == session
    assert isinstance(payload["exp"], int)
    assert payload["exp"] > time.time()
    # Rolling store: exp = now + maxAge, with maxAge the inactivity duration (1 day) here.
    assert written["maxAge"] == 86400
    assert before + 86400 <= payload["exp"] <= int(time.time()) + 86400


def test_small_session_nextjs_testing_helper_to_python(node: NodeRunner) -> None:
    # The package's public entry point "@auth0/nextjs-auth0/testing" (generateSessionCookie).
    session = make_session()
    value = node_encrypt(node, session, via="testing")["cookies"][SESSION_COOKIE]
    payload = CookieCodec([SECRET]).decrypt(value, now=time.time())
    assert payload is not None
    assert without_exp(payload) == session
    assert time.time() < payload["exp"] <= time.time() + 3600 + 5


def test_small_session_python_to_nextjs(node: NodeRunner) -> None:
    session = make_session()
    exp = int(time.time()) + 3600
    value = CookieCodec([SECRET]).encrypt(session, exp=exp)

    read = node_read(node, {SESSION_COOKIE: value})
    assert read == {**session, "exp": exp}

    raw = node({"op": "decrypt", "via": "decrypt", "secret": SECRET, "value": value})
    assert raw["payload"] == {**session, "exp": exp}
    assert raw["protectedHeader"] == {"alg": "dir", "enc": "A256GCM"}


def test_python_reads_nextjs_cookie_after_secret_rotation(node: NodeRunner) -> None:
    session = make_session()
    value = node_encrypt(node, session, OTHER_SECRET)["cookies"][SESSION_COOKIE]
    payload = CookieCodec([SECRET, OTHER_SECRET]).decrypt(value, now=time.time())
    assert payload is not None
    assert without_exp(payload) == session


# --------------------------------------------------------------------------- chunked sessions


def test_large_session_nextjs_chunks_to_python(node: NodeRunner) -> None:
    session = make_session(extra_claims=150)
    assert len(json.dumps(session["user"])) > 6000
    written = node_encrypt(node, session)
    cookies = written["cookies"]

    # The package writes __session__0, __session__1, ... and deletes the unchunked cookie.
    assert SESSION_COOKIE not in cookies
    assert SESSION_COOKIE in written["deleted"]
    names = sorted(cookies, key=lambda name: int(CHUNK_NAME.match(name).group(1)))  # type: ignore[union-attr]
    assert names == [f"{SESSION_COOKIE}__{i}" for i in range(len(names))]
    assert len(names) >= 2
    assert all(len(cookies[name]) == CHUNK_SIZE for name in names[:-1])
    assert 0 < len(cookies[names[-1]]) <= CHUNK_SIZE

    joined = join_chunks(cookies)
    assert len(joined) > CHUNK_SIZE
    # Python's split of the joined value is exactly the package's chunking.
    assert split_chunks(joined) == cookies

    payload = CookieCodec([SECRET]).decrypt(joined, now=time.time())
    assert payload is not None
    assert without_exp(payload) == session
    assert payload["exp"] > time.time()


def test_large_session_python_chunks_to_nextjs(node: NodeRunner) -> None:
    session = make_session(extra_claims=150)
    exp = int(time.time()) + 3600
    value = CookieCodec([SECRET]).encrypt(session, exp=exp)
    assert len(value) > CHUNK_SIZE
    cookies = split_chunks(value)
    assert len(cookies) >= 2 and SESSION_COOKIE not in cookies

    # Sent in reverse order: the store orders chunks by index, not by header position.
    reversed_cookies = dict(reversed(list(cookies.items())))
    assert node_read(node, reversed_cookies) == {**session, "exp": exp}

    # A missing chunk makes the whole session unreadable.
    incomplete = dict(cookies)
    del incomplete[f"{SESSION_COOKIE}__0"]
    assert node_read(node, incomplete) is None


# --------------------------------------------------------------------------- rejection


def test_other_secret_is_rejected_both_ways(node: NodeRunner) -> None:
    session = make_session()

    from_node = node_encrypt(node, session, OTHER_SECRET)["cookies"][SESSION_COOKIE]
    assert CookieCodec([SECRET]).decrypt(from_node, now=time.time()) is None

    from_python = CookieCodec([OTHER_SECRET]).encrypt(session, exp=int(time.time()) + 3600)
    assert node_read(node, {SESSION_COOKIE: from_python}) is None
    # Control: both values are fine under the secret that made them.
    assert CookieCodec([OTHER_SECRET]).decrypt(from_node, now=time.time()) is not None
    assert node_read(node, {SESSION_COOKIE: from_python}, OTHER_SECRET) is not None


def test_other_secret_is_rejected_for_chunked_sessions(node: NodeRunner) -> None:
    session = make_session(extra_claims=150)
    from_node = node_encrypt(node, session, OTHER_SECRET)["cookies"]
    assert len(from_node) >= 2
    assert CookieCodec([SECRET]).decrypt(join_chunks(from_node), now=time.time()) is None

    from_python = CookieCodec([OTHER_SECRET]).encrypt(session, exp=int(time.time()) + 3600)
    assert node_read(node, split_chunks(from_python)) is None


def test_expired_is_rejected_both_ways(node: NodeRunner) -> None:
    session = make_session()
    past = int(time.time()) - 3600

    from_node = node_encrypt(node, session, via="encrypt", exp=past)["cookies"][SESSION_COOKIE]
    assert b64url_json(from_node.split(".")[0]) == {"alg": "dir", "enc": "A256GCM"}
    assert CookieCodec([SECRET]).decrypt(from_node, now=time.time()) is None
    # Control: the same cookie was valid before its expiry, so only `exp` rejected it.
    assert CookieCodec([SECRET]).decrypt(from_node, now=past - 60) is not None

    from_python = CookieCodec([SECRET]).encrypt(session, exp=past)
    assert node_read(node, {SESSION_COOKIE: from_python}) is None


def test_store_written_cookie_expires_for_python(node: NodeRunner) -> None:
    written = node_encrypt(node, make_session())
    value = written["cookies"][SESSION_COOKIE]
    codec = CookieCodec([SECRET])
    payload = codec.decrypt(value, now=time.time())
    assert payload is not None
    exp = payload["exp"]
    assert codec.decrypt(value, now=exp + 60) is None


def test_clock_tolerance_matches(node: NodeRunner) -> None:
    # Both sides allow 15 s of clock skew on `exp`.
    session = make_session()
    codec = CookieCodec([SECRET])
    now = int(time.time())

    just_expired = codec.encrypt(session, exp=now - 5)
    assert codec.decrypt(just_expired, now=time.time()) is not None
    assert node_read(node, {SESSION_COOKIE: just_expired}) is not None

    long_expired = codec.encrypt(session, exp=now - 60)
    assert codec.decrypt(long_expired, now=time.time()) is None
    assert node_read(node, {SESSION_COOKIE: long_expired}) is None


def test_tampered_cookie_is_rejected_by_nextjs(node: NodeRunner) -> None:
    value = CookieCodec([SECRET]).encrypt(make_session(), exp=int(time.time()) + 3600)
    header, key, iv, ciphertext, tag = value.split(".")
    flipped = ("A" if ciphertext[0] != "A" else "B") + ciphertext[1:]
    tampered = ".".join((header, key, iv, flipped, tag))
    assert node_read(node, {SESSION_COOKIE: tampered}) is None


# --------------------------------------------------------------------------- through the SDK


def _sdk_client(secret: str = SECRET) -> Any:
    from auth0_web import Auth0Client

    # No provider call is made by /auth/profile or get_session(): the domain is nominal.
    return Auth0Client(
        domain="tenant.example.com",
        client_id="interop-client",
        client_secret="interop-client-secret",
        secret=secret,
        app_base_url="http://127.0.0.1:3000",
    )


def _profile(cookies: dict[str, str], secret: str = SECRET) -> httpx.Response:
    from tests.support.apps import make_app

    app = make_app(_sdk_client(secret))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3000") as c:
            header = "; ".join(f"{k}={v}" for k, v in cookies.items())
            return await c.get("/auth/profile", headers={"cookie": header})

    return asyncio.run(call())


@pytest.mark.parametrize("extra_claims", [0, 150], ids=["small", "chunked"])
def test_nextjs_session_is_served_by_the_sdk(node: NodeRunner, extra_claims: int) -> None:
    session = make_session(extra_claims=extra_claims)
    cookies = node_encrypt(node, session)["cookies"]
    response = _profile(cookies)
    assert response.status_code == 200
    assert response.json() == session["user"]
    assert _profile(cookies, secret="another-secret-0123456789abcdef0123").status_code == 401


@pytest.mark.parametrize("extra_claims", [0, 150], ids=["small", "chunked"])
def test_sdk_session_cookies_are_read_by_nextjs(node: NodeRunner, extra_claims: int) -> None:
    from auth0_web import SessionData
    from auth0_web._http import Response, parse_cookie_header

    client = _sdk_client()
    session = SessionData.from_dict(make_session(extra_claims=extra_claims))
    response = Response()
    client._rt.sessions.write(
        response,
        session,
        {},
        int(time.time()),
        client._rt.session_cookie_options(client.config.app_base_urls[0]),
    )
    cookies = parse_cookie_header("; ".join(v.split(";", 1)[0] for _, v in response.cookies))
    assert (len(cookies) > 1) == bool(extra_claims)
    read = node_read(node, cookies)
    assert read is not None
    assert without_exp(read) == session.to_dict()
