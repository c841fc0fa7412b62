"""CIBA (poll mode) against the real ``oidc-provider``, the test suite playing the user's phone.

The module runs its own provider with CIBA on (``ciba={"interval": 1}``: one-second polls
keep the module to a few seconds) and a client registered for the CIBA grant. The "device"
is the provider's test-only ``/test/ciba/{approve,deny}`` routes. A provider without CIBA
(the session-wide one) shows the not-supported error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from auth0_web import Auth0Client
from auth0_web._ciba import (
    BackchannelAuthenticationError,
    BackchannelAuthenticationNotSupportedError,
    BackchannelAuthenticationResult,
)
from auth0_web._errors import OAuth2Error
from tests.support.apps import make_client
from tests.support.oidc_provider import OidcProvider
from tests.support.op_fixtures import ALICE, BOB, ProviderFixture, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CLIENT_ID = "ciba-app"
CIBA_GRANT = "urn:openid:params:grant-type:ciba"


@pytest.fixture(scope="module")
def ciba_op() -> Iterator[tuple[OidcProvider, str]]:
    secret = new_client_secret()
    clients = [
        client_metadata(
            CLIENT_ID,
            secret,
            "client_secret_post",
            grant_types=["authorization_code", "refresh_token", CIBA_GRANT],
            backchannel_token_delivery_mode="poll",
        )
    ]
    with OidcProvider(clients=clients, users=[ALICE, BOB], ciba={"interval": 1}) as provider:
        yield provider, secret


@pytest.fixture
async def client(ciba_op: tuple[OidcProvider, str]) -> AsyncIterator[Auth0Client]:
    provider, secret = ciba_op
    auth0 = make_client(provider, client_id=CLIENT_ID, client_secret=secret)
    try:
        yield auth0
    finally:
        await auth0.aclose()


async def _start(
    auth0: Auth0Client, **options: Any
) -> asyncio.Task[BackchannelAuthenticationResult]:
    options.setdefault("binding_message", "Order 1234: approve")
    options.setdefault("login_hint", {"sub": ALICE["sub"]})
    return asyncio.create_task(auth0.get_token_by_backchannel_auth(**options))


async def _pending(provider: OidcProvider, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the provider holds ``count`` pending requests (the POST has landed)."""
    for _ in range(200):
        found = await provider.ciba_requests()
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("no backchannel request reached the provider")


async def test_approved_request_returns_the_users_tokens(
    ciba_op: tuple[OidcProvider, str], client: Auth0Client
) -> None:
    provider, _ = ciba_op
    task = await _start(client)
    (request,) = await _pending(provider)
    assert request["sub"] == ALICE["sub"]
    assert request["client_id"] == CLIENT_ID
    assert request["binding_message"] == "Order 1234: approve"
    assert set(request["scope"].split()) >= {"openid", "profile", "email"}
    # Let at least one poll see authorization_pending before the user approves.
    await asyncio.sleep(1.3)
    assert not task.done()
    await provider.ciba_approve(request["auth_req_id"])

    result = await asyncio.wait_for(task, 10)
    assert result.id_token_claims["sub"] == ALICE["sub"]
    assert result.id_token_claims["iss"] == provider.issuer
    assert result.id_token_claims["aud"] == CLIENT_ID
    assert result.id_token_claims["email"] == ALICE["email"]
    assert "nonce" not in result.id_token_claims
    tokens = result.token_set
    assert tokens.access_token and tokens.id_token
    assert tokens.token_type == "Bearer"
    assert tokens.expires_at > 0
    assert tokens.refresh_token  # offline_access is in the default scope
    assert result.authorization_details is None
    text = repr(result)
    for secret in (tokens.access_token, tokens.id_token, tokens.refresh_token):
        assert secret not in text
    assert await provider.ciba_requests() == []


async def test_other_user_and_custom_scope(
    ciba_op: tuple[OidcProvider, str], client: Auth0Client
) -> None:
    provider, _ = ciba_op
    task = await _start(
        client,
        login_hint={"sub": BOB["sub"]},
        binding_message="Call centre, ticket #42",
        authorization_params={"scope": "openid email", "redirect_uri": "https://evil.example/"},
    )
    (request,) = await _pending(provider)
    assert request["sub"] == BOB["sub"]
    assert request["scope"] == "openid email"
    await provider.ciba_approve()
    result = await asyncio.wait_for(task, 10)
    assert result.id_token_claims["sub"] == BOB["sub"]
    assert "name" not in result.id_token_claims  # profile was not asked for
    assert result.token_set.refresh_token is None
    assert result.token_set.requested_scope == "openid email"


async def test_denied_request_raises(
    ciba_op: tuple[OidcProvider, str], client: Auth0Client
) -> None:
    provider, _ = ciba_op
    task = await _start(client)
    await _pending(provider)
    await provider.ciba_deny()
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await asyncio.wait_for(task, 10)
    assert caught.value.code == "backchannel_authentication_error"
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "access_denied"


async def test_unanswered_request_expires(
    ciba_op: tuple[OidcProvider, str], client: Auth0Client
) -> None:
    provider, _ = ciba_op
    task = await _start(client, requested_expiry=2)
    (request,) = await _pending(provider)
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await asyncio.wait_for(task, 10)
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "expired_token"
    await provider.ciba_deny(request["auth_req_id"])  # tidy up the provider's list


async def test_unknown_user_is_refused_by_the_provider(client: Auth0Client) -> None:
    task = await _start(client, login_hint={"sub": "auth0|nobody"})
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await asyncio.wait_for(task, 10)
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "unknown_user_id"


async def test_provider_without_ciba_is_not_supported(oidc_provider: ProviderFixture) -> None:
    auth0 = make_client(
        oidc_provider.provider,
        client_id=oidc_provider.post_client_id,
        client_secret=oidc_provider.post_client_secret,
    )
    try:
        with pytest.raises(BackchannelAuthenticationNotSupportedError) as caught:
            await auth0.get_token_by_backchannel_auth(
                binding_message="hello", login_hint={"sub": ALICE["sub"]}
            )
        assert caught.value.code == "backchannel_authentication_not_supported_error"
    finally:
        await auth0.aclose()
