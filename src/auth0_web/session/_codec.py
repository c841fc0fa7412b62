"""The encrypted cookie format: a compact JWE with ``alg: dir`` and ``enc: A256GCM``.

This is the reference SDK's format byte for byte (so a Next.js app and a Python app that
share ``AUTH0_SECRET`` read each other's cookies), implemented with AES-GCM directly
instead of a general JOSE library: the header is pinned to exactly ``{alg: dir, enc:
A256GCM}`` (members in any order), so no input can select another algorithm, a key-wrapping
scheme, PBES2 iteration counts or compression. Everything is checked for size and shape
before any cryptography runs.

Key = HKDF-SHA256(secret as UTF-8, salt empty, info ``JWE CEK``, 32 bytes), derived once per
secret. The first secret encrypts; every listed secret may decrypt (rotation).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["MAX_JWE_LENGTH", "CookieCodec", "derive_key"]

#: Largest encrypted value accepted for decryption (characters). A session split over
#: cookie chunks is re-joined before decryption, so this bounds the whole session.
MAX_JWE_LENGTH = 64 * 1024

_HEADER_B64 = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0"  # {"alg":"dir","enc":"A256GCM"}
_HEADER_B64_ENC_FIRST = "eyJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiZGlyIn0"  # {"enc":"A256GCM","alg":"dir"}
_KNOWN_HEADERS = frozenset({_HEADER_B64, _HEADER_B64_ENC_FIRST})
#: One regex match checks the alphabet of a whole segment at C speed.
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")


def derive_key(secret: str, info: bytes = b"JWE CEK") -> bytes:
    """HKDF-SHA256 with an empty salt, as the reference derives its cookie key."""
    if not secret:
        raise ValueError("secret must be a non-empty string")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret.encode("utf-8")
    )


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(data: str) -> bytes:
    # Callers have already checked the alphabet; padding is implied by the length.
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
#: Last characters whose unused low bits are zero, by segment length mod 4: any other last
#: character decodes to the same bytes, so one JWE would have several spellings.
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def _b64url_strict(segment: str) -> bytes | None:
    """Decode unpadded, canonical base64url, refusing any character outside its alphabet."""
    if "+" in segment or "/" in segment or "=" in segment or not segment.isascii():
        return None
    canonical = _CANONICAL_LAST.get(len(segment) % 4)
    if canonical is not None and segment[-1] not in canonical:
        return None
    data = segment.encode("ascii").translate(_TO_STANDARD_ALPHABET)
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4), strict_mode=True)
    except binascii.Error:
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ValueError("number out of range")
    return value


def _finite_int(text: str) -> int:
    value = int(text)
    if not -_MAX_DOUBLE <= value <= _MAX_DOUBLE:  # math.isfinite() would raise on it
        raise ValueError("number out of range")
    return value


_MAX_DOUBLE = int(sys.float_info.max)
_STRICT_DECODER = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_finite_int
)


def loads_strict(data: bytes | str) -> Any:
    """Parse JSON as RFC 8259 defines it: ``NaN``/``Infinity`` are errors, not floats, and
    so is a number no double can hold (``1e400``, a 400-digit integer)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return _STRICT_DECODER.decode(data)


def _is_numeric_date(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value < 1e11
    )


class CookieCodec:
    """Encrypts and decrypts cookie payloads (JSON objects with an ``exp`` claim)."""

    __slots__ = ("_aesgcm_decrypt", "_aesgcm_encrypt", "clock_tolerance")

    def __init__(self, secrets: Sequence[str], *, clock_tolerance: int = 15) -> None:
        if not secrets:
            raise ValueError("at least one secret is required")
        keys = [derive_key(s) for s in secrets]
        self._aesgcm_encrypt = AESGCM(keys[0])
        self._aesgcm_decrypt = tuple(AESGCM(k) for k in keys)
        self.clock_tolerance = clock_tolerance

    def encrypt(self, payload: dict[str, Any], *, exp: int) -> str:
        """Encrypt ``payload`` plus ``exp`` (epoch seconds) into a compact JWE."""
        claims = dict(payload)
        claims["exp"] = int(exp)
        plaintext = json.dumps(claims, separators=(",", ":"), allow_nan=False).encode("utf-8")
        iv = os.urandom(12)
        sealed = self._aesgcm_encrypt.encrypt(iv, plaintext, _HEADER_B64.encode("ascii"))
        return ".".join(
            (
                _HEADER_B64,
                "",
                _b64url_encode(iv),
                _b64url_encode(sealed[:-16]),
                _b64url_encode(sealed[-16:]),
            )
        )

    def decrypt(self, value: str, *, now: float) -> dict[str, Any] | None:
        """The payload of a valid, unexpired JWE, or ``None`` for anything else.

        "Anything else" covers tampering, a foreign or retired secret, another algorithm,
        malformed input, a missing or non-numeric ``exp`` and expiry; the caller treats all
        of them as "no cookie", never as an error.
        """
        plaintext = self.open(value)
        return None if plaintext is None else self.claims(plaintext, now=now)

    def open(self, value: str) -> bytes | None:
        """The authenticated plaintext of a JWE made with one of our secrets, or ``None``."""
        found = self.open_with_key(value)
        return None if found is None else found[0]

    def open_with_key(self, value: str) -> tuple[bytes, bool] | None:
        """:meth:`open`, and whether the current secret (not a retired one) sealed it."""
        if not value or len(value) > MAX_JWE_LENGTH:
            return None
        parts = value.split(".")
        if len(parts) != 5:
            return None
        header, encrypted_key, iv_b64, ct_b64, tag_b64 = parts
        if encrypted_key or len(iv_b64) != 16 or len(tag_b64) != 22:
            return None
        if header not in _KNOWN_HEADERS and not _is_pinned_header(header):
            return None
        iv = _b64url_strict(iv_b64)
        ciphertext = _b64url_strict(ct_b64)
        tag = _b64url_strict(tag_b64)
        if iv is None or ciphertext is None or tag is None:
            return None
        sealed = ciphertext + tag
        aad = header.encode("ascii")
        for index, aead in enumerate(self._aesgcm_decrypt):
            try:
                return aead.decrypt(iv, sealed, aad), index == 0
            except InvalidTag:
                continue
        return None

    def claims(self, plaintext: bytes, *, now: float) -> dict[str, Any] | None:
        """Parse an opened payload; ``None`` unless it is an object with a live ``exp``."""
        try:
            claims = loads_strict(plaintext)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None
        if not isinstance(claims, dict):
            return None
        exp = claims.get("exp")
        if not _is_numeric_date(exp):
            return None
        assert isinstance(exp, int | float)
        if exp <= now - self.clock_tolerance:
            return None
        return claims


def _is_pinned_header(header_b64: str) -> bool:
    """Accept any serialization of exactly ``{alg: dir, enc: A256GCM}``, nothing more."""
    if len(header_b64) > 128 or not _B64URL_RE.fullmatch(header_b64):
        return False
    try:
        header = loads_strict(_b64url_decode(header_b64))
    except (ValueError, binascii.Error, RecursionError):
        return False
    return bool(header == {"alg": "dir", "enc": "A256GCM"})
