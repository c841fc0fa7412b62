"""Group A (IDT): ID token validation, discovery and JWKS, driven by the scripted OP."""

from __future__ import annotations

import base64
import datetime
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.x509.oid import NameOID

from auth0_web import InvalidConfigurationError
from auth0_web.oidc import _discovery
from tests.support.apps import make_client
from tests.support.scripted_op import ScriptedOP, b64url, b64url_decode, jws_compact, signer

from .conftest import Harness
from .helpers import (
    APP_ORIGIN,
    MISSING,
    MSG_EXCHANGE,
    MSG_LOGIN_FAIL,
    assert_cb_reject,
    assert_error_response,
    assert_no_session,
    assert_no_set_cookie,
    assert_safe_redirect,
    full_login,
    login_until_callback,
    state_of,
    with_member,
)

pytestmark = pytest.mark.anyio

Setup = Callable[[ScriptedOP], None]


# --------------------------------------------------------------------------------------
# Shared steps
# --------------------------------------------------------------------------------------


def op_secrets(op: ScriptedOP) -> tuple[str, ...]:
    found = [op.client_secret]
    for body in op.token_responses:
        found += [v for k, v in body.items() if k in ("access_token", "id_token", "refresh_token")]
    return tuple(found)


async def expect_id_token_rejected(
    h: Harness, op: ScriptedOP, query: str = "", **client_options: Any
) -> None:
    """Login through the OP; the callback must be CB-REJECT after exactly one token call."""
    browser = h.browser(h.client(**client_options))
    authorize_url, callback = await login_until_callback(browser, op, query)
    response = await browser.get(callback)
    assert_cb_reject(response, MSG_EXCHANGE, state=state_of(authorize_url), secrets=op_secrets(op))
    assert op.count("/oauth/token") == 1
    await assert_no_session(browser)


async def expect_login_ok(h: Harness, op: ScriptedOP, query: str = "", **client_options: Any):
    browser = h.browser(h.client(**client_options))
    response = await full_login(browser, op, query)
    assert response.status_code == 307, (response.status_code, response.text)
    assert_safe_redirect(response.headers["location"])
    profile = await browser.get("/auth/profile")
    assert profile.status_code == 200
    return browser, response


def raw_claim(name: str, raw: str | None) -> Callable[[dict[str, Any]], str | dict[str, Any]]:
    """Claims mutator: set ``name`` to the raw JSON text ``raw`` (``None`` removes it)."""

    def mutate(claims: dict[str, Any]) -> str | dict[str, Any]:
        claims = dict(claims)
        if raw is None:
            claims.pop(name, None)
            return claims
        claims[name] = "__RAW_VALUE__"
        return json.dumps(claims).replace('"__RAW_VALUE__"', raw)

    return mutate


def set_claim(name: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def mutate(claims: dict[str, Any]) -> dict[str, Any]:
        return {**claims, name: value}

    return mutate


def split(token: str) -> list[str]:
    return token.split(".")


def rs256(op: ScriptedOP) -> Callable[[bytes], bytes]:
    return signer("RS256", op.signing_key)


# --------------------------------------------------------------------------------------
# IDT-01  alg: none
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("advertised", [False, True], ids=["plain", "discovery-lists-none"])
@pytest.mark.parametrize("trailing_dot", [True, False], ids=["trailing-dot", "no-sig-segment"])
async def test_idt01_alg_none_rejected(
    h: Harness, op: ScriptedOP, alg: str, advertised: bool, trailing_dot: bool
) -> None:
    op.scenario.sign_with = "none"
    op.scenario.id_token_header = lambda header: {**header, "alg": alg}
    if not trailing_dot:
        op.scenario.id_token_raw = lambda info: info["token"].rstrip(".")
    if advertised:
        op.scenario.discovery = lambda doc: {
            **doc,
            "id_token_signing_alg_values_supported": ["none", "RS256"],
        }
    await expect_id_token_rejected(h, op)


def test_idt01_none_cannot_be_configured(op: ScriptedOP) -> None:
    with pytest.raises(InvalidConfigurationError):
        make_client(
            op,
            client_id=op.client_id,
            client_secret=op.client_secret,
            id_token_signing_alg="none",
        )


# --------------------------------------------------------------------------------------
# IDT-02  bad signature
# --------------------------------------------------------------------------------------


def _tamper_payload(info: dict[str, Any]) -> str:
    header, _, sig = split(info["token"])
    claims = {**info["claims"], "sub": "auth0|someone-else"}
    return f"{header}.{b64url(json.dumps(claims))}.{sig}"


def _flip_signature_byte(info: dict[str, Any]) -> str:
    header, payload, sig = split(info["token"])
    raw = bytearray(b64url_decode(sig))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{b64url(bytes(raw))}"


IDT02_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("rs256-payload-changed", {}, {"id_token_raw": _tamper_payload}),
    ("rs256-signature-byte-flipped", {}, {"id_token_raw": _flip_signature_byte}),
    ("rs256-unpublished-key-same-kid", {}, {"sign_with": "wrong-key"}),
    (
        "es256-signature-byte-flipped",
        {"id_token_signing_alg": "ES256"},
        {"sign_with": "ES256", "id_token_raw": _flip_signature_byte},
    ),
    (
        "ps256-signature-byte-flipped",
        {"id_token_signing_alg": "PS256"},
        {"sign_with": "PS256", "id_token_raw": _flip_signature_byte},
    ),
    (
        "es256-payload-changed",
        {"id_token_signing_alg": "ES256"},
        {"sign_with": "ES256", "id_token_raw": _tamper_payload},
    ),
]


