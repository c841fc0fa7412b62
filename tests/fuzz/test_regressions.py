"""The failures the fuzz properties found, pinned as plain examples.

Each was an unhandled exception or an accepted modification before its fix:

* a JSON number no double can hold (``1e400``, a 400-digit integer) in a logout token, an ID
  token or a cookie payload: ``math.isfinite`` raised ``OverflowError`` on the integer, so an
  unauthenticated POST to the back-channel logout route crashed; ``1e400`` became ``inf``,
  which an ID token could carry into the session, whose next write then failed;
* a base64url segment whose unused low bits were set decoded like the canonical one, so one
  session cookie had several accepted spellings (a modified cookie opened);
* a stray ``__session__01`` cookie made every chunked session unreadable, and no write ever
  removed it;
* a transaction cookie stamped ``²:`` (``str.isdigit`` accepts it, ``int`` does not) made
  ``/auth/login`` fail once the browser's transaction cookies needed evicting;
* a ``Retry-After: ²`` header on a CIBA poll did the same to backchannel authentication;
* an absolute ``returnTo`` on an IPv6 base URL was refused (the origin lost its brackets);
* a ``connect_uri`` whose host a browser cannot parse (``ex<ample.com``) or decodes
  (``%65vil.example``) was accepted as the redirect to the provider's connect page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from auth0_web import Auth0Client
from auth0_web._ciba import (
    BackchannelAuthenticationError,
    _retry_after,
    get_token_by_backchannel_auth,
)
from auth0_web._config import parse_app_base_url
from auth0_web._connect import _Malformed, _parse_started
from auth0_web._http import CookieOptions, Response
from auth0_web._urls import safe_return_to
from auth0_web.oidc._discovery import JwksCache
from auth0_web.oidc._id_token import IdTokenError, IdTokenValidation, validate_id_token
from auth0_web.session._chunks import read_chunked, write_chunked
from auth0_web.session._codec import CookieCodec, loads_strict
from auth0_web.session._store import MemorySessionStore
from tests.support.scripted_op import b64url, jws_compact, signer

from .harness import (
    CLIENT_ID,
    CLIENT_SECRET,
    DOMAIN,
    ISSUER,
    SECRET,
    Aio,
    MockProvider,
    asgi_request,
    http_response,
    json_answer,
    runtime,
)
from .test_session_cookies import browser_apply

NOW = int(time.time())
HUGE = "9" * 400
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})


@pytest.fixture
def provider() -> MockProvider:
    return MockProvider(jwks={"keys": [KEY.as_dict(private=False)]})


@pytest.fixture
def app(aio: Aio, provider: MockProvider) -> Iterator[Any]:
    client = Auth0Client(
        domain=DOMAIN,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret=SECRET,
        app_base_url="https://app.fuzz.example",
        session_store=MemorySessionStore(),
    )
    client._rt.http = provider.http_client()
    client._rt.discovery.http = client._rt.http
    client._rt.jwks.http = client._rt.http

    async def page(scope: Any, receive: Any, send: Any) -> None:
        await Response.text("page")(scope, receive, send)

    yield client.middleware(page)
    aio.run(client.aclose())


@pytest.mark.parametrize("number", [HUGE, "-" + HUGE, "1e400", "-1e400"])
def test_a_number_no_double_holds_is_not_json(number: str) -> None:
    document = '{"exp": ' + number + "}"
    with pytest.raises(ValueError):
        loads_strict(document)
    assert CookieCodec([SECRET]).claims(document.encode(), now=NOW) is None


@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_an_unsigned_logout_token_with_a_huge_number_is_a_400(
    aio: Aio, app: Any, claim: str
) -> None:
    claims = f'{{"iss":"{ISSUER}","aud":"{CLIENT_ID}","iat":{NOW},"exp":{NOW + 60}}}'
    claims = claims.replace(f'"{claim}":{NOW if claim == "iat" else NOW + 60}', f'"{claim}":{HUGE}')
    header = b64url('{"alg":"RS256"}')
    token = f"{header}.{b64url(claims)}.{b64url(b'sig')}"
    response = aio.run(
        asgi_request(
            app,
            "POST",
            "/auth/backchannel-logout",
            headers=[(b"content-type", b"application/x-www-form-urlencoded")],
            body=f"logout_token={token}".encode(),
            host=b"app.fuzz.example",
        )
    )
    assert response.status_code == 400, response.text
    assert response.text.startswith("Invalid logout token:")


@pytest.mark.parametrize("value", ["1e400", HUGE])
def test_an_id_token_carrying_a_number_no_double_holds_is_refused(
    aio: Aio, provider: MockProvider, value: str
) -> None:
    payload = (
        f'{{"iss":"{ISSUER}","aud":"{CLIENT_ID}","sub":"u","iat":{NOW},"exp":{NOW + 60},'
        f'"name":{value}}}'
    )
    token = jws_compact({"alg": "RS256", "kid": "k1"}, payload, signer("RS256", KEY))
    params = IdTokenValidation(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        algorithm="RS256",
        jwks_uri=ISSUER + ".well-known/jwks.json",
        now=NOW,
        leeway=30,
    )
    with pytest.raises(IdTokenError):
        aio.run(validate_id_token(token, params, JwksCache(provider.http_client(), ttl=60)))


def test_a_jwe_with_unused_bits_set_does_not_open() -> None:
    codec = CookieCodec([SECRET])
    value = codec.encrypt({"sub": "u"}, exp=NOW + 60)
    header, key, iv, ciphertext, tag = value.split(".")
    assert len(tag) == 22 and tag[-1] in "AQgw"  # 128 bits: 4 unused bits in the last char
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = alphabet[alphabet.index(tag[-1]) + 1]  # differs only in the unused bits
    assert codec.open(value) is not None
    assert codec.open(".".join((header, key, iv, ciphertext, tag[:-1] + same_bytes))) is None


def test_a_stray_chunk_name_is_deleted_by_the_next_write() -> None:
    held = {"__session__01": "x"}
    value = "Q" * 5000
    response = Response()
    write_chunked(response, "__session", value, CookieOptions(), 60, held)
    assert read_chunked("__session", browser_apply(held, response)) == value


def test_login_survives_a_transaction_cookie_stamped_with_a_superscript(aio: Aio, app: Any) -> None:
    cookies = "; ".join(f"__txn_{i}=²:{'x' * 900}" for i in range(4))
    response = aio.run(
        asgi_request(
            app, "GET", "/auth/login", headers=[(b"cookie", cookies.encode("latin-1"))],
            host=b"app.fuzz.example",
        )
    )  # fmt: skip
    assert response.status_code == 307, response.text
    deleted = [
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "Max-Age=0" in v
    ]
    assert deleted, "the old transactions were not evicted"


@pytest.mark.parametrize("value", ["²", "³", "¹"])
def test_a_superscript_retry_after_is_ignored(aio: Aio, provider: MockProvider, value: str) -> None:
    assert (
        _retry_after(http_response((503, [(b"retry-after", value.encode("latin-1"))], b""))) is None
    )
    rt = runtime(provider)
    provider.script("/bc-authorize", json_answer({"auth_req_id": "r", "expires_in": 3}))
    provider.script("/oauth/token", (503, [(b"retry-after", value.encode("latin-1"))], b"busy"))

    async def no_wait(_: float) -> None:
        return None

    with pytest.raises(BackchannelAuthenticationError):
        aio.run(
            get_token_by_backchannel_auth(
                rt, binding_message="Approve", login_hint={"sub": "u"}, sleep=no_wait
            )
        )


def test_an_absolute_return_to_on_an_ipv6_base_is_kept() -> None:
    base = parse_app_base_url("http://[::1]:8080")
    assert safe_return_to("http://[::1]:8080/dashboard?x=1", base) == "/dashboard?x=1"
    assert safe_return_to("http://[::2]:8080/dashboard", base) is None


@pytest.mark.parametrize(
    "connect_uri", ["https://ex<ample.com/c", "https://%65vil.example/c", "https://a^b.example/"]
)
def test_a_connect_uri_host_a_browser_reads_differently_is_refused(
    provider: MockProvider, connect_uri: str
) -> None:
    body = {
        "connect_uri": connect_uri,
        "auth_session": "as",
        "connect_params": {"ticket": "t"},
        "expires_in": 60,
    }
    with pytest.raises(_Malformed):
        _parse_started(runtime(provider), http_response(json_answer(body, 201)))


def test_an_ordinary_connect_uri_is_still_accepted(provider: MockProvider) -> None:
    body = {
        "connect_uri": "https://accounts.example.com/connect?x=1",
        "auth_session": "as",
        "connect_params": {"ticket": "t"},
        "expires_in": 60,
    }
    location, _ = _parse_started(runtime(provider), http_response(json_answer(body, 201)))
    assert location == "https://accounts.example.com/connect?x=1&ticket=t"
