"""DPoP (RFC 9449) building blocks: the proof key, proofs, server nonces and retry signals.

Protocol only: nothing here performs HTTP or touches cookies. The HTTP layers ask for a
proof per request, remember the ``DPoP-Nonce`` each server hands out, and recognise the
"retry with a nonce" responses.

Only ES256 (P-256) keys are accepted. Every way of loading a key checks curve, key type and
private part and raises :class:`ValueError` on anything else (security case DPP-07): a
misconfigured key must stop the application at start-up, never quietly turn DPoP-bound
tokens into bearer tokens or pick another algorithm.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.ec import (
    EllipticCurvePrivateKey,
    EllipticCurvePublicKey,
)
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

__all__ = [
    "ALGORITHM",
    "DpopKey",
    "DpopKeyPair",
    "DpopNonces",
    "create_proof",
    "generate_dpop_key_pair",
    "is_nonce_error",
    "retry_delay",
]

#: The only proof algorithm: what Auth0 supports and what the reference SDK uses.
ALGORITHM = "ES256"
#: PEM inputs beyond this size are refused unparsed (a P-256 PKCS#8 PEM is ~240 bytes).
MAX_PEM_LENGTH = 16 * 1024
#: Longer ``DPoP-Nonce`` values are ignored rather than echoed into every proof.
MAX_NONCE_LENGTH = 512
#: How many server origins :class:`DpopNonces` remembers by default.
DEFAULT_MAX_ORIGINS = 1000
#: Random bits in each proof's ``jti`` (RFC 9449 §4.2 asks for at least 96).
_JTI_BYTES = 24

_P256_COORDINATE_BYTES = 32
#: RFC 9449 §8.1: ``nonce = 1*NQCHAR``, ``NQCHAR = %x21 / %x23-5B / %x5D-7E``.
_NONCE_RE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
#: RFC 9110 §5.6.2 ``token``: the syntax of an HTTP method.
_METHOD_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Characters that can never appear in an encoded request URI.
_URL_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f-\U0010ffff]")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _as_bytes(value: str | bytes, what: str) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise ValueError(f"{what} must be PEM text (str or bytes)")
    if not value.strip():
        raise ValueError(f"{what} is empty")
    if len(value) > MAX_PEM_LENGTH:
        raise ValueError(f"{what} is too large to be a P-256 key")
    return value


def _check_curve(curve: ec.EllipticCurve, what: str) -> None:
    if not isinstance(curve, ec.SECP256R1):
        raise ValueError(f"{what} is on curve {curve.name}; DPoP requires P-256 (ES256)")


class DpopKeyPair(NamedTuple):
    """A PEM-encoded key pair: PKCS#8 private key and SPKI public key."""

    private_key: str
    public_key: str

    def __repr__(self) -> str:
        # The tuple's default repr would print the private key into logs and tracebacks.
        return f"DpopKeyPair(private_key=<masked>, public_key={self.public_key!r})"


