"""Pytest fixtures for the real OpenID provider (``tests/op``, oidc-provider set up like Auth0).

Load with ``pytest_plugins = ["tests.support.op_fixtures"]`` or import the fixture
into a conftest. The provider is shared by the whole test session (one per xdist
worker); tests stay independent by using their own ``httpx`` clients (the provider
session lives in the client's cookies) and their own app ports.

Both test clients accept any ``http://127.0.0.1:<port>/...`` or
``http://localhost:<port>/...`` URL as ``redirect_uri`` and ``post_logout_redirect_uri``
(and for ``/v2/logout``'s ``returnTo``), so apps can listen on random free ports.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .oidc_provider import OidcProvider

ALICE: dict[str, Any] = {
    "sub": "auth0|alice",
    "name": "Alice Example",
    "nickname": "alice",
    "given_name": "Alice",
    "family_name": "Example",
    "email": "alice@example.com",
    "email_verified": True,
    "picture": "https://example.com/alice.png",
    "https://example.com/roles": ["admin"],
}

BOB: dict[str, Any] = {
    "sub": "auth0|bob",
    "name": "Bob Example",
    "nickname": "bob",
    "given_name": "Bob",
    "family_name": "Example",
    "email": "bob@example.com",
    "email_verified": False,
    "picture": "https://example.com/bob.png",
}


def new_client_secret() -> str:
    """A client secret of the shape the tests use: ``s3cr3t-`` + 24 characters."""
    return "s3cr3t-" + secrets.token_hex(12)


def make_client(client_id: str, secret: str, auth_method: str, **extra: Any) -> dict[str, Any]:
    """Metadata of a confidential web client that accepts any loopback redirect URI.

    ``extra`` adds or overrides metadata (e.g. ``backchannel_logout_uri``).
    """
    metadata: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": secret,
        "client_name": client_id,
        "application_type": "web",
        "token_endpoint_auth_method": auth_method,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        # Nominal values: oidc-provider needs at least one redirect URI; the flag
        # below makes any loopback http URI (any port, any path) acceptable.
        "redirect_uris": ["http://127.0.0.1/auth/callback", "http://localhost/auth/callback"],
        "post_logout_redirect_uris": ["http://127.0.0.1/", "http://localhost/"],
        "x_allow_any_loopback_redirect": True,
    }
    metadata.update(extra)
    return metadata


@dataclass
class ProviderFixture:
    """The running provider plus the credentials of its two test clients."""

    provider: OidcProvider
    post_client_id: str  # client_secret_post
    post_client_secret: str
    basic_client_id: str  # client_secret_basic
    basic_client_secret: str
    alice: dict[str, Any]
    bob: dict[str, Any]

    @property
    def port(self) -> int:
        return self.provider.port

    @property
    def domain(self) -> str:
        """``http://localhost:<port>``, the value for the SDK's ``domain``."""
        return self.provider.domain

    @property
    def issuer(self) -> str:
        """``http://localhost:<port>/``."""
        return self.provider.issuer

    def url(self, path: str) -> str:
        return self.provider.url(path)

    def logs(self) -> str:
        return self.provider.logs()

    def secret_for(self, client_id: str) -> str:
        return {
            self.post_client_id: self.post_client_secret,
            self.basic_client_id: self.basic_client_secret,
        }[client_id]


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[ProviderFixture]:
    """One oidc-provider for the test session, with clients app-post and app-basic."""
    post_secret = new_client_secret()
    basic_secret = new_client_secret()
    clients = [
        make_client("app-post", post_secret, "client_secret_post"),
        make_client("app-basic", basic_secret, "client_secret_basic"),
    ]
    with OidcProvider(clients=clients, users=[ALICE, BOB]) as provider:
        yield ProviderFixture(
            provider=provider,
            post_client_id="app-post",
            post_client_secret=post_secret,
            basic_client_id="app-basic",
            basic_client_secret=basic_secret,
            alice=ALICE,
            bob=BOB,
        )
