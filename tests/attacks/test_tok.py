"""Group E (TOK): token endpoint and other OP responses."""

from __future__ import annotations

import asyncio
import datetime
import functools
import gzip
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from auth0_web import Auth0Client, InvalidConfigurationError
from tests.support.apps import APP_BASE, SECRET, Browser, make_app
from tests.support.scripted_op import RecordedRequest, ScriptedOP

from .conftest import Harness
from .helpers import (
    MSG_EXCHANGE,
    MSG_LOGIN_FAIL,
    assert_cb_reject,
    assert_error_response,
    assert_no_session,
    assert_no_set_cookie,
    full_login,
    login_until_callback,
    state_of,
)

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}
MB = 1024 * 1024


def tokens_of(op: ScriptedOP) -> tuple[str, ...]:
    found: list[str] = [op.client_secret]
    for body in op.token_responses:
        found += [v for k, v in body.items() if k in ("access_token", "id_token", "refresh_token")]
    return tuple(found)


async def expect_token_failure(
    h: Harness, op: ScriptedOP, *, status: int = 400, **client_options: Any
) -> float:
    """Log in; the callback fails with ``status`` and the exchange message. Returns seconds."""
    browser = h.browser(h.client(**client_options))
    authorize_url, callback = await login_until_callback(browser, op)
    started = time.perf_counter()
    response = await browser.get(callback)
    elapsed = time.perf_counter() - started
    assert_cb_reject(
        response, MSG_EXCHANGE, state=state_of(authorize_url), status=status, secrets=tokens_of(op)
    )
    await assert_no_session(browser)
    return elapsed


# --------------------------------------------------------------------------------------
# TOK-01  not JSON, or the wrong shape
# --------------------------------------------------------------------------------------

RawFn = Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]

TOK01_RESPONSES: dict[str, RawFn] = {
    "html-200": lambda b: (200, {"content-type": "text/html"}, b"<html><script>x</script></html>"),
    "null": lambda b: (200, JSON, b"null"),
    "array": lambda b: (200, JSON, b"[]"),
    "string": lambda b: (200, JSON, b'"tokens"'),
    "empty-body": lambda b: (200, JSON, b""),
    "bom": lambda b: (200, JSON, b"\xef\xbb\xbf" + json.dumps(b).encode()),
    "truncated": lambda b: (200, JSON, json.dumps(b).encode()[:-12]),
    "trailing-garbage": lambda b: (200, JSON, json.dumps(b).encode() + b"}"),
    "json-as-text-html": lambda b: (200, {"content-type": "text/html"}, json.dumps(b).encode()),
    "error-with-200": lambda b: (200, JSON, b'{"error":"invalid_grant"}'),
    "error-and-tokens-200": lambda b: (200, JSON, json.dumps({**b, "error": "x"}).encode()),
    "expires_in-NaN": lambda b: (
        200,
        JSON,
        json.dumps({**b, "expires_in": "__X__"}).replace('"__X__"', "NaN").encode(),
    ),
    "invalid-utf8": lambda b: (200, JSON, b'{"access_token":"\xff"}'),
}

TOK01_BODIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "id_token-missing": lambda b: {k: v for k, v in b.items() if k != "id_token"},
    "id_token-object": lambda b: {**b, "id_token": {"alg": "none"}},
    "id_token-number": lambda b: {**b, "id_token": 1},
    "id_token-empty": lambda b: {**b, "id_token": ""},
    "id_token-list": lambda b: {**b, "id_token": [b["id_token"]]},
    "expires_in-string": lambda b: {**b, "expires_in": "3600"},
    "expires_in-negative": lambda b: {**b, "expires_in": -1},
    "expires_in-huge": lambda b: {**b, "expires_in": 10**30},
}


@pytest.mark.parametrize("variant", [*TOK01_RESPONSES, *TOK01_BODIES])
async def test_tok01_malformed_token_response(h: Harness, op: ScriptedOP, variant: str) -> None:
    if variant in TOK01_RESPONSES:
        op.scenario.token_response = TOK01_RESPONSES[variant]
    else:
        op.scenario.token_body = TOK01_BODIES[variant]
    await expect_token_failure(h, op)
    assert op.count("/oauth/token") == 1


# --------------------------------------------------------------------------------------
# TOK-02  access_token and token_type
# --------------------------------------------------------------------------------------

_DROP = object()

