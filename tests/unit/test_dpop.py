"""DPoP building blocks (RFC 9449): proof keys, proofs, server nonces, nonce-error detection.

Proofs are verified with joserfc against the public JWK they embed, exactly as a server
would; expected thumbprints and ``ath`` values are recomputed here from their definitions
with ``hashlib`` rather than taken from the module under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

from auth0_web.oidc._dpop import (
    DpopKey,
    DpopKeyPair,
    DpopNonces,
    create_proof,
    generate_dpop_key_pair,
    is_nonce_error,
    retry_delay,
)

NOW = 1_700_000_000
PROPERTY = settings(max_examples=300, deadline=None, database=None, derandomize=True)

P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
RSA_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_PKCS8 = serialization.PrivateFormat.PKCS8

#: The P-256 private key of RFC 7517 Appendix A.2 (a published test vector).
RFC7517_JWK: dict[str, Any] = {
    "kty": "EC",
    "crv": "P-256",
    "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
    "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    "d": "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE",
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def pem_private(key: Any, fmt: serialization.PrivateFormat) -> bytes:
    pem: bytes = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    return pem


def pem_public(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def expected_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 §3 by hand: required members, sorted, no whitespace, SHA-256."""
    canonical = f'{{"crv":"{jwk["crv"]}","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def verify(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify ``proof`` like a server: with the key in its own header, ES256 only."""
    header = json.loads(unb64url(proof.split(".")[0]))
    public = ECKey.import_key(header["jwk"])
    token = jws.deserialize_compact(proof, public, algorithms=["ES256"])
    return token.headers(), json.loads(token.payload)


def proof_claims(key: DpopKey | None = None, **options: Any) -> dict[str, Any]:
    options.setdefault("htm", "POST")
    options.setdefault("htu", "https://tenant.auth0.com/oauth/token")
    options.setdefault("now", NOW)
    return verify(create_proof(key or DpopKey.from_key(P256), **options))[1]


# -- keys ------------------------------------------------------------------------------------


class TestKeyLoading:
    def test_pkcs8_pem_str_and_bytes(self) -> None:
        pem = pem_private(P256, serialization.PrivateFormat.PKCS8)
        assert b"BEGIN PRIVATE KEY" in pem
        from_bytes = DpopKey.from_pem(pem)
        from_str = DpopKey.from_pem(pem.decode())
        assert from_bytes.thumbprint == from_str.thumbprint == DpopKey.from_key(P256).thumbprint

    def test_sec1_pem(self) -> None:
        pem = pem_private(P256, serialization.PrivateFormat.TraditionalOpenSSL)
        assert b"BEGIN EC PRIVATE KEY" in pem
        assert DpopKey.from_pem(pem) == DpopKey.from_key(P256)

    def test_with_matching_spki_public_key(self) -> None:
        private = pem_private(P256, serialization.PrivateFormat.PKCS8)
        key = DpopKey.from_pem(private.decode(), pem_public(P256).decode())
        assert key.thumbprint == DpopKey.from_key(P256).thumbprint

    def test_from_cryptography_object(self) -> None:
        key = DpopKey.from_key(P256)
        numbers = P256.public_key().public_numbers()
        assert unb64url(key.public_jwk["x"]) == numbers.x.to_bytes(32, "big")
        assert unb64url(key.public_jwk["y"]) == numbers.y.to_bytes(32, "big")

    def test_from_joserfc_eckey(self) -> None:
        jose = ECKey.generate_key("P-256")
        key = DpopKey.from_key(jose)
        assert key.public_jwk == jose.as_dict(private=False)
        assert key.thumbprint == jose.thumbprint()

    def test_from_jwk_dict(self) -> None:
        key = DpopKey.from_key(dict(RFC7517_JWK))
        assert key.public_jwk == {k: RFC7517_JWK[k] for k in ("kty", "crv", "x", "y")}

    def test_jwk_with_es256_usage_members_is_accepted(self) -> None:
        jwk = {**RFC7517_JWK, "alg": "ES256", "use": "sig", "key_ops": ["sign"], "kid": "k1"}
        assert DpopKey.from_key(jwk).thumbprint == DpopKey.from_key(RFC7517_JWK).thumbprint

    def test_from_key_of_a_dpop_key_is_identity(self) -> None:
        key = DpopKey.generate()
        assert DpopKey.from_key(key) is key

    def test_generate_is_random_p256(self) -> None:
        a, b = DpopKey.generate(), DpopKey.generate()
        assert a != b
        assert a.public_jwk["crv"] == "P-256"

    def test_pem_export_round_trips(self) -> None:
        key = DpopKey.generate()
        private, public = key.private_pem(), key.public_pem()
        assert private.startswith("-----BEGIN PRIVATE KEY-----")
        assert public.startswith("-----BEGIN PUBLIC KEY-----")
        assert DpopKey.from_pem(private, public) == key

    def test_generate_dpop_key_pair(self) -> None:
        pair = generate_dpop_key_pair()
        assert isinstance(pair, DpopKeyPair)
        private, public = pair
        assert "PRIVATE KEY" in private and "PUBLIC KEY" in public
        assert DpopKey.from_pem(pair.private_key, pair.public_key).algorithm == "ES256"
        assert generate_dpop_key_pair().private_key != private


