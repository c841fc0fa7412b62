"""Groups H (DPP-01, -02, -04 … -07) and I (EXT-01 … EXT-03): DPoP, PAR and client authentication.

The scripted OP plays the authorization server and, on its own origin, a protected API
(``/api/data``, scripted per test through ``scenario.responses``). It records every request,
so the proofs and client assertions the SDK sent are checked here, byte for byte: proofs are
verified with their embedded key and client assertions with the client's public key.

The scripted OP knows nothing of DPoP or ``private_key_jwt``: nonce challenges are scripted
responses, ``token_type`` comes from ``scenario.token_body``, and clients that sign
assertions run with ``enforce_client_auth=False`` (the checks are these tests' own).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Request as FastAPIRequest
from fastapi.responses import JSONResponse
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from auth0_web import (
    AccessTokenError,
    Auth0Client,
    InvalidConfigurationError,
    generate_dpop_key_pair,
)
from tests.support.apps import SECRET, make_app
from tests.support.scripted_op import RawResponse, RecordedRequest, ScriptedOP

from .conftest import Harness
from .helpers import (
    APP_ORIGIN,
    MSG_EXCHANGE,
    MSG_LOGIN_FAIL,
    assert_cb_reject,
    assert_error_response,
    assert_no_session,
    assert_no_set_cookie,
    full_login,
    login_until_callback,
    query_lists,
    query_params,
    start_login,
    state_of,
)

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json", "cache-control": "no-store"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
URN = "urn:ietf:params:oauth:request_uri:abc123"
TOKEN = "/oauth/token"
API_PATH = "/api/data"


# --------------------------------------------------------------------------------------
# Keys and JOSE checks (independent of the SDK's own code)
# --------------------------------------------------------------------------------------


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ASSERTION_KEYS = {
    "RS256": (_pem(RSA_KEY), RSAKey.import_key(RSA_KEY.public_key())),
    "ES256": (_pem(EC_KEY), ECKey.import_key(EC_KEY.public_key())),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an EC public JWK."""
    canonical = json.dumps({m: jwk[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def pem_thumbprint(private_pem: str) -> str:
    return thumbprint(ECKey.import_key(private_pem).as_dict(private=False))


def check_proof(
    proof: str, *, htm: str, htu: str, access_token: str | None = None
) -> dict[str, Any]:
    """DPP-01: a proof's header, signature and claims; returns the claims plus ``jkt``."""
    header, claims = parts(proof)
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"  # asymmetric; never none or HS*
    assert set(header) == {"typ", "alg", "jwk"}, header
    jwk = header["jwk"]
    assert set(jwk) <= {"kty", "crv", "x", "y"}, jwk  # no d, p, q
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    jws.deserialize_compact(proof, ECKey.import_key(jwk), algorithms=["ES256"])
    assert claims["htm"] == htm
    assert claims["htu"] == htu
    assert isinstance(claims["iat"], int) and abs(claims["iat"] - time.time()) <= 5
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    if access_token is None:
        assert "ath" not in claims
    else:
        assert claims["ath"] == b64url(hashlib.sha256(access_token.encode()).digest())
    return {**claims, "jkt": thumbprint(jwk)}


def check_assertion(
    record: RecordedRequest, *, client_id: str, issuer: str, alg: str, public: Any
) -> dict[str, Any]:
    """EXT-03: the client assertion of one request; returns its claims."""
    form = record.form
    assert "client_secret" not in form
    assert "authorization" not in record.headers
    assert [k for k, _ in record.form_items].count("client_assertion") == 1
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assert form["client_id"] == client_id
    header, claims = parts(form["client_assertion"])
    assert header["alg"] == alg
    assert not {"jwk", "jku", "x5c", "x5u", "d", "p", "q", "k"} & set(header), header
    jws.deserialize_compact(form["client_assertion"], public, algorithms=[alg])
    assert claims["iss"] == claims["sub"] == client_id
    assert claims["aud"] == issuer and isinstance(claims["aud"], str)
    assert 0 < claims["exp"] - claims["iat"] <= 60
    assert abs(claims["iat"] - time.time()) <= 5
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    return claims


# --------------------------------------------------------------------------------------
# The app and scripted answers
# --------------------------------------------------------------------------------------


def dpp_app(auth0: Auth0Client) -> Any:
    """``make_app`` plus ``/refresh`` and ``/call?url=&method=`` (the fetcher)."""
    middleware = make_app(auth0)
    inner = middleware.app

    @inner.get("/refresh")
    async def refresh() -> JSONResponse:
        try:
            token = await auth0.get_access_token(refresh=True)
        except AccessTokenError as exc:
            return JSONResponse({"error": exc.code}, status_code=401)
        return JSONResponse({"token": token.token, "token_type": token.token_type})

    @inner.get("/call")
    async def call(request: FastAPIRequest) -> JSONResponse:
        method = request.query_params.get("method", "GET")
        async with await auth0.create_fetcher() as fetcher:
            started = time.perf_counter()
            response = await fetcher.fetch_with_auth(request.query_params["url"], method)
            elapsed = time.perf_counter() - started
        return JSONResponse(
            {"status": response.status_code, "body": response.text, "elapsed": elapsed}
        )

    return middleware


def dpop_client(h: Harness, **options: Any) -> tuple[Auth0Client, str]:
    """A client with DPoP on; returns it and its key's thumbprint."""
    pair = generate_dpop_key_pair()
    options.setdefault("dpop_options", {"retry": {"delay": 0, "jitter": False}})
    return h.client(use_dpop=True, dpop_key_pair=pair, **options), pem_thumbprint(pair.private_key)


def assertion_client(h: Harness, op: ScriptedOP, alg: str = "RS256", **options: Any) -> Any:
    op.scenario.enforce_client_auth = False  # the assertions are checked by the tests
    pem, _ = ASSERTION_KEYS[alg]
    return h.client(
        client_secret=None,
        client_assertion_signing_key=pem,
        client_assertion_signing_alg=alg,
        **options,
    )


def token_type(op: ScriptedOP, value: str) -> None:
    op.scenario.token_body = lambda body: {**body, "token_type": value}


def nonce_challenges(nonces: Iterator[str]) -> Callable[[RecordedRequest], RawResponse | None]:
    """A token endpoint that answers ``use_dpop_nonce`` with the next nonce, then normally."""

    def respond(record: RecordedRequest) -> RawResponse | None:
        nonce = next(nonces, None)
        if nonce is None:
            return None
        body = {"error": "use_dpop_nonce", "error_description": "nonce required"}
        return 400, {**JSON, "DPoP-Nonce": nonce}, json.dumps(body).encode()

    return respond


def with_nonce_header(nonces: Iterator[str]) -> Callable[[dict[str, Any]], RawResponse]:
    """Successful token responses that each carry the next ``DPoP-Nonce``."""

    def respond(body: dict[str, Any]) -> RawResponse:
        return 200, {**JSON, "DPoP-Nonce": next(nonces)}, json.dumps(body).encode()

    return respond


def api_answers(op: ScriptedOP, *answers: RawResponse) -> None:
    """``/api/data`` answers these in turn, then the last one for ever."""
    queue = list(answers)

    def respond(record: RecordedRequest) -> RawResponse:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    op.scenario.responses[API_PATH] = respond


API_OK: RawResponse = (200, {"content-type": "application/json"}, b'{"ok":true}')


def api_401(challenge: str, nonce: str | None = None) -> RawResponse:
    headers = {"content-type": "application/json", "www-authenticate": challenge}
    if nonce is not None:
        headers["dpop-nonce"] = nonce
    return 401, headers, b'{"error":"unauthorized"}'


async def call_api(browser: Any, url: str, method: str = "GET") -> dict[str, Any]:
    response = await browser.get("/call", params={"url": url, "method": method})
    assert response.status_code == 200, response.text
    return dict(response.json())


def access_token_of(op: ScriptedOP, index: int = -1) -> str:
    return str(op.token_responses[index]["access_token"])


async def logged_in(h: Harness, op: ScriptedOP, client: Auth0Client) -> Any:
    browser = h.browser(dpp_app(client))
    response = await full_login(browser, op)
    assert response.status_code == 307, response.text
    return browser


# ======================================================================================
# EXT-01  PAR response checks
# ======================================================================================

VALID_PAR = {"request_uri": URN, "expires_in": 60}

PAR_FAILURES: list[tuple[str, int, bytes]] = [
    ("status 200", 200, json.dumps(VALID_PAR).encode()),
    ("status 202", 202, json.dumps(VALID_PAR).encode()),
    ("status 302", 302, json.dumps(VALID_PAR).encode()),
    ("status 500", 500, json.dumps(VALID_PAR).encode()),
    ("request_uri missing", 201, b'{"expires_in": 60}'),
    ("request_uri empty", 201, b'{"request_uri": "", "expires_in": 60}'),
    ("request_uri null", 201, b'{"request_uri": null, "expires_in": 60}'),
    ("request_uri number", 201, b'{"request_uri": 123, "expires_in": 60}'),
    ("request_uri list", 201, b'{"request_uri": ["urn:x"], "expires_in": 60}'),
    ("request_uri object", 201, b'{"request_uri": {"u": "urn:x"}, "expires_in": 60}'),
    ("request_uri true", 201, b'{"request_uri": true, "expires_in": 60}'),
    (
        "request_uri 5000 chars",
        201,
        json.dumps({**VALID_PAR, "request_uri": "urn:" + "a" * 4996}).encode(),
    ),
    ("expires_in missing", 201, b'{"request_uri": "urn:x"}'),
    ("expires_in zero", 201, b'{"request_uri": "urn:x", "expires_in": 0}'),
    ("expires_in negative", 201, b'{"request_uri": "urn:x", "expires_in": -60}'),
    ("expires_in string", 201, b'{"request_uri": "urn:x", "expires_in": "60"}'),
    ("expires_in true", 201, b'{"request_uri": "urn:x", "expires_in": true}'),
    ("expires_in null", 201, b'{"request_uri": "urn:x", "expires_in": null}'),
    ("expires_in NaN", 201, b'{"request_uri": "urn:x", "expires_in": NaN}'),
    ("expires_in Infinity", 201, b'{"request_uri": "urn:x", "expires_in": Infinity}'),
    ("error JSON 400", 400, b'{"error": "invalid_request", "error_description": "<b>no</b>"}'),
    ("error JSON 401", 401, b'{"error": "invalid_client"}'),
    ("error JSON 201", 201, b'{"error": "invalid_request"}'),
    ("not JSON", 201, b"<html>request_uri=urn:x</html>"),
    ("JSON array", 201, b'[{"request_uri": "urn:x", "expires_in": 60}]'),
    ("JSON string", 201, b'"urn:x"'),
    ("empty body", 201, b""),
]


@pytest.mark.parametrize(
    ("status", "body"),
    [(status, body) for _, status, body in PAR_FAILURES],
    ids=[name for name, _, _ in PAR_FAILURES],
)
async def test_ext01_invalid_par_answer_fails_the_login(
    h: Harness, op: ScriptedOP, status: int, body: bytes
) -> None:
    headers = {"content-type": "application/json"}
    if status == 302:
        headers["location"] = op.url("/par-redirect-trap")
    op.scenario.responses["/oauth/par"] = lambda record: (status, headers, body)
    browser = h.browser(h.client(pushed_authorization_requests=True))
    response = await browser.get("/auth/login?returnTo=/x")
    assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
    assert_no_set_cookie(response)
    assert browser.txn_cookie_names() == []
    assert op.count("/oauth/par") == 1
    assert op.count("/authorize") == 0 and op.count("/par-redirect-trap") == 0


async def test_ext01_front_channel_carries_only_client_id_and_request_uri(
    h: Harness, op: ScriptedOP
) -> None:
    browser = h.browser(h.client(pushed_authorization_requests=True))
    authorize_url = await start_login(browser, "returnTo=/after&audience=https://api.example")
    assert authorize_url.startswith(op.url("/authorize") + "?")
    lists = query_lists(authorize_url)
    assert list(lists) == ["client_id", "request_uri"]
    assert lists["client_id"] == [op.client_id] and len(lists["request_uri"]) == 1
    pushed = op.last("/oauth/par")
    assert pushed.method == "POST"
    form = pushed.form
    for name in ("state", "nonce", "code_challenge", "scope"):
        assert form[name], name
    assert form["code_challenge_method"] == "S256" and form["response_type"] == "code"
    assert form["redirect_uri"] == APP_ORIGIN + "/auth/callback"
    assert form["audience"] == "https://api.example"
    assert form["client_id"] == op.client_id and form["client_secret"] == op.client_secret
    callback = await op.alogin(authorize_url)
    done = await browser.get(callback)
    assert done.status_code == 307 and done.headers["location"] == APP_ORIGIN + "/after"
    assert (await browser.get("/auth/profile")).status_code == 200


@pytest.mark.parametrize(
    "request_uri",
    [
        "urn:x&redirect_uri=https://evil.example",
        "javascript:alert(1)",
        "urn:x#frag?client_id=evil",
        "urn:x\r\nLocation: https://evil.example",
        "urn:x%26redirect_uri%3Dhttps://evil.example",
        "urn:ü+ /?=&",
    ],
)
async def test_ext01_weird_request_uri_is_url_encoded_or_refused(
    h: Harness, op: ScriptedOP, request_uri: str
) -> None:
    """Whatever the PAR endpoint returns, it reaches the browser as one encoded value of the
    ``request_uri`` parameter on the authorization endpoint (or the login fails)."""
    body = json.dumps({"request_uri": request_uri, "expires_in": 60}).encode()
    op.scenario.responses["/oauth/par"] = lambda record: (201, JSON, body)
    browser = h.browser(h.client(pushed_authorization_requests=True))
    response = await browser.get("/auth/login")
    if response.status_code == 500:
        assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
        assert_no_set_cookie(response)
        return
    assert response.status_code == 307, response.text
    location = response.headers["location"]
    assert location.isascii() and not any(c in location for c in "\r\n ")
    assert location.startswith(op.url("/authorize") + "?")
    parsed = urlsplit(location)
    assert parsed.fragment == ""
    items = parse_qsl(parsed.query, keep_blank_values=True)
    assert items == [("client_id", op.client_id), ("request_uri", request_uri)]


# ======================================================================================
# EXT-02  PAR configured but not advertised
# ======================================================================================

MISSING: Any = object()


@pytest.mark.parametrize(
    "advertised",
    [MISSING, None, "", 42, ["https://x"], "ftp://localhost/par", "/oauth/par"],
    ids=["missing", "null", "empty", "number", "list", "ftp", "relative"],
)
async def test_ext02_par_not_advertised_fails_the_login(
    h: Harness, op: ScriptedOP, advertised: Any
) -> None:
    def document(doc: dict[str, Any]) -> dict[str, Any]:
        doc = dict(doc)
        if advertised is MISSING:
            del doc["pushed_authorization_request_endpoint"]
        else:
            doc["pushed_authorization_request_endpoint"] = advertised
        return doc

    op.scenario.discovery = document
    browser = h.browser(h.client(pushed_authorization_requests=True))
    response = await browser.get("/auth/login")
    assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
    assert_no_set_cookie(response)
    assert op.count("/oauth/par") == 0 and op.count("/authorize") == 0
    assert "location" not in response.headers


# ======================================================================================
# EXT-03  client authentication
# ======================================================================================


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_ext03_private_key_jwt_at_par_token_refresh_and_revocation(
    h: Harness, op: ScriptedOP, alg: str
) -> None:
    def secret_only(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            **doc,
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    op.scenario.discovery = secret_only
    client = assertion_client(h, op, alg, pushed_authorization_requests=True)
    browser = h.browser(dpp_app(client))
    hostile = "client_secret=guess&client_assertion=forged&client_id=other&client_assertion_type=x"
    response = await full_login(browser, op, hostile)
    assert response.status_code == 307, response.text
    assert (await browser.get("/refresh")).status_code == 200
    assert (await browser.get("/auth/logout")).status_code == 307

    records = [op.last("/oauth/par"), *op.calls(TOKEN), op.last("/oauth/revoke")]
    assert [r.path for r in records] == ["/oauth/par", TOKEN, TOKEN, "/oauth/revoke"]
    assert [r.form.get("grant_type") for r in records[1:3]] == [
        "authorization_code",
        "refresh_token",
    ]
    _, public = ASSERTION_KEYS[alg]
    jtis = [
        check_assertion(r, client_id=op.client_id, issuer=op.issuer, alg=alg, public=public)["jti"]
        for r in records
    ]
    assert len(set(jtis)) == 4
    assert all("client_secret" not in r.form and "authorization" not in r.headers for r in records)
    assert [k for k, _ in records[0].form_items].count("client_id") == 1


async def test_ext03_fresh_assertion_on_the_dpop_nonce_retry(h: Harness, op: ScriptedOP) -> None:
    op.scenario.responses[TOKEN] = nonce_challenges(iter(["n1"]))
    token_type(op, "DPoP")
    pair = generate_dpop_key_pair()
    client = assertion_client(
        h, op, use_dpop=True, dpop_key_pair=pair, dpop_options={"retry": {"delay": 0}}
    )
    await logged_in(h, op, client)
    first, second = op.calls(TOKEN)
    _, public = ASSERTION_KEYS["RS256"]
    claims = [
        check_assertion(r, client_id=op.client_id, issuer=op.issuer, alg="RS256", public=public)
        for r in (first, second)
    ]
    assert claims[0]["jti"] != claims[1]["jti"]


@pytest.mark.parametrize(
    ("method", "advertised"),
    [("client_secret_post", "client_secret_basic"), ("client_secret_basic", "client_secret_post")],
)
async def test_ext03_metadata_cannot_change_the_secret_method(
    h: Harness, op: ScriptedOP, method: str, advertised: str
) -> None:
    op.scenario.discovery = lambda doc: {
        **doc,
        "token_endpoint_auth_methods_supported": [advertised],
        "revocation_endpoint_auth_methods_supported": [advertised],
    }
    browser = h.browser(dpp_app(h.client(token_endpoint_auth_method=method)))
    assert (await full_login(browser, op)).status_code == 307
    assert (await browser.get("/refresh")).status_code == 200
    assert (await browser.get("/auth/logout")).status_code == 307
    records = [*op.calls(TOKEN), *op.calls("/oauth/revoke")]
    assert len(records) == 3
    for record in records:
        if method == "client_secret_post":
            assert record.form["client_secret"] == op.client_secret
            assert "authorization" not in record.headers
        else:
            assert record.basic_auth() == (op.client_id, op.client_secret)
            assert "client_secret" not in record.form


async def test_ext03_client_secret_basic_form_encodes_before_base64(
    h: Harness, op: ScriptedOP
) -> None:
    client_id = "my:client%id é+/"
    client_secret = "p:ss%wörd +/=&€"
    op.scenario.enforce_client_auth = False
    op.scenario.validate_authorize = False
    client = h.client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method="client_secret_basic",
    )
    browser = h.browser(dpp_app(client))
    assert (await full_login(browser, op)).status_code == 307
    assert (await browser.get("/refresh")).status_code == 200
    assert (await browser.get("/auth/logout")).status_code == 307
    records = [*op.calls(TOKEN), *op.calls("/oauth/revoke")]
    assert len(records) == 3
    for record in records:
        scheme, _, credentials = record.headers["authorization"].partition(" ")
        assert scheme == "Basic"
        raw = base64.b64decode(credentials, validate=True)
        assert raw.isascii()
        text = raw.decode("ascii")
        assert text.count(":") == 1  # the separator only: both parts were encoded
        encoded_id, encoded_secret = text.split(":")
        for encoded in (encoded_id, encoded_secret):
            assert all(c.isalnum() or c in "-._~%+" for c in encoded), encoded
        assert unquote_plus(encoded_id) == client_id
        assert unquote_plus(encoded_secret) == client_secret
        assert "client_secret" not in record.form


RSA_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.mark.filterwarnings("ignore:Key size should be")
@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ASSERTION_KEYS["RS256"][0], "HS256"),
        (ASSERTION_KEYS["RS256"][0], "none"),
        (_pem(RSA_1024), "RS256"),
        (ASSERTION_KEYS["RS256"][0], "ES256"),
        (ASSERTION_KEYS["ES256"][0], "RS256"),
        (_public_pem(RSA_KEY), "RS256"),
        ("-----BEGIN PRIVATE KEY-----\nbm90\n-----END PRIVATE KEY-----\n", "RS256"),
    ],
    ids=["hs256", "none", "rsa-1024", "rsa-key-es256", "ec-key-rs256", "public-key", "malformed"],
)
def test_ext03_unusable_assertion_key_is_a_configuration_error(
    op: ScriptedOP, key: str, alg: str
) -> None:
    with pytest.raises(InvalidConfigurationError):
        Auth0Client(
            domain=op.base_url,
            client_id=op.client_id,
            secret=SECRET,
            app_base_url=APP_ORIGIN,
            allow_insecure_requests=True,
            client_assertion_signing_key=key,
            client_assertion_signing_alg=alg,
        )


