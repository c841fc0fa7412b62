"""PAR, ``private_key_jwt`` and DPoP against the real ``oidc-provider``.

Two providers serve this module (``tests/op/server.mjs``, oidc-provider 9):

* ``op``: ``features.pushedAuthorizationRequests`` on, ``features.dPoP`` on without server
  nonces, ``private_key_jwt`` added to ``clientAuthMethods``;
* ``nonce_op``: the same, with ``features.dPoP.nonceSecret`` set and ``requireNonce``
  returning true, so every DPoP proof without a current server nonce is answered
  ``400 use_dpop_nonce`` with a ``DPoP-Nonce`` header.

Both register the same clients: two ``private_key_jwt`` clients (an RS256 and an ES256 key,
public JWKs in the client metadata, ``token_endpoint_auth_signing_alg`` pinned), a client
that must use PAR (``require_pushed_authorization_requests``), a client whose access tokens
must be DPoP-bound (``dpop_bound_access_tokens``) and one with all three. One resource server
(audience) makes the access tokens JWTs, so the ``cnf.jkt`` binding can be read.

Every app runs under uvicorn; the SDK's outbound calls go through a recording transport
(:class:`Wire`), the only way to see exactly what was sent and answered. The protected API
the fetcher calls is a small Starlette app (:class:`DpopResourceServer`) that verifies the
DPoP proof and, in its nonce mode, first answers ``401 WWW-Authenticate: DPoP
error="use_dpop_nonce"``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Request as FastAPIRequest
from fastapi.responses import JSONResponse
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse as StarletteJSON
from starlette.routing import Route

from auth0_web import Auth0Client, generate_dpop_key_pair
from tests.support.apps import SECRET, Browser, free_port, make_app, serve
from tests.support.oidc_provider import OidcProvider, complete_login_async
from tests.support.op_fixtures import ALICE, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

API = "https://api.hardened.example"
API_SCOPE = "read:data"
SCOPE = f"openid profile email offline_access {API_SCOPE}"
LOGIN_FAILED = "An error occurred while trying to initiate the login request."
EXCHANGE_FAILED = "An error occurred while trying to exchange the authorization code."
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The Python stand-ins for oidc-provider's settings (see tests/op/server.mjs).
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]
RESOURCE_SERVERS = [{"identifier": API, "scopes": [API_SCOPE]}]


# --------------------------------------------------------------------------- keys


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
WRONG_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PEM, EC_PEM, WRONG_RSA_PEM = _pem(RSA_KEY), _pem(EC_KEY), _pem(WRONG_RSA_KEY)
RSA_PUBLIC = RSAKey.import_key(RSA_KEY.public_key())
EC_PUBLIC = ECKey.import_key(EC_KEY.public_key())
ASSERTION_KEYS = {"RS256": (RSA_PEM, RSA_PUBLIC), "ES256": (EC_PEM, EC_PUBLIC)}

PKJ_CLIENTS = {"RS256": "pkj-rs256", "ES256": "pkj-es256"}
PAR_CLIENT = "par-required"
PAR_SECRET = new_client_secret()
DPOP_CLIENT = "dpop-bound"
DPOP_SECRET = new_client_secret()
HARDENED_CLIENT = "hardened"


def _private_key_jwt_client(client_id: str, public: Any, alg: str, **extra: Any) -> dict[str, Any]:
    metadata = client_metadata(
        client_id,
        "unused",
        "private_key_jwt",
        jwks={"keys": [public.as_dict(private=False)]},
        token_endpoint_auth_signing_alg=alg,
        **extra,
    )
    del metadata["client_secret"]  # only the key can authenticate this client
    return metadata


CLIENTS = [
    _private_key_jwt_client(PKJ_CLIENTS["RS256"], RSA_PUBLIC, "RS256"),
    _private_key_jwt_client(PKJ_CLIENTS["ES256"], EC_PUBLIC, "ES256"),
    client_metadata(
        PAR_CLIENT,
        PAR_SECRET,
        "client_secret_post",
        require_pushed_authorization_requests=True,
    ),
    client_metadata(DPOP_CLIENT, DPOP_SECRET, "client_secret_post", dpop_bound_access_tokens=True),
    _private_key_jwt_client(
        HARDENED_CLIENT,
        EC_PUBLIC,
        "ES256",
        require_pushed_authorization_requests=True,
        dpop_bound_access_tokens=True,
    ),
]


def _provider(**options: Any) -> OidcProvider:
    return OidcProvider(
        clients=CLIENTS,
        users=[ALICE],
        client_auth_methods=CLIENT_AUTH_METHODS,
        resource_servers=RESOURCE_SERVERS,
        **options,
    )


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    """PAR and DPoP on (no server nonces), private_key_jwt allowed."""
    with _provider(par={"enabled": True}, dpop={"enabled": True}) as provider:
        yield provider


@pytest.fixture(scope="module")
def nonce_op() -> Iterator[OidcProvider]:
    """As ``op``, but every DPoP proof must carry a current server nonce."""
    with _provider(par={"enabled": True}, dpop={"enabled": True, "require_nonce": True}) as p:
        yield p


@pytest.fixture(autouse=True)
def _no_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AUTH0_CLIENT_SECRET",
        "AUTH0_CLIENT_ASSERTION_SIGNING_KEY",
        "AUTH0_CLIENT_ASSERTION_SIGNING_ALG",
        "AUTH0_DPOP_PRIVATE_KEY",
        "AUTH0_DPOP_PUBLIC_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- JOSE helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, unverified."""
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, computed here independently of the SDK."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def pem_thumbprint(private_pem: str) -> str:
    key = ECKey.import_key(private_pem)
    return thumbprint(key.as_dict(private=False))