def _bad_key_inputs() -> list[tuple[str, Any]]:
    other = ec.generate_private_key(ec.SECP256R1())
    encrypted = P256.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    return [
        ("rsa-2048-pem", lambda: DpopKey.from_pem(pem_private(RSA_2048, _PKCS8))),
        ("rsa-2048-object", lambda: DpopKey.from_key(RSA_2048)),
        ("rsa-joserfc", lambda: DpopKey.from_key(RSAKey.import_key(RSA_2048))),
        ("rsa-jwk", lambda: DpopKey.from_key(RSAKey.import_key(RSA_2048).as_dict())),
        ("p384-pem", lambda: DpopKey.from_pem(pem_private(P384, _PKCS8))),
        ("p384-object", lambda: DpopKey.from_key(P384)),
        ("p384-joserfc", lambda: DpopKey.from_key(ECKey.import_key(P384))),
        ("p384-jwk", lambda: DpopKey.from_key(ECKey.import_key(P384).as_dict())),
        ("p384-direct", lambda: DpopKey(P384)),
        (
            "secp256k1-object",
            lambda: DpopKey.from_key(ec.generate_private_key(ec.SECP256K1())),
        ),
        ("ed25519-object", lambda: DpopKey.from_key(ed25519.Ed25519PrivateKey.generate())),
        (
            "ed25519-pem",
            lambda: DpopKey.from_pem(pem_private(ed25519.Ed25519PrivateKey.generate(), _PKCS8)),
        ),
        ("public-pem-as-private", lambda: DpopKey.from_pem(pem_public(P256))),
        ("public-object", lambda: DpopKey.from_key(P256.public_key())),
        (
            "public-joserfc",
            lambda: DpopKey.from_key(
                ECKey.import_key(ECKey.import_key(P256).as_dict(private=False))
            ),
        ),
        (
            "jwk-without-d",
            lambda: DpopKey.from_key({k: v for k, v in RFC7517_JWK.items() if k != "d"}),
        ),
        (
            "jwk-d-of-another-key",
            lambda: DpopKey.from_key(
                {**RFC7517_JWK, "d": ECKey.import_key(other).as_dict(private=True)["d"]}
            ),
        ),
        ("jwk-non-string-d", lambda: DpopKey.from_key({**RFC7517_JWK, "d": 12345})),
        ("jwk-garbage-d", lambda: DpopKey.from_key({**RFC7517_JWK, "d": "!!"})),
        ("jwk-alg-es384", lambda: DpopKey.from_key({**RFC7517_JWK, "alg": "ES384"})),
        ("jwk-alg-hs256", lambda: DpopKey.from_key({**RFC7517_JWK, "alg": "HS256"})),
        ("jwk-use-enc", lambda: DpopKey.from_key({**RFC7517_JWK, "use": "enc"})),
        ("jwk-key-ops-verify", lambda: DpopKey.from_key({**RFC7517_JWK, "key_ops": ["verify"]})),
        ("jwk-oct", lambda: DpopKey.from_key({"kty": "oct", "k": "c2VjcmV0"})),
        ("jwk-no-kty", lambda: DpopKey.from_key({"crv": "P-256", "d": "x"})),
        (
            "mismatched-pair",
            lambda: DpopKey.from_pem(pem_private(P256, _PKCS8), pem_public(other)),
        ),
        ("public-is-p384", lambda: DpopKey.from_pem(pem_private(P256, _PKCS8), pem_public(P384))),
        (
            "public-is-rsa",
            lambda: DpopKey.from_pem(pem_private(P256, _PKCS8), pem_public(RSA_2048)),
        ),
        ("public-garbage", lambda: DpopKey.from_pem(pem_private(P256, _PKCS8), "not a pem")),
        (
            "public-is-private",
            lambda: DpopKey.from_pem(pem_private(P256, _PKCS8), pem_private(P256, _PKCS8)),
        ),
        ("garbage-pem", lambda: DpopKey.from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END")),
        ("not-pem-at-all", lambda: DpopKey.from_pem("hello")),
        ("empty-pem", lambda: DpopKey.from_pem("")),
        ("whitespace-pem", lambda: DpopKey.from_pem(" \n")),
        ("huge-pem", lambda: DpopKey.from_pem("A" * 100_000)),
        ("jwk-json-as-pem", lambda: DpopKey.from_pem(json.dumps(RFC7517_JWK))),
        ("encrypted-pem", lambda: DpopKey.from_pem(encrypted)),
        ("hmac-bytes", lambda: DpopKey.from_key(b"a-shared-hmac-secret-of-32-bytes")),
        ("hmac-bytearray", lambda: DpopKey.from_key(bytearray(32))),
        ("hmac-octkey", lambda: DpopKey.from_key(OctKey.generate_key(256))),
        ("pem-string-to-from-key", lambda: DpopKey.from_key(pem_private(P256, _PKCS8).decode())),
        ("none", lambda: DpopKey.from_key(None)),
        ("int", lambda: DpopKey.from_key(42)),
        ("pem-not-text", lambda: DpopKey.from_pem(42)),  # type: ignore[arg-type]
    ]


BAD_KEY_INPUTS = _bad_key_inputs()


@pytest.mark.parametrize(("name", "load"), BAD_KEY_INPUTS, ids=[n for n, _ in BAD_KEY_INPUTS])
def test_bad_key_input_fails_closed(name: str, load: Any) -> None:
    with pytest.raises(ValueError) as info:
        load()
    assert str(info.value)  # a message, not a bare exception


def test_bad_key_messages_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="RSA"):
        DpopKey.from_pem(pem_private(RSA_2048, _PKCS8))
    with pytest.raises(ValueError, match="secp384r1"):
        DpopKey.from_key(P384)
    with pytest.raises(ValueError, match="public key"):
        DpopKey.from_pem(pem_public(P256))
    with pytest.raises(ValueError, match="does not belong"):
        DpopKey.from_pem(
            pem_private(P256, _PKCS8), pem_public(ec.generate_private_key(ec.SECP256R1()))
        )
    with pytest.raises(ValueError, match="'d'"):
        DpopKey.from_key({k: v for k, v in RFC7517_JWK.items() if k != "d"})
    with pytest.raises(ValueError, match="HMAC"):
        DpopKey.from_key(b"secret")
    with pytest.raises(ValueError, match="encrypted"):
        DpopKey.from_pem(
            P256.private_bytes(
                serialization.Encoding.PEM,
                _PKCS8,
                serialization.BestAvailableEncryption(b"pw"),
            )
        )


