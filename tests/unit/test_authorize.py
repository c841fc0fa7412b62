"""The authorization request: PKCE values and the SDK-owned parameters."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from auth0_web.oidc._authorize import (
    authorization_parameters,
    authorization_url,
    code_challenge_s256,
    generate_code_verifier,
    random_token,
)

UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]+")
ENDPOINT = "https://tenant.auth0.com/authorize"
SDK = {
    "client_id": "the-client",
    "redirect_uri": "https://app.example.com/auth/callback",
    "state": "S" * 43,
    "nonce": "N" * 43,
    "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
}
RESERVED = [
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "state",
    "nonce",
    "request",
    "request_uri",
    "response_mode",
    "dpop_jkt",
]


def query_pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def build(extra: dict[str, str], endpoint: str = ENDPOINT) -> list[tuple[str, str]]:
    return query_pairs(authorization_url(endpoint, authorization_parameters(extra=extra, **SDK)))


# -- PKCE ---------------------------------------------------------------------------------


def test_verifier_is_43_unreserved_characters() -> None:
    verifier = generate_code_verifier()
    assert len(verifier) == 43
    assert UNRESERVED.fullmatch(verifier)


def test_verifiers_are_unique_over_1000_calls() -> None:
    verifiers = [generate_code_verifier() for _ in range(1000)]
    assert len(set(verifiers)) == 1000
    assert all(len(v) == 43 and UNRESERVED.fullmatch(v) for v in verifiers)


def test_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_challenge_is_unpadded_base64url() -> None:
    challenge = code_challenge_s256(generate_code_verifier())
    assert len(challenge) == 43
    assert re.fullmatch(r"[A-Za-z0-9_-]+", challenge)


def test_random_tokens_are_url_safe_and_unique() -> None:
    tokens = {random_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in tokens)


def test_random_token_length_follows_entropy() -> None:
    assert len(random_token(16)) == 22


# -- authorization_url --------------------------------------------------------------------


def test_sdk_parameters_appear_once_with_the_sdks_values() -> None:
    pairs = build({})
    names = [name for name, _ in pairs]
    for name in ("client_id", "redirect_uri", "response_type", "code_challenge"):
        assert names.count(name) == 1
    params = dict(pairs)
    assert params == {
        "client_id": "the-client",
        "redirect_uri": "https://app.example.com/auth/callback",
        "response_type": "code",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "S" * 43,
        "nonce": "N" * 43,
    }


def test_url_starts_with_the_endpoint() -> None:
    url = authorization_url(ENDPOINT, authorization_parameters(extra={}, **SDK))
    assert url.startswith(ENDPOINT + "?")


def test_endpoint_with_existing_query_is_extended() -> None:
    pairs = build({}, endpoint=ENDPOINT + "?tenant=x")
    assert pairs[0] == ("tenant", "x")
    assert dict(pairs)["client_id"] == "the-client"


def test_code_verifier_is_never_in_the_url() -> None:
    url = authorization_url(ENDPOINT, authorization_parameters(extra={}, **SDK))
    assert SDK["code_verifier"] not in url
    assert "code_verifier" not in url


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_parameter_from_extra_is_dropped(name: str) -> None:
    pairs = build({name: "attacker-value"})
    assert "attacker-value" not in [value for _, value in pairs]
    assert [n for n, _ in pairs].count(name) <= 1


def test_all_reserved_parameters_together_are_dropped() -> None:
    extra = dict.fromkeys(RESERVED, "evil")
    extra.update(
        response_type="token",
        code_challenge_method="plain",
        redirect_uri="https://evil.example/cb",
        response_mode="form_post",
    )
    pairs = build(extra)
    names = [name for name, _ in pairs]
    for name in ("request", "request_uri", "response_mode", "dpop_jkt"):
        assert name not in names
    for name in (
        "client_id",
        "redirect_uri",
        "response_type",
        "code_challenge",
        "code_challenge_method",
        "state",
        "nonce",
    ):
        assert names.count(name) == 1
    params = dict(pairs)
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == SDK["redirect_uri"]
    assert "evil" not in params.values()


@pytest.mark.parametrize("name", ["client_secret", "client_assertion", "client_assertion_type"])
def test_client_credentials_from_extra_are_dropped(name: str) -> None:
    assert name not in dict(build({name: "x"}))


def test_other_parameters_pass_through_encoded() -> None:
    params = dict(
        build(
            {
                "scope": "openid profile",
                "audience": "https://api.example.com",
                "login_hint": "a&b=c@example.com",
                "prompt": "login",
            }
        )
    )
    assert params["scope"] == "openid profile"
    assert params["audience"] == "https://api.example.com"
    assert params["login_hint"] == "a&b=c@example.com"
    assert params["prompt"] == "login"


def test_injected_separator_in_a_value_cannot_add_parameters() -> None:
    pairs = build({"login_hint": "x&state=evil&redirect_uri=https://evil.example"})
    names = [n for n, _ in pairs]
    assert names.count("state") == 1
    assert names.count("redirect_uri") == 1
    assert dict(pairs)["state"] == "S" * 43