# ======================================================================================
# DPP-01  proof structure
# ======================================================================================


async def test_dpp01_proofs_at_token_refresh_and_resource(h: Harness, op: ScriptedOP) -> None:
    token_type(op, "DPoP")
    api_answers(op, API_OK)
    client, jkt = dpop_client(h)
    browser = await logged_in(h, op, client)
    authorize = op.last("/authorize")
    assert authorize.query["dpop_jkt"] == jkt

    refreshed = await browser.get("/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"
    result = await call_api(browser, op.url(API_PATH) + "?page=2#section", "POST")
    assert result["status"] == 200

    exchange, refresh = op.calls(TOKEN)
    assert exchange.form["grant_type"] == "authorization_code"
    assert refresh.form["grant_type"] == "refresh_token"
    proofs = [
        check_proof(exchange.headers["dpop"], htm="POST", htu=op.url(TOKEN)),
        check_proof(refresh.headers["dpop"], htm="POST", htu=op.url(TOKEN)),
    ]
    (api_call,) = op.calls(API_PATH)
    assert api_call.method == "POST" and api_call.raw_query == "page=2"
    access_token = access_token_of(op)
    assert api_call.headers["authorization"] == f"DPoP {access_token}"
    proofs.append(
        check_proof(
            api_call.headers["dpop"], htm="POST", htu=op.url(API_PATH), access_token=access_token
        )
    )
    assert all(p["jkt"] == jkt for p in proofs)
    assert all("nonce" not in p for p in proofs)  # no server ever sent one
    assert len({p["jti"] for p in proofs}) == 3

    assert (await browser.get("/auth/logout")).status_code == 307
    revoke = op.last("/oauth/revoke")
    if "dpop" in revoke.headers:  # optional for a confidential client; well-formed if sent
        check_proof(revoke.headers["dpop"], htm="POST", htu=op.url("/oauth/revoke"))


async def test_dpp01_proof_with_par(h: Harness, op: ScriptedOP) -> None:
    token_type(op, "DPoP")
    client, jkt = dpop_client(h, pushed_authorization_requests=True)
    await logged_in(h, op, client)
    pushed = op.last("/oauth/par")
    assert pushed.form["dpop_jkt"] == jkt
    if "dpop" in pushed.headers:  # optional at PAR (RFC 9449 section 10.1); valid if sent
        par_proof = check_proof(pushed.headers["dpop"], htm="POST", htu=op.url("/oauth/par"))
        assert par_proof["jkt"] == jkt
    (exchange,) = op.calls(TOKEN)
    assert check_proof(exchange.headers["dpop"], htm="POST", htu=op.url(TOKEN))["jkt"] == jkt


# ======================================================================================
# DPP-02  nonce challenge at the token endpoint
# ======================================================================================


async def test_dpp02_one_retry_with_the_nonce(h: Harness, op: ScriptedOP) -> None:
    op.scenario.responses[TOKEN] = nonce_challenges(iter(["n1"]))
    token_type(op, "DPoP")
    client, jkt = dpop_client(h)
    browser = await logged_in(h, op, client)
    first, second = op.calls(TOKEN)
    p1 = check_proof(first.headers["dpop"], htm="POST", htu=op.url(TOKEN))
    p2 = check_proof(second.headers["dpop"], htm="POST", htu=op.url(TOKEN))
    assert "nonce" not in p1 and p2["nonce"] == "n1"
    assert p1["jti"] != p2["jti"] and p1["jkt"] == p2["jkt"] == jkt
    for name in ("code", "code_verifier", "redirect_uri", "grant_type"):
        assert first.form[name] == second.form[name], name
    assert (await browser.get("/tokens")).json()["token_type"] == "DPoP"


async def test_dpp02_no_second_retry(h: Harness, op: ScriptedOP) -> None:
    op.scenario.responses[TOKEN] = nonce_challenges(iter(f"n{i}" for i in range(1, 100)))
    client, _ = dpop_client(h)
    browser = h.browser(dpp_app(client))
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_EXCHANGE, state=state_of(authorize_url), status=400)
    await assert_no_session(browser)
    first, second = op.calls(TOKEN)
    p1 = check_proof(first.headers["dpop"], htm="POST", htu=op.url(TOKEN))
    p2 = check_proof(second.headers["dpop"], htm="POST", htu=op.url(TOKEN))
    assert "nonce" not in p1 and p2["nonce"] == "n1" and p1["jti"] != p2["jti"]
    assert op.token_responses == []  # nothing was ever issued