@pytest.mark.parametrize(
    ("client_options", "scenario"),
    [pytest.param(c, s, id=name) for name, c, s in IDT02_CASES],
)
async def test_idt02_bad_signature_rejected(
    h: Harness, op: ScriptedOP, client_options: dict[str, Any], scenario: dict[str, Any]
) -> None:
    for key, value in scenario.items():
        setattr(op.scenario, key, value)
    await expect_id_token_rejected(h, op, **client_options)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "RS512"])
async def test_idt02_control_valid_signature_accepted(h: Harness, op: ScriptedOP, alg: str) -> None:
    """The negative cases above are meaningful: the same algorithms verify when valid."""
    op.scenario.sign_with = alg  # type: ignore[assignment]
    await expect_login_ok(h, op, id_token_signing_alg=alg)


# --------------------------------------------------------------------------------------
# IDT-03  HMAC algorithm confusion
# --------------------------------------------------------------------------------------


def _self_signed_cert(private_key: Any) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scripted-op")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private_key, hashes.SHA256())
    )


def _hmac_keys(op: ScriptedOP) -> dict[str, bytes]:
    rsa_pub = op.signing_key.public_key
    ec_pub = op.ec_key.public_key
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    return {
        "rsa-pem-spki": rsa_pub.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo),
        "rsa-pem-pkcs1": rsa_pub.public_bytes(enc.PEM, fmt.PKCS1),
        "rsa-der-spki": rsa_pub.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo),
        "rsa-der-pkcs1": rsa_pub.public_bytes(enc.DER, fmt.PKCS1),
        "rsa-openssh": rsa_pub.public_bytes(enc.OpenSSH, fmt.OpenSSH),
        "ec-pem-spki": ec_pub.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo),
        "ec-openssh": ec_pub.public_bytes(enc.OpenSSH, fmt.OpenSSH),
        "rsa-jwk-json": json.dumps(op.signing_key.as_dict(private=False)).encode(),
        "rsa-x5c-der": _self_signed_cert(op.signing_key.private_key).public_bytes(enc.DER),
        "client-secret": op.client_secret.encode(),
    }


@pytest.mark.parametrize(
    "key_form",
    [
        "rsa-pem-spki",
        "rsa-pem-pkcs1",
        "rsa-der-spki",
        "rsa-der-pkcs1",
        "rsa-openssh",
        "ec-pem-spki",
        "ec-openssh",
        "rsa-jwk-json",
        "rsa-x5c-der",
        "client-secret",
    ],
)
@pytest.mark.parametrize("hs_alg", ["HS256", "HS512"])
async def test_idt03_hmac_confusion_rejected(
    h: Harness, op: ScriptedOP, key_form: str, hs_alg: str
) -> None:
    key = _hmac_keys(op)[key_form]

    def forge(info: dict[str, Any]) -> str:
        header = {"alg": hs_alg, "typ": "JWT", "kid": op.signing_key.kid}
        return jws_compact(header, info["payload"], signer(hs_alg, key))

    op.scenario.id_token_raw = forge
    await expect_id_token_rejected(h, op)


