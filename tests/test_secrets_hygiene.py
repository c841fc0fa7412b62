"""Secrets hygiene: what the SDK's objects and logs say never includes a token, a secret or
a key.

Part one renders every object that holds one (sessions, token sets, every result type,
the client and its configuration, the request/response values, the DPoP key pair, every
exception class of the package, built with causes that carry tokens) in every way an
application might print or log it, and looks for each secret in the text.

Part two is one end-to-end run against the real ``oidc-provider``: login, the access-token
route, a forced refresh, Token Vault, Custom Token Exchange, a refresh that fails, logout.
Every logger runs at DEBUG (``httpx`` and ``httpcore`` too) while the app also logs its
session, its tokens' objects and a failed refresh the way application code does. Every
token, code, secret, cookie value and key the run produced is collected from the
responses and cookies, and none may appear in any captured line or exception text.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import inspect
import logging
import pkgutil
import pprint
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.responses import JSONResponse
from joserfc.jwk import ECKey, RSAKey

import auth0_web
from auth0_web import (
    AccessToken,
    AccessTokenError,
    AccessTokenSet,
    Auth0Client,
    Authenticator,
    BackchannelAuthenticationResult,
    ConnectedAccount,
    ConnectionAccessToken,
    ConnectionTokenSet,
    CustomTokenExchangeResult,
    DpopKey,
    MfaChallenge,
    MfaEnrollment,
    MfaVerifyResult,
    OAuth2Error,
    Request,
    Response,
    SessionData,
    SessionInternal,
    TokenSet,
    generate_dpop_key_pair,
)
from auth0_web._access_tokens import Candidate
from auth0_web._ciba import _Pending
from auth0_web._connection_tokens import _Exchanged
from auth0_web._mfa import Credential, MfaContext
from auth0_web.oidc._token import TokenResponse
from auth0_web.session._codec import CookieCodec, derive_key
from auth0_web.session._transaction import TransactionState
from tests.support.apps import SECRET, Browser, free_port, make_app, make_client, serve
from tests.support.oidc_provider import (
    OidcProvider,
    complete_login_async,
    complete_oidc_logout_async,
)
from tests.support.op_fixtures import ALICE, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def tok(label: str) -> str:
    """A unique, unguessable value labelled for failure messages."""
    return f"{label}-{secrets.token_urlsafe(24)}"


def needles(value: str) -> set[str]:
    """The value and the parts of it whose presence alone would be a leak.

    For a compact JWS/JWE the payload, ciphertext and signature segments count on their
    own (a printed token cut at its header is still that token); for any other long value
    its first and last 16 characters (a "shortened" token is still a leak).
    """
    found = {value}
    parts = value.split(".")
    if len(parts) in (3, 5) and all(parts[i] for i in (0, len(parts) - 1)):
        found.update(p for p in parts[1:] if len(p) >= 16)
    elif len(value) >= 32:
        found.update((value[:16], value[-16:]))
    return found


def leaks(text: str, values: Iterable[str]) -> list[str]:
    """The values (shortened) of which some needle occurs in ``text``."""
    hits = []
    for value in values:
        if value and any(n in text for n in needles(value)):
            hits.append(value[:24] + "...")
    return hits


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def renderings(obj: object) -> list[str]:
    """Every way application code commonly turns an object into text, logging included."""
    texts = [
        repr(obj),
        str(obj),
        format(obj),
        f"{obj}",
        f"{obj!r}",
        "%s" % (obj,),  # noqa: UP031 - old-style formatting is what is being checked
        "%r" % (obj,),  # noqa: UP031
        repr([obj]),
        repr({"value": obj}),
        pprint.pformat(obj),
    ]
    logger = logging.getLogger("tests.secrets_hygiene.render")
    handler = _ListHandler()
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("%s", obj)
        logger.info("%r", obj)
        logger.warning("object: %s / %r", obj, obj)
        logger.error("in a dict: %s", {"obj": obj})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return texts + handler.lines


def assert_masked(obj: object, *values: str) -> None:
    assert values and all(values)
    for text in renderings(obj):
        found = leaks(text, values)
        assert not found, f"{type(obj).__name__} shows {found}: {text[:300]}"


# =========================================================================== part one


def a_token_set(**overrides: Any) -> tuple[TokenSet, list[str]]:
    values = {
        "access_token": tok("at"),
        "id_token": f"eyJhbGciOiJSUzI1NiJ9.{tok('idp')}.{tok('idsig')}",
        "refresh_token": tok("rt"),
    }
    values.update(overrides)
    token_set = TokenSet(
        expires_at=int(time.time()) + 3600,
        scope="openid profile offline_access",
        audience="https://api.example.com",
        token_type="Bearer",
        extra={"x_vendor_token": tok("extra")},
        **values,
    )
    return token_set, [*values.values(), token_set.extra["x_vendor_token"]]


def test_token_sets_and_session_mask_every_token() -> None:
    token_set, token_values = a_token_set()
    assert_masked(token_set, *token_values)

    other = AccessTokenSet(
        access_token=tok("at2"),
        expires_at=int(time.time()) + 60,
        audience="https://other.example.com",
        scope="read:x",
        token_type="Bearer",
    )
    assert_masked(other, other.access_token)
    vault = ConnectionTokenSet(
        access_token=tok("vault"),
        expires_at=int(time.time()) + 60,
        connection="google-oauth2",
        scope="calendar",
        login_hint="alice@example.com",
    )
    assert_masked(vault, vault.access_token)

    session = SessionData(
        user={"sub": "auth0|alice", "name": "Alice"},
        token_set=token_set,
        internal=SessionInternal(sid=tok("sid"), created_at=int(time.time())),
        access_tokens=[other],
        extra={"app_field": "visible"},
        connection_token_sets=[vault],
    )
    assert_masked(session, *token_values, other.access_token, vault.access_token)
    # Masked, not empty: what it is and whose it is stay readable for debugging.
    assert "auth0|alice" in repr(session) and "TokenSet(" in repr(session)

    # A session without an ID or refresh token (None stays visible as None).
    bare, bare_values = a_token_set(id_token=None, refresh_token=None)
    assert_masked(bare, *(v for v in bare_values if v))
    assert "refresh_token=None" in repr(bare)


def test_access_token_and_every_result_type_mask_their_secrets() -> None:
    access = AccessToken(
        token=tok("at"), expires_at=1, scope="a", token_type="Bearer", audience="https://x"
    )
    assert_masked(access, access.token)

    vault = ConnectionAccessToken(
        token=tok("vault"), expires_at=1, scope="s", connection="google-oauth2"
    )
    assert_masked(vault, vault.token)

    cte = CustomTokenExchangeResult(
        access_token=tok("cte-at"),
        token_type="Bearer",
        expires_in=60,
        id_token=f"eyJhbGciOiJSUzI1NiJ9.{tok('p')}.{tok('s')}",
        refresh_token=tok("cte-rt"),
        scope="openid",
        act={"sub": "actor"},
    )
    assert_masked(cte, cte.access_token, cte.id_token or "", cte.refresh_token or "")

    ciba_tokens, ciba_values = a_token_set()
    ciba = BackchannelAuthenticationResult(
        token_set=ciba_tokens,
        id_token_claims={"sub": "auth0|alice", "nonce": tok("nonce")},
        authorization_details=[{"type": "payment", "secret_ref": tok("detail")}],
    )
    assert ciba.authorization_details is not None
    assert_masked(
        ciba,
        *ciba_values,
        ciba.id_token_claims["nonce"],
        ciba.authorization_details[0]["secret_ref"],
    )
    pending = _Pending(auth_req_id=tok("auth-req"), expires_in=60, interval=1)
    assert_masked(pending, pending.auth_req_id)

    challenge = MfaChallenge(challenge_type="oob", oob_code=tok("oob"), binding_method="prompt")
    assert_masked(challenge, challenge.oob_code or "")
    enrollment = MfaEnrollment(
        authenticator_type="otp",
        secret=tok("otp-secret"),
        barcode_uri=f"otpauth://totp/x?secret={tok('barcode')}",
        recovery_codes=(tok("rc1"), tok("rc2")),
        oob_code=tok("oob2"),
    )
    assert_masked(
        enrollment,
        enrollment.secret or "",
        enrollment.barcode_uri or "",
        *enrollment.recovery_codes,
        enrollment.oob_code or "",
    )
    verified = MfaVerifyResult(recovery_code=tok("new-rc"))
    assert_masked(verified, verified.recovery_code or "")
    context = MfaContext(
        raw_token=tok("raw-mfa"),
        audience="https://api",
        scope="read",
        requested_scope="read",
        requirements=None,
        binding=tok("binding"),
    )
    assert_masked(context, context.raw_token)
    credential = Credential("http://auth0.com/oauth/grant-type/mfa-otp", {"otp": tok("otp")})
    assert_masked(credential, credential.params["otp"])

    raw = {"access_token": tok("raw-at"), "refresh_token": tok("raw-rt")}
    response = TokenResponse(
        access_token=raw["access_token"],
        token_type="Bearer",
        expires_in=60,
        id_token=None,
        refresh_token=raw["refresh_token"],
        scope=None,
        raw=raw,
    )
    assert_masked(response, *raw.values())

    # The internal values the refresh and Token Vault code pass around.
    candidate = Candidate(
        access_token=tok("cand-at"),
        expires_at=1,
        scope=None,
        requested_scope=None,
        audience=None,
        token_type="Bearer",
        refresh_token=tok("cand-rt"),
        primary=True,
    )
    assert_masked(candidate, candidate.access_token or "", candidate.refresh_token or "")
    exchanged = _Exchanged(access_token=tok("exch"), scope=None, issued_at=1, lifetime=60)
    assert_masked(exchanged, exchanged.access_token)

    # The result types that hold no secret still render (and say what they are).
    account = ConnectedAccount(id="acc_1", connection="google-oauth2", scopes=("a",))
    factor = Authenticator(id="totp|dev_1", authenticator_type="otp", active=True)
    assert "ConnectedAccount(" in repr(account) and "Authenticator(" in repr(factor)


def test_transaction_state_masks_the_pkce_verifier_nonce_and_state() -> None:
    txn = TransactionState(
        state=tok("state"),
        nonce=tok("nonce"),
        code_verifier=tok("verifier"),
        return_to="/dashboard",
        auth_session=tok("auth-session"),
    )
    assert_masked(txn, txn.state, txn.nonce, txn.code_verifier, txn.auth_session or "")
    assert "/dashboard" in repr(txn)


def test_request_and_response_values_hide_cookies_credentials_and_bodies() -> None:
    session_cookie, txn_cookie, bearer = tok("cookie"), tok("txn"), tok("bearer")
    code, state = tok("code"), tok("state")
    request = Request(
        method="POST",
        scheme="https",
        host="app.example.com",
        path="/auth/callback",
        query_string=f"code={code}&state={state}",
        headers={
            "authorization": f"Bearer {bearer}",
            "cookie": f"__session={session_cookie}",
            "user-agent": "test",
        },
        cookies={"__session": session_cookie, f"__txn_{state}": txn_cookie},
        body=f"logout_token={bearer}".encode(),
    )
    # (The state is in the transaction cookie's name, as in the reference: names stay.)
    assert_masked(request, session_cookie, txn_cookie, bearer, code)
    assert "/auth/callback" in repr(request) and "__session" in repr(request)
    assert "'code', 'state'" in repr(request)

    response = Response.json({"token": bearer})
    response.set_cookie("__session", session_cookie, auth0_web.CookieOptions(), 3600)
    response.headers.append(("location", f"https://op.example/logout?id_token_hint={bearer}"))
    assert_masked(response, session_cookie, bearer)
    assert "__session" in repr(response) and "200" in repr(response)


def rsa_private_pem() -> tuple[str, str]:
    """An RSA private key as PEM and its private exponent as a JWK ``d``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return pem, str(RSAKey.import_key(pem).as_dict(private=True)["d"])


