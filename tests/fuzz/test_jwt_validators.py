"""ID-token and logout-token validation against arbitrary, mutated and adversarially
signed compact JWTs and arbitrary claim sets.

Each validator raises only its documented error (``IdTokenError``/``LogoutTokenError``).
Beyond that, every verdict is compared with an oracle written from the specifications (OIDC
Core 3.1.3.7, Back-Channel Logout 1.0 section 2.6, plus this project's stricter rules: ``exp``
required on logout tokens, lifetime bounded, ``typ`` checked): a token the oracle refuses is
never accepted (IDT-01..21, LGO-05..14), and a plainly valid one is never refused. An
accepted claim set can always be stored as JSON (a session write must not fail on it).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from auth0_web.oidc._discovery import JwksCache
from auth0_web.oidc._id_token import (
    IdTokenError,
    IdTokenValidation,
    decode_unverified,
    validate_id_token,
)
from auth0_web.oidc._logout_token import (
    BACKCHANNEL_LOGOUT_EVENT,
    MAX_LIFETIME,
    LogoutTokenError,
    validate_logout_token,
)
from tests.support.scripted_op import b64url, b64url_decode, jws_compact, signer

from .harness import Aio, MockProvider, fuzz
from .strategies import (
    MISSING,
    claim,
    compact_junk,
    corrupted,
    dump,
    hostile_numbers,
    is_numeric_date,
    json_values,
    mutations,
    numeric_dates,
    or_hostile,
    strict_json,
    unicode_text,
)

ISS = "https://tenant.fuzz.example/"
CID = "fuzz-client"
CLIENT_SECRET = "fuzz-client-secret-0123456789abcdef"
NONCE = "nonce-0123456789"
JWKS_URI = ISS + ".well-known/jwks.json"
NOW = int(time.time())
LEEWAY = 30

K1 = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
WRONG = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
PUBLIC_PEM = K1.as_pem(private=False)
PROVIDER = MockProvider(jwks={"keys": [K1.as_dict(private=False)]})

SIGNERS = {
    "k1": ("RS256", K1),
    "wrong-key": ("RS256", WRONG),
    "none": ("none", None),
    "hs-public-pem": ("HS256", PUBLIC_PEM),
    "hs-client-secret": ("HS256", CLIENT_SECRET),
}
signed_with = st.sampled_from(["k1"] * 6 + list(SIGNERS))
GOOD_HEADER = {"alg": "RS256", "typ": "JWT", "kid": "k1"}

header_strategy = st.one_of(
    st.just(GOOD_HEADER),
    st.just({"alg": "RS256"}),
    corrupted(
        GOOD_HEADER,
        {
            "alg": st.one_of(
                st.just(MISSING),
                st.sampled_from(["none", "None", "HS256", "rs256", "RS512", "ES256", ""]),
                json_values,
            ),
            "kid": st.one_of(st.just(MISSING), st.sampled_from(["k2", "", "zzz"]), json_values),
            "typ": st.one_of(
                st.just(MISSING),
                st.sampled_from(["jwt", "application/jwt", "at+jwt", "logout+jwt", "dpop+jwt"]),
                json_values,
            ),
            "crit": json_values,
            "b64": json_values,
            "zip": st.just("DEF"),
            "jwk": json_values,
            "jku": st.just("https://evil.example/jwks"),
            "x5c": json_values,
            "cty": json_values,
        },
    ),
)


def make_token(header: dict[str, Any], payload_text: str, how: str) -> str:
    alg, key = SIGNERS[how]
    return jws_compact(dump(header).encode(), payload_text.encode(), signer(alg, key))


# Members other than alg/kid/typ: the JOSE library refuses unknown ones and checks the
# types of the ones it knows, so a verdict of "refused" is not compared for them (refusing
# is the safe side); "accepted" still is.


def header_ok(raw: dict[str, Any], *, types: tuple[str, ...]) -> bool:
    parsed, header = strict_json(dump(raw).encode())
    if not parsed:
        return False
    typ = header.get("typ")
    kid = header.get("kid")
    return (
        header.get("alg") == "RS256"
        and not any(m in header for m in ("crit", "b64", "zip"))
        and ("kid" not in header or kid == "k1")
        and ("typ" not in header or (isinstance(typ, str) and typ.lower() in types))
    )


def audience_ok(claims: dict[str, Any]) -> bool:
    aud = claims.get("aud")
    if isinstance(aud, str):
        audiences = [aud]
    elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        audiences = aud
    else:
        return False
    if CID not in audiences:
        return False
    azp = claims.get("azp")
    if len(audiences) > 1 and azp != CID:
        return False
    return azp is None or azp == CID


@pytest.fixture(scope="module")
def jwks(aio: Aio) -> JwksCache:
    return JwksCache(PROVIDER.http_client(), ttl=600)


# ------------------------------------------------------------------ ID tokens


GOOD_ID_CLAIMS = {
    "iss": ISS,
    "sub": "auth0|user",
    "aud": CID,
    "exp": NOW + 600,
    "iat": NOW,
    "nonce": NONCE,
    "auth_time": NOW - 100,
    "org_id": "org_abc",
    "org_name": "Acme",
    "sid": "sid-1",
}
id_claim_changes = {
    "iss": st.one_of(st.just(MISSING), claim(ISS)),
    "sub": st.one_of(st.just(MISSING), claim("auth0|user")),
    "aud": st.one_of(
        st.just(MISSING), claim(CID), st.sampled_from([[CID], [CID, "api"], ["api", CID], []])
    ),
    "azp": st.one_of(claim(CID), st.just("api")),
    "exp": st.one_of(st.just(MISSING), numeric_dates(NOW + 600)),
    "iat": st.one_of(st.just(MISSING), numeric_dates(NOW)),
    "nbf": numeric_dates(NOW),
    "nonce": st.one_of(st.just(MISSING), claim(NONCE)),
    "auth_time": st.one_of(st.just(MISSING), numeric_dates(NOW - 300)),
    "org_id": st.one_of(st.just(MISSING), claim("org_abc")),
    "org_name": st.one_of(st.just(MISSING), claim("Acme", st.sampled_from(["acme", "ACME"]))),
}


@st.composite
def id_token_cases(draw: st.DrawFn) -> tuple[str, str, IdTokenValidation]:
    claims = draw(corrupted(GOOD_ID_CLAIMS, id_claim_changes))
    params = IdTokenValidation(
        issuer=ISS,
        client_id=CID,
        algorithm="RS256",
        jwks_uri=JWKS_URI,
        now=NOW,
        leeway=LEEWAY,
        nonce=draw(st.sampled_from([NONCE, NONCE, None])),
        max_age=draw(st.sampled_from([None, None, 600, 0])),
        organization=draw(st.sampled_from([None, None, "org_abc", "acme"])),
    )
    return dump(claims), draw(signed_with), params


def id_claims_ok(claims: dict[str, Any], p: IdTokenValidation) -> bool:
    """OIDC Core 3.1.3.7 steps 2-13, with this project's organization check."""
    sub, exp, iat, nbf = claims.get("sub"), claims.get("exp"), claims.get("iat"), claims.get("nbf")
    auth_time = claims.get("auth_time")
    if claims.get("iss") != p.issuer or not (isinstance(sub, str) and sub):
        return False
    if not audience_ok(claims) or not (is_numeric_date(exp) and is_numeric_date(iat)):
        return False
    if exp <= p.now - p.leeway or iat > p.now + p.leeway:
        return False
    if nbf is not None and not (is_numeric_date(nbf) and nbf <= p.now + p.leeway):
        return False
    if p.nonce is not None and claims.get("nonce") != p.nonce:
        return False
    if auth_time is not None and not is_numeric_date(auth_time):
        return False
    if p.max_age is not None and (auth_time is None or auth_time + p.max_age < p.now - p.leeway):
        return False
    if p.organization == "org_abc" and claims.get("org_id") != "org_abc":
        return False
    if p.organization == "acme":
        name = claims.get("org_name")
        return isinstance(name, str) and name.lower() == "acme"
    return True