@pytest.mark.parametrize("sign_with", ["HS256-public-pem", "HS256-client-secret"])
async def test_idt03_hmac_scenarios_rejected(h: Harness, op: ScriptedOP, sign_with: str) -> None:
    op.scenario.sign_with = sign_with  # type: ignore[assignment]
    await expect_id_token_rejected(h, op)


# --------------------------------------------------------------------------------------
# IDT-04  allowed but unexpected algorithm
# --------------------------------------------------------------------------------------


def _eddsa_token(info: dict[str, Any]) -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    header = {"alg": "EdDSA", "typ": "JWT", "kid": "ed1"}
    return jws_compact(header, info["payload"], key.sign)


IDT04_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("ps256-published-k2", {}, {"sign_with": "PS256"}),
    ("es256-published-ec1", {}, {"sign_with": "ES256"}),
    ("rs512-published-k2", {}, {"sign_with": "RS512"}),
    ("rs512-published-k1", {}, {"sign_with": "RS512", "sign_kid": "k1"}),
    ("eddsa-unpublished", {}, {"id_token_raw": _eddsa_token}),
    # k1's JWK says alg RS256; a PS256 signature with it must not verify for a PS256 client.
    (
        "jwk-alg-differs-from-header",
        {"id_token_signing_alg": "PS256"},
        {
            "sign_with": "PS256",
            "sign_kid": "k1",
        },
    ),
    # ES256 client: an RS256 token from a published RSA key is not acceptable either.
    ("rs256-for-es256-client", {"id_token_signing_alg": "ES256"}, {"sign_with": "RS256"}),
]


@pytest.mark.parametrize(
    ("client_options", "scenario"),
    [pytest.param(c, s, id=name) for name, c, s in IDT04_CASES],
)
async def test_idt04_unexpected_algorithm_rejected(
    h: Harness, op: ScriptedOP, client_options: dict[str, Any], scenario: dict[str, Any]
) -> None:
    for key, value in scenario.items():
        setattr(op.scenario, key, value)
    await expect_id_token_rejected(h, op, **client_options)


# --------------------------------------------------------------------------------------
# IDT-05  keys embedded in the header
# --------------------------------------------------------------------------------------


def _attacker_jwk(op: ScriptedOP) -> dict[str, Any]:
    numbers = op.jwk_attacker_key.public_key().public_numbers()

    def enc(n: int) -> str:
        return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "n": enc(numbers.n), "e": enc(numbers.e)}


@pytest.mark.parametrize("member", ["jwk-known-kid", "jwk-unknown-kid", "jku", "x5u", "x5c"])
async def test_idt05_embedded_keys_rejected(h: Harness, op: ScriptedOP, member: str) -> None:
    trap = f"/attacker-keys-{uuid.uuid4().hex}"
    attacker = op.jwk_attacker_key

    if member == "jwk-known-kid":
        op.scenario.sign_with = "jwk-header"
    else:

        def forge(info: dict[str, Any]) -> str:
            header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": "attacker-kid"}
            if member == "jwk-unknown-kid":
                header["jwk"] = _attacker_jwk(op)
            elif member in ("jku", "x5u"):
                header[member] = op.url(trap)
            else:
                cert = _self_signed_cert(attacker)
                der = cert.public_bytes(serialization.Encoding.DER)
                header["x5c"] = [base64.b64encode(der).decode()]
            return jws_compact(header, info["payload"], signer("RS256", attacker))

        op.scenario.id_token_raw = forge
    await expect_id_token_rejected(h, op)
    assert op.count(trap) == 0
    assert not [r for r in op.requests if r.path.startswith("/attacker-keys-")]


# --------------------------------------------------------------------------------------
# IDT-07  issuer mismatch
# --------------------------------------------------------------------------------------


