"""A scripted, deliberately misbehaving OpenID provider for attack tests.

``ScriptedOP`` is a small Starlette app that uvicorn serves from a background
thread (with its own event loop) on ``127.0.0.1`` and a free port.  The SDK under
test talks to it over real HTTP.  Out of the box it acts like a strict, honest
Auth0 tenant; a per-test :class:`Scenario` makes any part of it lie.

Routes (``base = http://localhost:<port>``, issuer ``base + "/"``):

* ``GET  /.well-known/openid-configuration`` and ``GET /.well-known/jwks.json``
* ``GET  /authorize``          - validates, stores a code, 302s to the redirect_uri
* ``POST /oauth/token``        - authorization_code (PKCE S256) and refresh_token
* ``POST /oauth/revoke``, ``POST /oauth/par``, ``GET /userinfo``
* ``GET  /oidc/logout`` and ``GET /v2/logout``

Every inbound request, to any path, is recorded in ``op.requests``.

Before any route runs, the scenario's generic knobs apply in this order:
``delay`` (sleep), ``status`` (fail with a JSON error), ``responses`` (full override).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import httpx
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_USER",
    "Grant",
    "RawResponse",
    "RecordedRequest",
    "RefreshRecord",
    "Scenario",
    "ScriptedOP",
    "SignWith",
    "b64url",
    "b64url_decode",
    "jws_compact",
    "pkce_challenge",
    "sign_bytes",
    "signer",
]

DEFAULT_CLIENT_ID = "attack-client"
DEFAULT_CLIENT_SECRET = "attack-secret-0123456789abcdef"
DEFAULT_USER: dict[str, Any] = {
    "sub": "auth0|mallory-victim",
    "name": "Mallory Victim",
    "nickname": "mallory",
    "email": "mallory.victim@example.com",
    "email_verified": True,
}

#: ``(status, headers, body)`` - the raw form every override may answer with.
RawResponse: TypeAlias = tuple[int, dict[str, str], bytes]
#: What an override callback may return: a raw triple, a Starlette response, or
#: ``None`` to fall through to the default behaviour.
OverrideResult: TypeAlias = RawResponse | Response | None

SignWith: TypeAlias = Literal[
    "RS256",
    "none",
    "HS256-client-secret",
    "HS256-public-pem",
    "wrong-key",
    "ES256",
    "PS256",
    "RS512",
    "jwk-header",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
SignerFn: TypeAlias = Callable[[bytes], bytes]

_JSON_HEADERS = {"content-type": "application/json"}
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


# --------------------------------------------------------------------------------------
# Hand-crafting tokens
# --------------------------------------------------------------------------------------


def b64url(data: bytes | str) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str | bytes) -> bytes:
    """Inverse of :func:`b64url`; tolerates missing padding."""
    if isinstance(data, str):
        data = data.encode("ascii")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _b64_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _json_bytes(value: dict[str, Any] | str | bytes) -> bytes:
    """Dicts become compact JSON (``NaN``/``Infinity`` allowed); str/bytes pass raw."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()


def jws_compact(
    header: dict[str, Any] | str | bytes,
    payload: dict[str, Any] | str | bytes,
    signature: bytes | SignerFn,
) -> str:
    """Build ``b64(header).b64(payload).b64(signature)`` exactly as told.

    ``header``/``payload`` given as ``str``/``bytes`` are taken as the raw JSON
    text (so duplicate keys, ``NaN``, ``1e400`` or non-JSON survive).  ``signature``
    is either the raw signature bytes or a callable given the signing input
    (``ascii(b64(header) + "." + b64(payload))``), e.g. ``signer("RS256", key)``.
    Nothing here checks that the header's ``alg`` matches the signature.
    """
    signing_input = f"{b64url(_json_bytes(header))}.{b64url(_json_bytes(payload))}"
    sig = signature(signing_input.encode("ascii")) if callable(signature) else signature
    return f"{signing_input}.{b64url(sig)}"


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def _private_key(key: Any) -> Any:
    """Accept a joserfc key or a ``cryptography`` key; return the latter."""
    if isinstance(key, RSAKey | ECKey):
        return key.private_key
    return key


