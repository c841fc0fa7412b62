"""``/userinfo`` (Bearer tokens) and ``/oauth/revoke`` (RFC 7009)."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from auth0_web.dev import DevProvider

from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_ID,
    OTHER_SECRET,
    ROLES,
    Clock,
    basic,
    jwt_parts,
    refresh,
    tokens_for,
    userinfo,
)

pytestmark = pytest.mark.anyio


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def revoke(
    client: httpx.AsyncClient,
    token: str,
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    **extra: str,
) -> httpx.Response:
    return await client.post(
        "/oauth/revoke",
        data={"token": token, "client_id": client_id, "client_secret": client_secret, **extra},
    )


# -- userinfo ------------------------------------------------------------------------------


async def test_userinfo_returns_the_scoped_claims(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    for method in ("GET", "POST"):
        response = await backchannel.request(
            method, "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {
            "sub": "auth0|alice",
            "name": "Alice Example",
            "nickname": "alice",
            "given_name": "Alice",
            "family_name": "Example",
            "picture": "https://example.com/alice.png",
            "email": "alice@example.com",
            "email_verified": True,
            ROLES: ["admin"],
        }


async def test_userinfo_without_a_token_is_a_bare_challenge(
    backchannel: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        response = await backchannel.get("/userinfo", headers=headers)
        assert response.status_code == 401
        # RFC 6750 section 3.1: no error code when no token was presented
        assert response.headers["www-authenticate"].startswith("Bearer ")
        assert "error=" not in response.headers["www-authenticate"]


async def test_userinfo_refuses_foreign_and_wrong_tokens(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient, provider: DevProvider
) -> None:
    tokens = await tokens_for(browser, backchannel)
    # an ID token is not an access token (typ JWT, aud client)
    assert_invalid_token(await userinfo(backchannel, tokens["id_token"]))
    assert_invalid_token(await userinfo(backchannel, "not-a-jwt"))
    # same claims, signed by another key
    header, claims = jwt_parts(tokens["access_token"])
    forged = jwt.encode(header, claims, RSAKey.generate_key(2048))
    assert_invalid_token(await userinfo(backchannel, forged))
    assert (await userinfo(backchannel, tokens["access_token"])).status_code == 200


async def test_userinfo_checks_issuer_audience_and_scope(
    browser: httpx.AsyncClient,
    backchannel: httpx.AsyncClient,
    provider: DevProvider,
    signing_key: RSAKey,
) -> None:
    """Tokens signed with the provider's own key but with the wrong claims are refused."""
    tokens = await tokens_for(browser, backchannel)
    header, claims = jwt_parts(tokens["access_token"])

    def resign(**changes: object) -> str:
        return jwt.encode(header, {**claims, **changes}, signing_key)

    assert (await userinfo(backchannel, resign())).status_code == 200  # the control
    assert_invalid_token(await userinfo(backchannel, resign(aud="https://api.example.com")))
    assert_invalid_token(await userinfo(backchannel, resign(iss="http://localhost:1/")))
    assert_invalid_token(await userinfo(backchannel, resign(jti="unknown")))
    no_openid = await userinfo(backchannel, resign(scope="profile"))
    assert no_openid.status_code == 403
    assert 'error="insufficient_scope"' in no_openid.headers["www-authenticate"]


async def test_userinfo_refuses_expired_tokens(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient, clock: Clock
) -> None:
    tokens = await tokens_for(browser, backchannel)
    clock.advance(3601)
    assert_invalid_token(await userinfo(backchannel, tokens["access_token"]))


# -- revocation ----------------------------------------------------------------------------


async def test_revoking_a_refresh_token_revokes_its_family(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    rotated = (await refresh(backchannel, tokens["refresh_token"])).json()
    response = await revoke(backchannel, rotated["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert (await refresh(backchannel, rotated["refresh_token"])).status_code == 400
    assert_invalid_token(await userinfo(backchannel, rotated["access_token"]))
    assert_invalid_token(await userinfo(backchannel, tokens["access_token"]))


async def test_revoking_an_access_token(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    response = await backchannel.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"]},
        headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )
    assert response.status_code == 200
    assert_invalid_token(await userinfo(backchannel, tokens["access_token"]))
    # the refresh token (and so the grant) is untouched
    assert (await refresh(backchannel, tokens["refresh_token"])).status_code == 200


async def test_revoking_unknown_tokens_answers_200(backchannel: httpx.AsyncClient) -> None:
    assert (await revoke(backchannel, "never-issued")).status_code == 200
    assert (await revoke(backchannel, "a.b.c", token_type_hint="access_token")).status_code == 200


async def test_revocation_requires_client_authentication(
    browser: httpx.AsyncClient, backchannel: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(browser, backchannel)
    response = await revoke(backchannel, tokens["refresh_token"], client_secret="wrong")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    response = await backchannel.post("/oauth/revoke", data={"token": tokens["refresh_token"]})
    assert response.status_code == 401
    # another client may not revoke this client's tokens
    response = await revoke(
        backchannel, tokens["refresh_token"], client_id=OTHER_ID, client_secret=OTHER_SECRET
    )
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    response = await revoke(backchannel, tokens["refresh_token"], token_type_hint="id_token")
    assert response.json()["error"] == "unsupported_token_type"
    response = await revoke(backchannel, "")
    assert response.json()["error"] == "invalid_request"
    assert (await refresh(backchannel, tokens["refresh_token"])).status_code == 200