@fuzz(1.0)
@given(header_strategy, id_token_cases())
def test_id_token_verdicts_match_the_specification(
    aio: Aio, jwks: JwksCache, header: dict[str, Any], case: Any
) -> None:
    payload, how, params = case
    token = make_token(header, payload, how)
    parsed, claims = strict_json(payload.encode())
    expected = (
        parsed
        and isinstance(claims, dict)
        and how == "k1"
        and header_ok(header, types=("jwt", "application/jwt"))
        and id_claims_ok(claims, params)
    )
    try:
        accepted = aio.run(validate_id_token(token, params, jwks))
    except IdTokenError as error:
        assert error.reason and "eyJ" not in error.reason
        extras = bool(set(header) - {"alg", "kid", "typ"})
        assert not expected or extras, f"a valid ID token was refused: {error.reason}"
        event(f"refused: {error.reason}")
        return
    event("accepted")
    assert expected, f"an invalid ID token was accepted: {header} {payload}"
    assert accepted == claims
    json.dumps(accepted, allow_nan=False)


GOOD_ID_TOKEN = make_token({"alg": "RS256", "typ": "JWT", "kid": "k1"}, dump(GOOD_ID_CLAIMS), "k1")
GOOD_PARAMS = IdTokenValidation(
    issuer=ISS, client_id=CID, algorithm="RS256", jwks_uri=JWKS_URI, now=NOW, leeway=LEEWAY,
    nonce=NONCE,
)  # fmt: skip