async def test_dpp02_refresh_retries_once_too(h: Harness, op: ScriptedOP) -> None:
    token_type(op, "DPoP")
    client, _ = dpop_client(h)
    browser = await logged_in(h, op, client)
    op.scenario.responses[TOKEN] = nonce_challenges(iter(f"r{i}" for i in range(1, 100)))
    refreshed = await browser.get("/refresh")
    assert refreshed.status_code == 401
    assert refreshed.json() == {"error": "failed_to_refresh_token"}
    refreshes = [r for r in op.calls(TOKEN) if r.form["grant_type"] == "refresh_token"]
    assert len(refreshes) == 2
    nonces = [parts(r.headers["dpop"])[1].get("nonce") for r in refreshes]
    assert nonces == [None, "r1"]
    assert refreshes[0].form["refresh_token"] == refreshes[1].form["refresh_token"]


async def test_dpp02_newest_nonce_remembered_per_origin(h: Harness, op: ScriptedOP) -> None:
    op.scenario.responses[TOKEN] = nonce_challenges(iter(["n1"]))
    op.scenario.token_response = with_nonce_header(iter(["n2", "n3", "n4", "n5"]))
    token_type(op, "DPoP")
    api_answers(
        op,
        (200, {"content-type": "application/json", "dpop-nonce": "api-1"}, b"{}"),
        API_OK,
    )
    client, _ = dpop_client(h)
    browser = await logged_in(h, op, client)
    assert (await browser.get("/refresh")).status_code == 200
    assert (await browser.get("/refresh")).status_code == 200
    calls = op.calls(TOKEN)
    nonces = [parts(r.headers["dpop"])[1].get("nonce") for r in calls]
    # challenge, retry with n1 (answered n2), refresh with n2 (answered n3), refresh with n3
    assert nonces == [None, "n1", "n2", "n3"]

    # The API lives on another origin (127.0.0.1 rather than localhost): none of the
    # authorization server's nonces go there; its own is used on the next call to it.
    api = f"http://127.0.0.1:{op.port}{API_PATH}"
    assert (await call_api(browser, api))["status"] == 200
    assert (await call_api(browser, api))["status"] == 200
    api_nonces = [parts(r.headers["dpop"])[1].get("nonce") for r in op.calls(API_PATH)]
    assert api_nonces == [None, "api-1"]
    # ... and the API's nonce never reaches the token endpoint.
    assert (await browser.get("/refresh")).status_code == 200
    assert parts(op.calls(TOKEN)[-1].headers["dpop"])[1]["nonce"] == "n4"