TOK02_REJECT: dict[str, tuple[str, Any]] = {
    "access_token-missing": ("access_token", _DROP),
    "access_token-empty": ("access_token", ""),
    "access_token-number": ("access_token", 123),
    "access_token-list": ("access_token", ["a"]),
    "token_type-missing": ("token_type", _DROP),
    "token_type-mac": ("token_type", "mac"),
    "token_type-PoP": ("token_type", "PoP"),
    "token_type-empty": ("token_type", ""),
    "token_type-number": ("token_type", 1),
    "token_type-bearer-padded": ("token_type", "Bearer "),
    "scope-array": ("scope", ["openid", "profile"]),
    "refresh_token-number": ("refresh_token", 123),
}


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def mutate(body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        if value is _DROP:
            body.pop(name, None)
        else:
            body[name] = value
        return body

    return mutate


@pytest.mark.parametrize("variant", list(TOK02_REJECT))
async def test_tok02_bad_access_token_or_type_rejected(
    h: Harness, op: ScriptedOP, variant: str
) -> None:
    op.scenario.token_body = _set(*TOK02_REJECT[variant])
    await expect_token_failure(h, op)


@pytest.mark.parametrize(
    ("token_type", "stored"),
    [("bEARER", "Bearer"), ("BEARER", "Bearer"), ("bearer", "Bearer"), ("dPoP", "DPoP")],
)
async def test_tok02_token_type_case_insensitive(
    h: Harness, op: ScriptedOP, token_type: str, stored: str
) -> None:
    op.scenario.token_body = _set("token_type", token_type)
    browser = h.browser()
    response = await full_login(browser, op)
    assert response.status_code == 307, response.text
    tokens = await browser.get("/tokens")
    assert tokens.json()["token_type"] == stored


# --------------------------------------------------------------------------------------
# TOK-04  hostile error responses
# --------------------------------------------------------------------------------------

TOK04_RESPONSES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "400-html-description": (
        400,
        JSON,
        json.dumps(
            {
                "error": "invalid_grant",
                "error_description": "<script>alert(1)</script>\r\nSet-Cookie: injected=1",
            }
        ).encode(),
    ),
    "400-html-error-code": (
        400,
        JSON,
        b'{"error":"<img src=x onerror=alert(1)>","error_description":"x"}',
    ),
    "401-www-authenticate": (
        401,
        {**JSON, "www-authenticate": 'Basic realm="<script>alert(1)</script>"'},
        b'{"error":"invalid_client"}',
    ),
    "500-html": (500, {"content-type": "text/html"}, b"<html><script>alert(1)</script></html>"),
    "429-retry-after": (
        429,
        {**JSON, "retry-after": "999999"},
        b'{"error":"too_many_requests"}',
    ),
    "503-empty": (503, {}, b""),
}


@pytest.mark.parametrize("variant", list(TOK04_RESPONSES))
async def test_tok04_hostile_error_response(
    h: Harness, op: ScriptedOP, variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    op.scenario.token_response = lambda body: TOK04_RESPONSES[variant]
    with caplog.at_level(logging.DEBUG, logger="auth0_web"):
        elapsed = await expect_token_failure(h, op)
    assert elapsed < 3  # no sleeping for Retry-After
    assert op.count("/oauth/token") == 1  # no retry
    for record in caplog.records:
        message = record.getMessage()
        assert "<" not in message and "\n" not in message and "\r" not in message


# --------------------------------------------------------------------------------------
# TOK-05  redirects from back-channel endpoints
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [302, 307, 308])
async def test_tok05_token_endpoint_redirect_not_followed(
    h: Harness, op: ScriptedOP, status: int
) -> None:
    trap = f"/redirect-target-{uuid.uuid4().hex}"
    if status == 307:
        op.scenario.token_redirect_to = op.url(trap)
    else:
        op.scenario.responses["/oauth/token"] = lambda r: (
            status,
            {"location": op.url(trap)},
            b"",
        )
    await expect_token_failure(h, op)
    assert op.count("/oauth/token") == 1
    assert op.count(trap) == 0  # secret, code and verifier never reach the new target


async def test_tok05_jwks_redirect_not_followed(h: Harness, op: ScriptedOP) -> None:
    trap = f"/jwks-elsewhere-{uuid.uuid4().hex}"
    op.scenario.responses["/.well-known/jwks.json"] = lambda r: (
        307,
        {"location": op.url(trap)},
        b"",
    )
    await expect_token_failure(h, op, status=500)
    assert op.count(trap) == 0


async def test_tok05_discovery_redirect_not_followed(h: Harness, op: ScriptedOP) -> None:
    trap = f"/discovery-elsewhere-{uuid.uuid4().hex}"
    op.scenario.responses["/.well-known/openid-configuration"] = lambda r: (
        302,
        {"location": op.url(trap)},
        b"",
    )
    browser = h.browser()
    response = await browser.get("/auth/login")
    assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
    assert_no_set_cookie(response)
    assert op.count(trap) == 0


# --------------------------------------------------------------------------------------
# TOK-06  oversized or slow responses
# --------------------------------------------------------------------------------------


def _stream(total: int, chunk: int = 256 * 1024, pause: float = 0.0) -> Callable[..., Any]:
    async def body() -> AsyncIterator[bytes]:
        sent = 0
        while sent < total:
            piece = min(chunk, total - sent)
            yield b" " * piece
            sent += piece
            if pause:
                await asyncio.sleep(pause)

    return body


def _big(declared: bool) -> Callable[[RecordedRequest], Response]:
    def respond(record: RecordedRequest) -> Response:
        headers = {"content-type": "application/json"}
        if declared:
            headers["content-length"] = str(50 * MB)
        return StreamingResponse(_stream(50 * MB)(), headers=headers)

    return respond