@fuzz(1.0)
@given(mutations(GOOD_ID_TOKEN))
def test_a_mutated_id_token_is_refused_or_says_the_same(
    aio: Aio, jwks: JwksCache, token: str
) -> None:
    try:
        claims = aio.run(validate_id_token(token, GOOD_PARAMS, jwks))
    except IdTokenError:
        return
    # Only a different spelling of the same signed bytes can pass (base64 padding bits).
    original = GOOD_ID_TOKEN.split(".")
    mutated = token.split(".")
    assert claims == GOOD_ID_CLAIMS
    assert [b64url_decode(p) for p in mutated[:2]] == [b64url_decode(p) for p in original[:2]]


@fuzz(1.0)
@given(st.one_of(compact_junk(), st.text(max_size=100)))
def test_arbitrary_strings_raise_only_id_token_errors(
    aio: Aio, jwks: JwksCache, token: str
) -> None:
    with contextlib.suppress(IdTokenError):
        decode_unverified(token)
    with pytest.raises(IdTokenError):
        aio.run(validate_id_token(token, GOOD_PARAMS, jwks))


@fuzz(0.5)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=5))
def test_segments_of_any_bytes_raise_only_id_token_errors(
    aio: Aio, jwks: JwksCache, segments: list[bytes]
) -> None:
    token = ".".join(b64url(s) for s in segments)
    with pytest.raises(IdTokenError):
        aio.run(validate_id_token(token, GOOD_PARAMS, jwks))


# ------------------------------------------------------------------ logout tokens

EVENT = BACKCHANNEL_LOGOUT_EVENT
events_strategy = st.one_of(
    st.just({EVENT: {}}),
    st.just({EVENT: {}, "https://other.example/event": {}}),
    st.sampled_from([{EVENT: None}, {EVENT: ""}, {EVENT: []}, {EVENT: "x"}, {"x": {}}, [EVENT]]),
    json_values,
)
GOOD_LOGOUT_CLAIMS = {
    "iss": ISS,
    "aud": CID,
    "iat": NOW,
    "exp": NOW + 120,
    "jti": "jti-1",
    "events": {EVENT: {}},
    "sid": "sid-1",
    "sub": "auth0|user",
}
logout_claims = corrupted(
    GOOD_LOGOUT_CLAIMS,
    {
        "iss": st.one_of(st.just(MISSING), claim(ISS)),
        "aud": st.one_of(st.just(MISSING), claim(CID), st.sampled_from([[CID], [CID, "api"], []])),
        "azp": claim(CID),
        "iat": st.one_of(st.just(MISSING), numeric_dates(NOW)),
        "exp": st.one_of(st.just(MISSING), numeric_dates(NOW + 120), st.just(NOW + 4000)),
        "jti": st.one_of(st.just(MISSING), or_hostile(unicode_text(20)), st.just("j" * 257)),
        "events": st.one_of(st.just(MISSING), events_strategy),
        "sid": st.one_of(st.just(MISSING), or_hostile(unicode_text(12))),
        "sub": st.one_of(st.just(MISSING), or_hostile(unicode_text(12))),
        "nonce": st.one_of(st.none(), unicode_text(5)),
    },
)
LOGOUT_TYPES = ("logout+jwt", "application/logout+jwt", "jwt", "application/jwt")