@pytest.mark.parametrize(
    "bad_nonce",
    ['n1"x', "n 1", "n\\1", "é", "a" * 2000, ""],
    ids=["quote", "space", "backslash", "non-ascii", "2000-chars", "empty"],
)
async def test_dpp02_malformed_nonce_is_never_echoed(
    h: Harness, op: ScriptedOP, bad_nonce: str
) -> None:
    def challenge(record: RecordedRequest) -> RawResponse:
        body = b'{"error":"use_dpop_nonce"}'
        return 400, {**JSON, "DPoP-Nonce": bad_nonce.encode("utf-8").decode("latin-1")}, body

    op.scenario.responses[TOKEN] = challenge
    client, _ = dpop_client(h)
    browser = h.browser(dpp_app(client))
    authorize_url, callback = await login_until_callback(browser, op)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_EXCHANGE, state=state_of(authorize_url), status=400)
    calls = op.calls(TOKEN)
    assert 1 <= len(calls) <= 2
    for record in calls:
        claims = parts(record.headers["dpop"])[1]
        assert claims.get("nonce") != bad_nonce and "nonce" not in claims


# ======================================================================================
# DPP-04  downgrade to a Bearer token
# ======================================================================================


async def test_dpp04_bearer_answer_is_recorded_and_used_as_bearer(
    h: Harness, op: ScriptedOP
) -> None:
    token_type(op, "Bearer")
    api_answers(op, API_OK)
    client, _ = dpop_client(h)
    browser = await logged_in(h, op, client)
    assert "dpop" in op.last(TOKEN).headers  # a proof was sent ...
    assert (await browser.get("/tokens")).json()["token_type"] == "Bearer"  # ... Bearer came
    access = await browser.get("/auth/access-token")
    assert access.json().get("token_type", "Bearer") == "Bearer"
    assert (await call_api(browser, op.url(API_PATH)))["status"] == 200
    (api_call,) = op.calls(API_PATH)
    assert api_call.headers["authorization"] == f"Bearer {access_token_of(op)}"
    assert "dpop" not in api_call.headers