class TestPublicMaterial:
    def test_public_jwk_has_only_public_members(self) -> None:
        jwk = DpopKey.from_key(RFC7517_JWK).public_jwk
        assert set(jwk) == {"kty", "crv", "x", "y"}
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"

    def test_public_jwk_is_a_copy(self) -> None:
        key = DpopKey.generate()
        key.public_jwk["d"] = "injected"
        assert "d" not in key.public_jwk

    def test_thumbprint_matches_independent_computation(self) -> None:
        key = DpopKey.from_key(RFC7517_JWK)
        assert key.thumbprint == expected_thumbprint(RFC7517_JWK)
        assert key.thumbprint == ECKey.import_key(RFC7517_JWK).thumbprint()
        assert len(unb64url(key.thumbprint)) == 32

    def test_thumbprint_stable_across_loaders(self) -> None:
        jose = ECKey.import_key(RFC7517_JWK)
        crypto = jose.private_key
        assert crypto is not None
        pkcs8 = pem_private(crypto, _PKCS8)
        sec1 = pem_private(crypto, serialization.PrivateFormat.TraditionalOpenSSL)
        prints = {
            DpopKey.from_key(RFC7517_JWK).thumbprint,
            DpopKey.from_key(jose).thumbprint,
            DpopKey.from_key(crypto).thumbprint,
            DpopKey.from_pem(pkcs8).thumbprint,
            DpopKey.from_pem(sec1, pem_public(crypto)).thumbprint,
        }
        assert prints == {expected_thumbprint(RFC7517_JWK)}

    def test_short_coordinates_are_left_padded(self) -> None:
        # Find a deterministic key whose x has a leading zero byte (about 1 in 256).
        scalar = 1
        while True:
            scalar += 1
            private = ec.derive_private_key(scalar, ec.SECP256R1())
            if private.public_key().public_numbers().x < 1 << 248:
                break
        key = DpopKey.from_key(private)
        raw_x = unb64url(key.public_jwk["x"])
        assert len(raw_x) == 32 and raw_x[0] == 0
        assert key.public_jwk == ECKey.import_key(private).as_dict(private=False)
        assert key.thumbprint == expected_thumbprint(key.public_jwk)

    def test_repr_masks_the_key(self) -> None:
        key = DpopKey.from_key(RFC7517_JWK)
        text = repr(key)
        assert RFC7517_JWK["d"] not in text
        assert "PRIVATE" not in text and "masked" in text
        assert key.thumbprint in text
        assert str(key) == text

    def test_cannot_be_pickled(self) -> None:
        with pytest.raises(TypeError):
            pickle.dumps(DpopKey.generate())