def ath(token: str) -> str:
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def check_proof(
    proof: str, *, htm: str, htu: str, access_token: str | None = None
) -> dict[str, Any]:
    """RFC 9449 section 4.2/4.3: verify a proof's structure and signature; its claims."""
    header, claims = parts(proof)
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert set(header["jwk"]) <= {"kty", "crv", "x", "y"}, header["jwk"]  # public members only
    assert header["jwk"]["kty"] == "EC" and header["jwk"]["crv"] == "P-256"
    jws.deserialize_compact(proof, ECKey.import_key(header["jwk"]), algorithms=["ES256"])
    assert claims["htm"] == htm
    assert claims["htu"] == htu
    assert abs(claims["iat"] - time.time()) <= 5
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    if access_token is None:
        assert "ath" not in claims
    else:
        assert claims["ath"] == ath(access_token)
    return {**claims, "jkt": thumbprint(header["jwk"])}


def check_assertion(
    form: dict[str, str], *, client_id: str, issuer: str, alg: str, public: Any
) -> dict[str, Any]:
    """RFC 7523 / OIDC Core 9: the client assertion a private_key_jwt client sends."""
    assert "client_secret" not in form
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assertion = form["client_assertion"]
    header, claims = parts(assertion)
    assert header["alg"] == alg
    assert not {"jwk", "x5c", "jku", "x5u", "d"} & set(header), header
    jws.deserialize_compact(assertion, public, algorithms=[alg])
    assert claims["iss"] == claims["sub"] == client_id
    assert claims["aud"] == issuer  # the issuer identifier, one string
    assert 0 < claims["exp"] - claims["iat"] <= 60
    assert abs(claims["iat"] - time.time()) <= 5
    assert isinstance(claims["jti"], str) and claims["jti"]
    return claims


# --------------------------------------------------------------------------- outbound wire


@dataclass(frozen=True)
class Exchange:
    """One outbound request of the SDK and the provider's answer."""

    method: str
    url: str
    headers: httpx.Headers
    form: dict[str, str]
    status: int
    response_headers: httpx.Headers
    response_body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def json(self) -> Any:
        return json.loads(self.response_body)