async def test_dpp04_bearer_on_refresh_after_a_dpop_login(h: Harness, op: ScriptedOP) -> None:
    token_type(op, "DPoP")
    api_answers(op, API_OK)
    client, _ = dpop_client(h)
    browser = await logged_in(h, op, client)
    token_type(op, "bearer")
    refreshed = await browser.get("/refresh")
    assert refreshed.json()["token_type"] == "Bearer"
    assert (await call_api(browser, op.url(API_PATH)))["status"] == 200
    (api_call,) = op.calls(API_PATH)
    assert api_call.headers["authorization"] == f"Bearer {access_token_of(op)}"
    assert "dpop" not in api_call.headers


@pytest.mark.parametrize("value", ["dpop", "DPOP", "DpOp"])
async def test_dpp04_token_type_case_insensitive(h: Harness, op: ScriptedOP, value: str) -> None:
    token_type(op, value)
    api_answers(op, API_OK)
    client, jkt = dpop_client(h)
    browser = await logged_in(h, op, client)
    assert (await browser.get("/tokens")).json()["token_type"] == "DPoP"
    assert (await call_api(browser, op.url(API_PATH)))["status"] == 200
    (api_call,) = op.calls(API_PATH)
    token = access_token_of(op)
    assert api_call.headers["authorization"] == f"DPoP {token}"
    proof = check_proof(
        api_call.headers["dpop"], htm="GET", htu=op.url(API_PATH), access_token=token
    )
    assert proof["jkt"] == jkt