IDT07_VARIANTS: dict[str, Callable[[ScriptedOP], Any]] = {
    "other-issuer": lambda op: "https://evil.example/",
    "no-trailing-slash": lambda op: op.base_url,
    "double-trailing-slash": lambda op: op.issuer + "/",
    "scheme-case": lambda op: op.issuer.replace("http://", "HTTP://"),
    "host-case": lambda op: op.issuer.replace("localhost", "LOCALHOST"),
    "homoglyph-host": lambda op: op.issuer.replace("localhost", "l\u043ecalhost"),
    "https-instead-of-http": lambda op: op.issuer.replace("http://", "https://"),
    "array": lambda op: [op.issuer],
    "object": lambda op: {op.issuer: 1},
    "prefix": lambda op: op.issuer[:-3],
    "suffix": lambda op: op.issuer + "evil",
    "longer-host": lambda op: op.issuer.replace("localhost", "localhost.evil.example"),
    "whitespace": lambda op: op.issuer + " ",
    "null": lambda op: None,
    "missing": lambda op: MISSING,
}


@pytest.mark.parametrize("variant", list(IDT07_VARIANTS))
async def test_idt07_issuer_mismatch_rejected(h: Harness, op: ScriptedOP, variant: str) -> None:
    value = IDT07_VARIANTS[variant](op)

    op.scenario.id_token_claims = lambda claims: with_member(claims, "iss", value)
    await expect_id_token_rejected(h, op)


# --------------------------------------------------------------------------------------
# IDT-08  audience mismatch or type confusion
# --------------------------------------------------------------------------------------

IDT08_VARIANTS: dict[str, Callable[[str], Any]] = {
    "other-client": lambda cid: "other-client",
    "missing": lambda cid: MISSING,
    "empty-string": lambda cid: "",
    "substring-container": lambda cid: f"xx{cid}yy",
    "prefix-of-client": lambda cid: cid[:-1],
    "object": lambda cid: {cid: 1},
    "list-other": lambda cid: ["other-client"],
    "empty-list": lambda cid: [],
    "nested-list": lambda cid: [[cid]],
    "null": lambda cid: None,
    "number": lambda cid: 1,
    "case": lambda cid: cid.upper(),
}


@pytest.mark.parametrize("variant", list(IDT08_VARIANTS))
async def test_idt08_audience_mismatch_rejected(h: Harness, op: ScriptedOP, variant: str) -> None:
    value = IDT08_VARIANTS[variant](op.client_id)

    def mutate(claims: dict[str, Any]) -> dict[str, Any]:
        claims = dict(claims)
        if value is MISSING:
            claims.pop("aud")
        else:
            claims["aud"] = value
        return claims

    op.scenario.id_token_claims = mutate
    await expect_id_token_rejected(h, op)


# --------------------------------------------------------------------------------------
# IDT-10  exp
# --------------------------------------------------------------------------------------

IDT10_VARIANTS: dict[str, Callable[[], str | None]] = {
    "ten-minutes-past": lambda: str(int(time.time()) - 600),
    "missing": lambda: None,
    "string": lambda: '"9999999999"',
    "NaN": lambda: "NaN",
    "Infinity": lambda: "Infinity",
    "-Infinity": lambda: "-Infinity",
    "1e400": lambda: "1e400",
    "true": lambda: "true",
    "null": lambda: "null",
    "array": lambda: "[9999999999]",
    "10**30": lambda: str(10**30),
}


@pytest.mark.parametrize("variant", list(IDT10_VARIANTS))
async def test_idt10_exp_attacks_rejected(h: Harness, op: ScriptedOP, variant: str) -> None:
    op.scenario.id_token_claims = raw_claim("exp", IDT10_VARIANTS[variant]())
    await expect_id_token_rejected(h, op)


async def test_idt10_control_exp_within_tolerance_accepted(h: Harness, op: ScriptedOP) -> None:
    op.scenario.id_token_claims = raw_claim("exp", str(int(time.time()) - 10))
    await expect_login_ok(h, op)


# --------------------------------------------------------------------------------------
# IDT-11  iat and nbf
# --------------------------------------------------------------------------------------

IDT11_VARIANTS: dict[str, tuple[str, Callable[[], str | None]]] = {
    "iat-missing": ("iat", lambda: None),
    "iat-string": ("iat", lambda: '"abc"'),
    "iat-numeric-string": ("iat", lambda: f'"{int(time.time())}"'),
    "iat-NaN": ("iat", lambda: "NaN"),
    "iat-bool": ("iat", lambda: "true"),
    "iat-day-ahead": ("iat", lambda: str(int(time.time()) + 86400)),
    "nbf-day-ahead": ("nbf", lambda: str(int(time.time()) + 86400)),
    "nbf-string": ("nbf", lambda: '"0"'),
    "nbf-NaN": ("nbf", lambda: "NaN"),
}


