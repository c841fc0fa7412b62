"""Custom Token Exchange against the real ``oidc-provider`` (extended with Auth0's Custom Token
Exchange, ``tests/op/auth0_custom_token_exchange.mjs``).

The provider's profile maps "legacy" tokens to users and issues its own real tokens for
them: the tests check those tokens where the provider itself checks them (the ID token
against its JWKS, the access token at ``/userinfo``, the refresh token at the refresh
grant), and that the exchange never touches the app's session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.jwk import KeySet

from auth0_web import Auth0Client, CustomTokenExchangeError, OAuth2Error
from tests.support.apps import Browser, make_app, make_client
from tests.support.oidc_provider import OidcProvider
from tests.support.op_fixtures import ALICE, BOB, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata

from .helpers import login, session_of, set_cookies

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
LEGACY = "urn:acme:legacy-token"
PARTNER = "https://acme.example/tokens/partner"
API = "https://api.acme.example"
CTE_CLIENT = "cte-app"
PLAIN_CLIENT = "plain-app"


@dataclass
class CteProvider:
    provider: OidcProvider
    secret: str
    plain_secret: str
    keys: KeySet

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    def url(self, path: str) -> str:
        return self.provider.url(path)


@pytest.fixture(scope="module")
def cte_op() -> Iterator[CteProvider]:
    secret, plain_secret = new_client_secret(), new_client_secret()
    clients = [
        client_metadata(
            CTE_CLIENT,
            secret,
            "client_secret_post",
            grant_types=["authorization_code", "refresh_token", GRANT],
        ),
        client_metadata(PLAIN_CLIENT, plain_secret, "client_secret_post"),
    ]
    profiles = [
        {
            "subject_token_type": LEGACY,
            "tokens": {"legacy-alice-123": ALICE["sub"], "legacy-ghost": "auth0|ghost"},
        },
        {"subject_token_type": PARTNER, "tokens": {"partner-bob-9": BOB["sub"]}},
    ]
    with OidcProvider(
        clients=clients,
        users=[ALICE, BOB],
        resource_servers=[{"identifier": API, "scopes": ["read:orders", "write:orders"]}],
        custom_token_exchange={"profiles": profiles},
    ) as provider:
        keys = KeySet.import_key_set(httpx.get(provider.url("/.well-known/jwks.json")).json())
        yield CteProvider(provider, secret, plain_secret, keys)


@pytest.fixture
async def auth0(cte_op: CteProvider) -> AsyncIterator[Auth0Client]:
    client = make_client(cte_op, client_id=CTE_CLIENT, client_secret=cte_op.secret)
    try:
        yield client
    finally:
        await client.aclose()


def claims_of(op: CteProvider, token: str) -> dict[str, Any]:
    """A provider-signed JWT's claims, its signature checked against the provider's JWKS."""
    return dict(jwt.decode(token, op.keys, algorithms=["RS256"]).claims)


async def test_exchange_returns_the_mapped_users_real_tokens(
    cte_op: CteProvider, auth0: Auth0Client
) -> None:
    result = await auth0.custom_token_exchange(
        subject_token="legacy-alice-123", subject_token_type=LEGACY
    )
    assert result.token_type == "Bearer"
    assert result.expires_in is not None and 3500 < result.expires_in <= 3600
    assert set((result.scope or "").split()) == {"openid", "profile", "email", "offline_access"}
    assert result.act is None
    assert result.id_token and result.refresh_token
    claims = claims_of(cte_op, result.id_token)
    assert claims["sub"] == ALICE["sub"]
    assert claims["iss"] == cte_op.issuer and claims["aud"] == CTE_CLIENT
    assert claims["email"] == ALICE["email"] and claims["name"] == ALICE["name"]
    assert claims["https://example.com/roles"] == ["admin"]
    assert "nonce" not in claims
    for secret in (result.access_token, result.id_token, result.refresh_token):
        assert secret not in repr(result)

    async with httpx.AsyncClient() as http:
        # The access token is the provider's own: /userinfo knows whose it is ...
        userinfo = await http.get(
            cte_op.url("/userinfo"), headers={"authorization": f"Bearer {result.access_token}"}
        )
        assert userinfo.status_code == 200, userinfo.text
        assert userinfo.json()["sub"] == ALICE["sub"]
        # ... and the refresh token works with the ordinary refresh grant.
        refreshed = await http.post(
            cte_op.url("/oauth/token"),
            data={
                "grant_type": "refresh_token",
                "refresh_token": result.refresh_token,
                "client_id": CTE_CLIENT,
                "client_secret": cte_op.secret,
            },
        )
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(cte_op, refreshed.json()["id_token"])["sub"] == ALICE["sub"]


async def test_audience_and_scope_give_an_api_access_token(
    cte_op: CteProvider, auth0: Auth0Client
) -> None:
    result = await auth0.custom_token_exchange(
        subject_token="partner-bob-9", subject_token_type=PARTNER, audience=API, scope="read:orders"
    )
    access = claims_of(cte_op, result.access_token)
    assert access["aud"] == API
    assert access["sub"] == BOB["sub"]
    assert access["scope"] == "read:orders"
    assert result.scope == "read:orders"
    assert result.id_token is not None
    assert claims_of(cte_op, result.id_token)["sub"] == BOB["sub"]


@pytest.mark.parametrize(
    ("subject_token", "subject_token_type", "options", "cause"),
    [
        ("legacy-alice-123", "urn:acme:unknown-profile", {}, "invalid_request"),
        ("not-a-legacy-token", LEGACY, {}, "invalid_grant"),
        ("legacy-ghost", LEGACY, {}, "invalid_grant"),  # maps to no known user
        ("partner-bob-9", LEGACY, {}, "invalid_grant"),  # another profile's token
        ("legacy-alice-123", LEGACY, {"audience": "https://unknown.example"}, "access_denied"),
    ],
)
async def test_provider_refusals_become_exchange_failed(
    auth0: Auth0Client,
    subject_token: str,
    subject_token_type: str,
    options: dict[str, str],
    cause: str,
) -> None:
    with pytest.raises(CustomTokenExchangeError) as caught:
        await auth0.custom_token_exchange(
            subject_token=subject_token, subject_token_type=subject_token_type, **options
        )
    assert caught.value.code == "exchange_failed"
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == cause
    assert subject_token not in str(caught.value)


async def test_a_client_without_the_grant_is_refused(cte_op: CteProvider) -> None:
    plain = make_client(cte_op, client_id=PLAIN_CLIENT, client_secret=cte_op.plain_secret)
    try:
        with pytest.raises(CustomTokenExchangeError) as caught:
            await plain.custom_token_exchange(
                subject_token="legacy-alice-123", subject_token_type=LEGACY
            )
    finally:
        await plain.aclose()
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "unauthorized_client"


async def test_the_exchange_inside_a_request_leaves_the_session_alone(
    cte_op: CteProvider, auth0: Auth0Client
) -> None:
    middleware = make_app(auth0)

    @middleware.app.post("/link-legacy")
    async def link_legacy() -> JSONResponse:
        result = await auth0.custom_token_exchange(
            subject_token="partner-bob-9", subject_token_type=PARTNER
        )
        assert result.id_token is not None
        return JSONResponse({"sub": claims_of(cte_op, result.id_token)["sub"]})

    async with Browser(middleware) as browser, httpx.AsyncClient() as op_http:
        await login(browser, op_http, sub=ALICE["sub"])
        before = await session_of(auth0, browser.cookies)
        response = await browser.post("/link-legacy")
        assert response.status_code == 200, response.text
        assert response.json() == {"sub": BOB["sub"]}
        after = await session_of(auth0, browser.cookies)
    assert before is not None and after is not None
    assert after.user == before.user  # still Alice
    assert after.token_set == before.token_set
    assert after.internal == before.internal
    # At most the rolling re-write of the same session cookie; nothing else is set.
    assert set(set_cookies(response)) <= {"__session"}