# ======================================================================================
# DPP-05  resource-server challenges (fetcher)
# ======================================================================================


async def _dpop_session(h: Harness, op: ScriptedOP) -> tuple[Any, str]:
    token_type(op, "DPoP")
    client, jkt = dpop_client(h)
    return await logged_in(h, op, client), jkt


@pytest.mark.parametrize(
    "challenge",
    [
        'dpop error="use_dpop_nonce"',
        'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"',
        'Bearer realm="api", DPOP algs="ES256", error=use_dpop_nonce',
    ],
    ids=["lower-case", "canonical", "second-challenge"],
)
async def test_dpp05_nonce_challenge_one_retry(h: Harness, op: ScriptedOP, challenge: str) -> None:
    browser, jkt = await _dpop_session(h, op)
    api_answers(op, api_401(challenge, "rs-n1"), API_OK)
    result = await call_api(browser, op.url(API_PATH))
    assert result["status"] == 200
    first, second = op.calls(API_PATH)
    token = access_token_of(op)
    p1, p2 = (
        check_proof(r.headers["dpop"], htm="GET", htu=op.url(API_PATH), access_token=token)
        for r in (first, second)
    )
    assert first.headers["authorization"] == second.headers["authorization"] == f"DPoP {token}"
    assert "nonce" not in p1 and p2["nonce"] == "rs-n1" and p1["jti"] != p2["jti"]