def logout_claims_ok(claims: dict[str, Any]) -> bool:
    """Back-Channel Logout 1.0 section 2.6, with ``exp`` required and the lifetime bounded."""
    iat, exp, events = claims.get("iat"), claims.get("exp"), claims.get("events")
    sid, sub, jti = claims.get("sid"), claims.get("sub"), claims.get("jti")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if claims.get("iss") != ISS:
        return False
    if not (isinstance(audiences, list) and all(isinstance(a, str) for a in audiences)):
        return False
    if CID not in audiences or (len(audiences) > 1 and claims.get("azp") != CID):
        return False
    if not (is_numeric_date(iat) and is_numeric_date(exp)):
        return False
    if exp <= NOW - LEEWAY or iat > NOW + LEEWAY or exp - iat > MAX_LIFETIME:
        return False
    if "nonce" in claims:
        return False
    if not (isinstance(events, dict) and isinstance(events.get(EVENT), dict)):
        return False
    if sid is None and sub is None:
        return False
    if any(v is not None and not (isinstance(v, str) and v) for v in (sid, sub)):
        return False
    return jti is None or (isinstance(jti, str) and 0 < len(jti) <= 256)


def validate_logout(aio: Aio, jwks: JwksCache, token: str) -> Any:
    return aio.run(
        validate_logout_token(
            token,
            issuer=ISS,
            client_id=CID,
            algorithm="RS256",
            jwks_uri=JWKS_URI,
            jwks=jwks,
            now=NOW,
            leeway=LEEWAY,
        )
    )


@fuzz(1.0)
@given(header_strategy, logout_claims.map(dump), signed_with)
def test_logout_token_verdicts_match_the_specification(
    aio: Aio, jwks: JwksCache, header: dict[str, Any], payload: str, how: str
) -> None:
    token = make_token(header, payload, how)
    parsed, claims = strict_json(payload.encode())
    expected = (
        parsed
        and isinstance(claims, dict)
        and how == "k1"
        and header_ok(header, types=LOGOUT_TYPES)
        and logout_claims_ok(claims)
    )
    try:
        validated = validate_logout(aio, jwks, token)
    except LogoutTokenError as error:
        assert error.reason and "eyJ" not in error.reason
        extras = bool(set(header) - {"alg", "kid", "typ"})
        assert not expected or extras, f"a valid logout token was refused: {error.reason}"
        event(f"refused: {error.reason}")
        return
    event("accepted")
    assert expected, f"an invalid logout token was accepted: {header} {payload}"
    assert validated.claims.iss == ISS
    assert (validated.claims.sid, validated.claims.sub) == (claims.get("sid"), claims.get("sub"))
    assert validated.jti == claims.get("jti")


GOOD_LOGOUT = make_token(
    {"alg": "RS256", "typ": "logout+jwt", "kid": "k1"}, dump(GOOD_LOGOUT_CLAIMS), "k1"
)


@fuzz(1.0)
@given(st.one_of(mutations(GOOD_LOGOUT), compact_junk(), st.text(max_size=100)))
def test_mutated_or_arbitrary_logout_tokens_raise_only_logout_token_errors(
    aio: Aio, jwks: JwksCache, token: str
) -> None:
    try:
        validated = validate_logout(aio, jwks, token)
    except LogoutTokenError:
        return
    assert [b64url_decode(p) for p in token.split(".")[:2]] == [
        b64url_decode(p) for p in GOOD_LOGOUT.split(".")[:2]
    ]
    assert validated.claims.sid == "sid-1"


@fuzz(0.3)
@given(hostile_numbers(), st.sampled_from(["iat", "exp"]))
def test_hostile_numbers_in_unsigned_logout_tokens_are_refused(
    aio: Aio, jwks: JwksCache, number: Any, name: str
) -> None:
    """Claims are checked before any key is fetched: whatever number an unauthenticated
    caller puts there, the answer is the documented error."""
    claims: dict[str, Any] = {"iss": ISS, "aud": CID, "iat": NOW, "exp": NOW + 60}
    claims[name] = number
    token = make_token({"alg": "RS256"}, dump(claims), "none")
    with pytest.raises(LogoutTokenError):
        validate_logout(aio, jwks, token)