# -- proofs ----------------------------------------------------------------------------------


class TestProof:
    def test_header_is_exactly_typ_alg_jwk(self) -> None:
        key = DpopKey.from_key(RFC7517_JWK)
        header, _ = verify(create_proof(key, htm="POST", htu="https://a.example/t", now=NOW))
        assert header == {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
        assert set(header["jwk"]) == {"kty", "crv", "x", "y"}
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(header["jwk"])

    def test_signature_is_raw_r_s(self) -> None:
        proof = create_proof(DpopKey.generate(), htm="GET", htu="https://a.example/", now=NOW)
        assert len(unb64url(proof.split(".")[2])) == 64

    def test_fails_verification_with_another_key(self) -> None:
        proof = create_proof(DpopKey.generate(), htm="GET", htu="https://a.example/", now=NOW)
        with pytest.raises(Exception):
            jws.deserialize_compact(proof, ECKey.generate_key("P-256"), algorithms=["ES256"])

    def test_claims(self) -> None:
        claims = proof_claims(htm="post", htu="https://tenant.auth0.com/oauth/token")
        assert set(claims) == {"jti", "htm", "htu", "iat"}
        assert claims["htm"] == "POST"
        assert claims["htu"] == "https://tenant.auth0.com/oauth/token"
        assert claims["iat"] == NOW
        assert isinstance(claims["jti"], str) and len(unb64url(claims["jti"])) >= 16

    @pytest.mark.parametrize(
        ("url", "htu"),
        [
            ("https://api.example/v1/items?page=2#top", "https://api.example/v1/items"),
            ("https://api.example/v1/items?", "https://api.example/v1/items"),
            ("https://api.example/v1/items#", "https://api.example/v1/items"),
            ("https://api.example/a;p?q=1", "https://api.example/a;p"),
            ("https://api.example", "https://api.example/"),
            ("https://api.example?x=1", "https://api.example/"),
            ("HTTPS://API.Example:8443/Path/To", "https://api.example:8443/Path/To"),
            ("http://localhost:3000/api/%7Euser", "http://localhost:3000/api/%7Euser"),
            ("https://user:secret@api.example/x", "https://api.example/x"),
            ("https://[::1]:8443/x?y", "https://[::1]:8443/x"),
            ("https://api.example:443/x", "https://api.example:443/x"),
        ],
    )
    def test_htu(self, url: str, htu: str) -> None:
        assert proof_claims(htu=url)["htu"] == htu

    @pytest.mark.parametrize(
        "url",
        [
            "",
            "/relative/path",
            "api.example/x",
            "ftp://api.example/x",
            "javascript:alert(1)",
            "https:///nohost",
            "https://api.example/a b",
            "https://api.example/\u00e9",
            "https://api.example/x\r\nInjected: 1",
            "https://api.example:99999/x",
            "https://api.example:port/x",
            "https://[::1/x",
        ],
    )
    def test_bad_htu_is_refused(self, url: str) -> None:
        with pytest.raises(ValueError):
            create_proof(DpopKey.generate(), htm="GET", htu=url, now=NOW)

    @pytest.mark.parametrize(
        ("given", "sent"), [("get", "GET"), ("Patch", "PATCH"), ("POST", "POST")]
    )
    def test_htm_is_upper_case(self, given: str, sent: str) -> None:
        assert proof_claims(htm=given)["htm"] == sent

    @pytest.mark.parametrize("method", ["", "GET POST", "GE\nT", "GET/", "G\u00c9T"])
    def test_bad_htm_is_refused(self, method: str) -> None:
        with pytest.raises(ValueError):
            create_proof(DpopKey.generate(), htm=method, htu="https://a.example/", now=NOW)

    def test_iat_applies_clock_skew(self) -> None:
        assert proof_claims(now=NOW + 0.9)["iat"] == NOW
        assert proof_claims(clock_skew=30)["iat"] == NOW + 30
        assert proof_claims(clock_skew=-45)["iat"] == NOW - 45

    @pytest.mark.parametrize("now", [float("nan"), float("inf"), True, "1700000000"])
    def test_bad_now_is_refused(self, now: Any) -> None:
        with pytest.raises(ValueError):
            create_proof(DpopKey.generate(), htm="GET", htu="https://a.example/", now=now)

    def test_bad_clock_skew_is_refused(self) -> None:
        skew: Any = 1.5
        with pytest.raises(ValueError):
            create_proof(
                DpopKey.generate(), htm="GET", htu="https://a.example/", now=NOW, clock_skew=skew
            )

    def test_nonce(self) -> None:
        assert proof_claims(nonce="eyJ7S_zG.eyJH0-Z.HX4w-7v")["nonce"] == "eyJ7S_zG.eyJH0-Z.HX4w-7v"
        assert "nonce" not in proof_claims()

    @pytest.mark.parametrize(
        "nonce", ["", "has space", 'quo"te', "back\\slash", "x" * 513, "\u00e9"]
    )
    def test_bad_nonce_is_refused(self, nonce: str) -> None:
        with pytest.raises(ValueError):
            create_proof(
                DpopKey.generate(), htm="GET", htu="https://a.example/", now=NOW, nonce=nonce
            )

    def test_ath_binds_the_access_token(self) -> None:
        token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
        expected = b64url(hashlib.sha256(token.encode("ascii")).digest())
        claims = proof_claims(htm="GET", htu="https://api.example/r", access_token=token)
        assert claims["ath"] == expected
        assert token not in json.dumps(claims)
        assert "ath" not in proof_claims()

    def test_ath_rfc9449_example(self) -> None:
        # The access token and ``ath`` of the RFC 9449 §7.1 example.
        claims = proof_claims(access_token="Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        assert claims["ath"] == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"

    @pytest.mark.parametrize("token", ["", "t\u00f6ken"])
    def test_bad_access_token_is_refused(self, token: str) -> None:
        with pytest.raises(ValueError):
            create_proof(
                DpopKey.generate(), htm="GET", htu="https://a.example/", now=NOW, access_token=token
            )

    def test_key_must_be_a_dpop_key(self) -> None:
        with pytest.raises(ValueError):
            create_proof(P256, htm="GET", htu="https://a.example/", now=NOW)  # type: ignore[arg-type]

    def test_jti_unique_over_1000_proofs(self) -> None:
        key = DpopKey.generate()
        jtis = set()
        for _ in range(1000):
            proof = create_proof(key, htm="GET", htu="https://a.example/", now=NOW)
            jtis.add(json.loads(unb64url(proof.split(".")[1]))["jti"])
        assert len(jtis) == 1000


# -- nonces ------------------------------------------------------------------------------------


class TestNonces:
    def test_per_origin(self) -> None:
        nonces = DpopNonces()
        nonces.update("https://tenant.auth0.com/oauth/token", {"DPoP-Nonce": "as-1"})
        nonces.update("https://api.example/v1/items?x=1", {"DPoP-Nonce": "rs-1"})
        assert nonces.get("https://tenant.auth0.com/userinfo") == "as-1"
        assert nonces.get("https://api.example/other") == "rs-1"
        assert nonces.get("http://api.example/other") is None
        assert nonces.get("https://api.example:8443/other") is None
        assert nonces.get("https://sub.api.example/other") is None
        assert nonces.get("https://unknown.example/") is None

    def test_origin_normalisation(self) -> None:
        nonces = DpopNonces()
        nonces.update("https://API.Example/x", {"DPoP-Nonce": "n1"})
        assert nonces.get("https://api.example:443/y") == "n1"
        assert nonces.get("HTTPS://api.EXAMPLE") == "n1"
        nonces.update("http://localhost/", {"DPoP-Nonce": "n2"})
        assert nonces.get("http://localhost:80/z") == "n2"
        nonces.update("https://[::1]:8443/", {"DPoP-Nonce": "n3"})
        assert nonces.get("https://[::1]:8443/q") == "n3"

    def test_latest_wins(self) -> None:
        nonces = DpopNonces()
        nonces.update("https://a.example/", {"DPoP-Nonce": "one"})
        nonces.update("https://a.example/", {"DPoP-Nonce": "two"})
        assert nonces.get("https://a.example/") == "two"

    def test_header_name_is_case_insensitive(self) -> None:
        nonces = DpopNonces()
        nonces.update("https://a.example/", {"dpop-nonce": "lower"})
        assert nonces.get("https://a.example/") == "lower"
        nonces.update("https://a.example/", httpx.Headers({"DPOP-NONCE": "httpx"}))
        assert nonces.get("https://a.example/") == "httpx"

    def test_no_header_keeps_previous(self) -> None:
        nonces = DpopNonces()
        nonces.update("https://a.example/", {"DPoP-Nonce": "keep"})
        nonces.update("https://a.example/", {"Content-Type": "application/json"})
        assert nonces.get("https://a.example/") == "keep"

    @pytest.mark.parametrize(
        "value",
        [
            "",
            " ",
            "x" * 513,
            "has space",
            'has"quote',
            "back\\slash",
            "tab\there",
            "new\nline",
            "caf\u00e9",
            "\x7f",
        ],
    )
    def test_invalid_values_are_ignored(self, value: str) -> None:
        nonces = DpopNonces()
        nonces.update("https://a.example/", {"DPoP-Nonce": "keep"})
        nonces.update("https://a.example/", {"DPoP-Nonce": value})
        assert nonces.get("https://a.example/") == "keep"

    def test_full_nonce_alphabet_and_length_accepted(self) -> None:
        alphabet = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
        nonces = DpopNonces()
        nonces.update("https://a.example/", {"DPoP-Nonce": alphabet})
        assert nonces.get("https://a.example/") == alphabet
        longest = "n" * 512
        nonces.update("https://a.example/", {"DPoP-Nonce": longest})
        assert nonces.get("https://a.example/") == longest

    def test_repeated_header_is_ignored(self) -> None:
        nonces = DpopNonces()
        headers = httpx.Headers([("DPoP-Nonce", "a"), ("DPoP-Nonce", "b")])
        nonces.update("https://a.example/", headers)
        assert nonces.get("https://a.example/") is None

    def test_non_string_values_are_ignored(self) -> None:
        nonces = DpopNonces()
        nonces.update("https://a.example/", {"DPoP-Nonce": b"bytes"})  # type: ignore[dict-item]
        nonces.update("https://a.example/", None)  # type: ignore[arg-type]
        assert nonces.get("https://a.example/") is None

    @pytest.mark.parametrize(
        "url", ["", "/relative", "ftp://a.example/", "https://", "https://a.example:x/", 42]
    )
    def test_bad_urls_never_raise(self, url: Any) -> None:
        nonces = DpopNonces()
        nonces.update(url, {"DPoP-Nonce": "n"})
        assert nonces.get(url) is None
        assert len(nonces) == 0

    def test_bounded_oldest_evicted(self) -> None:
        nonces = DpopNonces(max_origins=3)
        for i in range(3):
            nonces.update(f"https://h{i}.example/", {"DPoP-Nonce": f"n{i}"})
        assert nonces.get("https://h0.example/") == "n0"  # h0 becomes the most recent
        nonces.update("https://h3.example/", {"DPoP-Nonce": "n3"})
        assert len(nonces) == 3
        assert nonces.get("https://h1.example/") is None
        assert [nonces.get(f"https://h{i}.example/") for i in (0, 2, 3)] == ["n0", "n2", "n3"]

    def test_default_bound(self) -> None:
        nonces = DpopNonces()
        for i in range(1500):
            nonces.update(f"https://h{i}.example/", {"DPoP-Nonce": "n"})
        assert len(nonces) == 1000
        assert nonces.get("https://h499.example/") is None
        assert nonces.get("https://h500.example/") == "n"

    def test_clear(self) -> None:
        nonces = DpopNonces()
        nonces.update("https://a.example/", {"DPoP-Nonce": "n"})
        nonces.clear()
        assert nonces.get("https://a.example/") is None

    @pytest.mark.parametrize("bound", [0, -1, True, 1.5])
    def test_bad_bound(self, bound: Any) -> None:
        with pytest.raises(ValueError):
            DpopNonces(max_origins=bound)


# -- nonce errors ------------------------------------------------------------------------------


class TestIsNonceError:
    def test_token_endpoint(self) -> None:
        assert is_nonce_error(400, {}, {"error": "use_dpop_nonce", "error_description": "x"})

    @pytest.mark.parametrize(
        ("status", "body"),
        [
            (400, {"error": "invalid_grant"}),
            (400, {"error": "invalid_dpop_proof"}),
            (400, {"error": "USE_DPOP_NONCE"}),
            (400, {"error": ["use_dpop_nonce"]}),
            (400, {}),
            (400, None),
            (401, {"error": "use_dpop_nonce"}),
            (500, {"error": "use_dpop_nonce"}),
        ],
    )
    def test_token_endpoint_other_responses(self, status: int, body: Any) -> None:
        assert not is_nonce_error(status, {}, body)

    @pytest.mark.parametrize(
        "challenge",
        [
            'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"',
            'DPoP algs="ES256", error="use_dpop_nonce"',
            'dpop error="use_dpop_nonce"',
            'DPOP error = "use_dpop_nonce"',
            "DPoP error=use_dpop_nonce",
            'DPoP ERROR="use_dpop_nonce"',
            'DPoP error="use_dpop\\_nonce"',
            'Bearer realm="api", DPoP algs="ES256", error="use_dpop_nonce"',
            'Basic dXNlcjpwYXNz==, DPoP error="use_dpop_nonce"',
            'Bearer error="invalid_token", DPoP error="use_dpop_nonce"',
            'DPoP realm="a, b=\\"c\\"", error="use_dpop_nonce"',
            ', , DPoP ,, error="use_dpop_nonce"',
        ],
    )
    def test_resource_server(self, challenge: str) -> None:
        assert is_nonce_error(401, {"WWW-Authenticate": challenge}, None)

    def test_resource_server_header_lookup(self) -> None:
        challenge = 'DPoP error="use_dpop_nonce"'
        assert is_nonce_error(401, {"www-authenticate": challenge}, None)
        assert is_nonce_error(401, httpx.Headers({"WWW-Authenticate": challenge}), None)
        repeated = httpx.Headers(
            [("WWW-Authenticate", 'Bearer realm="x"'), ("WWW-Authenticate", challenge)]
        )
        assert is_nonce_error(401, repeated, None)

    @pytest.mark.parametrize(
        "challenge",
        [
            'Bearer error="use_dpop_nonce"',
            'DPoP error="invalid_token"',
            'DPoP error="use_dpop_nonce_x"',
            'DPoP error="USE_DPOP_NONCE"',
            'DPoP error_description="use_dpop_nonce"',
            'DPoP realm="error=\\"use_dpop_nonce\\""',
            'DPoPx error="use_dpop_nonce"',
            'DPoP error="use_dpop_nonce", Bearer',  # still true: DPoP's own param
            "DPoP",
            "",
        ],
    )
    def test_resource_server_other_challenges(self, challenge: str) -> None:
        expected = challenge == 'DPoP error="use_dpop_nonce", Bearer'
        assert is_nonce_error(401, {"WWW-Authenticate": challenge}, None) is expected

    def test_resource_server_needs_401(self) -> None:
        headers = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"'}
        assert not is_nonce_error(403, headers, None)
        assert not is_nonce_error(400, headers, None)
        assert not is_nonce_error(200, headers, None)

    def test_missing_header(self) -> None:
        assert not is_nonce_error(401, {}, None)
        assert not is_nonce_error(401, {"Content-Type": "text/plain"}, {"error": "x"})

    @pytest.mark.parametrize(
        "header",
        [
            "," * 100_000,
            "DPoP " + "," * 100_000,
            "DPoP " + ", " * 50_000 + 'error="use_dpop_nonce"',
            '"\\' * 50_000,
            '"' * 100_001,
            "a=" * 50_000,
            "=" * 100_000,
            "DPoP " + "a" * 100_000,
            'DPoP error="' + "x" * 100_000,
            "\\" * 100_000,
        ],
    )
    def test_huge_headers_do_not_hang_or_raise(self, header: str) -> None:
        result = is_nonce_error(401, {"WWW-Authenticate": header}, None)
        assert result is header.endswith('error="use_dpop_nonce"')

    @PROPERTY
    @given(st.text(max_size=400))
    def test_never_raises_on_arbitrary_text(self, header: str) -> None:
        assert isinstance(is_nonce_error(401, {"WWW-Authenticate": header}, None), bool)

    @PROPERTY
    @given(st.text(alphabet=' \t,="\\DPoPerosu_dpnc', max_size=400))
    def test_never_raises_on_challenge_like_text(self, header: str) -> None:
        assert isinstance(is_nonce_error(401, {"WWW-Authenticate": header}, None), bool)

    def test_broken_mapping_does_not_raise(self) -> None:
        class Broken(dict[str, str]):
            def items(self) -> Any:
                raise RuntimeError("boom")

        class BrokenBody(dict[str, Any]):
            def get(self, *args: Any) -> Any:
                raise RuntimeError("boom")

        assert not is_nonce_error(401, Broken(), None)
        assert not is_nonce_error(400, {}, BrokenBody())


# -- retry delay -------------------------------------------------------------------------------


class TestRetryDelay:
    def test_without_jitter(self) -> None:
        assert retry_delay(100, False) == pytest.approx(0.1)
        assert retry_delay(0, True) == 0

    def test_jitter_bounds(self) -> None:
        assert retry_delay(100, True, rng=lambda: 0.0) == pytest.approx(0.05)
        assert retry_delay(100, True, rng=lambda: 0.5) == pytest.approx(0.075)
        assert 0.099 < retry_delay(100, True, rng=lambda: 0.9999) < 0.1
        samples = [retry_delay(200, True) for _ in range(2000)]
        assert all(0.1 <= s <= 0.2 for s in samples)
        assert len(set(samples)) > 100

    @pytest.mark.parametrize("value", [-1.0, 7.0, float("nan"), float("inf")])
    def test_misbehaving_rng_is_clamped(self, value: float) -> None:
        assert 0.05 <= retry_delay(100, True, rng=lambda: value) <= 0.1

    @pytest.mark.parametrize("delay", [-1, 1.5, True, "100"])
    def test_bad_delay(self, delay: Any) -> None:
        with pytest.raises(ValueError):
            retry_delay(delay, True)