class Wire(httpx.AsyncBaseTransport):
    """The SDK's outbound transport: forwards to the provider and records both sides."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        form: dict[str, str] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form"):
            form = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
        self.calls.append(
            Exchange(
                request.method,
                str(request.url),
                request.headers,
                form,
                response.status_code,
                response.headers,
                content,
            )
        )
        headers = [
            (k, v)
            for k, v in response.headers.raw
            if k.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()

    def to(self, path: str) -> list[Exchange]:
        return [call for call in self.calls if call.path == path]


def wire(auth0: Auth0Client) -> Wire:
    transport = Wire()
    http = auth0._rt.http
    assert http._client is None, "install the recorder before the first outbound call"
    http._transport = transport
    return transport


# --------------------------------------------------------------------------- resource server


class DpopResourceServer:
    """A protected API: ``GET /data`` needs a DPoP-bound JWT access token from the provider.

    Checks (RFC 9449 section 7): scheme ``DPoP``; one proof, signed by its embedded public
    key; ``htm``, ``htu`` (no query), a fresh ``iat``, ``ath`` = SHA-256 of the token, a
    ``jti`` never seen before; the token's signature, issuer and audience, and its
    ``cnf.jkt`` equal to the proof key's thumbprint. With ``demand_nonce`` a proof must also
    carry the server's nonce; without it the answer is ``401`` with ``WWW-Authenticate: DPoP
    error="use_dpop_nonce"`` and a ``DPoP-Nonce``.
    """

    def __init__(self, op: OidcProvider, *, demand_nonce: bool) -> None:
        self.keys = KeySet.import_key_set(httpx.get(op.url("/.well-known/jwks.json")).json())
        self.issuer = op.issuer
        self.demand_nonce = demand_nonce
        self.nonce = secrets.token_urlsafe(16)
        self.seen_jti: set[str] = set()
        self.log: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/data", self.data)])

    def _refuse(self, entry: dict[str, Any], reason: str, error: str) -> StarletteJSON:
        entry["outcome"] = reason
        return StarletteJSON(
            {"error": error, "reason": reason},
            status_code=401,
            headers={"WWW-Authenticate": f'DPoP error="{error}", algs="ES256"'},
        )

    async def data(self, request: StarletteRequest) -> StarletteJSON:
        authorization = request.headers.get("authorization", "")
        proofs = request.headers.getlist("dpop")
        entry: dict[str, Any] = {"authorization": authorization, "proofs": proofs}
        self.log.append(entry)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "dpop" or not token or len(proofs) != 1:
            return self._refuse(entry, "not a DPoP request", "invalid_request")
        htu = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        try:
            claims = check_proof(proofs[0], htm=request.method, htu=htu, access_token=token)
        except Exception as exc:  # any failed check is a refused proof
            return self._refuse(entry, f"bad proof: {exc!r}", "invalid_dpop_proof")
        entry["claims"] = claims
        if claims["jti"] in self.seen_jti:
            return self._refuse(entry, "jti replayed", "invalid_dpop_proof")
        self.seen_jti.add(claims["jti"])
        try:
            token_claims = jwt.decode(token, self.keys, algorithms=["RS256"]).claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": API},
                exp={"essential": True},
            ).validate(token_claims)
        except Exception as exc:
            return self._refuse(entry, f"bad token: {exc!r}", "invalid_token")
        if token_claims.get("cnf", {}).get("jkt") != claims["jkt"]:
            return self._refuse(entry, "cnf.jkt does not match the proof key", "invalid_token")
        if self.demand_nonce and claims.get("nonce") != self.nonce:
            entry["outcome"] = "nonce demanded"
            return StarletteJSON(
                {"error": "use_dpop_nonce"},
                status_code=401,
                headers={
                    "WWW-Authenticate": 'DPoP error="use_dpop_nonce", algs="ES256"',
                    "DPoP-Nonce": self.nonce,
                },
            )
        entry["outcome"] = "ok"
        return StarletteJSON({"sub": token_claims["sub"], "jkt": claims["jkt"]})


# --------------------------------------------------------------------------- app and flows


def hardened_app(auth0: Auth0Client) -> Any:
    """``make_app`` plus ``/refresh`` (a forced refresh), ``/token`` and ``/call?url=``
    (``create_fetcher().fetch_with_auth(url)``)."""
    middleware = make_app(auth0)
    inner = middleware.app

    @inner.get("/refresh")
    async def refresh() -> JSONResponse:
        token = await auth0.get_access_token(refresh=True)
        return JSONResponse({"token": token.token, "token_type": token.token_type})

    @inner.get("/token")
    async def current_token() -> JSONResponse:
        token = await auth0.get_access_token()
        return JSONResponse({"token": token.token, "token_type": token.token_type})

    @inner.get("/call")
    async def call(request: FastAPIRequest) -> JSONResponse:
        async with await auth0.create_fetcher() as fetcher:
            response = await fetcher.fetch_with_auth(request.query_params["url"])
        return JSONResponse({"status": response.status_code, "body": response.json()})

    return middleware


def new_client(op: OidcProvider, port: int, client_id: str, **options: Any) -> Auth0Client:
    options.setdefault("secret", SECRET)
    options.setdefault("allow_insecure_requests", True)
    return Auth0Client(
        domain=op.issuer.rstrip("/"),
        client_id=client_id,
        app_base_url=f"http://127.0.0.1:{port}",
        **options,
    )


@dataclass
class Running:
    auth0: Auth0Client
    wire: Wire
    base: str
    browser: Browser
    op_http: httpx.AsyncClient


class running_app:  # noqa: N801 - used like a function: ``async with running_app(...)``
    """An SDK client with a recorded wire, its app under uvicorn, a browser and a provider
    session client."""

    def __init__(self, op: OidcProvider, client_id: str, **options: Any) -> None:
        self.port = free_port()
        self.auth0 = new_client(op, self.port, client_id, **options)
        self.wire = wire(self.auth0)
        self._serve = serve(hardened_app(self.auth0), self.port)

    async def __aenter__(self) -> Running:
        base = self._serve.__enter__()
        self.browser = Browser(base_url=base)
        self.op_http = httpx.AsyncClient(timeout=30)
        return Running(self.auth0, self.wire, base, self.browser, self.op_http)

    async def __aexit__(self, *exc: object) -> None:
        await self.browser.client.aclose()
        await self.op_http.aclose()
        # The SDK's connection pool belongs to uvicorn's (now closed) event loop: nothing
        # to close from this one, as in the other integration tests.
        self._serve.__exit__(None, None, None)


async def start_login(app: Running, query: str = "") -> httpx.Response:
    response = await app.browser.get("/auth/login" + (f"?{query}" if query else ""))
    assert response.status_code == 307, (response.status_code, response.text)
    return response


async def log_in(app: Running, query: str = "") -> str:
    """A whole login; returns the authorize URL the browser was sent to."""
    authorize_url = (await start_login(app, query)).headers["location"]
    callback = await complete_login_async(authorize_url, ALICE["sub"], client=app.op_http)
    response = await app.browser.get(callback)
    assert response.status_code == 307, (response.status_code, response.text)
    return authorize_url


async def tokens_view(app: Running) -> dict[str, Any]:
    response = await app.browser.get("/tokens")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def assert_logged_in(app: Running) -> None:
    profile = await app.browser.get("/auth/profile")
    assert profile.status_code == 200, profile.text
    assert profile.json()["sub"] == ALICE["sub"]


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def access_token_claims(op: OidcProvider, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(op.url("/.well-known/jwks.json")).json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


# --------------------------------------------------------------------------- 1. PAR


async def test_par_sends_only_client_id_and_request_uri_through_the_browser(
    op: OidcProvider,
) -> None:
    async with running_app(
        op,
        PAR_CLIENT,
        client_secret=PAR_SECRET,
        pushed_authorization_requests=True,
        authorization_parameters={"scope": SCOPE, "prompt": "consent"},
    ) as app:
        login = await start_login(app, "returnTo=/me")
        location = login.headers["location"]
        assert location.startswith(op.url("/authorize") + "?")
        front = query_of(location)
        assert [name for name, _ in front] == ["client_id", "request_uri"]
        assert dict(front)["client_id"] == PAR_CLIENT
        assert dict(front)["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")

        # The pushed request carried everything, authenticated as the client.
        (pushed,) = app.wire.to("/oauth/par")
        assert pushed.method == "POST" and pushed.status == 201
        form = pushed.form
        (txn_name,) = app.browser.txn_cookie_names()
        assert form["state"] == txn_name.removeprefix("__txn_")
        assert form["nonce"] and form["code_challenge"]
        assert form["code_challenge_method"] == "S256"
        assert form["response_type"] == "code"
        assert form["redirect_uri"] == app.base + "/auth/callback"
        assert form["client_id"] == PAR_CLIENT and form["client_secret"] == PAR_SECRET
        assert pushed.json()["request_uri"] == dict(front)["request_uri"]
        assert not app.wire.to("/authorize")  # the front channel is the browser's

        callback = await complete_login_async(location, ALICE["sub"], client=app.op_http)
        done = await app.browser.get(callback)
        assert done.status_code == 307 and done.headers["location"] == app.base + "/me"
        await assert_logged_in(app)
        assert (await tokens_view(app))["has_refresh_token"]


async def test_provider_refuses_the_par_only_client_in_the_front_channel(
    op: OidcProvider,
) -> None:
    """The provider setting is real: without PAR this client's login is refused."""
    async with running_app(op, PAR_CLIENT, client_secret=PAR_SECRET) as app:
        location = (await start_login(app)).headers["location"]
        assert "code_challenge" in dict(query_of(location))
        refused = await app.op_http.get(location)
        assert refused.status_code == 303
        answer = refused.headers["location"]
        assert answer.startswith(app.base + "/auth/callback?")
        error = dict(query_of(answer))
        assert error["error"] == "invalid_request"
        assert error["error_description"] == "Pushed Authorization Request must be used"
        callback = await app.browser.get(answer)
        assert callback.status_code == 400
        assert app.browser.session_cookie_names() == []
        assert not app.wire.to("/oauth/token")