async def test_dpp05_no_second_retry(h: Harness, op: ScriptedOP) -> None:
    browser, _ = await _dpop_session(h, op)
    api_answers(
        op,
        api_401('DPoP error="use_dpop_nonce"', "rs-n1"),
        api_401('DPoP error="use_dpop_nonce"', "rs-n2"),
    )
    result = await call_api(browser, op.url(API_PATH))
    assert result["status"] == 401
    assert op.count(API_PATH) == 2


@pytest.mark.parametrize(
    "challenge",
    [
        'Bearer error="invalid_token"',
        'Bearer error="use_dpop_nonce"',
        'DPoP error="invalid_token"',
        'Basic realm="x", error="use_dpop_nonce"',
    ],
)
async def test_dpp05_other_challenges_no_retry_no_scheme_switch(
    h: Harness, op: ScriptedOP, challenge: str
) -> None:
    browser, _ = await _dpop_session(h, op)
    api_answers(op, api_401(challenge, "rs-n1"), API_OK)
    result = await call_api(browser, op.url(API_PATH))
    assert result["status"] == 401
    (only,) = op.calls(API_PATH)
    assert only.headers["authorization"].startswith("DPoP ")


async def test_dpp05_bearer_token_never_switches_to_dpop_on_a_nonce_challenge(
    h: Harness, op: ScriptedOP
) -> None:
    token_type(op, "Bearer")
    client, _ = dpop_client(h)
    browser = await logged_in(h, op, client)
    api_answers(op, api_401('DPoP error="use_dpop_nonce"', "rs-n1"), API_OK)
    result = await call_api(browser, op.url(API_PATH))
    assert result["status"] == 401
    (only,) = op.calls(API_PATH)
    assert only.headers["authorization"] == f"Bearer {access_token_of(op)}"
    assert "dpop" not in only.headers