@functools.cache
def _bomb() -> bytes:
    """~50 KB of gzip that inflates to 48 MB."""
    return gzip.compress(b" " * (48 * MB), compresslevel=6)


def _gzip_bomb(record: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
    return (200, {"content-type": "application/json", "content-encoding": "gzip"}, _bomb())


def _slow_loris(record: RecordedRequest) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for byte in b'{"access_token":"slow","token_type":"Bearer"}':
            yield bytes([byte])
            await asyncio.sleep(0.25)

    return StreamingResponse(body(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "variant", ["50MB-declared", "50MB-chunked", "gzip-bomb", "slow-headers", "slow-loris"]
)
async def test_tok06_oversized_or_slow_token_response(
    h: Harness, op: ScriptedOP, variant: str
) -> None:
    if variant == "50MB-declared":
        op.scenario.responses["/oauth/token"] = _big(declared=True)
    elif variant == "50MB-chunked":
        op.scenario.responses["/oauth/token"] = _big(declared=False)
    elif variant == "gzip-bomb":
        assert len(_bomb()) < 100 * 1024
        op.scenario.responses["/oauth/token"] = _gzip_bomb
    elif variant == "slow-headers":
        op.scenario.delay["/oauth/token"] = 3.0
    else:
        op.scenario.responses["/oauth/token"] = _slow_loris
    elapsed = await expect_token_failure(h, op, status=500, http_timeout=1)
    assert elapsed < 2.5, elapsed


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/jwks.json"])
async def test_tok06_oversized_metadata(h: Harness, op: ScriptedOP, path: str) -> None:
    op.scenario.responses[path] = _big(declared=False)
    if path.endswith("jwks.json"):
        await expect_token_failure(h, op, status=500)
        return
    browser = h.browser()
    response = await browser.get("/auth/login")
    assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
    assert_no_set_cookie(response)


# --------------------------------------------------------------------------------------
# TOK-08  insecure transport and failed discovery
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    ["http://auth.example.com", "{op}", "localhost", "http://localhost", "ftp://auth.example.com"],
)
def test_tok08_http_issuer_needs_explicit_opt_in(op: ScriptedOP, domain: str) -> None:
    with pytest.raises(InvalidConfigurationError):
        Auth0Client(
            domain=domain.format(op=op.base_url),
            client_id=op.client_id,
            client_secret=op.client_secret,
            secret=SECRET,
            app_base_url=APP_BASE,
        )


@pytest.mark.parametrize("failure", ["503", "timeout", "not-json"])
async def test_tok08_discovery_failure_not_cached(h: Harness, op: ScriptedOP, failure: str) -> None:
    path = "/.well-known/openid-configuration"
    if failure == "503":
        op.scenario.status[path] = 503
    elif failure == "timeout":
        op.scenario.delay[path] = 2.0
    else:
        op.scenario.responses[path] = lambda r: (200, {"content-type": "text/html"}, b"<html>")
    browser = h.browser(h.client(http_timeout=0.5))
    for attempt in (1, 2):
        started = time.perf_counter()
        response = await browser.get("/auth/login")
        assert time.perf_counter() - started < 2
        assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
        assert_no_set_cookie(response)
        assert op.count(path) == attempt
    op.scenario.status.clear()
    op.scenario.delay.clear()
    op.scenario.responses.clear()
    final = await full_login(browser, op)
    assert final.status_code == 307


def _self_signed(tmp: Any) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@contextmanager
def _tls_op(tmp: Any, hits: list[str]) -> Iterator[str]:
    """An https "OP" with an untrusted certificate that would happily serve discovery."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"https://localhost:{port}"

    async def discovery(request: Request) -> JSONResponse:
        hits.append(request.url.path)
        return JSONResponse(
            {
                "issuer": base + "/",
                "authorization_endpoint": base + "/authorize",
                "token_endpoint": base + "/oauth/token",
                "jwks_uri": base + "/jwks",
            }
        )

    app = Starlette(routes=[Route("/.well-known/openid-configuration", discovery)])
    cert, key = _self_signed(tmp)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
        ssl_certfile=cert,
        ssl_keyfile=key,
        ssl_version=ssl.PROTOCOL_TLS_SERVER,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=5)


async def test_tok08_tls_errors_not_ignored(tmp_path: Any) -> None:
    hits: list[str] = []
    with _tls_op(tmp_path, hits) as base:
        client = Auth0Client(
            domain=base,
            client_id="tls-client",
            client_secret="tls-secret-0123456789",
            secret=SECRET,
            app_base_url=APP_BASE,
            allow_insecure_requests=True,  # allows http, must not disable TLS verification
        )
        browser = Browser(make_app(client))
        try:
            response = await browser.get("/auth/login")
        finally:
            await browser.client.aclose()
            await client.aclose()
    assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
    assert_no_set_cookie(response)
    assert hits == []  # no HTTP request got through the failed handshake
