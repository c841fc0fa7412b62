"""Group K: DOS-02 (back-channel logout and PAR floods), DOS-03 (hostile JOSE input outside
the cookie), DOS-04 (bodies, regular expressions, cold starts, session size).

Floods are bounded in test time (a thousand requests in process, not a rate), and the
safe outcome is asserted by counting work, never by the clock: provider calls, key
imports, decoder and signature-check calls, request-body chunks pulled, cache sizes, and
the Python lines a parser executes for inputs of growing size.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import pkgutil
import re
import secrets
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from re import _constants as sre_constants
from re import _parser as sre_parser
from typing import Any

import pytest

import auth0_web
from auth0_web import MemorySessionStore
from auth0_web._mfa import MfaTokenInvalidError, unseal_context
from auth0_web._urls import safe_return_to
from auth0_web.adapters import asgi
from auth0_web.adapters.wsgi import Auth0WSGIMiddleware
from auth0_web.oidc import _discovery, _dpop, _id_token, _logout_token
from auth0_web.oidc._logout_token import ReplayGuard
from auth0_web.session._chunks import read_chunked
from tests.support.apps import Browser
from tests.support.scripted_op import ScriptedOP, b64url, jws_compact

from .conftest import Harness
from .helpers import (
    APP_ORIGIN,
    MSG_EXCHANGE,
    MSG_LOGIN_FAIL,
    SESSION_NAME,
    assert_cb_reject,
    assert_error_response,
    assert_no_session,
    assert_no_set_cookie,
    full_login,
    login_until_callback,
    session_set_cookies,
    state_of,
    txn_set_cookies,
)
from .test_lgo import ALICE, BCL, lt_claims, mint, post_token, record_outbound

pytestmark = pytest.mark.anyio

JWKS = "/.well-known/jwks.json"
DISCOVERY = "/.well-known/openid-configuration"
PAR = "/oauth/par"
TOKEN = "/oauth/token"
INVALID = "Invalid logout token:"
TOO_LARGE_SESSION = "The session is too large to be stored in cookies."
MB = 1024 * 1024


# --------------------------------------------------------------------------------------
# Counting work
# --------------------------------------------------------------------------------------


class Calls:
    """Wraps ``module.name`` so every call is counted (and still performed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.count = 0
        original = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


class FrozenMonotonic:
    """Stands in for ``time`` inside the JWKS cache: ``monotonic()`` never moves, so the
    30-second refetch cooldown cannot run out in the middle of a flood, however slow the
    machine."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def line_events(function: Callable[..., Any], *args: Any) -> int:
    """How many Python lines ``function(*args)`` executes (every frame it enters)."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        function(*args)
    finally:
        sys.settrace(previous)
    return count


async def chunks(total: int, size: int, pulled: list[int]) -> AsyncIterator[bytes]:
    """A streamed request body of ``total`` bytes; ``pulled[0]`` counts chunks consumed."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        pulled[0] += 1
        yield b"logout_token=" + b"A" * (piece - 13) if sent == 0 else b"A" * piece
        sent += piece


async def bcl_world(h: Harness, op: ScriptedOP) -> tuple[Any, MemorySessionStore, Browser]:
    """A client with a store and one logged-in user; returns it, the store and a
    cookie-less caller for the back-channel route."""
    store = MemorySessionStore()
    client = h.client(session_store=store)
    op.scenario.user = dict(ALICE)
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    assert len(store) == 1
    return client, store, h.browser(client)


def junk_signed(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A compact JWS with the given parts and a signature no key made."""
    return jws_compact(header, claims, b"\x00" * 256)


# ======================================================================================
# DOS-02  back-channel logout and PAR floods
# ======================================================================================


async def test_dos02_random_kid_flood_refetches_jwks_at_most_once(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOS-02: 1,000 logout tokens with random ``kid`` values cost at most one JWKS refetch
    (the cooldown), leave the key cache holding only the provider's keys, and end nobody's
    session."""
    monkeypatch.setattr(_discovery, "time", FrozenMonotonic())
    client, store, caller = await bcl_world(h, op)
    before = op.count(JWKS)
    assert before == 1
    claims = lt_claims(op, sub=ALICE["sub"])
    statuses: set[tuple[int, str]] = set()
    for _ in range(1000):
        header = {"alg": "RS256", "typ": "logout+jwt", "kid": secrets.token_hex(8)}
        response = await post_token(caller, junk_signed(claims, header))
        statuses.add((response.status_code, response.text))
    assert statuses == {(400, f"{INVALID} no matching signing key.")}
    assert op.count(JWKS) - before <= 1
    keys = client._rt.jwks._keys  # noqa: SLF001 - the cache's contents
    assert keys is not None and set(keys) == {"k1", "k2", "ec1"}
    assert len(store) == 1


async def test_dos02_random_iss_flood_fetches_nothing(h: Harness, op: ScriptedOP) -> None:
    """DOS-02: 1,000 logout tokens naming random issuers (metadata and internal addresses
    among them) make no outbound call beyond the configured discovery, fetched once."""
    store = MemorySessionStore()
    client = h.client(session_store=store)
    transport = record_outbound(client)
    caller = h.browser(client)
    issuers = ["http://169.254.169.254/", "http://localhost:1/", "http://10.0.0.1/"]
    statuses: set[tuple[int, str]] = set()
    for n in range(1000):
        iss = issuers[n % 3] if n < 30 else f"https://op-{secrets.token_hex(6)}.example/"
        claims = lt_claims(op, sub=ALICE["sub"], iss=iss)
        header = {"alg": "RS256", "kid": secrets.token_hex(4)}
        response = await post_token(caller, junk_signed(claims, header))
        statuses.add((response.status_code, response.text))
    assert statuses == {(400, f"{INVALID} issuer mismatch.")}
    assert transport.urls == [op.url(DISCOVERY)]
    assert op.count(JWKS) == 0


async def test_dos02_ten_megabyte_token_is_refused_by_size_before_parsing(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOS-02: a 10 MB logout token is a 413 after reading just past the 64 KiB cap (not
    10 MB), and a token over the 16 KiB token cap is refused before it is decoded; neither
    makes an outbound call."""
    decoded = Calls(monkeypatch, _logout_token, "decode_unverified")
    store = MemorySessionStore()
    client = h.client(session_store=store)
    transport = record_outbound(client)
    caller = h.browser(client)

    pulled = [0]
    response = await caller.client.post(
        BCL,
        content=chunks(10 * MB, 64 * 1024, pulled),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.text == "Request body too large."
    assert pulled[0] <= 2, f"{pulled[0]} chunks of 64 KiB read for a body that was refused"

    claims = lt_claims(op, sub=ALICE["sub"], pad="x" * (40 * 1024))
    big = mint(op, claims)
    assert 16 * 1024 < len(big) < 64 * 1024
    response = await post_token(caller, big)
    assert response.status_code == 400
    assert response.text == f"{INVALID} token too large."
    assert decoded.count == 0
    assert transport.urls == [op.url(DISCOVERY)]  # the configured issuer only; no keys


async def test_dos02_par_flood_is_one_call_per_login_and_no_retry(
    h: Harness, op: ScriptedOP
) -> None:
    """DOS-02: with PAR on, each anonymous ``/auth/login`` costs exactly one PAR call; a
    429 with ``Retry-After`` is neither retried nor slept on, and the login fails closed."""
    client = h.client(pushed_authorization_requests=True)
    browser = h.browser(client)
    for _ in range(100):
        browser.cookies.clear()
        assert (await browser.get("/auth/login")).status_code == 307
    assert op.count(PAR) == 100

    op.scenario.responses[PAR] = lambda record: (
        429,
        {"content-type": "application/json", "retry-after": "3600"},
        b'{"error":"too_many_requests"}',
    )
    for _ in range(200):
        browser.cookies.clear()
        response = await browser.get("/auth/login")
        assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
        assert_no_set_cookie(response)
    assert op.count(PAR) == 300  # one per login, never a retry
    assert op.count("/authorize") == 0


async def test_dos02_replay_guard_stays_bounded(h: Harness, op: ScriptedOP) -> None:
    """DOS-02: remembered ``jti`` values are capped (oldest forgotten first) and dropped
    once their token has expired; a fresh replay is still refused."""
    client, _, caller = await bcl_world(h, op)
    guard = ReplayGuard(max_entries=50)
    client._rt.logout_replays = guard  # noqa: SLF001 - a small cap for the test
    jtis = []
    for _ in range(200):
        claims = lt_claims(op, sub="auth0|nobody")
        jtis.append(claims["jti"])
        response = await post_token(caller, mint(op, claims))
        assert response.status_code == 204, response.text
    assert len(guard._seen) == 50  # noqa: SLF001
    replay = await post_token(caller, mint(op, lt_claims(op, sub="auth0|nobody", jti=jtis[-1])))
    assert replay.status_code == 400 and replay.text == f"{INVALID} already used."

    direct = ReplayGuard(max_entries=1000)
    for n in range(5000):
        assert direct.first_use(f"jti-{n}", expires_at=time.time() + 600)
    assert len(direct._seen) == 1000  # noqa: SLF001
    expired = ReplayGuard(max_entries=1000)
    for n in range(500):
        expired.first_use(f"old-{n}", expires_at=time.time() - 1)
    for n in range(5):
        expired.first_use(f"new-{n}", expires_at=time.time() + 600)
    assert len(expired._seen) == 5  # noqa: SLF001


# ======================================================================================
# DOS-03  hostile JOSE input in ID tokens, logout tokens, MFA tokens and JWKS documents
# ======================================================================================


def _deflate_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(b"{" + b" " * (8 * MB) + b"}") + compressor.flush()


def _hostile_token(kind: str, op: ScriptedOP, claims: dict[str, Any]) -> str:
    """A compact token of one hostile ``kind``, built around ``claims``."""
    rs = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    if kind == "zip-deflate-bomb":
        header = b64url(json.dumps({**rs, "zip": "DEF"}))
        return f"{header}.{b64url(_deflate_bomb())}.{b64url(b'x' * 256)}"
    if kind == "zip-def-header":
        return jws_compact({**rs, "zip": "DEF"}, claims, b"\x00" * 256)
    if kind == "b64-false":
        header = b64url(json.dumps({**rs, "b64": False, "crit": ["b64"]}))
        return f"{header}.{json.dumps(claims)}{'x' * 30000}.{b64url(b'x' * 256)}"
    if kind == "b64-false-base64ish":
        return jws_compact({**rs, "b64": False, "crit": ["b64"]}, claims, b"\x00" * 256)
    if kind == "pbes2-p2c":
        header = {"alg": "PBES2-HS512+A256KW", "p2c": 10**9, "p2s": b64url(b"salt" * 4)}
        return jws_compact({**header, "kid": "k1"}, claims, b"\x00" * 64)
    if kind == "pbes2-jwe":
        header = b64url(json.dumps({"alg": "PBES2-HS512+A256KW", "enc": "A256GCM", "p2c": 10**9}))
        return ".".join([header, b64url(b"k" * 40), b64url(b"i" * 12), b64url(b"c" * 64), "t" * 22])
    if kind == "crit-unknown":
        return jws_compact({**rs, "crit": ["exp"], "exp": 1}, claims, b"\x00" * 256)
    if kind == "1MB-segment":
        return jws_compact(rs, {**claims, "pad": "x" * 700_000}, b"\x00" * 256)
    raise AssertionError(kind)


HOSTILE_KINDS = [
    "zip-deflate-bomb",
    "zip-def-header",
    "b64-false",
    "b64-false-base64ish",
    "pbes2-p2c",
    "pbes2-jwe",
    "crit-unknown",
    "1MB-segment",
]


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
async def test_dos03_hostile_id_token_is_refused_before_keys_or_crypto(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """DOS-03: an ID token with a compression bomb, ``b64: false``, a PBES2 count of 10^9,
    unknown ``crit`` or a megabyte segment is CB-REJECT with no signature check, no
    inflation and no key fetch."""
    verified = Calls(monkeypatch, _id_token, "verify_signature")
    inflated = Calls(monkeypatch, zlib, "decompress")
    inflaters = Calls(monkeypatch, zlib, "decompressobj")
    op.scenario.id_token_raw = lambda info: _hostile_token(kind, op, info["payload"])
    browser = h.browser(h.client())
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_EXCHANGE, state=state_of(authorize_url))
    await assert_no_session(browser)
    assert verified.count == 0 and inflated.count == 0 and inflaters.count == 0
    assert op.count(JWKS) == 0  # rejected before the keys were even needed


async def test_dos03_ten_megabyte_id_token_is_cut_off_at_the_response_cap(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOS-03: a 10 MB ID token never reaches the decoder: the token response is cut off
    at 1 MiB of decoded body."""
    decoded = Calls(monkeypatch, _id_token, "decode_unverified")
    op.scenario.token_body = lambda body: {**body, "id_token": "e30." + "A" * (10 * MB) + ".x"}
    browser = h.browser(h.client())
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_EXCHANGE, state=state_of(authorize_url), status=500)
    assert decoded.count == 0 and op.count(JWKS) == 0


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
async def test_dos03_hostile_logout_token_is_refused_before_keys_or_crypto(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """DOS-03: the same hostile shapes as logout tokens: 400 (or 413 for the megabyte),
    no signature check, no inflation, no JWKS fetch, no session deleted."""
    verified = Calls(monkeypatch, _logout_token, "verify_signature")
    inflated = Calls(monkeypatch, zlib, "decompress")
    store = MemorySessionStore()
    client = h.client(session_store=store)
    transport = record_outbound(client)
    caller = h.browser(client)
    token = _hostile_token(kind, op, lt_claims(op, sub=ALICE["sub"]))
    response = await post_token(caller, token)
    if len(token) > 64 * 1024:
        assert response.status_code == 413
    else:
        assert response.status_code == 400, (response.status_code, response.text)
        assert response.text.startswith(INVALID)
        assert "no-store" in response.headers["cache-control"]
    assert verified.count == 0 and inflated.count == 0
    assert all(not url.startswith(op.url(JWKS)) for url in transport.urls)


def _jwe(header: dict[str, Any], ciphertext: bytes = b"c" * 64) -> str:
    protected = b64url(json.dumps(header, separators=(",", ":")))
    return ".".join([protected, "", b64url(b"i" * 12), b64url(ciphertext), b64url(b"t" * 16)])


MFA_TOKENS: dict[str, Callable[[], str]] = {
    "10MB": lambda: "A" * (10 * MB),
    "9KB": lambda: _jwe({"alg": "dir", "enc": "A256GCM"}, b"c" * 9000),
    "zip-def": lambda: _jwe({"alg": "dir", "enc": "A256GCM", "zip": "DEF"}, _deflate_bomb()[:4000]),
    "pbes2-p2c": lambda: _jwe({"alg": "PBES2-HS512+A256KW", "enc": "A256GCM", "p2c": 10**9}),
    "a256kw": lambda: _jwe({"alg": "A256KW", "enc": "A256GCM"}),
    "cbc": lambda: _jwe({"alg": "dir", "enc": "A128CBC-HS256"}),
    "crit": lambda: _jwe({"alg": "dir", "enc": "A256GCM", "crit": ["x"], "x": 1}),
    "jws-shaped": lambda: jws_compact({"alg": "none"}, {"kind": "mfa"}, b""),
}


@pytest.mark.parametrize("kind", list(MFA_TOKENS))
async def test_dos03_hostile_mfa_token_is_refused_before_decryption(h: Harness, kind: str) -> None:
    """DOS-03: a sealed MFA token that is oversized or names another algorithm, a PBES2
    count, compression or ``crit`` is invalid before any AES-GCM or key-wrapping work."""
    client = h.client()
    codec = client._rt.codec  # noqa: SLF001
    opened: list[int] = []

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def decrypt(self, *args: Any) -> Any:
            opened.append(1)
            return self.inner.decrypt(*args)

    codec._aesgcm_decrypt = tuple(Counting(a) for a in codec._aesgcm_decrypt)  # noqa: SLF001
    with pytest.raises(MfaTokenInvalidError):
        unseal_context(client._rt, MFA_TOKENS[kind]())  # noqa: SLF001
    assert opened == []


async def test_dos03_hostile_mfa_token_through_the_routes(h: Harness, op: ScriptedOP) -> None:
    """DOS-03: the same tokens sent to the MFA routes: 401 ``mfa_token_invalid`` (413 for a
    body over the cap) and no provider call."""
    browser = h.browser()
    for kind, make in MFA_TOKENS.items():
        token = make()
        response = await browser.post(
            "/auth/mfa/challenge",
            json={"mfa_token": token, "challenge_type": "otp"},
            headers={"origin": APP_ORIGIN},
        )
        if len(token) > 64 * 1024:
            assert response.status_code == 413, kind
            continue
        assert response.status_code == 401, (kind, response.status_code, response.text)
        assert response.json()["error"] == "mfa_token_invalid", kind
    assert [r.path for r in op.requests if r.path.startswith(("/mfa", "/oauth"))] == []


def _decoys(op: ScriptedOP, count: int) -> list[dict[str, Any]]:
    template = op.rsa_key_2.as_dict(private=False)
    return [{**template, "kid": f"decoy-{n}"} for n in range(count)]


@pytest.mark.parametrize("position", ["first", "after-100-decoys"])
async def test_dos03_jwks_with_thousands_of_keys_is_read_only_in_part(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch, position: str
) -> None:
    """DOS-03: a JWKS of 2,000 keys (just under the 1 MiB response cap) costs at most 100
    key imports per fetch; a signing key hidden behind them is not found."""
    imports = [0]
    original = _discovery.RSAKey.import_key

    def counted(*args: Any, **kwargs: Any) -> Any:
        imports[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(_discovery.RSAKey, "import_key", counted)

    def many(doc: dict[str, Any]) -> dict[str, Any]:
        decoys = _decoys(op, 2000)
        real = doc["keys"]
        return {"keys": [*real, *decoys] if position == "first" else [*decoys, *real]}

    op.scenario.jwks = many
    browser = h.browser(h.client())
    if position == "first":
        assert (await full_login(browser, op)).status_code == 307
        assert op.count(JWKS) == 1
        assert imports[0] <= 100
        return
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_EXCHANGE, state=state_of(authorize_url))
    assert op.count(JWKS) == 2  # one refetch for the unknown kid, then no more
    assert imports[0] <= 200


async def test_dos03_jwks_private_and_symmetric_members_are_never_keys(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOS-03: JWKS entries carrying private (``d``) or symmetric (``k``) material are
    skipped unread; only the public keys are imported."""
    imports = Calls(monkeypatch, _discovery.RSAKey, "import_key")
    private = op.signing_key.as_dict(private=True)
    op.scenario.jwks = lambda doc: {
        "keys": [
            {**private, "kid": "k1"},
            {"kty": "oct", "k": b64url(b"s" * 32), "kid": "k1", "alg": "HS256"},
        ]
    }
    browser = h.browser(h.client())
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    # No usable key: the token is refused (400), or the key set counts as unavailable (500).
    assert response.status_code in (400, 500)
    assert_cb_reject(
        response, MSG_EXCHANGE, state=state_of(authorize_url), status=response.status_code
    )
    await assert_no_session(browser)
    assert imports.count == 0


# ======================================================================================
# DOS-04  (a) bodies
# ======================================================================================

POST_ROUTES = [
    "/auth/backchannel-logout",
    "/auth/mfa/challenge",
    "/auth/mfa/associate",
    "/auth/mfa/verify",
]


@pytest.mark.parametrize("path", POST_ROUTES)
async def test_dos04_hundred_megabyte_body_is_413_after_the_cap(
    h: Harness, op: ScriptedOP, path: str
) -> None:
    """DOS-04 (a): a 100 MB body to any SDK POST route is a 413 once the 64 KiB cap is
    passed; the rest of the body is never pulled."""
    browser = h.browser(h.client(session_store=MemorySessionStore()))
    pulled = [0]
    response = await browser.client.post(
        path,
        content=chunks(100 * MB, 64 * 1024, pulled),
        headers={"content-type": "application/json", "origin": APP_ORIGIN},
    )
    assert response.status_code == 413
    assert pulled[0] <= 2
    assert op.requests == []


async def test_dos04_slow_upload_times_out(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOS-04 (a): a body that stops arriving is cut off with a 408; the route never runs."""
    monkeypatch.setattr(asgi, "BODY_READ_TIMEOUT", 0.05)
    client = h.client(session_store=MemorySessionStore())
    app = client.middleware(lambda scope, receive, send: None)
    stalled = asyncio.Event()
    messages = iter([{"type": "http.request", "body": b"logout_token=", "more_body": True}])

    async def receive() -> dict[str, Any]:
        for message in messages:
            return message
        await stalled.wait()  # the client never sends the rest
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/auth/backchannel-logout",
        "raw_path": b"/auth/backchannel-logout",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:3000")],
        "server": ("127.0.0.1", 3000),
        "client": ("127.0.0.1", 5000),
        "http_version": "1.1",
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 408
    assert op.requests == []


async def test_dos04_wsgi_oversized_body_is_never_read(h: Harness, op: ScriptedOP) -> None:
    """DOS-04 (a): under WSGI a declared 100 MB body gets 413 with no byte read."""
    client = h.client(session_store=MemorySessionStore())
    app = Auth0WSGIMiddleware(lambda environ, start_response: [b""], client)

    class Input(io.RawIOBase):
        read_bytes = 0

        def read(self, size: int = -1) -> bytes:
            Input.read_bytes += max(size, 0)
            return b"A" * max(size, 0)

    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/auth/backchannel-logout",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "3000",
        "HTTP_HOST": "127.0.0.1:3000",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(100 * MB),
        "wsgi.input": Input(),
    }
    body = b"".join(app(environ, lambda status, headers, exc=None: statuses.append(status)))
    assert statuses == ["413 Content Too Large"]
    assert body == b"Request body too large."
    assert Input.read_bytes == 0
    assert op.requests == []


# ======================================================================================
# DOS-04  (b) regular expressions and parsers run in linear time
# ======================================================================================


_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)


def _repeat_depth(pattern: Any) -> int:
    """Deepest nesting of repetitions that can match more than once (``*``, ``+``,
    ``{m,n}`` with n > 1) in a parsed pattern: 2 or more is the catastrophic-backtracking
    shape ``(a+)+``."""
    deepest = 0
    for op, av in pattern:
        inner = 0
        if op in _REPEATS:
            low, high, sub = av
            inner = _repeat_depth(sub) + (1 if high > 1 else 0)
        elif op is sre_constants.SUBPATTERN:
            inner = _repeat_depth(av[3])
        elif op is sre_constants.BRANCH:
            inner = max(_repeat_depth(branch) for branch in av[1])
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            inner = _repeat_depth(av[1])
        elif op is sre_constants.ATOMIC_GROUP:
            inner = _repeat_depth(av)
        elif op is sre_constants.GROUPREF_EXISTS:
            inner = max(_repeat_depth(av[1]), _repeat_depth(av[2]) if av[2] else 0)
        deepest = max(deepest, inner)
    return deepest


def _package_patterns() -> dict[str, re.Pattern[str]]:
    found: dict[str, re.Pattern[str]] = {}
    for info in pkgutil.walk_packages(auth0_web.__path__, "auth0_web."):
        try:
            module = importlib.import_module(info.name)
        except Exception:
            # The Django adapter reads the project's settings on import; no patterns there.
            if info.name.startswith("auth0_web.adapters.django"):
                continue
            raise
        for name, value in vars(module).items():
            if type(value) is re.Pattern and value.pattern:  # type(): no lazy proxies
                found[f"{info.name}.{name}"] = value
    return found


def test_dos04_no_pattern_nests_repetitions() -> None:
    """DOS-04 (b): no regular expression in the package nests one repetition inside
    another, the shape that backtracks exponentially; the known candidates are checked."""
    patterns = _package_patterns()
    for expected in (
        "auth0_web.oidc._dpop._CHALLENGE_TOKEN_RE",
        "auth0_web._token_exchange._URN_RE",
        "auth0_web._urls._SCHEME_RE",
        "auth0_web._urls._HOST_RE",
        "auth0_web.session._transaction._STATE_RE",
        "auth0_web._ciba._BINDING_MESSAGE",
        "auth0_web._connection_tokens._CONNECTION_RE",
    ):
        assert expected in patterns, expected
    nested = {
        name: pattern.pattern
        for name, pattern in patterns.items()
        if _repeat_depth(sre_parser.parse(pattern.pattern, pattern.flags)) > 1
    }
    assert not nested, nested


HEADERS: dict[str, Callable[[int], str]] = {
    "commas": lambda n: "DPoP " + "," * n,
    "comma-space": lambda n: "Bearer " + ", " * (n // 2),
    "params": lambda n: "DPoP " + "a=b, " * (n // 5),
    "unterminated-quote": lambda n: 'DPoP error="' + '\\"' * (n // 2),
    "quotes": lambda n: 'DPoP a="' + '"' * n,
    "equals": lambda n: "DPoP " + "=" * n,
    "words": lambda n: "DPoP " + "w " * (n // 2),
    "backslashes": lambda n: 'DPoP error="' + "\\" * n,
}


@pytest.mark.parametrize("kind", list(HEADERS))
def test_dos04_www_authenticate_is_parsed_in_one_linear_pass(kind: str) -> None:
    """DOS-04 (b): the ``WWW-Authenticate`` tokenizer covers any header in one pass (its
    matches tile the input: no position is retried), and the parser's Python work grows
    linearly with the header (four times the input, at most about four times the lines)."""
    header = HEADERS[kind](100_000)
    position = 0
    for match in _dpop._CHALLENGE_TOKEN_RE.finditer(header):  # noqa: SLF001
        assert match.start() == position, (kind, position, match.start())
        position = match.end()
    assert position == len(header)

    small = line_events(_dpop._has_dpop_nonce_challenge, HEADERS[kind](2_000))  # noqa: SLF001
    large = line_events(_dpop._has_dpop_nonce_challenge, HEADERS[kind](8_000))  # noqa: SLF001
    assert large <= 4.5 * small + 50, (kind, small, large)
    # ... and a nonce challenge after the noise is still found.
    noisy = HEADERS[kind](50_000) + ', DPoP error="use_dpop_nonce"'
    if kind not in ("unterminated-quote", "quotes", "backslashes"):  # those swallow the rest
        assert _dpop.is_nonce_error(401, {"www-authenticate": noisy}, None)


RETURN_TO: dict[str, Callable[[int], str]] = {
    "slashes": lambda n: "/" * n,
    "dot-dot": lambda n: "/.." * (n // 3),
    "encoded-dots": lambda n: "/%2e%2e" * (n // 7),
    "backslashes": lambda n: "\\" * n,
    "dot-segments-mixed": lambda n: "/a/./b/../" * (n // 10),
    "absolute": lambda n: APP_ORIGIN + "/" + "a/" * (n // 2),
}


@pytest.mark.parametrize("kind", list(RETURN_TO))
async def test_dos04_return_to_checks_are_linear_and_capped(h: Harness, kind: str) -> None:
    """DOS-04 (b): validating ``returnTo`` costs work proportional to its length up to the
    2048-byte cap, and a megabyte value costs no more than one at the cap."""
    base = h.client()._rt.config.app_base_urls[0]  # noqa: SLF001
    small = line_events(safe_return_to, RETURN_TO[kind](500), base)
    large = line_events(safe_return_to, RETURN_TO[kind](2000), base)
    huge = line_events(safe_return_to, RETURN_TO[kind](MB), base)
    assert large <= 4.5 * small + 50, (kind, small, large)
    assert huge <= large, (kind, large, huge)
    result = safe_return_to(RETURN_TO[kind](2000), base)
    assert result is None or (result.startswith("/") and not result.startswith("//"))


def test_dos04_chunk_names_are_read_in_linear_time() -> None:
    """DOS-04 (b): reading chunked cookies costs work linear in the number of cookies, and
    an enormous chunk index is never turned into a number or an allocation."""

    def jar(count: int) -> dict[str, str]:
        cookies = {f"__session__{n}": "x" for n in range(count)}
        cookies["__session__" + "9" * 100_000] = "x"
        return cookies

    small = line_events(read_chunked, SESSION_NAME, jar(200))
    large = line_events(read_chunked, SESSION_NAME, jar(800))
    assert large <= 4.5 * small + 50, (small, large)
    assert read_chunked(SESSION_NAME, jar(3)) is None


# ======================================================================================
# DOS-04  (c) cold start: single flight for discovery and JWKS, failures not kept
# ======================================================================================


async def test_dos04_cold_start_fetches_discovery_once(h: Harness, op: ScriptedOP) -> None:
    """DOS-04 (c): 300 concurrent first logins make one discovery request."""
    op.scenario.delay[DISCOVERY] = 0.1  # keep it in flight while the others arrive
    browser = h.browser(h.client())
    responses = await asyncio.gather(*(browser.client.get("/auth/login") for _ in range(300)))
    assert {r.status_code for r in responses} == {307}
    assert op.count(DISCOVERY) == 1


async def test_dos04_failed_cold_start_is_shared_then_forgotten(h: Harness, op: ScriptedOP) -> None:
    """DOS-04 (c): a discovery failure during a burst is one request shared by all, and it
    is not cached: the next burst fetches again and succeeds."""
    op.scenario.delay[DISCOVERY] = 0.1
    op.scenario.status[DISCOVERY] = 503
    browser = h.browser(h.client())
    failed = await asyncio.gather(*(browser.client.get("/auth/login") for _ in range(100)))
    assert {r.status_code for r in failed} == {500}
    assert op.count(DISCOVERY) == 1
    op.scenario.status.clear()
    recovered = await asyncio.gather(*(browser.client.get("/auth/login") for _ in range(100)))
    assert {r.status_code for r in recovered} == {307}
    assert op.count(DISCOVERY) == 2


async def test_dos04_cold_start_fetches_jwks_once(h: Harness, op: ScriptedOP) -> None:
    """DOS-04 (c): 100 concurrent back-channel logouts on a cold instance make one
    discovery and one JWKS request."""
    op.scenario.delay[JWKS] = 0.1
    store = MemorySessionStore()
    caller = h.browser(h.client(session_store=store))
    tokens = [mint(op, lt_claims(op, sid=f"sid-{uuid.uuid4().hex}")) for _ in range(100)]
    responses = await asyncio.gather(*(post_token(caller, token) for token in tokens))
    assert {r.status_code for r in responses} == {204}
    assert op.count(DISCOVERY) == 1 and op.count(JWKS) == 1


# ======================================================================================
# DOS-04  (d) session bloat: chunking up to the cap, an explicit error beyond it
# ======================================================================================


def _bloat(op: ScriptedOP, claims_bytes: int, access_token_bytes: int) -> None:
    if claims_bytes:
        op.scenario.id_token_claims = lambda claims: {**claims, "blob": "b" * claims_bytes}
    if access_token_bytes:
        op.scenario.token_body = lambda body: {**body, "access_token": "a" * access_token_bytes}


async def test_dos04_large_session_is_chunked_and_readable(h: Harness, op: ScriptedOP) -> None:
    """DOS-04 (d) control: a 20 KB ID token and a 10 KB access token make a session of
    several chunks that every later request reads back."""
    _bloat(op, 20_000, 10_000)
    browser = h.browser(h.client())
    response = await full_login(browser, op)
    assert response.status_code == 307
    chunk_names = browser.session_cookie_names()
    assert len(chunk_names) >= 8 and SESSION_NAME not in chunk_names
    assert (await browser.get("/auth/profile")).status_code == 200


@pytest.mark.parametrize(
    ("claims_bytes", "access_token_bytes"),
    [(40_000, 20_000), (44_000, 0), (0, 60_000)],
    ids=["50KB-claims-20KB-token", "id-token-alone", "access-token-alone"],
)
async def test_dos04_session_over_the_cap_is_an_explicit_error(
    h: Harness, op: ScriptedOP, claims_bytes: int, access_token_bytes: int
) -> None:
    """DOS-04 (d): a session too large to ever be read back is not written: the callback
    fails with a fixed 500 message instead of a 307 into a login loop, no session cookie
    (or chunk) is set, and the transaction is cleared."""
    _bloat(op, claims_bytes, access_token_bytes)
    browser = h.browser(h.client())
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, TOO_LARGE_SESSION, state=state_of(authorize_url), status=500)
    assert session_set_cookies(response) == []
    assert len(response.headers.get_list("set-cookie")) == 1  # the transaction's deletion
    assert browser.cookies == {}
    await assert_no_session(browser)


async def test_dos04_many_large_audience_tokens_fail_explicitly(h: Harness, op: ScriptedOP) -> None:
    """DOS-04 (d): MRRT tokens for more and more audiences grow the session; the request
    whose token would not fit is an explicit error that leaves the stored session as it
    was, and every earlier answer left a cookie that is read back."""
    client = h.client()
    browser = h.browser(client)
    assert (await full_login(browser, op)).status_code == 307
    op.scenario.token_body = lambda body: {**body, "access_token": "a" * 9000}
    answers: list[int] = []
    for n in range(10):
        before = dict(browser.cookies)
        response = await browser.get("/auth/access-token", params={"audience": f"https://api-{n}"})
        answers.append(response.status_code)
        if response.status_code != 200:
            assert response.status_code == 500
            assert response.text == TOO_LARGE_SESSION
            assert "no-store" in response.headers["cache-control"]
            assert_no_set_cookie(response)
            assert browser.cookies == before
            break
        assert txn_set_cookies(response) == []
        assert (await browser.get("/auth/profile")).status_code == 200
    assert answers[0] == 200 and answers[-1] == 500, answers
    assert (await browser.get("/auth/profile")).status_code == 200
