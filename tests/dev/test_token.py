"""The token endpoint: code exchange, client authentication, refresh rotation."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jwt

from auth0_web.dev import DevProvider

from .helpers import (
    BASIC_ID,
    BASIC_SECRET,
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_ID,
    OTHER_REDIRECT,
    OTHER_SECRET,
    REDIRECT_URI,
    ROLES,
    Clock,
    basic,
    exchange,
    jwt_parts,
    login_code,
    new_flow,
    public_key,
    refresh,
    tokens_for,
    userinfo,
)

pytestmark = pytest.mark.anyio


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    description: str = body["error_description"]
    return description


# -- the happy path --------------------------------------------------------------------------


async def test_code_exchange_returns_signed_tokens(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient, provider: DevProvider
) -> None:
    flow = new_flow()
    code = await login_code(browser, flow)
    response = await exchange(backchannel, flow, code)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "access_token",
        "id_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "scope",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid profile email offline_access"

    key = public_key((await backchannel.get("/.well-known/jwks.json")).json())
    id_token = jwt.decode(body["id_token"], key, algorithms=["RS256"])
    assert id_token.header["kid"] == key.thumbprint()
    assert id_token.header["typ"] == "JWT"
    claims = id_token.claims
    assert claims["iss"] == provider.issuer
    assert claims["sub"] == "auth0|alice"
    assert claims["aud"] == CLIENT_ID and claims["azp"] == CLIENT_ID
    assert claims["nonce"] == flow.params["nonce"]
    assert claims["exp"] - claims["iat"] == 3600
    assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= claims["iat"]
    assert isinstance(claims["sid"], str) and claims["sid"]
    assert claims["name"] == "Alice Example" and claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True and claims["nickname"] == "alice"
    assert claims[ROLES] == ["admin"]

    access = jwt.decode(body["access_token"], key, algorithms=["RS256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["iss"] == provider.issuer
    assert access.claims["sub"] == "auth0|alice"
    assert access.claims["aud"] == provider.issuer + "userinfo"
    assert access.claims["azp"] == CLIENT_ID
    assert access.claims["scope"] == "openid profile email offline_access"
    assert access.claims["exp"] - access.claims["iat"] == 3600
    assert access.claims["jti"]


async def test_claims_follow_the_scope(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    body = await tokens_for(browser, backchannel, "Bob Example", scope="openid")
    _, claims = jwt_parts(body["id_token"])
    assert "name" not in claims and "email" not in claims
    assert "refresh_token" not in body  # no offline_access
    body = await tokens_for(browser, backchannel, "Bob Example", scope="openid email")
    _, claims = jwt_parts(body["id_token"])
    assert claims["email"] == "bob@example.com" and claims["email_verified"] is False
    assert "name" not in claims


async def test_audience_is_in_the_access_token(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient, provider: DevProvider
) -> None:
    body = await tokens_for(browser, backchannel, audience="https://api.example.com")
    _, claims = jwt_parts(body["access_token"])
    assert claims["aud"] == ["https://api.example.com", provider.issuer + "userinfo"]
    assert (await userinfo(backchannel, body["access_token"])).status_code == 200


async def test_basic_authentication(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow(client_id=BASIC_ID)
    code = await login_code(browser, flow)
    # the secret has characters that must be form-urlencoded inside Basic (RFC 6749 2.3.1)
    response = await backchannel.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow.verifier,
        },
        headers={"Authorization": basic(BASIC_ID, BASIC_SECRET)},
    )
    assert response.status_code == 200, response.text


# -- code validation -----------------------------------------------------------------------


async def test_wrong_verifier_is_invalid_grant(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow()
    code = await login_code(browser, flow)
    other = new_flow()
    response = await exchange(backchannel, flow, code, code_verifier=other.verifier)
    assert "code_verifier" in assert_oauth_error(response, "invalid_grant")
    # a malformed verifier is a malformed request
    response = await exchange(backchannel, flow, code, code_verifier="short")
    assert_oauth_error(response, "invalid_request")
    response = await exchange(backchannel, flow, code, code_verifier=None)
    assert_oauth_error(response, "invalid_request")
    # failed attempts do not spend the code
    assert (await exchange(backchannel, flow, code)).status_code == 200


async def test_wrong_redirect_uri_is_invalid_grant(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow()
    code = await login_code(browser, flow)
    response = await exchange(backchannel, flow, code, redirect_uri=REDIRECT_URI + "/")
    assert "redirect_uri" in assert_oauth_error(response, "invalid_grant")
    response = await exchange(backchannel, flow, code, redirect_uri=None)
    assert_oauth_error(response, "invalid_request")


async def test_code_of_another_client_is_invalid_grant(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow(client_id=OTHER_ID, redirect_uri=OTHER_REDIRECT)
    code = await login_code(browser, flow)
    response = await exchange(backchannel, flow, code)  # authenticates as CLIENT_ID
    assert "another client" in assert_oauth_error(response, "invalid_grant")
    response = await exchange(
        backchannel, flow, code, client_id=OTHER_ID, client_secret=OTHER_SECRET
    )
    assert response.status_code == 200


async def test_unknown_and_expired_codes_are_invalid_grant(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient, clock: Clock
) -> None:
    flow = new_flow()
    assert_oauth_error(await exchange(backchannel, flow, "no-such-code"), "invalid_grant")
    code = await login_code(browser, flow)
    clock.advance(61)
    assert_oauth_error(await exchange(backchannel, flow, code), "invalid_grant")


async def test_code_reuse_revokes_what_it_issued(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow()
    code = await login_code(browser, flow)
    first = await exchange(backchannel, flow, code)
    assert first.status_code == 200
    tokens = first.json()
    assert (await userinfo(backchannel, tokens["access_token"])).status_code == 200

    replay = await exchange(backchannel, flow, code)
    assert "already used" in assert_oauth_error(replay, "invalid_grant")
    # RFC 6749 section 10.5: everything issued from the code is revoked.
    denied = await userinfo(backchannel, tokens["access_token"])
    assert denied.status_code == 401
    assert 'error="invalid_token"' in denied.headers["www-authenticate"]
    assert_oauth_error(await refresh(backchannel, tokens["refresh_token"]), "invalid_grant")


# -- client authentication -----------------------------------------------------------------


async def test_wrong_secret_post_is_invalid_client(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow()
    code = await login_code(browser, flow)
    response = await exchange(backchannel, flow, code, client_secret="wrong")
    assert_oauth_error(response, "invalid_client", 401)
    assert "www-authenticate" not in response.headers
    response = await exchange(backchannel, flow, code, client_secret=None)
    assert_oauth_error(response, "invalid_client", 401)
    response = await exchange(backchannel, flow, code, client_id="nobody")
    assert_oauth_error(response, "invalid_client", 401)
    assert (await exchange(backchannel, flow, code)).status_code == 200


async def test_wrong_secret_basic_is_invalid_client_with_challenge(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow()
    code = await login_code(browser, flow)
    for authorization in (
        basic(CLIENT_ID, "wrong"),
        basic("nobody", CLIENT_SECRET),
        "Basic !!!not-base64",
        "Bearer abc",
    ):
        response = await backchannel.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": flow.verifier,
            },
            headers={"Authorization": authorization},
        )
        assert_oauth_error(response, "invalid_client", 401)
        assert response.headers["www-authenticate"].startswith("Basic ")
    response = await backchannel.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow.verifier,
        },
        headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )
    assert response.status_code == 200


async def test_two_authentication_methods_at_once_are_refused(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow()
    code = await login_code(browser, flow)
    response = await backchannel.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow.verifier,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )
    assert "one client authentication method" in assert_oauth_error(response, "invalid_request")


async def test_unregistered_authentication_method_is_refused(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    flow = new_flow(client_id=BASIC_ID)
    code = await login_code(browser, flow)
    response = await exchange(
        backchannel, flow, code, client_id=BASIC_ID, client_secret=BASIC_SECRET
    )
    assert "client_secret_post" in assert_oauth_error(response, "invalid_client", 401)


# -- request shape -------------------------------------------------------------------------


async def test_unknown_grant_type(backchannel: httpx.AsyncClient) -> None:
    data = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = await backchannel.post("/oauth/token", data={**data, "grant_type": "password"})
    assert_oauth_error(response, "unsupported_grant_type")
    response = await backchannel.post("/oauth/token", data=data)
    assert_oauth_error(response, "invalid_request")


async def test_form_body_only_and_no_repeats(backchannel: httpx.AsyncClient) -> None:
    data = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = await backchannel.post("/oauth/token", json=data)
    assert_oauth_error(response, "invalid_request")
    response = await backchannel.post(
        "/oauth/token",
        content="grant_type=refresh_token&grant_type=authorization_code&client_id=dev-app",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "more than once" in assert_oauth_error(response, "invalid_request")
    assert (await backchannel.get("/oauth/token")).status_code == 405


# -- refresh tokens ------------------------------------------------------------------------


async def test_refresh_rotates_and_detects_reuse(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    first = await refresh(backchannel, tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    _, old_claims = jwt_parts(tokens["id_token"])
    _, new_claims = jwt_parts(rotated["id_token"])
    assert new_claims["sub"] == old_claims["sub"]
    assert new_claims["sid"] == old_claims["sid"]
    assert new_claims["auth_time"] == old_claims["auth_time"]
    assert "nonce" not in new_claims

    second = await refresh(backchannel, rotated["refresh_token"])
    assert second.status_code == 200
    latest = second.json()

    # the first refresh token again: reuse; the whole family is revoked
    reuse = await refresh(backchannel, tokens["refresh_token"])
    assert "already used" in assert_oauth_error(reuse, "invalid_grant")
    assert_oauth_error(await refresh(backchannel, latest["refresh_token"]), "invalid_grant")
    assert (await userinfo(backchannel, latest["access_token"])).status_code == 401


async def test_refresh_scope_must_be_a_subset(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel, scope="openid email offline_access")
    response = await refresh(backchannel, tokens["refresh_token"], scope="openid profile")
    assert_oauth_error(response, "invalid_scope")
    narrowed = await refresh(backchannel, tokens["refresh_token"], scope="openid")
    assert narrowed.status_code == 200
    body = narrowed.json()
    assert body["scope"] == "openid"
    _, claims = jwt_parts(body["id_token"])
    assert "email" not in claims
    # the new refresh token keeps the full grant (RFC 6749 section 6)
    again = await refresh(backchannel, body["refresh_token"])
    assert again.json()["scope"] == "openid email offline_access"


async def test_refresh_token_is_bound_to_its_client(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    response = await backchannel.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": OTHER_ID,
            "client_secret": OTHER_SECRET,
        },
    )
    assert_oauth_error(response, "invalid_grant")
    assert (await refresh(backchannel, tokens["refresh_token"])).status_code == 200


async def test_refresh_token_expires(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient, clock: Clock
) -> None:
    tokens = await tokens_for(browser, backchannel)
    clock.advance(30 * 86400 + 1)
    assert_oauth_error(await refresh(backchannel, tokens["refresh_token"]), "invalid_grant")
    assert_oauth_error(await refresh(backchannel, "unknown"), "invalid_grant")