async def test_par_not_advertised_fails_the_login() -> None:
    plain = client_metadata("plain", "s3cr3t-plain-0123456789ab", "client_secret_post")
    with OidcProvider(clients=[plain], users=[ALICE], par={"enabled": False}) as no_par:
        document = httpx.get(no_par.url("/.well-known/openid-configuration")).json()
        assert "pushed_authorization_request_endpoint" not in document
        async with running_app(
            no_par,
            "plain",
            client_secret="s3cr3t-plain-0123456789ab",
            pushed_authorization_requests=True,
        ) as app:
            response = await app.browser.get("/auth/login")
            assert response.status_code == 500
            assert response.text == LOGIN_FAILED
            assert "location" not in response.headers
            assert not [
                h for h in response.headers.get_list("set-cookie") if h.startswith("__txn_")
            ]
            assert app.browser.txn_cookie_names() == []
            assert [call.path for call in app.wire.calls] == ["/.well-known/openid-configuration"]


# --------------------------------------------------------------------------- 2. private_key_jwt


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_private_key_jwt_authenticates_login_refresh_and_revocation(
    op: OidcProvider, alg: str
) -> None:
    pem, public = ASSERTION_KEYS[alg]
    client_id = PKJ_CLIENTS[alg]
    async with running_app(
        op,
        client_id,
        client_assertion_signing_key=pem,
        client_assertion_signing_alg=alg,
    ) as app:
        await log_in(app)
        await assert_logged_in(app)
        assert (await tokens_view(app))["has_refresh_token"]

        refreshed = await app.browser.get("/refresh")
        assert refreshed.status_code == 200, refreshed.text

        logout = await app.browser.get("/auth/logout")
        assert logout.status_code == 307

        authenticated = app.wire.to("/oauth/token") + app.wire.to("/oauth/revoke")
        grants = [call.form.get("grant_type") for call in app.wire.to("/oauth/token")]
        assert grants == ["authorization_code", "refresh_token"]
        assert len(app.wire.to("/oauth/revoke")) == 1
        jtis = []
        for call in authenticated:
            assert call.status == 200, (call.path, call.response_body)
            assert "authorization" not in call.headers
            claims = check_assertion(
                call.form, client_id=client_id, issuer=op.issuer, alg=alg, public=public
            )
            jtis.append(claims["jti"])
        assert len(set(jtis)) == len(jtis) == 3
        assert not any("client_secret" in call.form for call in app.wire.calls)