def sign_bytes(alg: str, key: Any, data: bytes) -> bytes:
    """Sign ``data`` per JWA ``alg`` (HS*/RS*/PS*/ES*/none) with ``cryptography``.

    ``key`` is bytes/str for HS*, else a ``cryptography`` private key or a joserfc
    ``RSAKey``/``ECKey``.  ES* signatures are the raw ``r || s`` form JWS expects.
    """
    if alg == "none":
        return b""
    family, bits = alg[:2], alg[2:]
    if bits not in _HASHES:
        raise ValueError(f"unsupported alg {alg!r}")
    digest = _HASHES[bits]()
    if family == "HS":
        secret = key.encode() if isinstance(key, str) else bytes(key)
        return hmac.new(secret, data, getattr(hashlib, f"sha{bits}")).digest()
    priv = _private_key(key)
    if family == "RS":
        return priv.sign(data, padding.PKCS1v15(), digest)  # type: ignore[no-any-return]
    if family == "PS":
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        return priv.sign(data, pss, digest)  # type: ignore[no-any-return]
    if family == "ES":
        der = priv.sign(data, ec.ECDSA(digest))
        r, s = decode_dss_signature(der)
        size = (priv.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise ValueError(f"unsupported alg {alg!r}")


def signer(alg: str, key: Any) -> SignerFn:
    """Curried :func:`sign_bytes`, for ``jws_compact(h, p, signer("HS256", pem))``."""
    return lambda data: sign_bytes(alg, key, data)


def pkce_challenge(verifier: str) -> str:
    """S256 code challenge of ``verifier``."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


# --------------------------------------------------------------------------------------
# State: recorded requests, scenario, grants
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One inbound HTTP request, as the OP saw it."""

    method: str
    path: str
    raw_query: str
    query: dict[str, str]
    query_items: list[tuple[str, str]]
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    header_items: list[tuple[str, str]]
    form: dict[str, str]  # urlencoded bodies only; last value wins
    form_items: list[tuple[str, str]]
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def basic_auth(self) -> tuple[str, str] | None:
        """Decoded (and form-unquoted) ``Authorization: Basic`` credentials, if any."""
        return _parse_basic(self.headers.get("authorization"))


@dataclass
class Scenario:
    """Per-test misbehaviour.  All ``None``/empty means an honest, strict OP."""

    # ---- ID token -------------------------------------------------------------------
    #: Mutate the claims before signing; may return raw JSON text (str/bytes).
    id_token_claims: Callable[[dict[str, Any]], dict[str, Any] | str | bytes] | None = None
    #: Mutate the protected header before signing; may return raw JSON text.
    id_token_header: Callable[[dict[str, Any]], dict[str, Any] | str | bytes] | None = None
    sign_with: SignWith = "RS256"
    #: For published-key variants (RS256/ES256/PS256/RS512): sign with this published kid.
    sign_kid: str | None = None
    #: Final say over the ID token string.  Gets ``{"claims", "payload", "header", "token"}``
    #: (default claims, payload after ``id_token_claims``, header, the token built so far).
    id_token_raw: Callable[[dict[str, Any]], str] | None = None
    id_token_ttl: int = 3600

    # ---- token endpoint -------------------------------------------------------------
    #: Mutate the default JSON body (e.g. drop ``id_token``, set ``token_type``).
    token_body: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    #: Full override given the default JSON body (after ``token_body``).
    token_response: Callable[[dict[str, Any]], RawResponse] | None = None
    #: Answer the token endpoint with ``307 Location: <this>``.
    token_redirect_to: str | None = None
    access_token_ttl: int = 86400
    #: Always hand out a refresh token, even without ``offline_access``.
    always_refresh_token: bool = False
    enforce_client_auth: bool = True
    enforce_pkce: bool = True
    enforce_redirect_uri: bool = True
    single_use_codes: bool = True
    rotate_refresh_tokens: bool = True

    # ---- metadata -------------------------------------------------------------------
    discovery: Callable[[dict[str, Any]], dict[str, Any] | bytes] | None = None
    jwks: Callable[[dict[str, Any]], dict[str, Any] | bytes] | None = None

    # ---- authorize ------------------------------------------------------------------
    #: Mutate the callback query (``code``, ``state``, ``iss``); drop keys to omit them.
    authorize_params: Callable[[dict[str, str]], dict[str, str]] | None = None
    validate_authorize: bool = True

    # ---- userinfo -------------------------------------------------------------------
    userinfo: Callable[[dict[str, Any]], dict[str, Any] | bytes] | None = None

    # ---- users ----------------------------------------------------------------------
    user: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_USER))

    # ---- any route ------------------------------------------------------------------
    #: ``{path: seconds}`` sleep before answering.
    delay: dict[str, float] = field(default_factory=dict)
    #: ``{path: status}`` answer with that status and a JSON error body.
    status: dict[str, int] = field(default_factory=dict)
    #: ``{path: fn(request) -> RawResponse | Response | None}``; ``None`` falls through.
    responses: dict[str, Callable[[RecordedRequest], OverrideResult]] = field(default_factory=dict)