@pytest.mark.parametrize("variant", list(IDT11_VARIANTS))
async def test_idt11_iat_nbf_rejected(h: Harness, op: ScriptedOP, variant: str) -> None:
    claim, raw = IDT11_VARIANTS[variant]
    op.scenario.id_token_claims = raw_claim(claim, raw())
    await expect_id_token_rejected(h, op)


async def test_idt11_control_past_nbf_accepted(h: Harness, op: ScriptedOP) -> None:
    op.scenario.id_token_claims = raw_claim("nbf", str(int(time.time()) - 10))
    await expect_login_ok(h, op)


# --------------------------------------------------------------------------------------
# IDT-13  nonce
# --------------------------------------------------------------------------------------

IDT13_VARIANTS: dict[str, Callable[[str], Any]] = {
    "different": lambda n: "attacker-nonce-0123456789abcdefghijklmnop",
    "missing": lambda n: MISSING,
    "array": lambda n: [n],
    "object": lambda n: {n: True},
    "case": lambda n: n.swapcase(),
    "trailing-space": lambda n: n + " ",
    "trailing-newline": lambda n: n + "\n",
    "prefix": lambda n: n[:-1],
    "null": lambda n: None,
}


@pytest.mark.parametrize("variant", list(IDT13_VARIANTS))
async def test_idt13_nonce_mismatch_rejected(h: Harness, op: ScriptedOP, variant: str) -> None:
    def mutate(claims: dict[str, Any]) -> dict[str, Any]:
        claims = dict(claims)
        value = IDT13_VARIANTS[variant](claims["nonce"])
        if value is MISSING:
            claims.pop("nonce")
        else:
            claims["nonce"] = value
        return claims

    op.scenario.id_token_claims = mutate
    await expect_id_token_rejected(h, op)


# --------------------------------------------------------------------------------------
# IDT-14  max_age / auth_time
# --------------------------------------------------------------------------------------

IDT14_TOKENS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "auth_time-missing": lambda c: MISSING,
    "auth_time-stale": lambda c: c["auth_time"] - 3600,
    "auth_time-string": lambda c: str(c["auth_time"]),
    "auth_time-null": lambda c: None,
    "auth_time-bool": lambda c: True,
}


@pytest.mark.parametrize("variant", list(IDT14_TOKENS))
@pytest.mark.parametrize("source", ["query", "config"])
async def test_idt14_max_age_enforced(
    h: Harness, op: ScriptedOP, variant: str, source: str
) -> None:
    def mutate(claims: dict[str, Any]) -> dict[str, Any]:
        claims = dict(claims)
        value = IDT14_TOKENS[variant](claims)
        if value is MISSING:
            claims.pop("auth_time")
        else:
            claims["auth_time"] = value
        return claims

    op.scenario.id_token_claims = mutate
    if source == "query":
        await expect_id_token_rejected(h, op, "max_age=0")
        assert op.last("/authorize").query["max_age"] == "0"
    else:
        await expect_id_token_rejected(h, op, authorization_parameters={"max_age": 0})


async def test_idt14_max_age_nonzero_stale_rejected(h: Harness, op: ScriptedOP) -> None:
    op.scenario.id_token_claims = lambda c: {**c, "auth_time": c["auth_time"] - 3600}
    await expect_id_token_rejected(h, op, "max_age=600")


async def test_idt14_control_fresh_auth_time_accepted(h: Harness, op: ScriptedOP) -> None:
    await expect_login_ok(h, op, "max_age=0")


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "1.5", "", " 1", "%EF%BC%91", "9" * 11])
async def test_idt14_bad_max_age_query_400(h: Harness, op: ScriptedOP, value: str) -> None:
    browser = h.browser()
    response = await browser.get(f"/auth/login?max_age={value}")
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/plain")
    assert "no-store" in response.headers["cache-control"]
    assert "location" not in response.headers
    assert_no_set_cookie(response)
    assert not browser.txn_cookie_names()
    assert op.count("/authorize") == 0