async def test_private_key_jwt_with_the_wrong_key_fails_the_callback(op: OidcProvider) -> None:
    async with running_app(
        op,
        PKJ_CLIENTS["RS256"],
        client_assertion_signing_key=WRONG_RSA_PEM,
        client_assertion_signing_alg="RS256",
    ) as app:
        authorize_url = (await start_login(app)).headers["location"]
        callback = await complete_login_async(authorize_url, ALICE["sub"], client=app.op_http)
        response = await app.browser.get(callback)
        assert response.status_code == 400
        assert response.text == EXCHANGE_FAILED
        written = [
            h
            for h in response.headers.get_list("set-cookie")
            if h.startswith("__session") and "Max-Age=0" not in h
        ]
        assert written == []
        assert app.browser.session_cookie_names() == []
        assert (await app.browser.get("/auth/profile")).status_code == 401
        (token_call,) = app.wire.to("/oauth/token")
        assert token_call.status == 401 and token_call.json()["error"] == "invalid_client"


# --------------------------------------------------------------------------- 3. DPoP


async def test_dpop_login_refresh_and_binding(op: OidcProvider) -> None:
    pair = generate_dpop_key_pair()
    jkt = pem_thumbprint(pair.private_key)
    token_endpoint = op.url("/oauth/token")
    async with running_app(
        op,
        DPOP_CLIENT,
        client_secret=DPOP_SECRET,
        use_dpop=True,
        dpop_key_pair=pair,
        authorization_parameters={"audience": API, "scope": SCOPE},
    ) as app:
        authorize_url = await log_in(app)
        assert [v for k, v in query_of(authorize_url) if k == "dpop_jkt"] == [jkt]

        (exchange,) = app.wire.to("/oauth/token")
        assert exchange.status == 200
        assert exchange.json()["token_type"] == "DPoP"
        proof = check_proof(exchange.headers["dpop"], htm="POST", htu=token_endpoint)
        assert proof["jkt"] == jkt and "nonce" not in proof
        assert (await tokens_view(app))["token_type"] == "DPoP"

        current = (await app.browser.get("/token")).json()
        assert current["token_type"] == "DPoP"
        claims = access_token_claims(op, current["token"])
        assert claims["aud"] == API and claims["cnf"] == {"jkt": jkt}

        refreshed = (await app.browser.get("/refresh")).json()
        assert refreshed["token_type"] == "DPoP" and refreshed["token"] != current["token"]
        assert access_token_claims(op, refreshed["token"])["cnf"] == {"jkt": jkt}
        first, second = app.wire.to("/oauth/token")
        assert second.form["grant_type"] == "refresh_token" and second.status == 200
        again = check_proof(second.headers["dpop"], htm="POST", htu=token_endpoint)
        assert again["jkt"] == jkt and again["jti"] != proof["jti"]
        assert (await tokens_view(app))["token_type"] == "DPoP"