def _big_header(kind: str) -> str:
    size = 99_000
    if kind == "commas":
        return "DPoP " + ("," * size)
    if kind == "comma-space":
        return "Bearer " + (", " * (size // 2)) + "x"
    if kind == "params":
        return "DPoP " + ("a=b, " * (size // 5)) + "c=d"
    if kind == "quotes":
        return 'DPoP error="' + ('\\"' * (size // 2))
    if kind == "commas-then-nonce":
        return "DPoP " + ("," * (size - 40)) + ' error="use_dpop_nonce"'
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "retried"),
    [
        ("commas", False),
        ("comma-space", False),
        ("params", False),
        ("quotes", False),
        ("commas-then-nonce", True),
    ],
)
async def test_dpp05_huge_www_authenticate(
    h: Harness, op: ScriptedOP, kind: str, retried: bool
) -> None:
    browser, _ = await _dpop_session(h, op)
    api_answers(op, api_401(_big_header(kind), "rs-n1"), API_OK)
    started = time.perf_counter()
    result = await call_api(browser, op.url(API_PATH))
    assert time.perf_counter() - started < 2
    assert result["status"] == (200 if retried else 401)
    assert op.count(API_PATH) == (2 if retried else 1)


# ======================================================================================
# DPP-06  dpop_jkt binding
# ======================================================================================


@pytest.mark.parametrize("par", [False, True], ids=["front-channel", "par"])
async def test_dpp06_dpop_jkt_is_ours_and_matches_the_proof(
    h: Harness, op: ScriptedOP, par: bool
) -> None:
    token_type(op, "DPoP")
    client, jkt = dpop_client(h, pushed_authorization_requests=par)
    browser = h.browser(dpp_app(client))
    response = await full_login(browser, op, "dpop_jkt=attacker-thumbprint")
    assert response.status_code == 307
    sent = op.last("/oauth/par").form_items if par else op.last("/authorize").query_items
    assert [v for k, v in sent if k == "dpop_jkt"] == [jkt]
    if par:
        front = op.last("/authorize").query
        assert set(front) == {"client_id", "request_uri"}
    proof = check_proof(op.last(TOKEN).headers["dpop"], htm="POST", htu=op.url(TOKEN))
    assert proof["jkt"] == jkt


@pytest.mark.parametrize("par", [False, True], ids=["front-channel", "par"])
async def test_dpp06_no_dpop_no_dpop_jkt(h: Harness, op: ScriptedOP, par: bool) -> None:
    browser = h.browser(dpp_app(h.client(pushed_authorization_requests=par)))
    query = "dpop_jkt=" + quote("attacker-thumbprint")
    response = await full_login(browser, op, query)
    assert response.status_code == 307
    sent = op.last("/oauth/par").form if par else op.last("/authorize").query
    assert "dpop_jkt" not in sent
    assert "dpop" not in op.last(TOKEN).headers


# ======================================================================================
# DPP-07  DPoP configuration fails closed
# ======================================================================================


def _pair(key: Any) -> tuple[str, str]:
    return _pem(key), _public_pem(key)


P256 = ec.generate_private_key(ec.SECP256R1())
OTHER_P256 = ec.generate_private_key(ec.SECP256R1())
BAD_KEYS: dict[str, Any] = {
    "none": None,
    "rsa-2048-pair": _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "rsa-key-object": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "p384-pair": _pair(ec.generate_private_key(ec.SECP384R1())),
    "p521-pair": _pair(ec.generate_private_key(ec.SECP521R1())),
    "p384-key-object": ec.generate_private_key(ec.SECP384R1()),
    "malformed-pem": (
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        _public_pem(P256),
    ),
    "garbage": ("not a pem", "not a pem"),
    "empty": ("", ""),
    "public-as-private": (_public_pem(P256), _public_pem(P256)),
    "mismatched-public": (_pem(P256), _public_pem(OTHER_P256)),
    "hmac-bytes": b"0123456789abcdef0123456789abcdef",
    "hmac-jwk": {"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZg"},
    "public-jwk": ECKey.import_key(P256.public_key()).as_dict(private=False),
}


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_dpp07_unusable_key_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, op: ScriptedOP, key: Any
) -> None:
    monkeypatch.delenv("AUTH0_DPOP_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("AUTH0_DPOP_PUBLIC_KEY", raising=False)
    with pytest.raises(InvalidConfigurationError):
        Auth0Client(
            domain=op.base_url,
            client_id=op.client_id,
            client_secret=op.client_secret,
            secret=SECRET,
            app_base_url=APP_ORIGIN,
            allow_insecure_requests=True,
            use_dpop=True,
            dpop_key_pair=key,
        )


@pytest.mark.parametrize(
    ("private", "public"),
    [
        ("-----BEGIN PRIVATE KEY-----\\nbm90\\n-----END PRIVATE KEY-----", None),
        _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        _pair(ec.generate_private_key(ec.SECP384R1())),
        (_pem(P256), _public_pem(OTHER_P256)),
    ],
    ids=["malformed", "rsa", "p384", "mismatched"],
)
def test_dpp07_unusable_key_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, op: ScriptedOP, private: str, public: str | None
) -> None:
    monkeypatch.setenv("AUTH0_DPOP_PRIVATE_KEY", private)
    if public is None:
        monkeypatch.delenv("AUTH0_DPOP_PUBLIC_KEY", raising=False)
    else:
        monkeypatch.setenv("AUTH0_DPOP_PUBLIC_KEY", public)
    with pytest.raises(InvalidConfigurationError):
        Auth0Client(
            domain=op.base_url,
            client_id=op.client_id,
            client_secret=op.client_secret,
            secret=SECRET,
            app_base_url=APP_ORIGIN,
            allow_insecure_requests=True,
            use_dpop=True,
        )


async def test_dpp07_env_key_works_and_fetcher_without_dpop_refuses(
    monkeypatch: pytest.MonkeyPatch, h: Harness, op: ScriptedOP
) -> None:
    pair = generate_dpop_key_pair()
    monkeypatch.setenv("AUTH0_DPOP_PRIVATE_KEY", pair.private_key.replace("\n", "\\n"))
    monkeypatch.setenv("AUTH0_DPOP_PUBLIC_KEY", pair.public_key)
    browser = h.browser(h.client(use_dpop=True))
    authorize_url = await start_login(browser)
    assert query_params(authorize_url)["dpop_jkt"] == pem_thumbprint(pair.private_key)

    plain = h.client()
    with pytest.raises(InvalidConfigurationError):
        await plain.create_fetcher(use_dpop=True, get_access_token=lambda **_: "t")