# --------------------------------------------------------------------------------------
# IDT-17  malformed JWTs and signature encodings
# --------------------------------------------------------------------------------------


def _structure(kind: str, op: ScriptedOP, info: dict[str, Any]) -> str:
    header = info["header"]
    payload = info["payload"]
    sign = rs256(op)
    good = jws_compact(header, payload, sign)
    h64, p64, s64 = split(good)
    json_payload = json.dumps(payload) if isinstance(payload, dict) else payload
    json_header = json.dumps(header)
    deep = '{"sub":"x","deep":' + "[" * 20000 + "]" * 20000 + "}"
    deeper = '{"sub":"x","deep":' + "[" * 100000 + "]" * 100000 + "}"
    structures: dict[str, Callable[[], str]] = {
        "2-segments": lambda: f"{h64}.{p64}",
        "4-segments": lambda: f"{good}.{s64}",
        "5-segments-jwe": lambda: f"{h64}.{s64[:20]}.{s64[:16]}.{p64}.{s64[:22]}",
        "6-segments": lambda: f"{good}.{h64}.{p64}",
        "empty-header": lambda: f".{p64}.{s64}",
        "empty-payload": lambda: f"{h64}..{s64}",
        "empty-signature": lambda: f"{h64}.{p64}.",
        "only-dots": lambda: "..",
        "padding": lambda: f"{h64}.{p64}==.{s64}",
        "std-base64-chars": lambda: f"{h64}.{p64[:10]}+/{p64[12:]}.{s64}",
        "whitespace": lambda: f"{h64}.{p64[:10]} {p64[10:]}.{s64}",
        "length-mod-4-is-1": lambda: f"{h64}.{p64}A.{s64}",
        "header-array": lambda: jws_compact("[1]", payload, sign),
        "header-number": lambda: jws_compact("1", payload, sign),
        "header-null": lambda: jws_compact("null", payload, sign),
        "payload-array": lambda: jws_compact(header, "[]", sign),
        "payload-number": lambda: jws_compact(header, "12", sign),
        "payload-null": lambda: jws_compact(header, "null", sign),
        "payload-string": lambda: jws_compact(header, '"claims"', sign),
        "header-bom": lambda: jws_compact(b"\xef\xbb\xbf" + json_header.encode(), payload, sign),
        "payload-bom": lambda: jws_compact(header, b"\xef\xbb\xbf" + json_payload.encode(), sign),
        "payload-invalid-utf8": lambda: jws_compact(header, b'{"sub":"\xff\xfe"}', sign),
        "payload-deep-20000": lambda: jws_compact(header, deep, sign),
        "payload-deep-100000": lambda: jws_compact(header, deeper, sign),
        "payload-not-json": lambda: jws_compact(header, "{sub: 1}", sign),
        "payload-trailing-garbage": lambda: jws_compact(header, json_payload + "xyz", sign),
    }
    return structures[kind]()


IDT17_STRUCTURES = [
    "2-segments",
    "4-segments",
    "5-segments-jwe",
    "6-segments",
    "empty-header",
    "empty-payload",
    "empty-signature",
    "only-dots",
    "padding",
    "std-base64-chars",
    "whitespace",
    "length-mod-4-is-1",
    "header-array",
    "header-number",
    "header-null",
    "payload-array",
    "payload-number",
    "payload-null",
    "payload-string",
    "header-bom",
    "payload-bom",
    "payload-invalid-utf8",
    "payload-deep-20000",
    "payload-deep-100000",
    "payload-not-json",
    "payload-trailing-garbage",
]


@pytest.mark.parametrize("kind", IDT17_STRUCTURES)
async def test_idt17_malformed_structure_rejected(h: Harness, op: ScriptedOP, kind: str) -> None:
    op.scenario.id_token_raw = lambda info: _structure(kind, op, info)
    await expect_id_token_rejected(h, op)