def pem_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM (each one is key material)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_client_and_config_mask_secrets_and_keys() -> None:
    client_secret = tok("client-secret")
    app_secrets = [tok("app-secret-one-0123456789"), tok("app-secret-two-0123456789")]
    auth0 = Auth0Client(
        domain="tenant.example.com",
        client_id="client-id",
        client_secret=client_secret,
        secret=app_secrets,
        app_base_url="https://app.example.com",
    )
    cek = derive_key(app_secrets[0])
    key_forms = [
        cek.hex(),
        base64.urlsafe_b64encode(cek).decode().rstrip("="),
        base64.b64encode(cek).decode(),
    ]
    for obj in (auth0, auth0.config, auth0.mfa, auth0._rt.client_auth, auth0._rt.codec):
        assert_masked(obj, client_secret, *app_secrets, *key_forms)
    assert "client-id" in repr(auth0) and "client-id" in repr(auth0.config)

    pem, d = rsa_private_pem()
    dpop_pair = generate_dpop_key_pair()
    dpop_d = str(ECKey.import_key(dpop_pair.private_key).as_dict(private=True)["d"])
    hardened = Auth0Client(
        domain="tenant.example.com",
        client_id="client-id",
        client_assertion_signing_key=pem,
        client_assertion_signing_alg="RS256",
        secret=app_secrets[0],
        app_base_url="https://app.example.com",
        use_dpop=True,
        dpop_key_pair=dpop_pair,
    )
    key_material = [pem, d, *pem_lines(pem), dpop_pair.private_key, dpop_d]
    key_material += pem_lines(dpop_pair.private_key)
    config = hardened.config
    assert config.dpop_key is not None and config.client_assertion_key is not None
    for obj in (hardened, config, hardened._rt.client_auth, config.dpop_key):
        assert_masked(obj, *app_secrets[:1], *key_material)

    # The public helpers that carry the key material render without it too.
    assert_masked(dpop_pair, dpop_pair.private_key, dpop_d, *pem_lines(dpop_pair.private_key))
    assert "BEGIN PUBLIC KEY" in repr(dpop_pair)  # the public half stays visible
    assert_masked(DpopKey.from_pem(dpop_pair.private_key), dpop_d)