@dataclass
class Grant:
    """What /authorize (or /oauth/par) stored under an authorization code."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    max_age: str | None
    auth_time: int
    sid: str
    params: dict[str, str]
    user: dict[str, Any]
    used: bool = False
    family: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class RefreshRecord:
    token: str
    family: str
    grant: Grant
    scope: str
    used: bool = False


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _parse_basic(value: str | None) -> tuple[str, str] | None:
    if not value or value[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)


def _json_response(
    status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
) -> Response:
    raw = body if isinstance(body, bytes) else _json_bytes(body)
    return Response(raw, status_code=status, headers={**_JSON_HEADERS, **(headers or {})})


def _oauth_error(status: int, error: str, description: str) -> Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["www-authenticate"] = f'Basic realm="scripted-op", error="{error}"'
    return _json_response(status, {"error": error, "error_description": description}, headers)


def _to_response(result: RawResponse | Response) -> Response:
    if isinstance(result, Response):
        return result
    status, headers, body = result
    return Response(body, status_code=status, headers=headers)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urllib.parse.urlsplit(url)
    extra = urllib.parse.urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query and extra else parts.query or extra
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _location(response: httpx.Response) -> str:
    location = response.headers.get("location")
    if response.status_code not in (302, 303) or location is None:
        raise AssertionError(
            f"/authorize answered {response.status_code}, not a redirect: {response.text}"
        )
    return str(location)


def _is_local_redirect(uri: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and (parts.hostname or "") in _LOCAL_HOSTS
        and not parts.fragment
        and "@" not in parts.netloc
    )


def _items_to_dict(items: list[tuple[str, str]]) -> dict[str, str]:
    return dict(items)


def _duplicates(items: list[tuple[str, str]]) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for key, _ in items:
        if key in seen and key not in dups:
            dups.append(key)
        seen.add(key)
    return dups


# --------------------------------------------------------------------------------------
# The OP
# --------------------------------------------------------------------------------------


class ScriptedOP:
    """Scriptable OpenID provider.  ``start()`` serves it; ``reset()`` between tests."""

    def __init__(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        # Keys are generated once; reset() restores this set.
        self.initial_signing_key = RSAKey.generate_key(
            2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"}
        )
        #: Second RSA key, published *without* ``alg`` (used for PS256/RS512 variants).
        self.rsa_key_2 = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"})
        self.ec_key = ECKey.generate_key(
            "P-256", parameters={"kid": "ec1", "use": "sig", "alg": "ES256"}
        )
        #: Never published.  Used by ``wrong-key`` and ``jwk-header``.
        self.wrong_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        #: Attacker key embedded by ``jwk-header``.  1024-bit so the encoded header stays
        #: below common header-size limits (joserfc: 512 bytes) and a verifier has to
        #: reject the token on key selection, not on size.
        self.jwk_attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.signing_key: RSAKey = self.initial_signing_key
        self.published_keys: list[RSAKey | ECKey] = []
        self._rotations = 0

        self.scenario = Scenario()
        self.requests: list[RecordedRequest] = []
        self.grants: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.par_requests: dict[str, dict[str, str]] = {}
        self.revoked: list[str] = []
        self.revoked_families: set[str] = set()
        #: Every JSON body the token endpoint produced by default (before overrides).
        self.token_responses: list[dict[str, Any]] = []
        #: Exceptions raised by handlers or scenario callbacks (answered as 500).
        self.errors: list[BaseException] = []

        self._lock = threading.Lock()
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._dispatch,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"],
                )
            ]
        )
        self.reset()

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> ScriptedOP:
        if self._server is not None:
            return self
        # IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets (else ~40 ms Nagle stalls).
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)]
        sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sockets[0].bind(("127.0.0.1", 0))
        self._port = sockets[0].getsockname()[1]
        # Best effort: also answer on ::1 so "localhost" resolving to IPv6 is instant.
        try:
            six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            six.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            six.bind(("::1", self._port))
            sockets.append(six)
        except OSError:
            pass
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name="scripted-op", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("scripted OP failed to start")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> ScriptedOP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Fresh scenario, empty logs and stores, original keys (``k1``/``k2``/``ec1``)."""
        with self._lock:
            self.scenario = Scenario()
            self.requests.clear()
            self.grants.clear()
            self.refresh_tokens.clear()
            self.access_tokens.clear()
            self.par_requests.clear()
            self.revoked.clear()
            self.revoked_families.clear()
            self.token_responses.clear()
            self.errors.clear()
            self.signing_key = self.initial_signing_key
            self.published_keys = [self.initial_signing_key, self.rsa_key_2, self.ec_key]
            self._rotations = 0

    # ---- addresses ------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("ScriptedOP not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://localhost:<port>`` (no trailing slash)."""
        return f"http://localhost:{self.port}"

    @property
    def issuer(self) -> str:
        """``http://localhost:<port>/`` - exactly, with the trailing slash."""
        return f"{self.base_url}/"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def discovery_url(self) -> str:
        return self.url("/.well-known/openid-configuration")

    # ---- request log ----------------------------------------------------------------

    def calls(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests to ``path`` (optionally only ``method``), oldest first."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path == path and (method is None or r.method == method.upper())
            ]

    def last(self, path: str) -> RecordedRequest:
        found = self.calls(path)
        if not found:
            raise AssertionError(f"no request to {path} was recorded")
        return found[-1]

    def count(self, path: str) -> int:
        return len(self.calls(path))

    # ---- keys -----------------------------------------------------------------------

    def rotate_keys(self, keep_old: bool = False) -> RSAKey:
        """Switch to a fresh RSA signing key with a new kid; optionally keep the old one
        published.  Returns the new key."""
        with self._lock:
            self._rotations += 1
            new = RSAKey.generate_key(
                2048,
                parameters={"kid": f"k1-rot{self._rotations}", "use": "sig", "alg": "RS256"},
            )
            old = self.signing_key
            keys = [k for k in self.published_keys if keep_old or k is not old]
            self.published_keys = [new, *keys]
            self.signing_key = new
            return new

    def jwks_dict(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.published_keys]}

    def public_pem(self, kid: str | None = None) -> bytes:
        """SubjectPublicKeyInfo PEM of the signing key (or published ``kid``)."""
        key = self.signing_key if kid is None else self._published(kid)
        return key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _published(self, kid: str) -> RSAKey | ECKey:
        for key in self.published_keys:
            if key.kid == kid:
                return key
        raise KeyError(f"no published key with kid {kid!r}")

    # ---- ID tokens ------------------------------------------------------------------

    def default_id_token_claims(
        self, grant: Grant, *, nonce: bool = True, now: int | None = None
    ) -> dict[str, Any]:
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "sub": grant.user["sub"],
            "iat": issued,
            "exp": issued + self.scenario.id_token_ttl,
            "auth_time": grant.auth_time,
            "sid": grant.sid,
        }
        if nonce and grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update({k: v for k, v in grant.user.items() if k != "sub"})
        return claims

    def variant(
        self, sign_with: SignWith, sign_kid: str | None = None
    ) -> tuple[dict[str, Any], SignerFn]:
        """Default protected header and signer for a ``sign_with`` variant."""
        current = self.signing_key.kid
        if sign_with == "RS256":
            key: Any = self._published(sign_kid) if sign_kid else self.signing_key
            return {"alg": "RS256", "typ": "JWT", "kid": key.kid}, signer("RS256", key)
        if sign_with == "none":
            return {"alg": "none", "typ": "JWT"}, signer("none", None)
        if sign_with == "HS256-client-secret":
            return {"alg": "HS256", "typ": "JWT"}, signer("HS256", self.client_secret)
        if sign_with == "HS256-public-pem":
            header = {"alg": "HS256", "typ": "JWT", "kid": current}
            return header, signer("HS256", self.public_pem())
        if sign_with == "wrong-key":
            return {"alg": "RS256", "typ": "JWT", "kid": current}, signer("RS256", self.wrong_key)
        if sign_with == "jwk-header":
            numbers = self.jwk_attacker_key.public_key().public_numbers()
            attacker = {"kty": "RSA", "n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}
            jwk_header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": current}
            jwk_header["jwk"] = attacker
            return jwk_header, signer("RS256", self.jwk_attacker_key)
        if sign_with in ("ES256", "PS256", "RS512"):
            default = self.ec_key if sign_with == "ES256" else self.rsa_key_2
            key = self._published(sign_kid) if sign_kid else default
            return {"alg": sign_with, "typ": "JWT", "kid": key.kid}, signer(sign_with, key)
        raise ValueError(f"unknown sign_with {sign_with!r}")

    def mint_id_token(
        self,
        claims: dict[str, Any] | str | bytes,
        *,
        sign_with: SignWith = "RS256",
        header: dict[str, Any] | None = None,
    ) -> str:
        """Sign arbitrary claims like the OP would (ignores the scenario)."""
        default_header, sign = self.variant(sign_with)
        return jws_compact({**default_header, **(header or {})}, claims, sign)

    def build_id_token(self, claims: dict[str, Any]) -> str:
        """Apply the scenario's ID-token knobs to ``claims`` and produce the token."""
        sc = self.scenario
        payload: dict[str, Any] | str | bytes = claims
        if sc.id_token_claims is not None:
            payload = sc.id_token_claims(dict(claims))
        header: dict[str, Any] | str | bytes
        header, sign = self.variant(sc.sign_with, sc.sign_kid)
        if sc.id_token_header is not None:
            header = sc.id_token_header(dict(header))
        token = jws_compact(header, payload, sign)
        if sc.id_token_raw is not None:
            token = sc.id_token_raw(
                {"claims": claims, "payload": payload, "header": header, "token": token}
            )
        return token

    # ---- browser helper -------------------------------------------------------------

    def authorize(self, authorize_url: str) -> httpx.Response:
        """GET the authorize URL without following redirects."""
        with httpx.Client(follow_redirects=False, timeout=10) as client:
            return client.get(authorize_url)

    def login(self, authorize_url: str) -> str:
        """Play the user: hit /authorize and return the callback URL (``Location``)."""
        response = self.authorize(authorize_url)
        return _location(response)

    async def alogin(self, authorize_url: str) -> str:
        """Async variant of :meth:`login`."""
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
            response = await client.get(authorize_url)
        return _location(response)

    # ---- dispatch -------------------------------------------------------------------

    async def _record(self, request: Request) -> RecordedRequest:
        body = await request.body()
        query_items = urllib.parse.parse_qsl(request.url.query, keep_blank_values=True)
        header_items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        headers: dict[str, str] = {}
        for name, value in header_items:
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        form_items: list[tuple[str, str]] = []
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            form_items = urllib.parse.parse_qsl(
                body.decode("utf-8", "replace"), keep_blank_values=True
            )
        record = RecordedRequest(
            method=request.method,
            path=request.url.path,
            raw_query=request.url.query,
            query=_items_to_dict(query_items),
            query_items=query_items,
            headers=headers,
            header_items=header_items,
            form=_items_to_dict(form_items),
            form_items=form_items,
            body=body,
            received_at=time.time(),
        )
        with self._lock:
            self.requests.append(record)
        return record

    async def _dispatch(self, request: Request) -> Response:
        record = await self._record(request)
        sc = self.scenario
        path = record.path
        if (seconds := sc.delay.get(path)) is not None:
            await asyncio.sleep(seconds)
        if (status := sc.status.get(path)) is not None:
            return _json_response(
                status,
                {"error": "scripted_failure", "error_description": f"scripted {status}"},
            )
        if (override := sc.responses.get(path)) is not None:
            try:
                result = override(record)
            except Exception as exc:
                with self._lock:
                    self.errors.append(exc)
                return _json_response(500, {"error": "scripted_op_crash", "detail": repr(exc)})
            if result is not None:
                return _to_response(result)
        routes: dict[tuple[str, str], Callable[[RecordedRequest], Response]] = {
            ("GET", "/.well-known/openid-configuration"): self._discovery,
            ("GET", "/.well-known/jwks.json"): self._jwks,
            ("GET", "/authorize"): self._authorize,
            ("POST", "/oauth/token"): self._token,
            ("POST", "/oauth/revoke"): self._revoke,
            ("POST", "/oauth/par"): self._par,
            ("GET", "/userinfo"): self._userinfo,
            ("POST", "/userinfo"): self._userinfo,
            ("GET", "/oidc/logout"): self._oidc_logout,
            ("GET", "/v2/logout"): self._v2_logout,
        }
        handler = routes.get((record.method, path))
        if handler is not None:
            try:
                return handler(record)
            except Exception as exc:  # a broken scenario callback; surface it to the test
                with self._lock:
                    self.errors.append(exc)
                return _json_response(500, {"error": "scripted_op_crash", "detail": repr(exc)})
        if any(p == path for _, p in routes):
            return _json_response(405, {"error": "method_not_allowed"})
        return _json_response(404, {"error": "not_found"})

    # ---- metadata -------------------------------------------------------------------

    def discovery_document(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "end_session_endpoint": f"{base}/oidc/logout",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "pushed_authorization_request_endpoint": f"{base}/oauth/par",
            "require_pushed_authorization_requests": False,
            "authorization_response_iss_parameter_supported": True,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "sid",
                "name",
                "nickname",
                "email",
                "email_verified",
            ],
            "request_parameter_supported": False,
        }

    def _discovery(self, record: RecordedRequest) -> Response:
        doc = self.discovery_document()
        if self.scenario.discovery is not None:
            return _json_response(200, self.scenario.discovery(doc))
        return _json_response(200, doc)

    def _jwks(self, record: RecordedRequest) -> Response:
        doc = self.jwks_dict()
        if self.scenario.jwks is not None:
            return _json_response(200, self.scenario.jwks(doc))
        return _json_response(200, doc)

    # ---- authorize / PAR ------------------------------------------------------------

    def _check_authorization_params(self, params: dict[str, str]) -> str | None:
        """Return an error description, or None if the request is acceptable."""
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if not _is_local_redirect(params.get("redirect_uri", "")):
            return "redirect_uri not allowed"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with code_challenge_method=S256 is required"
        return None

    def _authorize(self, record: RecordedRequest) -> Response:
        sc = self.scenario
        params = dict(record.query)
        if sc.validate_authorize and (dups := _duplicates(record.query_items)):
            return _oauth_error(400, "invalid_request", f"repeated parameters: {dups}")
        if "request_uri" in params:
            stored = self.par_requests.pop(params["request_uri"], None)
            if stored is None:
                return _oauth_error(400, "invalid_request_uri", "unknown or used request_uri")
            if params.get("client_id") != stored.get("client_id"):
                return _oauth_error(400, "invalid_request", "client_id mismatch with PAR")
            params = stored
        if sc.validate_authorize and (problem := self._check_authorization_params(params)):
            return _oauth_error(400, "invalid_request", problem)
        redirect_uri = params.get("redirect_uri", "")
        code = secrets.token_urlsafe(24)
        grant = Grant(
            code=code,
            client_id=params.get("client_id", ""),
            redirect_uri=redirect_uri,
            scope=params.get("scope", ""),
            nonce=params.get("nonce"),
            state=params.get("state"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            max_age=params.get("max_age"),
            auth_time=int(time.time()),
            sid=secrets.token_urlsafe(16),
            params=params,
            user=dict(sc.user),
        )
        with self._lock:
            self.grants[code] = grant
        callback: dict[str, str] = {"code": code}
        if grant.state is not None:
            callback["state"] = grant.state
        callback["iss"] = self.issuer
        if sc.authorize_params is not None:
            callback = sc.authorize_params(dict(callback))
        return Response(status_code=302, headers={"location": _with_query(redirect_uri, callback)})

    def _par(self, record: RecordedRequest) -> Response:
        if (failure := self._client_auth(record)) is not None:
            return failure
        params = dict(record.form)
        params.pop("client_secret", None)
        params.setdefault("client_id", self.client_id)
        if "request_uri" in params:
            return _oauth_error(400, "invalid_request", "request_uri not allowed in PAR")
        if self.scenario.validate_authorize:
            if dups := _duplicates(record.form_items):
                return _oauth_error(400, "invalid_request", f"repeated parameters: {dups}")
            if problem := self._check_authorization_params(params):
                return _oauth_error(400, "invalid_request", problem)
        request_uri = f"urn:ietf:params:oauth:request_uri:{secrets.token_urlsafe(24)}"
        with self._lock:
            self.par_requests[request_uri] = params
        return _json_response(201, {"request_uri": request_uri, "expires_in": 60}, _NO_STORE)

    # ---- token ----------------------------------------------------------------------

    def _client_auth(self, record: RecordedRequest) -> Response | None:
        """client_secret_basic or client_secret_post; None when authenticated."""
        if not self.scenario.enforce_client_auth:
            return None
        basic = record.basic_auth()
        posted = record.form.get("client_secret")
        if basic is not None and posted is not None:
            return _oauth_error(400, "invalid_request", "more than one client auth method")
        if basic is not None:
            client_id, secret = basic
            if "client_id" in record.form and record.form["client_id"] != client_id:
                return _oauth_error(401, "invalid_client", "client_id mismatch")
        elif posted is not None:
            client_id, secret = record.form.get("client_id", ""), posted
        else:
            return _oauth_error(401, "invalid_client", "client authentication required")
        ok_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self.client_secret.encode())
        if not (ok_id and ok_secret):
            return _oauth_error(401, "invalid_client", "bad client credentials")
        return None

    def _token(self, record: RecordedRequest) -> Response:
        sc = self.scenario
        if sc.token_redirect_to is not None:
            return Response(status_code=307, headers={"location": sc.token_redirect_to})
        if dups := _duplicates(record.form_items):
            return _oauth_error(400, "invalid_request", f"repeated parameters: {dups}")
        if (failure := self._client_auth(record)) is not None:
            return failure
        grant_type = record.form.get("grant_type")
        if grant_type == "authorization_code":
            result = self._code_grant(record)
        elif grant_type == "refresh_token":
            result = self._refresh_grant(record)
        else:
            return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r}")
        if isinstance(result, Response):
            return result
        with self._lock:
            self.token_responses.append(dict(result))
        if sc.token_body is not None:
            result = sc.token_body(dict(result))
        if sc.token_response is not None:
            return _to_response(sc.token_response(dict(result)))
        return _json_response(200, result, _NO_STORE)

    def _code_grant(self, record: RecordedRequest) -> dict[str, Any] | Response:
        sc = self.scenario
        form = record.form
        with self._lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None:
                return _oauth_error(400, "invalid_grant", "unknown authorization code")
            if grant.used and sc.single_use_codes:
                # Code replay: kill everything that was issued from it.
                self.revoked_families.add(grant.family)
                return _oauth_error(400, "invalid_grant", "authorization code already used")
            grant.used = True
        client_id = (record.basic_auth() or (form.get("client_id", ""), ""))[0]
        if sc.enforce_client_auth and client_id != grant.client_id:
            return _oauth_error(400, "invalid_grant", "code was issued to another client")
        if sc.enforce_redirect_uri and form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "redirect_uri mismatch")
        if sc.enforce_pkce:
            verifier = form.get("code_verifier", "")
            if not _VERIFIER_RE.match(verifier):
                return _oauth_error(400, "invalid_grant", "missing or malformed code_verifier")
            if not hmac.compare_digest(pkce_challenge(verifier), grant.code_challenge or ""):
                return _oauth_error(400, "invalid_grant", "PKCE verification failed")
        return self._issue(grant, grant.scope, nonce=True)

    def _refresh_grant(self, record: RecordedRequest) -> dict[str, Any] | Response:
        sc = self.scenario
        with self._lock:
            rec = self.refresh_tokens.get(record.form.get("refresh_token", ""))
            if rec is None or rec.family in self.revoked_families:
                return _oauth_error(400, "invalid_grant", "unknown or revoked refresh token")
            if rec.used:
                # Reuse of a rotated-out token: revoke the whole family.
                self.revoked_families.add(rec.family)
                return _oauth_error(400, "invalid_grant", "refresh token reuse detected")
            if sc.rotate_refresh_tokens:
                rec.used = True
        scope = rec.scope
        if requested := record.form.get("scope"):
            if not set(requested.split()) <= set(rec.scope.split()):
                return _oauth_error(400, "invalid_scope", "scope exceeds original grant")
            scope = requested
        return self._issue(rec.grant, scope, nonce=False, family=rec.family, refresh=rec)

    def _issue(
        self,
        grant: Grant,
        scope: str,
        *,
        nonce: bool,
        family: str | None = None,
        refresh: RefreshRecord | None = None,
    ) -> dict[str, Any]:
        sc = self.scenario
        scopes = scope.split()
        access_token = secrets.token_urlsafe(32)
        body: dict[str, Any] = {"access_token": access_token}
        if "openid" in scopes:
            body["id_token"] = self.build_id_token(self.default_id_token_claims(grant, nonce=nonce))
        family = family or grant.family
        with self._lock:
            self.access_tokens[access_token] = {
                "sub": grant.user["sub"],
                "scope": scope,
                "family": family,
                "user": grant.user,
                "exp": time.time() + sc.access_token_ttl,
            }
            if refresh is not None and not sc.rotate_refresh_tokens:
                body["refresh_token"] = refresh.token
            elif "offline_access" in scopes or sc.always_refresh_token or refresh is not None:
                token = secrets.token_urlsafe(32)
                self.refresh_tokens[token] = RefreshRecord(token, family, grant, grant.scope)
                body["refresh_token"] = token
        body.update({"token_type": "Bearer", "expires_in": sc.access_token_ttl, "scope": scope})
        return body

    def _revoke(self, record: RecordedRequest) -> Response:
        if (failure := self._client_auth(record)) is not None:
            return failure
        token = record.form.get("token", "")
        with self._lock:
            self.revoked.append(token)
            if (rec := self.refresh_tokens.get(token)) is not None:
                self.revoked_families.add(rec.family)
            self.access_tokens.pop(token, None)
        return Response(status_code=200)

    # ---- userinfo / logout ----------------------------------------------------------

    def _userinfo(self, record: RecordedRequest) -> Response:
        auth = record.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        info = self.access_tokens.get(token)
        if info is None or info["family"] in self.revoked_families or info["exp"] < time.time():
            return Response(
                status_code=401,
                headers={"www-authenticate": 'Bearer error="invalid_token"'},
            )
        claims: dict[str, Any] = dict(info["user"])
        if self.scenario.userinfo is not None:
            return _json_response(200, self.scenario.userinfo(claims))
        return _json_response(200, claims)

    def _logout_to(self, target: str | None, extra: dict[str, str]) -> Response:
        if not target:
            return Response(b"logged out", status_code=200, media_type="text/plain")
        if not _is_local_redirect(target):
            return _oauth_error(400, "invalid_request", "logout redirect not allowed")
        return Response(status_code=302, headers={"location": _with_query(target, extra)})

    def _oidc_logout(self, record: RecordedRequest) -> Response:
        query = record.query
        extra = {"state": query["state"]} if "state" in query else {}
        return self._logout_to(query.get("post_logout_redirect_uri"), extra)

    def _v2_logout(self, record: RecordedRequest) -> Response:
        return self._logout_to(record.query.get("returnTo"), {})