def _es256_der(op: ScriptedOP) -> Callable[[bytes], bytes]:
    return lambda data: op.ec_key.private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def _rsa_sig(op: ScriptedOP, transform: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        raw = op.signing_key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return transform(raw)

    return sign


def _small_jwks(op: ScriptedOP) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def add(doc: dict[str, Any]) -> dict[str, Any]:
        small = {**_attacker_jwk(op), "kid": "small", "use": "sig", "alg": "RS256"}
        return {"keys": [*doc["keys"], small]}

    return add


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")  # the 1024-bit JWK
@pytest.mark.parametrize(
    "kind",
    [
        "es256-der-signature",
        "es256-r-s-zero",
        "es256-too-short",
        "rs256-one-byte-short",
        "rs256-one-byte-long",
        "rs256-empty",
        "rs256-leading-zero-stripped",
        "jwks-rsa-1024-bit-key",
    ],
)
async def test_idt17_bad_signature_encoding_rejected(h: Harness, op: ScriptedOP, kind: str) -> None:
    client_options: dict[str, Any] = {}
    es_header = {"alg": "ES256", "typ": "JWT", "kid": "ec1"}
    rs_header = {"alg": "RS256", "typ": "JWT", "kid": op.signing_key.kid}
    sig: Callable[[bytes], bytes]
    header = rs_header
    if kind.startswith("es256"):
        client_options["id_token_signing_alg"] = "ES256"
        header = es_header
        sig = {
            "es256-der-signature": _es256_der(op),
            "es256-r-s-zero": lambda data: b"\0" * 64,
            "es256-too-short": lambda data: signer("ES256", op.ec_key)(data)[:-1],
        }[kind]
    elif kind == "jwks-rsa-1024-bit-key":
        op.scenario.jwks = _small_jwks(op)
        header = {"alg": "RS256", "typ": "JWT", "kid": "small"}
        sig = signer("RS256", op.jwk_attacker_key)
    else:
        sig = {
            "rs256-one-byte-short": _rsa_sig(op, lambda s: s[:-1]),
            "rs256-one-byte-long": _rsa_sig(op, lambda s: s + b"\0"),
            "rs256-empty": lambda data: b"",
            "rs256-leading-zero-stripped": _rsa_sig(op, lambda s: s[1:]),
        }[kind]
    op.scenario.id_token_raw = lambda info: jws_compact(header, info["payload"], sig)
    await expect_id_token_rejected(h, op, **client_options)


# --------------------------------------------------------------------------------------
# IDT-18  signing-key rotation
# --------------------------------------------------------------------------------------


class _Monotonic:
    """Stands in for the ``time`` module inside the JWKS cache, with a movable offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


async def test_idt18_rotation_refetches_jwks_once(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OP rotates its key a while after the JWKS was cached (past the 30 s refetch
    cooldown): the next login refetches once and succeeds."""
    clock = _Monotonic()
    monkeypatch.setattr(_discovery, "time", clock)
    client = h.client()
    browser = h.browser(client)
    first = await full_login(browser, op)
    assert first.status_code == 307
    assert op.count("/.well-known/jwks.json") == 1

    clock.offset += _discovery.JWKS_REFETCH_COOLDOWN + 1
    op.rotate_keys()  # new kid, old key no longer published
    second = await full_login(h.browser(client), op)
    assert second.status_code == 307, (second.status_code, second.text)
    assert_safe_redirect(second.headers["location"])
    assert op.count("/.well-known/jwks.json") == 2

    third = await full_login(h.browser(client), op)
    assert third.status_code == 307
    assert op.count("/.well-known/jwks.json") == 2


async def test_idt18_rotation_right_after_jwks_fetch_succeeds(h: Harness, op: ScriptedOP) -> None:
    """``oidcc-client-test-signing-key-rotation``: log in, the OP rotates, log in again at
    once. The first unknown ``kid`` after a scheduled fetch must cause one refetch."""
    client = h.client()
    browser = h.browser(client)
    first = await full_login(browser, op)
    assert first.status_code == 307
    assert op.count("/.well-known/jwks.json") == 1

    op.rotate_keys()  # new kid, old key no longer published
    second_browser = h.browser(client)
    second = await full_login(second_browser, op)
    assert second.status_code == 307, (second.status_code, second.text)
    assert_safe_redirect(second.headers["location"])
    assert op.count("/.well-known/jwks.json") == 2

    # Further logins with the new key use the refreshed cache.
    third = await full_login(h.browser(client), op)
    assert third.status_code == 307
    assert op.count("/.well-known/jwks.json") == 2


async def test_idt18_kid_unknown_after_refetch_rejected(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Monotonic()
    monkeypatch.setattr(_discovery, "time", clock)
    client = h.client()
    assert (await full_login(h.browser(client), op)).status_code == 307
    fetches = op.count("/.well-known/jwks.json")
    clock.offset += _discovery.JWKS_REFETCH_COOLDOWN + 1

    def unknown_kid(info: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": "never-published"}
        return jws_compact(header, info["payload"], signer("RS256", op.wrong_key))

    op.scenario.id_token_raw = unknown_kid
    for _ in range(3):
        browser = h.browser(client)
        authorize_url, callback = await login_until_callback(browser, op)
        response = await browser.get(callback)
        assert_cb_reject(response, MSG_EXCHANGE, state=state_of(authorize_url))
        await assert_no_session(browser)
    # Exactly one refetch for the unknown kid, however many tokens carry it.
    assert op.count("/.well-known/jwks.json") == fetches + 1


# --------------------------------------------------------------------------------------
# IDT-20  organization
# --------------------------------------------------------------------------------------

IDT20_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("id-missing", "org_A", {}),
    ("id-other", "org_A", {"org_id": "org_B"}),
    ("id-case", "org_A", {"org_id": "ORG_A"}),
    ("id-array", "org_A", {"org_id": ["org_A"]}),
    ("id-only-name-matches", "org_A", {"org_name": "org_A"}),
    ("name-missing", "acme", {}),
    ("name-other", "acme", {"org_name": "other"}),
    ("name-array", "acme", {"org_name": ["acme"]}),
    ("name-given-as-id", "acme", {"org_id": "acme"}),
]


@pytest.mark.parametrize(
    ("organization", "claims"),
    [pytest.param(o, c, id=name) for name, o, c in IDT20_CASES],
)
async def test_idt20_organization_mismatch_rejected(
    h: Harness, op: ScriptedOP, organization: str, claims: dict[str, Any]
) -> None:
    op.scenario.id_token_claims = lambda c: {**c, **claims}
    await expect_id_token_rejected(h, op, f"organization={organization}")
    assert op.last("/authorize").query["organization"] == organization


@pytest.mark.parametrize(
    ("organization", "claims"),
    [("org_A", {"org_id": "org_A"}), ("acme", {"org_name": "acme"})],
)
async def test_idt20_control_matching_organization_accepted(
    h: Harness, op: ScriptedOP, organization: str, claims: dict[str, Any]
) -> None:
    op.scenario.id_token_claims = lambda c: {**c, **claims}
    await expect_login_ok(h, op, f"organization={organization}")


# --------------------------------------------------------------------------------------
# IDT-21  discovery issuer mismatch
# --------------------------------------------------------------------------------------

IDT21_VARIANTS: dict[str, Callable[[ScriptedOP], Any]] = {
    "other-host": lambda op: "https://evil.example/",
    "no-trailing-slash": lambda op: op.base_url,
    "https-instead-of-http": lambda op: op.issuer.replace("http://", "https://"),
    "host-case": lambda op: op.issuer.replace("localhost", "LOCALHOST"),
    "array": lambda op: [op.issuer],
    "missing": lambda op: MISSING,
}


@pytest.mark.parametrize("variant", list(IDT21_VARIANTS))
async def test_idt21_discovery_issuer_mismatch_login_fails(
    h: Harness, op: ScriptedOP, variant: str
) -> None:
    value = IDT21_VARIANTS[variant](op)

    op.scenario.discovery = lambda d: with_member(d, "issuer", value)
    client = h.client()
    browser = h.browser(client)
    for _ in range(2):
        response = await browser.get("/auth/login")
        # A 500 without Set-Cookie is not cacheable by default; no-store is not required.
        assert_error_response(response, 500, MSG_LOGIN_FAIL, no_store=False)
        assert_no_set_cookie(response)
    assert op.count("/.well-known/openid-configuration") == 2  # not cached
    assert op.count("/authorize") == 0

    # Logout needs metadata too: it fails closed (500) but still clears local cookies.
    logout = await browser.get("/auth/logout")
    assert logout.status_code == 500
    assert "location" not in logout.headers

    # Fixed at the OP: the very next login recovers (the failure was not cached).
    op.scenario.discovery = None
    response = await full_login(browser, op)
    assert response.status_code == 307
    assert response.headers["location"] == APP_ORIGIN + "/"