def test_configuration_errors_never_quote_secrets_or_keys() -> None:
    short_secret = "short-" + secrets.token_hex(4)
    client_secret = tok("client-secret")
    pem, _ = rsa_private_pem()
    broken_pem = pem[: len(pem) // 2]
    with pytest.raises(auth0_web.InvalidConfigurationError) as caught:
        Auth0Client(
            domain="tenant.example.com",
            client_id="client-id",
            client_secret=client_secret,
            client_assertion_signing_key=broken_pem,
            secret=short_secret,
            app_base_url="https://app.example.com",
            use_dpop=True,
            dpop_key_pair=(pem, "not a key"),
        )
    error = caught.value
    assert len(error.problems) >= 3  # secret, assertion key, DPoP key pair
    texts = [*renderings(error), "".join(traceback.format_exception(error)), *error.problems]
    for text in texts:
        assert not leaks(text, [short_secret, client_secret, *pem_lines(broken_pem)]), text


# ---- every exception class of the package


def package_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined anywhere in ``auth0_web`` (adapters and dev included)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(auth0_web.__path__, "auth0_web."):
        module = importlib.import_module(info.name)
        for value in list(vars(module).values()):
            if not issubclass(type(value), type):  # never touch lazy proxies (Django settings)
                continue
            if issubclass(value, BaseException) and value.__module__.startswith("auth0_web"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


class Secrets:
    """The token-bearing causes one exception is built with, and the values in them."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def new(self, label: str) -> str:
        value = tok(label)
        self.values.append(value)
        return value

    def server_refusal(self) -> OAuth2Error:
        """An authorization server's error answer that echoes tokens back (it happens)."""
        token = self.new("echoed")
        return OAuth2Error(
            "invalid_grant",
            f"refresh token {token} is invalid",
            extra={"mfa_token": self.new("mfa"), "refresh_token": token},
        )


def build_exception(cls: type[BaseException], s: Secrets) -> BaseException:
    """``cls`` built as the SDK builds it, with a token-bearing cause."""
    cause = s.server_refusal()
    params = inspect.signature(cls.__init__).parameters
    names = [n for n in params if n != "self"]
    error: BaseException
    if cls is OAuth2Error:
        error = s.server_refusal()
    elif cls is auth0_web.MfaRequiredError:
        error = cls(mfa_token=s.new("sealed-mfa"), mfa_requirements={"challenge": []}, cause=cause)
    elif cls is auth0_web.MyAccountApiError:
        detail = f"connect ticket {s.new('ticket')} expired"
        error = cls(status=400, type="urn:x", title="Bad", detail=detail)
    elif issubclass(cls, auth0_web.InvalidConfigurationError):
        error = cls(problems=["secret[0]: must be a string of at least 32 characters"])
    elif names[:2] == ["code", "message"] and "cause" in params:
        error = cls("some_code", "The fixed message.", cause=cause)  # type: ignore[call-arg]
    elif names[:1] == ["message"] and "cause" in params:
        error = cls(cause=cause)  # type: ignore[call-arg]
    elif names == ["reason"]:
        error = cls("a fixed reason")  # type: ignore[call-arg]
    elif names == ["status", "code"]:
        error = cls(401, "missing_session")  # type: ignore[call-arg]
    elif names == ["description"]:
        error = cls("The access token is invalid.")  # type: ignore[call-arg]
    elif names[:2] == ["title", "message"]:
        error = cls("Error", "The request is invalid.")  # type: ignore[call-arg]
    elif names[:2] == ["error", "description"]:
        error = cls("invalid_grant", "The grant is invalid.")  # type: ignore[call-arg]
    elif names == ["args", "kwargs"]:
        error = cls("a fixed message")
    elif names == []:
        error = cls()
    else:  # a new signature: teach this function about it
        raise AssertionError(f"no recipe for {cls.__qualname__}{inspect.signature(cls)}")
    if error.__cause__ is None and error is not cause and cls is not OAuth2Error:
        error.__cause__ = cause  # as ``raise error from cause`` does
    return error


def test_every_exception_class_hides_tokens_from_its_causes() -> None:
    classes = package_exceptions()
    # The public hierarchy is all there (guards against the walk finding nothing).
    for name in auth0_web.__all__:
        value = getattr(auth0_web, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert value in classes.values(), name
    assert len(classes) >= 40

    for name, cls in sorted(classes.items()):
        s = Secrets()
        error = build_exception(cls, s)
        texts = [
            *renderings(error),
            "".join(traceback.format_exception_only(error)),
            repr(error.args),
            # What ``logger.exception`` writes: the whole chain, the causes included.
            "".join(traceback.format_exception(error)),
        ]
        for text in texts:
            found = leaks(text, s.values)
            assert not found, f"{name} shows {found}: {text[:400]}"


def test_the_needle_search_finds_shortened_and_embedded_tokens() -> None:
    """The checks above would see a leak: a cut, quoted or embedded token is found."""
    token = tok("at")
    jwt = f"eyJhbGciOiJSUzI1NiJ9.{tok('payload')}.{tok('sig')}"
    assert leaks(f"token={token[:16]}...", [token])
    assert leaks(f"Bearer {token}", [token])
    assert leaks(f"...{token[-16:]}", [token])
    assert leaks("sig: " + jwt.rsplit(".", 1)[1], [jwt])
    assert not leaks("token='***'", [token, jwt])


# =========================================================================== part two

GRANT_VAULT = "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token"
GRANT_CTE = "urn:ietf:params:oauth:grant-type:token-exchange"
LEGACY = "urn:acme:legacy-token"
GOOGLE = "google-oauth2"
HYGIENE_CLIENT = "hygiene-app"
#: Loggers that are the web server's business, not the SDK's: the access log writes every
#: request line, and the callback's by the protocol's design carries ``code`` and ``state``.
SERVER_ACCESS_LOG = "uvicorn.access"


class Provider:
    def __init__(self, op: OidcProvider, client_secret: str, legacy_token: str) -> None:
        self.op = op
        self.client_secret = client_secret
        self.legacy_token = legacy_token


@pytest.fixture(scope="module")
def hygiene_op() -> Iterator[Provider]:
    client_secret = new_client_secret()
    legacy = tok("legacy")
    alice = {**ALICE, "connected_accounts": {GOOGLE: {"login_hint": "alice@gmail.com"}}}
    clients = [
        client_metadata(
            HYGIENE_CLIENT,
            client_secret,
            "client_secret_post",
            grant_types=["authorization_code", "refresh_token", GRANT_VAULT, GRANT_CTE],
        )
    ]
    with OidcProvider(
        clients=clients,
        users=[alice],
        token_vault={"connections": {GOOGLE: {"scope": "calendar", "ttl": 3600}}},
        custom_token_exchange={
            "profiles": [{"subject_token_type": LEGACY, "tokens": {legacy: ALICE["sub"]}}]
        },
    ) as op:
        yield Provider(op, client_secret, legacy)


def hygiene_app(auth0: Auth0Client) -> Any:
    """The test app plus routes that use the SDK and log what applications log."""
    middleware = make_app(auth0)
    app = middleware.app
    log = logging.getLogger("tests.hygiene.app")

    def failure(exc: BaseException) -> JSONResponse:
        # What an application does with an error: log it with its traceback, answer.
        log.exception("access token failed: %s", exc)
        log.warning("failure repr %r", exc)
        return JSONResponse(
            {
                "error": getattr(exc, "code", type(exc).__name__),
                "texts": [str(exc), repr(exc), "".join(traceback.format_exception(exc))],
            },
            status_code=401,
        )

    @app.get("/token")
    async def token(refresh: int = 0) -> JSONResponse:
        try:
            result = await auth0.get_access_token(refresh=bool(refresh))
        except AccessTokenError as exc:
            return failure(exc)
        session = await auth0.get_session()
        log.info("token %s for session %s (%r)", result, session, session)
        log.debug(
            "token set %s; client %r; config %r", session and session.token_set, auth0, auth0.config
        )
        return JSONResponse({"token": result.token})

    @app.get("/vault")
    async def vault() -> JSONResponse:
        result = await auth0.get_access_token_for_connection(connection=GOOGLE)
        log.info("vault token %s / %r", result, result)
        return JSONResponse({"token": result.token})

    @app.get("/cte")
    async def cte(subject: str) -> JSONResponse:
        result = await auth0.custom_token_exchange(subject_token=subject, subject_token_type=LEGACY)
        log.info("exchanged %s / %r", result, result)
        return JSONResponse(
            {
                "access_token": result.access_token,
                "id_token": result.id_token,
                "refresh_token": result.refresh_token,
            }
        )

    return middleware


class Collected:
    """Every secret value the run produced, and where each came from (for messages)."""

    def __init__(self, codec: CookieCodec) -> None:
        self.codec = codec
        #: value -> every place it was seen
        self.values: dict[str, set[str]] = {}

    def add(self, kind: str, value: object) -> None:
        if isinstance(value, str) and len(value) >= 8:
            self.values.setdefault(value, set()).add(kind)

    def cookies(self, jar: dict[str, str] | httpx.Cookies, origin: str) -> None:
        for name, value in dict(jar).items():
            self.add(f"{origin} cookie {name}", value)
            self.decrypted(name, value)

    def decrypted(self, name: str, value: str) -> None:
        """The tokens inside the SDK's own cookies (session, transaction, Token Vault)."""
        _, sep, rest = value.partition(":")  # a transaction value may carry "<ts>:"
        payload = self.codec.decrypt(rest if sep and rest else value, now=time.time())
        if not payload:
            return
        self.tokens(f"cookie {name}", payload)

    def tokens(self, where: str, document: Any) -> None:
        if isinstance(document, dict):
            for key, value in document.items():
                lowered = key.lower()
                if any(k in lowered for k in ("token", "verifier", "nonce", "state", "code")):
                    self.add(f"{where}.{key}", value)
                self.tokens(f"{where}.{key}", value)
        elif isinstance(document, list):
            for item in document:
                self.tokens(where, item)

    def url(self, where: str, url: str) -> None:
        for key, value in parse_qsl(urlsplit(url).query):
            if key in ("code", "state", "nonce", "id_token_hint", "logout_hint"):
                self.add(f"{where} {key}", value)


async def test_end_to_end_run_logs_no_secret(
    hygiene_op: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth0 = make_client(
        hygiene_op.op,
        client_id=HYGIENE_CLIENT,
        client_secret=hygiene_op.client_secret,
        app_base_url=base,
    )
    collected = Collected(CookieCodec([SECRET]))
    collected.add("client secret", hygiene_op.client_secret)
    collected.add("app secret", SECRET)
    collected.add("legacy subject token", hygiene_op.legacy_token)
    cek = derive_key(SECRET)
    collected.add("cookie key (hex)", cek.hex())
    collected.add("cookie key (base64url)", base64.urlsafe_b64encode(cek).decode().rstrip("="))
    exception_texts: list[str] = []

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "auth0_web", "uvicorn.error", "tests.hygiene.app"):
        caplog.set_level(logging.DEBUG, logger=name)
    driver = threading.get_ident()

    try:
        with serve(hygiene_app(auth0), port=port):
            # uvicorn set its loggers' levels when it started: every one but its access
            # log goes to DEBUG.
            for name in list(logging.root.manager.loggerDict):
                if name != SERVER_ACCESS_LOG:
                    caplog.set_level(logging.DEBUG, logger=name)
            async with Browser(base_url=base) as browser, httpx.AsyncClient() as op_http:

                async def get(path: str, expect: int = 200) -> httpx.Response:
                    response = await browser.get(path)
                    assert response.status_code == expect, (path, response.text)
                    collected.cookies(browser.cookies, "app")
                    for header in response.headers.get_list("set-cookie"):
                        name, _, rest = header.partition("=")
                        collected.add(f"set-cookie {name}", rest.split(";", 1)[0])
                        collected.decrypted(name, rest.split(";", 1)[0])
                    if response.headers.get("content-type", "").startswith("application/json"):
                        collected.tokens(urlsplit(path).path, response.json())
                    if "location" in response.headers:
                        collected.url(urlsplit(path).path, response.headers["location"])
                    return response

                # -- login
                start = await get("/auth/login", 307)
                callback = await complete_login_async(
                    start.headers["location"], ALICE["sub"], client=op_http
                )
                collected.url("callback", callback)
                collected.cookies(op_http.cookies, "provider")
                await get(callback, 307)
                assert (await get("/me")).json()["sub"] == ALICE["sub"]

                # -- the access-token route, a read, a forced refresh
                first = (await get("/auth/access-token")).json()["token"]
                assert (await get("/token")).json()["token"] == first
                refreshed = (await get("/token?refresh=1")).json()["token"]
                assert refreshed != first

                # -- Token Vault and Custom Token Exchange
                assert (await get("/vault")).json()["token"]
                exchanged = (await get(f"/cte?subject={hygiene_op.legacy_token}")).json()
                assert exchanged["access_token"] and exchanged["refresh_token"]

                # -- a refresh that fails: the provider revoked the grant
                session = CookieCodec([SECRET]).decrypt(
                    browser.cookies["__session"], now=time.time()
                )
                assert session is not None
                revoked = await op_http.post(
                    hygiene_op.op.url("/oauth/revoke"),
                    data={
                        "token": session["tokenSet"]["refreshToken"],
                        "token_type_hint": "refresh_token",
                        "client_id": HYGIENE_CLIENT,
                        "client_secret": hygiene_op.client_secret,
                    },
                )
                assert revoked.status_code == 200
                failed = (await get("/token?refresh=1", 401)).json()
                assert failed["error"] == AccessTokenError.FAILED_TO_REFRESH_TOKEN
                exception_texts.extend(failed["texts"])

                # -- logout, at the app and at the provider
                logout = await get("/auth/logout", 307)
                collected.cookies(op_http.cookies, "provider")
                await complete_oidc_logout_async(logout.headers["location"], client=op_http)
                assert (await get("/maybe")).json() == {"logged_in": False}
    finally:
        await auth0.aclose()

    # What was collected is what a leak would be made of.
    kinds = " | ".join(sorted(set().union(*collected.values.values())))
    for expected in (
        "callback code",
        "state",
        "client secret",
        "app secret",
        "cookie key",
        "app cookie __session",
        "app cookie __txn_",
        "provider cookie",
        "/auth/access-token.token",
        "/vault.token",
        "/cte.refresh_token",
        ".refreshToken",
        ".idToken",
        ".codeVerifier",
        ".nonce",
        "__FC_0",  # the Token Vault cookie
    ):
        assert expected in kinds, (expected, kinds)
    assert len(collected.values) >= 25

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    sdk_side: list[str] = []
    driver_side: list[str] = []
    for record in caplog.records:
        line = formatter.format(record)
        # The test plays the browser and the user at the provider from this thread; what
        # its own HTTP clients log is the browser's, not the app's.
        is_driver = record.thread == driver and record.name.startswith(("httpx", "httpcore"))
        (driver_side if is_driver else sdk_side).append(line)

    # The capture saw the SDK's outbound calls, the transport's debug lines, the app's
    # logs of sessions and results, and the failed refresh with its whole traceback.
    text = "\n".join(sdk_side)
    assert "HTTP Request: POST " + hygiene_op.op.url("/oauth/token") in text
    assert "httpcore" in text and "receive_response_headers.complete" in text
    assert "SessionData(" in text and "ConnectionAccessToken(" in text
    assert "CustomTokenExchangeResult(" in text
    assert "Traceback" in text and "AccessTokenError" in text and "OAuth2Error" in text
    # The search itself works on these lines: the browser's own log has the callback URL.
    assert leaks(
        "\n".join(driver_side), [k for k, v in collected.values.items() if "callback code" in v]
    )

    problems = []
    for line in [*sdk_side, *exception_texts]:
        for value in leaks(line, collected.values):
            problems.append(f"{value} in: {line[:300]}")
    assert not problems, "\n".join(problems[:20])


#: Dataclass fields named like a credential that hold none.
NOT_SECRETS = {"Routes.access_token": "the access-token route's path"}
SECRET_FIELD = re.compile(
    r"(^|_)(token|access_token|refresh_token|id_token|raw_token|mfa_token|auth_req_id"
    r"|secret|client_secret|code_verifier|private_key|password)$"
)


def test_dataclass_fields_that_hold_secrets_are_all_masked() -> None:
    """Every dataclass of the SDK with a credential field masks it, with its own
    ``__repr__`` or ``field(repr=False)``, so a new one cannot slip into a log unnoticed.
    (The development provider and the ``testing`` helpers hold throwaway test secrets.)"""
    unmasked = []
    checked = 0
    for info in pkgutil.walk_packages(auth0_web.__path__, "auth0_web."):
        if info.name.startswith(("auth0_web.dev", "auth0_web.testing")):
            continue
        module = importlib.import_module(info.name)
        for value in list(vars(module).values()):
            if not issubclass(type(value), type) or value.__module__ != info.name:
                continue
            if not dataclasses.is_dataclass(value) or own_repr(value):
                continue
            for f in dataclasses.fields(value):
                name = f"{value.__qualname__}.{f.name}"
                if SECRET_FIELD.search(f.name) and name not in NOT_SECRETS:
                    checked += 1
                    if f.repr:
                        unmasked.append(name)
    assert checked >= 3  # Candidate, _Exchanged, Credential-like fields were looked at
    assert not unmasked, unmasked


def own_repr(cls: type) -> bool:
    """True when ``cls`` writes its ``__repr__`` itself (the generated one wraps a helper)."""
    method: Callable[..., str] | None = vars(cls).get("__repr__")
    return method is not None and not hasattr(method, "__wrapped__")
