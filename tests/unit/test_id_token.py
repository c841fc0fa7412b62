"""ID token validation (OIDC Core 3.1.3.7) against a fake JWKS.

Tokens are signed with real keys (``joserfc``); raw payload text is signed as-is where JSON
that Python would otherwise normalise (``NaN``, ``1e400``) has to reach the validator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from auth0_web.oidc._id_token import (
    IdTokenError,
    IdTokenValidation,
    decode_unverified,
    validate_id_token,
)

ISSUER = "https://tenant.auth0.com/"
CLIENT_ID = "client-abc"
JWKS_URI = "https://tenant.auth0.com/.well-known/jwks.json"
NOW = 1_700_000_000
LEEWAY = 60
NONCE = "nonce-0123456789"

RSA_PRIVATE = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
RSA_PUBLIC = RSAKey.import_key(RSA_PRIVATE.as_dict(private=False))
OTHER_RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
EC_PRIVATE = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
EC_PUBLIC = ECKey.import_key(EC_PRIVATE.as_dict(private=False))
ED_PRIVATE = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})


class FakeJwks:
    """Stands in for ``JwksCache``: hands out the configured public keys by ``kid``."""

    def __init__(self, *keys: Any) -> None:
        self.keys = list(keys)
        self.calls: list[tuple[str, str | None]] = []

    async def candidates(self, uri: str, kid: str | None) -> list[Any]:
        self.calls.append((uri, kid))
        return [k for k in self.keys if kid is None or k.kid == kid]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "auth0|user-1",
        "aud": CLIENT_ID,
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "nonce": NONCE,
        "auth_time": NOW - 100,
    }
    for key, value in changes.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def sign(
    payload: dict[str, Any] | bytes | str,
    *,
    key: Any = RSA_PRIVATE,
    alg: str = "RS256",
    header: dict[str, Any] | None = None,
) -> str:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    protected = {"alg": alg, "kid": key.kid, "typ": "JWT"} if header is None else header
    return jws.serialize_compact(protected, payload, key, algorithms=[alg])


def unsigned(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, sig: str = "") -> str:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64url(h)}.{b64url(p)}.{sig}"


def sign_rs256_raw(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """RS256 over any header (``joserfc`` refuses to write some malformed headers)."""
    h = b64url(json.dumps(header).encode())
    p = b64url(json.dumps(payload).encode())
    sig = RSA_PRIVATE.private_key.sign(f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{h}.{p}.{b64url(sig)}"


def params(**changes: Any) -> IdTokenValidation:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "algorithm": "RS256",
        "jwks_uri": JWKS_URI,
        "now": NOW,
        "leeway": LEEWAY,
        "nonce": NONCE,
    }
    values.update(changes)
    return IdTokenValidation(**values)


async def validate(token: str, jwks: Any = None, **changes: Any) -> dict[str, Any]:
    return await validate_id_token(token, params(**changes), jwks or FakeJwks(RSA_PUBLIC))


async def rejects(token: str, jwks: Any = None, **changes: Any) -> None:
    with pytest.raises(IdTokenError):
        await validate(token, jwks, **changes)


# -- the happy path -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_valid_token_returns_its_claims() -> None:
    jwks = FakeJwks(RSA_PUBLIC)
    result = await validate(sign(claims()), jwks)
    assert result["sub"] == "auth0|user-1"
    assert result["aud"] == CLIENT_ID
    assert jwks.calls == [(JWKS_URI, "rsa-1")]


@pytest.mark.anyio
async def test_raw_signed_token_with_plain_header_is_accepted() -> None:
    assert await validate(sign_rs256_raw({"alg": "RS256", "kid": "rsa-1"}, claims()))


@pytest.mark.anyio
async def test_valid_token_without_kid_tries_every_key() -> None:
    token = sign(claims(), header={"alg": "RS256"})
    result = await validate(token, FakeJwks(EC_PUBLIC, RSA_PUBLIC))
    assert result["sub"] == "auth0|user-1"


@pytest.mark.anyio
async def test_es256_token_passes_when_es256_is_configured() -> None:
    token = sign(claims(), key=EC_PRIVATE, alg="ES256")
    result = await validate(token, FakeJwks(EC_PUBLIC), algorithm="ES256")
    assert result["sub"] == "auth0|user-1"


@pytest.mark.anyio
async def test_token_expired_within_leeway_is_accepted() -> None:
    assert await validate(sign(claims(exp=NOW - LEEWAY + 5)))


# -- algorithm pinning --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_rejected(alg: str) -> None:
    await rejects(unsigned({"alg": alg, "kid": "rsa-1"}, claims()))


@pytest.mark.anyio
async def test_hs256_keyed_with_the_public_pem_is_rejected() -> None:
    header = b64url(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    pem = RSA_PUBLIC.as_pem()
    mac = hmac.new(pem, signing_input, hashlib.sha256).digest()
    await rejects(f"{header}.{payload}.{b64url(mac)}")


@pytest.mark.anyio
async def test_hs256_even_when_configured_is_not_verified_with_an_rsa_key() -> None:
    header = b64url(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    mac = hmac.new(RSA_PUBLIC.as_pem(), f"{header}.{payload}".encode(), hashlib.sha256)
    await rejects(f"{header}.{payload}.{b64url(mac.digest())}", algorithm="HS256")


@pytest.mark.anyio
@pytest.mark.parametrize("alg", ["RS512", "RS384", "PS256"])
async def test_other_rsa_algorithm_with_the_right_key_is_rejected(alg: str) -> None:
    await rejects(sign(claims(), alg=alg))


@pytest.mark.anyio
async def test_es256_is_rejected_when_rs256_is_configured() -> None:
    token = sign(claims(), key=EC_PRIVATE, alg="ES256")
    await rejects(token, FakeJwks(RSA_PUBLIC, EC_PUBLIC))


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
async def test_eddsa_is_rejected_when_rs256_is_configured() -> None:
    ed_public = OKPKey.import_key(ED_PRIVATE.as_dict(private=False))
    token = sign(claims(), key=ED_PRIVATE, alg="EdDSA")
    await rejects(token, FakeJwks(RSA_PUBLIC, ed_public))


@pytest.mark.anyio
async def test_key_whose_alg_differs_from_the_configured_one_is_not_used() -> None:
    key = RSAKey.import_key({**RSA_PRIVATE.as_dict(private=False), "alg": "RS512"})
    await rejects(sign(claims()), FakeJwks(key))


# -- signatures and keys ------------------------------------------------------------------


@pytest.mark.anyio
async def test_flipped_signature_byte_is_rejected() -> None:
    header, payload, sig = sign(claims()).split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[10] ^= 0x01
    await rejects(f"{header}.{payload}.{b64url(bytes(raw))}")


@pytest.mark.anyio
async def test_payload_changed_after_signing_is_rejected() -> None:
    header, _, sig = sign(claims()).split(".")
    forged = b64url(json.dumps(claims(sub="auth0|admin")).encode())
    await rejects(f"{header}.{forged}.{sig}")


@pytest.mark.anyio
async def test_token_signed_by_another_key_with_same_kid_is_rejected() -> None:
    await rejects(sign(claims(), key=OTHER_RSA))


@pytest.mark.anyio
async def test_empty_signature_is_rejected() -> None:
    header, payload, _ = sign(claims()).split(".")
    await rejects(f"{header}.{payload}.")


@pytest.mark.anyio
async def test_unknown_kid_with_no_candidates_is_rejected() -> None:
    jwks = FakeJwks(RSA_PUBLIC)
    token = sign(claims(), header={"alg": "RS256", "kid": "unknown"})
    await rejects(token, jwks)
    assert jwks.calls == [(JWKS_URI, "unknown")]


@pytest.mark.anyio
async def test_embedded_jwk_header_is_not_trusted() -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    header = {"alg": "RS256", "kid": "attacker", "jwk": attacker.as_dict(private=False)}
    await rejects(sign(claims(), key=attacker, header=header))


@pytest.mark.anyio
async def test_embedded_jwk_with_known_kid_is_not_trusted() -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    header = {"alg": "RS256", "kid": "rsa-1", "jwk": attacker.as_dict(private=False)}
    await rejects(sign(claims(), key=attacker, header=header))


@pytest.mark.anyio
@pytest.mark.parametrize(
    "extra",
    [{"crit": ["exp"]}, {"crit": []}, {"b64": False}, {"zip": "DEF"}],
    ids=["crit", "crit-empty", "b64", "zip"],
)
async def test_forbidden_header_members_are_rejected(extra: dict[str, Any]) -> None:
    await rejects(sign_rs256_raw({"alg": "RS256", "kid": "rsa-1", **extra}, claims()))


@pytest.mark.anyio
@pytest.mark.parametrize("kid", [1, ["rsa-1"], {"k": 1}, True])
async def test_non_string_kid_is_rejected(kid: object) -> None:
    await rejects(sign_rs256_raw({"alg": "RS256", "kid": kid}, claims()))


@pytest.mark.anyio
@pytest.mark.parametrize("typ", ["at+jwt", "logout+jwt", 1])
async def test_unexpected_typ_is_rejected(typ: object) -> None:
    await rejects(sign_rs256_raw({"alg": "RS256", "kid": "rsa-1", "typ": typ}, claims()))


# -- iss ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "iss",
    [
        "https://tenant.auth0.com",
        "https://tenant.auth0.com//",
        "https://TENANT.auth0.com/",
        "HTTPS://tenant.auth0.com/",
        "http://tenant.auth0.com/",
        [ISSUER],
        "https://tenant.auth0.co/",
        "https://tenant.auth0.com/evil",
        "https://tenant.auth0.com.evil.example/",
        "https://evil.example/https://tenant.auth0.com/",
        "https://tenаnt.auth0.com/",
        "",
        None,
        ...,
    ],
    ids=[
        "no-slash",
        "double-slash",
        "host-case",
        "scheme-case",
        "http",
        "array",
        "prefix",
        "suffix-path",
        "suffix-host",
        "contains",
        "homoglyph",
        "empty",
        "null",
        "missing",
    ],
)
async def test_issuer_mismatch_is_rejected(iss: object) -> None:
    await rejects(sign(claims(iss=iss)))


# -- sub ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("sub", ["", 123, None, ["auth0|1"], ...])
async def test_missing_or_invalid_sub_is_rejected(sub: object) -> None:
    await rejects(sign(claims(sub=sub)))


# -- aud / azp ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "aud",
    [
        "other-client",
        ...,
        "",
        None,
        f"xx{CLIENT_ID}yy",
        CLIENT_ID[:-1],
        CLIENT_ID.upper(),
        {CLIENT_ID: 1},
        ["other-client"],
        [],
        [CLIENT_ID, 1],
        [[CLIENT_ID]],
        1,
    ],
    ids=[
        "other",
        "missing",
        "empty",
        "null",
        "substring",
        "prefix",
        "case",
        "object",
        "list-other",
        "list-empty",
        "list-mixed",
        "list-nested",
        "number",
    ],
)
async def test_audience_mismatch_is_rejected(aud: object) -> None:
    await rejects(sign(claims(aud=aud)))


@pytest.mark.anyio
async def test_audience_list_containing_client_id_alone_is_accepted() -> None:
    assert await validate(sign(claims(aud=[CLIENT_ID])))


@pytest.mark.anyio
async def test_multiple_audiences_without_azp_are_rejected() -> None:
    await rejects(sign(claims(aud=[CLIENT_ID, "https://api.example.com"])))


@pytest.mark.anyio
async def test_multiple_audiences_with_azp_client_id_are_accepted() -> None:
    token = sign(claims(aud=[CLIENT_ID, "https://api.example.com"], azp=CLIENT_ID))
    assert (await validate(token))["azp"] == CLIENT_ID


@pytest.mark.anyio
@pytest.mark.parametrize("azp", ["other-client", "", [CLIENT_ID], 1])
async def test_azp_other_than_client_id_is_rejected(azp: object) -> None:
    await rejects(sign(claims(aud=[CLIENT_ID, "https://api.example.com"], azp=azp)))


@pytest.mark.anyio
async def test_azp_mismatch_with_single_audience_is_rejected() -> None:
    await rejects(sign(claims(azp="other-client")))


# -- exp / iat / nbf ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exp",
    [NOW - 600, NOW - LEEWAY, ..., "9999999999", True, None, [NOW + 60]],
    ids=["past", "at-leeway", "missing", "string", "bool", "null", "array"],
)
async def test_invalid_or_past_exp_is_rejected(exp: object) -> None:
    await rejects(sign(claims(exp=exp)))


@pytest.mark.anyio
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
async def test_non_finite_exp_in_raw_payload_is_rejected(literal: str) -> None:
    body = json.dumps(claims(exp=...))[:-1] + f', "exp": {literal}}}'
    await rejects(sign(body))


@pytest.mark.anyio
@pytest.mark.parametrize(
    "iat",
    [..., "1700000000", True, None, NOW + 86400, NOW + LEEWAY + 5],
    ids=["missing", "string", "bool", "null", "day-ahead", "past-leeway"],
)
async def test_missing_invalid_or_future_iat_is_rejected(iat: object) -> None:
    await rejects(sign(claims(iat=iat)))


@pytest.mark.anyio
async def test_nan_iat_in_raw_payload_is_rejected() -> None:
    body = json.dumps(claims(iat=...))[:-1] + ', "iat": NaN}'
    await rejects(sign(body))


@pytest.mark.anyio
@pytest.mark.parametrize("nbf", [NOW + 3600, NOW + LEEWAY + 5, "0", True])
async def test_future_or_invalid_nbf_is_rejected(nbf: object) -> None:
    await rejects(sign(claims(nbf=nbf)))


@pytest.mark.anyio
async def test_nbf_within_leeway_is_accepted() -> None:
    assert await validate(sign(claims(nbf=NOW + LEEWAY - 5)))


# -- nonce --------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "nonce",
    ["other-nonce", ..., None, "", [NONCE], NONCE.upper(), NONCE + " ", " " + NONCE, {NONCE: 1}],
    ids=["other", "missing", "null", "empty", "array", "case", "trailing", "leading", "object"],
)
async def test_nonce_mismatch_is_rejected(nonce: object) -> None:
    await rejects(sign(claims(nonce=nonce)))


# -- max_age / auth_time ------------------------------------------------------------------


@pytest.mark.anyio
async def test_fresh_auth_time_satisfies_max_age() -> None:
    assert await validate(sign(claims(auth_time=NOW - 100)), max_age=300)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "auth_time",
    [..., NOW - 300 - LEEWAY - 1, NOW - 86400, str(NOW), True, None, [NOW]],
    ids=["missing", "just-stale", "stale", "string", "bool", "null", "array"],
)
async def test_max_age_rejects_missing_stale_or_invalid_auth_time(auth_time: object) -> None:
    await rejects(sign(claims(auth_time=auth_time)), max_age=300)


@pytest.mark.anyio
async def test_max_age_zero_rejects_old_authentication() -> None:
    await rejects(sign(claims(auth_time=NOW - 600)), max_age=0)


@pytest.mark.anyio
async def test_non_numeric_auth_time_is_rejected_without_max_age() -> None:
    await rejects(sign(claims(auth_time="yesterday")))


# -- organizations ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_matching_org_id_is_accepted() -> None:
    assert await validate(sign(claims(org_id="org_abc")), organization="org_abc")


@pytest.mark.anyio
@pytest.mark.parametrize("org_id", [..., "org_other", "ORG_ABC", ["org_abc"], None])
async def test_org_id_mismatch_is_rejected(org_id: object) -> None:
    await rejects(sign(claims(org_id=org_id)), organization="org_abc")


@pytest.mark.anyio
async def test_org_name_matches_case_insensitively() -> None:
    assert await validate(sign(claims(org_name="acme")), organization="Acme")


@pytest.mark.anyio
@pytest.mark.parametrize("org_name", [..., "other", "acme-corp", ["acme"], 1])
async def test_org_name_mismatch_is_rejected(org_name: object) -> None:
    await rejects(sign(claims(org_name=org_name, org_id="acme")), organization="acme")


# -- malformed tokens: always IdTokenError, never another exception -----------------------


def _malformed() -> dict[str, str]:
    good = sign(claims())
    h, p, s = good.split(".")
    return {
        "empty": "",
        "one-segment": h,
        "two-segments": f"{h}.{p}",
        "four-segments": f"{h}.{p}.{s}.{s}",
        "five-segments-jwe": f"{h}..{p}.{p}.{s}",
        "six-segments": f"{h}.{p}.{s}.{s}.{s}.{s}",
        "empty-header": f".{p}.{s}",
        "empty-payload": f"{h}..{s}",
        "padding": f"{h}=.{p}.{s}",
        "standard-b64": f"{h}+/.{p}.{s}",
        "bad-length": f"{h}A.{p}.{s}"
        if len(h) % 4 == 0
        else f"{h[: len(h) - len(h) % 4]}A.{p}.{s}",
        "array-header": unsigned(b'["RS256"]', claims(), s),
        "null-header": unsigned(b"null", claims(), s),
        "number-payload": unsigned({"alg": "RS256"}, b"42", s),
        "array-payload": unsigned({"alg": "RS256"}, b"[]", s),
        "deep-header": unsigned(b"[" * 100_000, claims(), s),
        "deep-payload": unsigned({"alg": "RS256"}, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, s),
        "bom-header": unsigned(b'\xef\xbb\xbf{"alg":"RS256"}', claims(), s),
        "bom-payload": unsigned(
            {"alg": "RS256"}, b"\xef\xbb\xbf" + json.dumps(claims()).encode(), s
        ),
        "bad-utf8-header": unsigned(b'{"alg":"RS256\xff"}', claims(), s),
        "bad-utf8-payload": unsigned({"alg": "RS256"}, b'{"sub":"\xc0\xaf"}', s),
        "nan-header": unsigned(b'{"alg":"RS256","x":NaN}', claims(), s),
        "huge": f"{h}.{'A' * 70_000}.{s}",
        "non-ascii": f"{h}é.{p}.{s}",
        "whitespace": f" {h}.{p}.{s}",
    }


MALFORMED = _malformed()


@pytest.mark.anyio
@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_token_is_an_id_token_error(token: str) -> None:
    jwks = FakeJwks(RSA_PUBLIC)
    await rejects(token, jwks)


@pytest.mark.anyio
@pytest.mark.parametrize("token", [None, 123, b"a.b.c"], ids=["none", "int", "bytes"])
async def test_non_string_token_is_an_id_token_error(token: object) -> None:
    await rejects(token)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_decode_unverified_raises_only_id_token_error(token: str) -> None:
    try:
        header, payload = decode_unverified(token)
    except IdTokenError:
        return
    assert isinstance(header, dict)
    assert isinstance(payload, dict)


@pytest.mark.anyio
async def test_malformed_token_never_fetches_keys() -> None:
    jwks = FakeJwks(RSA_PUBLIC)
    await rejects(MALFORMED["deep-header"], jwks)
    await rejects(MALFORMED["array-payload"], jwks)
    assert jwks.calls == []


@pytest.mark.anyio
async def test_invalid_claims_are_rejected_before_fetching_keys() -> None:
    jwks = FakeJwks(RSA_PUBLIC)
    await rejects(sign(claims(iss="https://evil.example/")), jwks)
    assert jwks.calls == []


def test_id_token_error_reason_holds_no_token_data() -> None:
    token = unsigned({"alg": "RS256"}, claims(sub="secret-subject-value"))
    with pytest.raises(IdTokenError) as info:
        decode_unverified(token[:-5] + "!!!!!")
    assert "secret-subject-value" not in info.value.reason
    assert "secret-subject-value" not in str(info.value)
