"""The cookie codec: HKDF key derivation and the pinned ``dir``/``A256GCM`` compact JWE."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auth0_web.session._codec import CookieCodec, derive_key

SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
OTHER_SECRET = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
THIRD_SECRET = "a-third-secret-that-is-long-enough-for-the-sdk-0000"
NOW = 1_700_000_000
PINNED_HEADER = b'{"alg":"dir","enc":"A256GCM"}'


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def seal(plaintext: bytes, *, header: bytes = PINNED_HEADER, secret: str = SECRET) -> str:
    """A compact JWE built by hand, so payloads the codec never writes can be tested."""
    header_b64 = b64url(header)
    iv = os.urandom(12)
    sealed = AESGCM(derive_key(secret)).encrypt(iv, plaintext, header_b64.encode("ascii"))
    return ".".join((header_b64, "", b64url(iv), b64url(sealed[:-16]), b64url(sealed[-16:])))


def flip_byte(segment: str, index: int = 0) -> str:
    data = bytearray(unb64url(segment))
    data[index] ^= 0x01
    return b64url(bytes(data))


class SpyAead:
    """Stands in for AESGCM and records whether decryption was attempted."""

    def __init__(self) -> None:
        self.calls = 0

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        self.calls += 1
        raise AssertionError("AES-GCM must not be reached for this input")


@pytest.fixture
def codec() -> CookieCodec:
    return CookieCodec([SECRET])


@pytest.fixture
def token(codec: CookieCodec) -> str:
    return codec.encrypt({"user": {"sub": "auth0|1"}}, exp=NOW + 3600)


@pytest.fixture
def spy(codec: CookieCodec) -> SpyAead:
    aead = SpyAead()
    codec._aesgcm_decrypt = (aead,)
    return aead


# -- key derivation -----------------------------------------------------------------------


def test_derive_key_matches_reference_vector() -> None:
    expected = "48679de198d6c71a096bce60e169d1485a45ec6c1ee21d6edc36e10286e6a040"
    assert derive_key(SECRET).hex() == expected


def test_derive_key_with_legacy_signing_info_matches_vector() -> None:
    expected = "5c57594cc1e8a949fa8b1e57705a4e8ee76c1d5ce1e085240dababe5078c41f3"
    assert derive_key(SECRET, info=b"JWS Cookie Signing").hex() == expected


def test_derive_key_rejects_empty_secret() -> None:
    with pytest.raises(ValueError):
        derive_key("")


def test_codec_requires_a_secret() -> None:
    with pytest.raises(ValueError):
        CookieCodec([])


# -- format and round trip ----------------------------------------------------------------


def test_round_trip_returns_payload_with_exp(codec: CookieCodec) -> None:
    value = codec.encrypt({"a": 1, "b": ["x", None]}, exp=NOW + 60)
    assert codec.decrypt(value, now=NOW) == {"a": 1, "b": ["x", None], "exp": NOW + 60}


def test_encrypt_does_not_mutate_payload(codec: CookieCodec) -> None:
    payload = {"a": 1}
    codec.encrypt(payload, exp=NOW)
    assert payload == {"a": 1}


def test_protected_header_is_exactly_dir_a256gcm(token: str) -> None:
    assert unb64url(token.split(".")[0]) == PINNED_HEADER


def test_compact_form_has_empty_key_and_96_bit_iv(token: str) -> None:
    parts = token.split(".")
    assert len(parts) == 5
    assert parts[1] == ""
    assert len(unb64url(parts[2])) == 12
    assert len(unb64url(parts[4])) == 16


def test_each_encryption_uses_a_fresh_iv(codec: CookieCodec) -> None:
    first = codec.encrypt({"a": 1}, exp=NOW)
    second = codec.encrypt({"a": 1}, exp=NOW)
    assert first.split(".")[2] != second.split(".")[2]


def test_header_with_alg_first_is_accepted(codec: CookieCodec) -> None:
    value = seal(b'{"exp":1700000100,"k":"v"}', header=b'{"alg":"dir","enc":"A256GCM"}')
    assert codec.decrypt(value, now=NOW) == {"exp": 1700000100, "k": "v"}


def test_header_with_enc_first_is_accepted(codec: CookieCodec) -> None:
    value = seal(b'{"exp":1700000100,"k":"v"}', header=b'{"enc":"A256GCM","alg":"dir"}')
    assert codec.decrypt(value, now=NOW) == {"exp": 1700000100, "k": "v"}


# -- secret rotation ----------------------------------------------------------------------


def test_encrypts_with_the_first_secret() -> None:
    value = CookieCodec([SECRET, OTHER_SECRET]).encrypt({"a": 1}, exp=NOW + 60)
    assert CookieCodec([SECRET]).decrypt(value, now=NOW) is not None
    assert CookieCodec([OTHER_SECRET]).decrypt(value, now=NOW) is None


@pytest.mark.parametrize("writer", [SECRET, OTHER_SECRET, THIRD_SECRET])
def test_decrypts_with_any_listed_secret(writer: str) -> None:
    value = CookieCodec([writer]).encrypt({"a": 1}, exp=NOW + 60)
    reader = CookieCodec([SECRET, OTHER_SECRET, THIRD_SECRET])
    assert reader.decrypt(value, now=NOW) == {"a": 1, "exp": NOW + 60}


def test_secret_not_listed_gives_none() -> None:
    value = CookieCodec([THIRD_SECRET]).encrypt({"a": 1}, exp=NOW + 60)
    assert CookieCodec([SECRET, OTHER_SECRET]).decrypt(value, now=NOW) is None


# -- tampering and malformed input --------------------------------------------------------


def test_flipped_header_byte_gives_none(codec: CookieCodec, token: str) -> None:
    parts = token.split(".")
    parts[0] = flip_byte(parts[0], 10)
    assert codec.decrypt(".".join(parts), now=NOW) is None


def test_non_empty_encrypted_key_gives_none(codec: CookieCodec, token: str) -> None:
    parts = token.split(".")
    parts[1] = b64url(b"\x00")
    assert codec.decrypt(".".join(parts), now=NOW) is None


@pytest.mark.parametrize("part", [2, 3, 4], ids=["iv", "ciphertext", "tag"])
@pytest.mark.parametrize("position", [0, -1])
def test_flipped_byte_in_iv_ciphertext_or_tag_gives_none(
    codec: CookieCodec, token: str, part: int, position: int
) -> None:
    parts = token.split(".")
    parts[part] = flip_byte(parts[part], position)
    assert codec.decrypt(".".join(parts), now=NOW) is None


@pytest.mark.parametrize("keep", [1, 20, 60, -1, -5])
def test_truncated_value_gives_none(codec: CookieCodec, token: str, keep: int) -> None:
    assert codec.decrypt(token[:keep], now=NOW) is None


def test_dropped_tag_gives_none(codec: CookieCodec, token: str) -> None:
    parts = token.split(".")
    assert codec.decrypt(".".join(parts[:4]), now=NOW) is None
    assert codec.decrypt(".".join([*parts[:4], ""]), now=NOW) is None


def test_tag_moved_into_ciphertext_gives_none(codec: CookieCodec, token: str) -> None:
    header, key, iv, ct, tag = token.split(".")
    joined = b64url(unb64url(ct) + unb64url(tag))
    assert codec.decrypt(".".join([header, key, iv, joined, ""]), now=NOW) is None


def test_six_parts_give_none(codec: CookieCodec, token: str) -> None:
    assert codec.decrypt(token + ".AAAA", now=NOW) is None


@pytest.mark.parametrize("part", range(5))
def test_empty_part_gives_none(codec: CookieCodec, token: str, part: int) -> None:
    parts = token.split(".")
    parts[part] = ""
    if part == 1:
        parts[2] = ""  # the key part is always empty; empty the IV instead
    assert codec.decrypt(".".join(parts), now=NOW) is None


@pytest.mark.parametrize("value", ["", ".", "....", "a.b.c.d.e", "!!!!.!.!!!!.!!!!.!!!!"])
def test_degenerate_values_give_none(codec: CookieCodec, value: str) -> None:
    assert codec.decrypt(value, now=NOW) is None


def test_random_base64_parts_give_none(codec: CookieCodec) -> None:
    for _ in range(50):
        value = ".".join(
            (
                b64url(os.urandom(29)),
                "",
                b64url(os.urandom(12)),
                b64url(os.urandom(64)),
                b64url(os.urandom(16)),
            )
        )
        assert codec.decrypt(value, now=NOW) is None


def test_random_iv_ct_tag_under_valid_header_give_none(codec: CookieCodec) -> None:
    header = b64url(PINNED_HEADER)
    for _ in range(50):
        value = f"{header}..{b64url(os.urandom(12))}.{b64url(os.urandom(40))}."
        value += b64url(os.urandom(16))
        assert codec.decrypt(value, now=NOW) is None


def test_non_base64url_characters_give_none(codec: CookieCodec, token: str) -> None:
    header, key, iv, ct, tag = token.split(".")
    assert codec.decrypt(".".join([header, key, iv, ct[:-1] + "+", tag]), now=NOW) is None
    assert codec.decrypt(".".join([header, key, iv, ct + "=", tag]), now=NOW) is None


# -- header substitution never reaches AES ------------------------------------------------

SUBSTITUTED_HEADERS = {
    "alg-none": {"alg": "none", "enc": "A256GCM"},
    "rsa-oaep": {"alg": "RSA-OAEP", "enc": "A256GCM"},
    "a256kw": {"alg": "A256KW", "enc": "A256GCM"},
    "pbes2": {
        "alg": "PBES2-HS512+A256KW",
        "enc": "A256GCM",
        "p2c": 2147483647,
        "p2s": "c2FsdHNhbHRzYWx0c2FsdA",
    },
    "a128cbc": {"alg": "dir", "enc": "A128CBC-HS256"},
    "zip": {"alg": "dir", "enc": "A256GCM", "zip": "DEF"},
    "crit": {"alg": "dir", "enc": "A256GCM", "crit": ["x"], "x": 1},
    "kid": {"alg": "dir", "enc": "A256GCM", "kid": "1"},
    "alg-only": {"alg": "dir"},
    "case": {"alg": "DIR", "enc": "a256gcm"},
}


@pytest.mark.parametrize("header", SUBSTITUTED_HEADERS.values(), ids=SUBSTITUTED_HEADERS.keys())
def test_substituted_header_gives_none_before_aes(
    codec: CookieCodec, token: str, spy: SpyAead, header: dict[str, object]
) -> None:
    parts = token.split(".")
    parts[0] = b64url(json.dumps(header).encode())
    if header["alg"] in ("RSA-OAEP", "A256KW", "PBES2-HS512+A256KW"):
        parts[1] = b64url(os.urandom(40))
    assert codec.decrypt(".".join(parts), now=NOW) is None
    assert spy.calls == 0


@pytest.mark.parametrize(
    "header_b64",
    [
        b64url(b"[]"),
        b64url(b"null"),
        b64url(b"\xff\xfe"),
        b64url(b"[" * 100),
        b64url(b'{"alg":"dir","enc":"A256GCM"' + b" " * 200 + b"}"),
        "e",
    ],
    ids=["array", "null", "bad-utf8", "nested", "oversized", "bad-length"],
)
def test_malformed_header_gives_none_before_aes(
    codec: CookieCodec, token: str, spy: SpyAead, header_b64: str
) -> None:
    parts = token.split(".")
    parts[0] = header_b64
    assert codec.decrypt(".".join(parts), now=NOW) is None
    assert spy.calls == 0


def test_one_megabyte_value_gives_none_before_aes(
    codec: CookieCodec, token: str, spy: SpyAead
) -> None:
    header, key, iv, _, tag = token.split(".")
    huge = ".".join([header, key, iv, "A" * (1024 * 1024), tag])
    assert codec.decrypt(huge, now=NOW) is None
    assert spy.calls == 0


# -- payload shape and the exp claim ------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext",
    [
        b'{"user":"x"}',
        b'{"exp":"1700000100"}',
        b'{"exp":true}',
        b'{"exp":null}',
        b'{"exp":NaN}',
        b'{"exp":Infinity}',
        b'{"exp":-Infinity}',
        b'{"exp":1e400}',
        b'{"exp":[1700000100]}',
        b'{"exp":100000000000}',
    ],
    ids=[
        "missing",
        "string",
        "bool",
        "null",
        "nan",
        "infinity",
        "-infinity",
        "1e400",
        "array",
        "far-future",
    ],
)
def test_payload_with_invalid_exp_gives_none(codec: CookieCodec, plaintext: bytes) -> None:
    assert codec.decrypt(seal(plaintext), now=NOW) is None


@pytest.mark.parametrize(
    "plaintext",
    [b"[1700000100]", b'"x"', b"1700000100", b"null", b"", b"not json", b"\xff"],
    ids=["array", "string", "number", "null", "empty", "text", "bad-utf8"],
)
def test_payload_that_is_not_an_object_gives_none(codec: CookieCodec, plaintext: bytes) -> None:
    assert codec.decrypt(seal(plaintext), now=NOW) is None


def test_deeply_nested_payload_gives_none(codec: CookieCodec) -> None:
    plaintext = b'{"exp":1700000100,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert codec.decrypt(seal(plaintext), now=NOW) is None


def test_hand_built_valid_payload_is_accepted(codec: CookieCodec) -> None:
    assert codec.decrypt(seal(b'{"exp":1700000100}'), now=NOW) == {"exp": 1700000100}


def test_exp_ten_seconds_past_is_within_tolerance(codec: CookieCodec) -> None:
    value = codec.encrypt({"a": 1}, exp=NOW - 10)
    assert codec.decrypt(value, now=NOW) == {"a": 1, "exp": NOW - 10}


def test_exp_twenty_seconds_past_is_rejected(codec: CookieCodec) -> None:
    value = codec.encrypt({"a": 1}, exp=NOW - 20)
    assert codec.decrypt(value, now=NOW) is None


def test_exp_long_past_is_rejected(codec: CookieCodec) -> None:
    value = codec.encrypt({"a": 1}, exp=NOW - 86400)
    assert codec.decrypt(value, now=NOW) is None


def test_clock_tolerance_is_configurable() -> None:
    strict = CookieCodec([SECRET], clock_tolerance=0)
    value = strict.encrypt({"a": 1}, exp=NOW - 1)
    assert strict.decrypt(value, now=NOW) is None