class DpopKey:
    """An ES256 (P-256) key pair that signs DPoP proofs.

    Build one with :meth:`from_pem`, :meth:`from_key` or :meth:`generate`; the constructor
    itself accepts only a ``cryptography`` P-256 private key. The private half never leaves
    the object except through :meth:`private_pem`, and ``repr`` shows only the thumbprint,
    so keys do not end up in logs or tracebacks.
    """

    __slots__ = ("_jose_key", "_private_key", "_public_jwk", "_thumbprint")

    def __init__(self, private_key: EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key, EllipticCurvePrivateKey):
            raise ValueError("DPoP needs an elliptic-curve (P-256) private key")
        _check_curve(private_key.curve, "the DPoP key")
        self._private_key = private_key
        self._jose_key = ECKey.import_key(private_key)
        numbers = private_key.public_key().public_numbers()
        # Fixed-width coordinates (RFC 7518 §6.2.1.2): a short integer is left-padded.
        self._public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(_P256_COORDINATE_BYTES, "big")),
            "y": _b64url(numbers.y.to_bytes(_P256_COORDINATE_BYTES, "big")),
        }
        # RFC 7638 §3: required members only, in lexicographic order, no whitespace.
        canonical = json.dumps(
            {k: self._public_jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":")
        )
        self._thumbprint = _b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def generate(cls) -> DpopKey:
        """A fresh random P-256 key (lost on restart unless exported with :meth:`private_pem`)."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, private_pem: str | bytes, public_pem: str | bytes | None = None) -> DpopKey:
        """Load a PKCS#8 or SEC1 private key, optionally with its SPKI public key.

        The public key is redundant (it is derived from the private one) but configuration
        often carries both; when it is given it must be the private key's own public half,
        so a pair assembled from two different keys is caught here rather than at the
        authorization server.
        """
        data = _as_bytes(private_pem, "the DPoP private key")
        try:
            loaded: Any = serialization.load_pem_private_key(data, password=None)
        except TypeError as exc:  # cryptography: "Password was not given but ..."
            raise ValueError("encrypted DPoP private keys are not supported") from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            if b"PUBLIC KEY-----" in data:
                raise ValueError(
                    "the DPoP private key PEM holds a public key; a private key is required"
                ) from exc
            raise ValueError("the DPoP private key is not a readable PEM private key") from exc
        if not isinstance(loaded, EllipticCurvePrivateKey):
            raise ValueError(
                f"the DPoP private key is {_describe(loaded)}; DPoP requires a P-256 EC key"
            )
        key = cls(loaded)
        if public_pem is not None:
            key._check_public_pem(public_pem)
        return key

    @classmethod
    def from_key(cls, key: object) -> DpopKey:
        """Adopt a key object: ``cryptography`` EC private key, joserfc ``ECKey`` or JWK dict.

        Public-only keys, other key types (RSA, OKP, symmetric secrets given as ``bytes``)
        and other curves are refused; a JWK dict must be a complete private EC JWK.
        """
        if isinstance(key, DpopKey):
            return key
        if isinstance(key, EllipticCurvePrivateKey):
            return cls(key)
        if isinstance(key, EllipticCurvePublicKey):
            raise ValueError("the DPoP key is a public key; the private key is required")
        if isinstance(key, ECKey):
            if not key.is_private:
                raise ValueError("the DPoP key has no private part")
            if key.curve_name != "P-256":
                raise ValueError(
                    f"the DPoP key is on curve {key.curve_name}; DPoP requires P-256 (ES256)"
                )
            _check_jwk_usage({m: key.get(m) for m in ("alg", "use", "key_ops")})
            private_key = key.private_key
            if private_key is None:
                raise ValueError("the DPoP key has no private part")
            return cls(private_key)
        if isinstance(key, Mapping):
            return cls._from_jwk(key)
        if isinstance(key, bytes | bytearray | memoryview):
            raise ValueError(
                "a byte string is a symmetric (HMAC) secret, not a DPoP key; "
                "DPoP requires a P-256 private key (use DpopKey.from_pem for PEM bytes)"
            )
        if isinstance(key, str):
            raise ValueError("a string is not a key object; use DpopKey.from_pem for PEM text")
        raise ValueError(f"the DPoP key is {_describe(key)}; DPoP requires a P-256 EC key")

    @classmethod
    def _from_jwk(cls, jwk: Mapping[Any, Any]) -> DpopKey:
        kty = jwk.get("kty")
        if kty != "EC":
            raise ValueError(f"the DPoP JWK has kty {kty!r}; DPoP requires an EC (P-256) key")
        if jwk.get("crv") != "P-256":
            raise ValueError("the DPoP JWK is not on curve P-256; DPoP requires ES256")
        if "d" not in jwk:
            raise ValueError("the DPoP JWK has no private part ('d')")
        for member in ("x", "y", "d"):
            if not isinstance(jwk.get(member), str):
                raise ValueError(f"the DPoP JWK member {member!r} must be a string")
        _check_jwk_usage(jwk)
        try:
            imported = ECKey.import_key(dict(jwk))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            # Includes a 'd' that does not belong to 'x'/'y' (cryptography checks the point).
            raise ValueError("the DPoP JWK is not a valid P-256 private key") from exc
        private_key = imported.private_key
        if private_key is None or imported.curve_name != "P-256":
            raise ValueError("the DPoP JWK is not a valid P-256 private key")
        return cls(private_key)

    def _check_public_pem(self, public_pem: str | bytes) -> None:
        data = _as_bytes(public_pem, "the DPoP public key")
        try:
            loaded: Any = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError("the DPoP public key is not a readable SPKI PEM public key") from exc
        if not isinstance(loaded, EllipticCurvePublicKey):
            raise ValueError(
                f"the DPoP public key is {_describe(loaded)}; DPoP requires a P-256 EC key"
            )
        _check_curve(loaded.curve, "the DPoP public key")
        if loaded.public_numbers() != self._private_key.public_key().public_numbers():
            raise ValueError("the DPoP public key does not belong to the DPoP private key")

    # -- public material -------------------------------------------------------------------

    @property
    def algorithm(self) -> str:
        return ALGORITHM

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK (``kty``, ``crv``, ``x``, ``y`` only); a fresh copy every call."""
        return dict(self._public_jwk)

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint (base64url): the ``jkt`` a bound token carries."""
        return self._thumbprint

    def private_pem(self) -> str:
        """The private key as unencrypted PKCS#8 PEM; treat the result as a secret."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def public_pem(self) -> str:
        """The public key as SPKI PEM."""
        return (
            self._private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def sign(self, header: dict[str, Any], payload: bytes) -> str:
        """A compact JWS over ``payload``, always ES256 whatever ``header`` says."""
        return jws.serialize_compact(
            {**header, "alg": ALGORITHM}, payload, self._jose_key, algorithms=[ALGORITHM]
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DpopKey):
            return NotImplemented
        return self._thumbprint == other._thumbprint

    def __hash__(self) -> int:
        return hash(self._thumbprint)

    def __repr__(self) -> str:
        return f"DpopKey(alg={ALGORITHM!r}, thumbprint={self._thumbprint!r}, private=<masked>)"

    def __reduce__(self) -> Any:
        # Pickling would write the private key wherever the pickle goes (caches, queues).
        raise TypeError("DpopKey cannot be pickled; export it with private_pem() deliberately")


def _describe(key: object) -> str:
    """A key's kind for error messages (never its material)."""
    kinds: tuple[tuple[tuple[type, ...], str], ...] = (
        ((rsa.RSAPrivateKey, rsa.RSAPublicKey), "an RSA key"),
        ((EllipticCurvePublicKey,), "an EC public key"),
        (
            (
                ed25519.Ed25519PrivateKey,
                ed25519.Ed25519PublicKey,
                ed448.Ed448PrivateKey,
                ed448.Ed448PublicKey,
                x25519.X25519PrivateKey,
                x25519.X25519PublicKey,
                x448.X448PrivateKey,
                x448.X448PublicKey,
            ),
            "an OKP (Edwards/Montgomery curve) key",
        ),
        ((dsa.DSAPrivateKey, dsa.DSAPublicKey), "a DSA key"),
    )
    for types, description in kinds:
        if isinstance(key, types):
            return description
    key_type = getattr(key, "key_type", None)  # joserfc keys: "RSA", "OKP", "oct"
    if key_type == "oct":
        return "a symmetric (HMAC) key"
    if isinstance(key_type, str):
        return f"a {key_type} key"
    return f"a {type(key).__name__}"


def _check_jwk_usage(jwk: Mapping[Any, Any]) -> None:
    """A JWK that declares another algorithm or purpose is not silently repurposed."""
    alg = jwk.get("alg")
    if alg is not None and alg != ALGORITHM:
        raise ValueError(f"the DPoP JWK is declared for alg {alg!r}; DPoP signs with ES256")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ValueError(f"the DPoP JWK is declared for use {use!r}; DPoP needs 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "sign" not in key_ops):
        raise ValueError("the DPoP JWK's key_ops do not allow 'sign'")


def generate_dpop_key_pair() -> DpopKeyPair:
    """A new P-256 key pair as PEM (PKCS#8, SPKI), ready for configuration or a secret store."""
    key = DpopKey.generate()
    return DpopKeyPair(private_key=key.private_pem(), public_key=key.public_pem())


# -- proofs ----------------------------------------------------------------------------------


def _htu(url: str) -> str:
    """The ``htu`` of ``url``: its target URI without query, fragment (or userinfo).

    RFC 9449 §4.2 takes ``htu`` from the HTTP target URI, which is built from the
    authority without userinfo, so credentials in a URL never reach a proof. Scheme and
    host are lower-cased (both are case-insensitive) and an empty path becomes ``/``, the
    path an HTTP client actually requests; the port and path are otherwise kept exactly.
    Text that an HTTP client would have to re-encode (spaces, controls, non-ASCII) is
    refused: a proof for a URI other than the one sent would only be rejected later.
    """
    if not isinstance(url, str) or not url:
        raise ValueError("htu must be a non-empty absolute http(s) URL")
    if _URL_FORBIDDEN_RE.search(url):
        raise ValueError(
            "htu must be an encoded ASCII URL without whitespace (pass the request's URL)"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError as exc:
        raise ValueError("htu is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("htu must be an absolute http or https URL")
    authority = parts.netloc.rpartition("@")[2].lower()
    if not authority or parts.hostname is None:
        raise ValueError("htu must include a host")
    return f"{scheme}://{authority}{parts.path or '/'}"


def access_token_hash(access_token: str) -> str:
    """The ``ath`` claim: base64url SHA-256 of the access token's ASCII bytes (§4.2)."""
    try:
        data = access_token.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError("access_token must be ASCII") from exc
    return _b64url(hashlib.sha256(data).digest())


def create_proof(
    key: DpopKey,
    *,
    htm: str,
    htu: str,
    nonce: str | None = None,
    access_token: str | None = None,
    now: float,
    clock_skew: int = 0,
) -> str:
    """A DPoP proof JWT for one request (RFC 9449 §4.2).

    ``clock_skew`` (seconds) is added to ``now`` for ``iat``: it corrects a local clock
    known to differ from the server's, which would otherwise reject every proof. Give
    ``access_token`` when the request presents one (resource requests); it is bound
    through ``ath`` and never included itself.
    """
    if not isinstance(key, DpopKey):
        raise ValueError("key must be a DpopKey")
    if not isinstance(htm, str) or not _METHOD_RE.fullmatch(htm):
        raise ValueError("htm must be an HTTP method token")
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise ValueError("now must be a finite number of seconds since the epoch")
    if isinstance(clock_skew, bool) or not isinstance(clock_skew, int):
        raise ValueError("clock_skew must be an integer number of seconds")
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(_JTI_BYTES),
        "htm": htm.upper(),
        "htu": _htu(htu),
        "iat": int(now + clock_skew),
    }
    if nonce is not None:
        if not _is_valid_nonce(nonce):
            raise ValueError("nonce does not match the DPoP-Nonce syntax")
        claims["nonce"] = nonce
    if access_token is not None:
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("access_token must be a non-empty string")
        claims["ath"] = access_token_hash(access_token)
    header = {"typ": "dpop+jwt", "alg": ALGORITHM, "jwk": key.public_jwk}
    payload = json.dumps(claims, separators=(",", ":")).encode("ascii")
    return key.sign(header, payload)


# -- server nonces -----------------------------------------------------------------------------


def _is_valid_nonce(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_NONCE_LENGTH
        and _NONCE_RE.fullmatch(value) is not None
    )


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), for any mapping of headers.

    Iterating ``items()`` works for plain dicts (whatever their key case) as well as
    httpx/Starlette header objects, which list repeated headers joined or separately.
    """
    values: list[str] = []
    try:
        items: Iterable[tuple[Any, Any]] = headers.items()
        for header_name, value in items:
            if (
                isinstance(header_name, str)
                and header_name.lower() == name
                and isinstance(value, str)
            ):
                values.append(value)
    except (AttributeError, TypeError, ValueError):
        return []
    return values


def _origin(url: str) -> str | None:
    """``scheme://host:port`` with the default port made explicit, or ``None``."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        return None
    if port is None:
        port = 443 if scheme == "https" else 80
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class DpopNonces:
    """The latest ``DPoP-Nonce`` from each server origin (RFC 9449 §8 and §9).

    Bounded: beyond ``max_origins`` the origin used least recently is forgotten (it only
    costs that server one ``use_dpop_nonce`` round trip). Malformed, empty, oversized or
    repeated nonce headers are ignored and keep the previous nonce, so a server cannot
    make us echo arbitrary text into proofs. Safe to share between threads.
    """

    __slots__ = ("_lock", "_max_origins", "_nonces")

    def __init__(self, max_origins: int = DEFAULT_MAX_ORIGINS) -> None:
        if isinstance(max_origins, bool) or not isinstance(max_origins, int) or max_origins < 1:
            raise ValueError("max_origins must be a positive integer")
        self._max_origins = max_origins
        self._nonces: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> str | None:
        """The nonce to send with a request to ``url``, if its server has given one."""
        origin = _origin(url)
        if origin is None:
            return None
        with self._lock:
            nonce = self._nonces.get(origin)
            if nonce is not None:
                self._nonces.move_to_end(origin)
            return nonce

    def update(self, url: str, headers: Mapping[str, str]) -> None:
        """Remember the ``DPoP-Nonce`` in a response from ``url`` (if valid)."""
        origin = _origin(url)
        if origin is None:
            return
        values = _header_values(headers, "dpop-nonce")
        if len(values) != 1 or not _is_valid_nonce(values[0]):
            return
        with self._lock:
            self._nonces[origin] = values[0]
            self._nonces.move_to_end(origin)
            while len(self._nonces) > self._max_origins:
                self._nonces.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._nonces.clear()

    def __len__(self) -> int:
        return len(self._nonces)


# -- nonce errors ------------------------------------------------------------------------------

#: One token per match, every alternative linear and the alternatives disjoint by their
#: first character, so ``finditer`` covers any input in one pass. A quoted string runs to
#: its closing quote or, unterminated, to the end of the input: a rescan per quote would be
#: quadratic.
_CHALLENGE_TOKEN_RE = re.compile(
    r"""(?P<word>[^\s,="]+)"""
    r"""|(?P<quoted>"(?:[^"\\]|\\[\s\S])*(?:"|\\?\Z))"""
    r"""|(?P<eq>=)"""
    r"""|(?P<comma>,)"""
    r"""|(?P<ws>\s+)"""
)
_UNESCAPE_RE = re.compile(r"\\([\s\S])")


def _unquote(quoted: str) -> str:
    inner = quoted[1:-1] if len(quoted) >= 2 and quoted.endswith('"') else quoted[1:]
    return _UNESCAPE_RE.sub(r"\1", inner)


def _has_dpop_nonce_challenge(header: str) -> bool:
    """Whether a ``WWW-Authenticate`` value has ``DPoP ... error="use_dpop_nonce"``.

    RFC 9110 §11.6.1 challenges are ``scheme [token68 / #auth-param]`` separated by
    commas, which the parameter lists also use; a word followed by ``=`` is a parameter,
    a word directly after a scheme is its token68, and any other word starts a challenge.
    Malformed pieces are skipped, never raised on.
    """
    tokens = [
        (m.lastgroup, m.group())
        for m in _CHALLENGE_TOKEN_RE.finditer(header)
        if m.lastgroup != "ws"
    ]
    scheme: str | None = None
    after_scheme = False
    i, n = 0, len(tokens)
    while i < n:
        kind, text = tokens[i]
        if kind != "word":
            if kind == "comma":
                after_scheme = False
            i += 1
            continue
        if i + 1 < n and tokens[i + 1][0] == "eq":
            value: str | None = None
            if i + 2 < n and tokens[i + 2][0] == "word":
                value = tokens[i + 2][1]
            elif i + 2 < n and tokens[i + 2][0] == "quoted":
                value = _unquote(tokens[i + 2][1])
            if scheme == "dpop" and text.lower() == "error" and value == "use_dpop_nonce":
                return True
            after_scheme = False
            i += 3 if value is not None else 2
            continue
        if after_scheme:  # token68 credentials of the current challenge
            after_scheme = False
        else:
            scheme, after_scheme = text.lower(), True
        i += 1
    return False


def is_nonce_error(status: int, headers: Mapping[str, str], body: Mapping[str, Any] | None) -> bool:
    """Whether a response asks for a retry with the server's new ``DPoP-Nonce``.

    The authorization server says so with ``400`` and JSON ``error: use_dpop_nonce``
    (RFC 9449 §8); a resource server with ``401`` and a ``DPoP`` challenge carrying
    ``error="use_dpop_nonce"`` (§9). Never raises, whatever the server sent.
    """
    try:
        if status == 400:
            if not isinstance(body, Mapping):
                return False
            error = body.get("error")
            return isinstance(error, str) and error == "use_dpop_nonce"
        if status == 401:
            challenges = _header_values(headers, "www-authenticate")
            return any(_has_dpop_nonce_challenge(value) for value in challenges)
    except Exception:  # a hostile or broken mapping must not turn into a crash
        return False
    return False


def retry_delay(delay_ms: int, jitter: bool, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before the nonce retry: ``delay_ms``, scaled to 50-100% with jitter.

    Jitter spreads the retries of many clients that were all refused at once (for
    example after the server rotated its nonce).
    """
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, int) or delay_ms < 0:
        raise ValueError("delay_ms must be a non-negative integer")
    seconds = delay_ms / 1000
    if not jitter:
        return seconds
    sample = rng()
    if not isinstance(sample, int | float) or not math.isfinite(sample):
        sample = 1.0
    return seconds * (0.5 + 0.5 * min(max(float(sample), 0.0), 1.0))
