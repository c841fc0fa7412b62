"""What the authorization server says: token responses, discovery metadata, the JWKS, and
DPoP nonces and ``WWW-Authenticate`` challenges.

Every answer is outside input (TOK-01, TOK-02, IDT-17, IDT-21, DPP-02, DPP-05): each parser
raises only its documented error, and its verdict matches an oracle written from the RFCs
(6749 section 5, OIDC Discovery 4.3, 7517, 9110 section 11.6.1, 9449 sections 8-9).
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import event, given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from auth0_web._errors import DiscoveryError, HttpError, OAuth2Error
from auth0_web.oidc._discovery import (
    MIN_RSA_BITS,
    JwksCache,
    ProviderMetadata,
    parse_jwks,
    parse_metadata,
)
from auth0_web.oidc._dpop import DpopNonces, _has_dpop_nonce_challenge, is_nonce_error
from auth0_web.oidc._http_client import HttpResponse
from auth0_web.oidc._token import TokenResponse, TokenResponseError, parse_token_response

from .harness import Aio, MockProvider, fuzz
from .strategies import (
    MISSING,
    claim,
    corrupted,
    dump,
    hostile_numbers,
    json_documents,
    json_values,
    latin1_text,
    or_hostile,
    strict_json,
    unicode_text,
)

#: The JWKS properties import 1024-bit RSA keys on purpose (they must be skipped).
pytestmark = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")

ISS = "https://tenant.fuzz.example/"
TEN_YEARS = 10 * 365 * 86400


def response(status: int, content_type: str | None, body: bytes, **extra: str) -> HttpResponse:
    headers = [(b"content-type", content_type.encode("latin-1"))] if content_type else []
    headers += [(k.encode(), v.encode("latin-1")) for k, v in extra.items()]
    return HttpResponse(status, httpx.Headers(headers), body)


# ------------------------------------------------------------------ token responses

GOOD_TOKENS = {
    "access_token": "at-123",
    "token_type": "Bearer",
    "expires_in": 3600,
    "id_token": "h.p.s",
    "refresh_token": "rt-123",
    "scope": "openid profile",
}
token_objects = corrupted(
    GOOD_TOKENS,
    {
        "access_token": st.one_of(st.just(MISSING), or_hostile(unicode_text(10))),
        "token_type": st.one_of(
            st.just(MISSING),
            st.sampled_from(["bearer", "BEARER", "DPoP", "dpop", "mac", "PoP", " Bearer"]),
            json_values,
        ),
        "expires_in": st.one_of(
            st.just(MISSING),
            st.integers(-5, TEN_YEARS + 5),
            st.just(TEN_YEARS),
            hostile_numbers(),
        ),
        "id_token": st.one_of(st.just(MISSING), or_hostile(unicode_text(10))),
        "refresh_token": or_hostile(unicode_text(10)),
        "scope": or_hostile(unicode_text(10)),
        "error": or_hostile(st.just("invalid_grant")),
        "error_description": json_values,
    },
).map(lambda d: dump(d).encode())
token_bodies = st.one_of(token_objects, token_objects, token_objects, json_documents())
statuses = st.sampled_from([200] * 8 + [400, 401, 403, 500, 201, 302])
content_types = st.sampled_from(
    ["application/json"] * 5
    + ["application/json; charset=utf-8", "Application/JSON", "application/problem+json"]
    + ["text/html", None]
)


def json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def optional_text(body: dict[str, Any], key: str) -> bool:
    return key not in body or body[key] is None or (isinstance(body[key], str) and body[key] != "")


def tokens_ok(body: dict[str, Any], require_id_token: bool) -> bool:
    """RFC 6749 section 5.1, OIDC Core 3.1.3.3, case-insensitive token types (RFC 9449)."""
    token_type, expires_in = body.get("token_type"), body.get("expires_in")
    if "error" in body:
        return False
    if not (isinstance(body.get("access_token"), str) and body["access_token"]):
        return False
    if not (isinstance(token_type, str) and token_type.lower() in ("bearer", "dpop")):
        return False
    if expires_in is not None and not (
        isinstance(expires_in, int | float)
        and not isinstance(expires_in, bool)
        and 0 <= expires_in <= TEN_YEARS
        and math.isfinite(expires_in)
    ):
        return False
    if not all(optional_text(body, k) for k in ("id_token", "refresh_token", "scope")):
        return False
    return not (require_id_token and body.get("id_token") is None)


@fuzz(1.5)
@given(statuses, content_types, token_bodies, st.booleans())
def test_token_responses_parse_as_rfc_6749_says(
    status: int, content_type: str | None, body: bytes, require_id_token: bool
) -> None:
    parsed, data = strict_json(body)
    is_object = parsed and isinstance(data, dict)
    try:
        tokens = parse_token_response(
            response(status, content_type, body), require_id_token=require_id_token
        )
    except OAuth2Error as error:
        event("oauth error")
        assert status != 200 and is_object and isinstance(data.get("error"), str)
        assert re.fullmatch(r"[A-Za-z0-9_\-.:]{1,64}", error.code)
        return
    except TokenResponseError as error:
        event("malformed")
        assert error.reason
        assert not (status == 200 and is_object and json_media_type(content_type)) or not (
            tokens_ok(data, require_id_token)
        )
        return
    event("tokens")
    assert status == 200 and is_object and json_media_type(content_type)
    assert tokens_ok(data, require_id_token)
    assert isinstance(tokens, TokenResponse)
    assert tokens.token_type in ("Bearer", "DPoP")
    assert tokens.expires_in is None or type(tokens.expires_in) is int
    assert "at-123" not in repr(tokens) or tokens.access_token != "at-123"


# ------------------------------------------------------------------ discovery

ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "end_session_endpoint",
    "revocation_endpoint",
    "userinfo_endpoint",
    "pushed_authorization_request_endpoint",
)
REQUIRED = ENDPOINTS[:3]
GOOD_DISCOVERY = {"issuer": ISS, **{name: f"{ISS}{name}" for name in ENDPOINTS}}
endpoint_values = st.one_of(
    st.just(MISSING),
    st.sampled_from(
        [
            None,
            "",
            "http://tenant.fuzz.example/x",
            "HTTPS://tenant.fuzz.example/x",
            "https://",
            "https://evil.example/token",
            "javascript:alert(1)",
            "//tenant.fuzz.example/x",
            " https://tenant.fuzz.example/x",
        ]
    ),
    json_values,
)
discovery_docs = corrupted(
    GOOD_DISCOVERY,
    {
        "issuer": st.one_of(st.just(MISSING), claim(ISS)),
        **{name: endpoint_values for name in ENDPOINTS},
        "authorization_response_iss_parameter_supported": json_values,
    },
    max_changes=4,
)


def metadata_ok(doc: Any, insecure: bool) -> bool:
    """OIDC Discovery 4.3 (exact issuer) and https endpoints (http only when allowed)."""
    if not isinstance(doc, dict) or doc.get("issuer") != ISS:
        return False
    for name in ENDPOINTS:
        value = doc.get(name)
        if value is None and name not in REQUIRED:
            continue
        if not isinstance(value, str) or not value:
            return False
        if not (value.startswith("https://") or (insecure and value.startswith("http://"))):
            return False
    return True


@fuzz(1.0)
@given(st.one_of(discovery_docs, json_values), st.booleans())
def test_discovery_documents_are_accepted_only_as_specified(doc: Any, insecure: bool) -> None:
    try:
        metadata = parse_metadata(doc, issuer=ISS, insecure=insecure)
    except DiscoveryError:
        assert not metadata_ok(doc, insecure)
        return
    assert metadata_ok(doc, insecure)
    assert isinstance(metadata, ProviderMetadata) and metadata.issuer == ISS
    assert metadata.iss_parameter_supported is (
        doc.get("authorization_response_iss_parameter_supported") is True
    )


# ------------------------------------------------------------------ the JWKS

RSA_2048 = RSAKey.generate_key(2048, parameters={"kid": "rsa", "use": "sig", "alg": "RS256"})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    RSA_1024 = RSAKey.import_key(rsa.generate_private_key(65537, 1024), parameters={"kid": "weak"})
EC_KEY = ECKey.import_key(ec.generate_private_key(ec.SECP256R1()), parameters={"kid": "ec"})
OKP_KEY = OKPKey.import_key(ed25519.Ed25519PrivateKey.generate(), parameters={"kid": "ed"})
OCT_KEY = OctKey.generate_key(256, parameters={"kid": "oct"})
PUBLIC_ENTRIES = [k.as_dict(private=False) for k in (RSA_2048, RSA_1024, EC_KEY, OKP_KEY)]
PRIVATE_ENTRIES = [RSA_2048.as_dict(private=True), EC_KEY.as_dict(private=True)]
OCT_ENTRY = OCT_KEY.as_dict(private=True)


@st.composite
def jwk_entries(draw: st.DrawFn) -> Any:
    base = draw(st.sampled_from([*PUBLIC_ENTRIES, *PUBLIC_ENTRIES, *PRIVATE_ENTRIES, OCT_ENTRY]))
    changes = {
        name: st.one_of(st.just(MISSING), json_values, st.just(base[name][::-1]))
        for name in base
        if isinstance(base[name], str)
    }
    changes["use"] = st.one_of(st.just(MISSING), st.sampled_from(["sig", "enc", "SIG"]))
    changes["kid"] = st.one_of(st.just(MISSING), json_values, st.sampled_from(["rsa", "ec"]))
    changes["alg"] = st.one_of(st.just(MISSING), st.sampled_from(["RS256", "ES256", "none"]))
    entry = draw(st.one_of(st.just(base), corrupted(base, changes, max_changes=2)))
    return draw(st.one_of(st.just(entry), st.just(entry), json_values))


jwks_docs = st.one_of(
    st.builds(lambda keys: {"keys": keys}, st.lists(jwk_entries(), max_size=6)),
    st.builds(lambda key: {"keys": key}, json_values),
    json_values,
)


@fuzz(1.0)
@given(jwks_docs)
def test_only_public_signing_keys_of_adequate_size_are_kept(doc: Any) -> None:
    keys = parse_jwks(doc)
    entries = doc["keys"] if isinstance(doc, dict) and isinstance(doc.get("keys"), list) else []
    public_kids = [
        e.get("kid")
        for e in entries
        if isinstance(e, dict) and "d" not in e and "k" not in e and e.get("use", "sig") == "sig"
    ]
    for kid, group in keys.items():
        assert kid is None or isinstance(kid, str)
        assert kid in public_kids
        for key in group:
            assert isinstance(key, RSAKey | ECKey | OKPKey)
            assert not key.is_private
            if isinstance(key, RSAKey):
                assert key.raw_value.key_size >= MIN_RSA_BITS
    if doc == {"keys": PUBLIC_ENTRIES}:
        assert sorted(keys, key=str) == ["ec", "ed", "rsa"]


@pytest.fixture(scope="module")
def jwks_provider() -> MockProvider:
    return MockProvider()


@fuzz(0.5)
@given(
    st.one_of(jwks_docs.map(lambda d: dump(d).encode()), json_documents()),
    st.sampled_from([200, 200, 404, 500]),
    st.sampled_from([None, "rsa", "ec", "unknown"]),
)
def test_the_key_cache_gives_keys_or_a_fetch_error(
    aio: Aio, jwks_provider: MockProvider, body: bytes, status: int, kid: str | None
) -> None:
    provider = jwks_provider
    provider.reset()
    provider.script("/jwks", (status, [(b"content-type", b"application/json")], body))
    cache = JwksCache(provider.http_client(), ttl=600)
    try:
        keys = aio.run(cache.candidates(ISS + "jwks", kid))
    except HttpError as error:
        assert error.message and "eyJ" not in error.message
        return
    assert status == 200
    for key in keys:
        assert not key.is_private
        assert kid is None or key.kid == kid
    assert provider.count("/jwks") <= 2  # the fetch, and at most one refetch for a new kid


# ------------------------------------------------------------------ DPoP

TOKEN68 = st.text(st.sampled_from("AZaz09-._~+/"), min_size=1, max_size=8).map(
    lambda t: t + "=" * (len(t) % 3)
)
PARAM_NAMES = st.sampled_from(["error", "ERROR", "Error", "realm", "algs", "error_description"])
PARAM_VALUES = st.sampled_from(
    ["use_dpop_nonce", "USE_DPOP_NONCE", "invalid_token", "ES256 PS256", 'a"b', "x,y", "", "a\\b"]
)
TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@st.composite
def challenges(draw: st.DrawFn) -> tuple[str, bool]:
    """A ``WWW-Authenticate`` value built per RFC 9110, and whether it holds a DPoP
    challenge with ``error=use_dpop_nonce``."""
    parts: list[str] = []
    expected = False
    for _ in range(draw(st.integers(1, 3))):
        scheme = draw(st.sampled_from(["DPoP", "dpop", "DPOP", "Bearer", "Basic", "Newauth"]))
        if draw(st.integers(0, 4)) == 0:
            parts.append(f"{scheme} {draw(TOKEN68)}")
            continue
        params = []
        for _ in range(draw(st.integers(0, 3))):
            name, value = draw(PARAM_NAMES), draw(PARAM_VALUES)
            quoted = draw(st.booleans()) or not TOKEN_RE.fullmatch(value)
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if quoted else value
            params.append(name + draw(st.sampled_from(["=", " = ", "= "])) + text)
            if scheme.lower() == "dpop" and name.lower() == "error" and value == "use_dpop_nonce":
                expected = True
        parts.append(
            scheme + (" " + draw(st.sampled_from([",", ", ", " ,"])).join(params) if params else "")
        )
    return draw(st.sampled_from([", ", ",", " , "])).join(parts), expected


@fuzz(1.0)
@given(challenges())
def test_a_dpop_nonce_challenge_is_recognized_exactly(case: tuple[str, bool]) -> None:
    header, expected = case
    assert _has_dpop_nonce_challenge(header) is expected, header
    headers = httpx.Headers({"www-authenticate": header})
    assert is_nonce_error(401, headers, None) is expected


@fuzz(1.0)
@given(
    st.sampled_from([400, 401, 200, 500]),
    st.one_of(latin1_text(80), st.integers(1, 5).map(lambda n: ',"\\' * (n * 2000))),
    st.one_of(st.none(), json_values),
)
def test_nonce_errors_never_raise(status: int, header: str, body: Any) -> None:
    headers = httpx.Headers([(b"www-authenticate", header.encode("latin-1"))])
    result = is_nonce_error(status, headers, body if isinstance(body, dict) else None)
    assert isinstance(result, bool)
    if status == 400:
        assert result is (isinstance(body, dict) and body.get("error") == "use_dpop_nonce")


NONCE_RE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")
urls = st.one_of(
    st.sampled_from(
        [
            "https://as.example/token",
            "https://AS.example:443/par",
            "http://as.example:80/x",
            "https://[::1]:8443/t",
            "https://as.example:99999/",
            "ftp://as.example/",
            "https://",
            "",
        ]
    ),
    latin1_text(30),
)


@fuzz(1.0)
@given(
    urls,
    st.lists(
        st.tuples(
            st.sampled_from(["dpop-nonce", "DPoP-Nonce", "x-other"]),
            st.one_of(
                st.text(st.sampled_from("abcXYZ019-_.~+/="), min_size=1, max_size=20),
                latin1_text(20),
                st.just("n" * 513),
            ),
        ),
        max_size=3,
    ),
)
def test_only_one_well_formed_nonce_is_ever_remembered(
    url: str, pairs: list[tuple[str, str]]
) -> None:
    nonces = DpopNonces(max_origins=4)
    headers = httpx.Headers([(k.encode(), v.encode("latin-1")) for k, v in pairs])
    nonces.update(url, headers)
    remembered = nonces.get(url)
    offered = [v for k, v in pairs if k.lower() == "dpop-nonce"]
    if remembered is None:
        return
    assert NONCE_RE.fullmatch(remembered)
    assert offered == [remembered]