async def test_provider_demands_dpop_for_the_bound_client(op: OidcProvider) -> None:
    """``dpop_bound_access_tokens`` is enforced: the same client without DPoP cannot log in."""
    async with running_app(op, DPOP_CLIENT, client_secret=DPOP_SECRET) as app:
        authorize_url = (await start_login(app)).headers["location"]
        assert "dpop_jkt" not in dict(query_of(authorize_url))
        callback = await complete_login_async(authorize_url, ALICE["sub"], client=app.op_http)
        response = await app.browser.get(callback)
        assert response.status_code == 400 and response.text == EXCHANGE_FAILED
        (token_call,) = app.wire.to("/oauth/token")
        assert "dpop" not in token_call.headers
        assert token_call.json()["error"] == "invalid_grant"


async def test_par_private_key_jwt_and_dpop_with_server_nonces(nonce_op: OidcProvider) -> None:
    """Everything at once, against the provider that demands DPoP nonces: PAR (required for
    this client) authenticated with an ES256 client assertion, a DPoP-bound code, the nonce
    challenge answered once, a refresh that reuses the remembered nonce, a fetcher call to
    an API that demands its own nonce, and a logout whose revocation is authenticated too."""
    op = nonce_op
    pair = generate_dpop_key_pair()
    jkt = pem_thumbprint(pair.private_key)
    token_endpoint = op.url("/oauth/token")
    api = DpopResourceServer(op, demand_nonce=True)
    with serve(api.app) as api_base:
        async with running_app(
            op,
            HARDENED_CLIENT,
            client_assertion_signing_key=EC_PEM,
            client_assertion_signing_alg="ES256",
            pushed_authorization_requests=True,
            use_dpop=True,
            dpop_key_pair=(pair.private_key, pair.public_key),
            dpop_options={"retry": {"delay": 10, "jitter": False}},
            authorization_parameters={"resource": API, "scope": SCOPE, "prompt": "consent"},
        ) as app:
            authorize_url = await log_in(app)

            # PAR: only client_id and request_uri in the front channel; the pushed body
            # carried the key's thumbprint and a client assertion, never a secret.
            assert [k for k, _ in query_of(authorize_url)] == ["client_id", "request_uri"]
            (pushed,) = app.wire.to("/oauth/par")
            assert pushed.status == 201
            assert pushed.form["dpop_jkt"] == jkt
            assert pushed.form["resource"] == API
            check_assertion(
                pushed.form,
                client_id=HARDENED_CLIENT,
                issuer=op.issuer,
                alg="ES256",
                public=EC_PUBLIC,
            )

            # The code exchange: challenged once, retried once with the nonce.
            challenged, exchanged = app.wire.to("/oauth/token")
            assert challenged.status == 400
            assert challenged.json()["error"] == "use_dpop_nonce"
            nonce = challenged.response_headers["dpop-nonce"]
            first = check_proof(challenged.headers["dpop"], htm="POST", htu=token_endpoint)
            assert "nonce" not in first
            assert exchanged.status == 200, exchanged.response_body
            second = check_proof(exchanged.headers["dpop"], htm="POST", htu=token_endpoint)
            assert second["nonce"] == nonce
            assert first["jkt"] == second["jkt"] == jkt
            assert first["jti"] != second["jti"]
            assert challenged.form["code"] == exchanged.form["code"]
            assertion_jtis = {
                check_assertion(
                    call.form,
                    client_id=HARDENED_CLIENT,
                    issuer=op.issuer,
                    alg="ES256",
                    public=EC_PUBLIC,
                )["jti"]
                for call in (pushed, challenged, exchanged)
            }
            assert len(assertion_jtis) == 3
            assert exchanged.json()["token_type"] == "DPoP"
            assert (await tokens_view(app))["token_type"] == "DPoP"
            current = (await app.browser.get("/token")).json()
            assert access_token_claims(op, current["token"])["cnf"] == {"jkt": jkt}

            # The refresh uses the newest nonce the provider handed out: one call.
            newest = next(
                call.response_headers["dpop-nonce"]
                for call in reversed(app.wire.calls)
                if "dpop-nonce" in call.response_headers
            )
            refreshed = (await app.browser.get("/refresh")).json()
            assert refreshed["token_type"] == "DPoP"
            refresh_calls = app.wire.to("/oauth/token")[2:]
            assert len(refresh_calls) == 1 and refresh_calls[0].status == 200
            proof = check_proof(refresh_calls[0].headers["dpop"], htm="POST", htu=token_endpoint)
            assert proof["nonce"] == newest and proof["jkt"] == jkt
            assert access_token_claims(op, refreshed["token"])["cnf"] == {"jkt": jkt}

            # The fetcher: the API demands its own nonce; exactly one retry.
            result = await app.browser.get("/call", params={"url": f"{api_base}/data?page=1#top"})
            assert result.status_code == 200, result.text
            assert result.json() == {"status": 200, "body": {"sub": ALICE["sub"], "jkt": jkt}}
            assert [entry["outcome"] for entry in api.log] == ["nonce demanded", "ok"]
            assert all(entry["authorization"] == f"DPoP {refreshed['token']}" for entry in api.log)
            assert "nonce" not in api.log[0]["claims"]
            assert api.log[1]["claims"]["nonce"] == api.nonce
            assert api.log[0]["claims"]["htu"] == f"{api_base}/data"

            # Logout revokes the refresh token, authenticated with an assertion.
            assert (await app.browser.get("/auth/logout")).status_code == 307
            (revocation,) = app.wire.to("/oauth/revoke")
            assert revocation.status == 200
            check_assertion(
                revocation.form,
                client_id=HARDENED_CLIENT,
                issuer=op.issuer,
                alg="ES256",
                public=EC_PUBLIC,
            )
            assert not any("client_secret" in call.form for call in app.wire.calls)
