"""pytest plugin (registered automatically through the ``pytest11`` entry point).

Fixtures:

``auth0_dev_tenant``
    A running development identity provider (session scope) with one application that
    accepts any loopback callback URL, plus ``client_options(app_base_url)`` for
    ``Auth0Client(**...)``.
``auth0_session_cookie``
    :func:`~auth0_web.testing.generate_session_cookie`.
``auth0_logged_in_client``
    :func:`~auth0_web.testing.logged_in_client`: an ``httpx.AsyncClient`` on your app,
    already logged in as the user you name.

Nothing heavy is imported until a fixture is used.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..dev import DevProvider


@dataclass
class DevTenant:
    """The development provider and the credentials of its test application."""

    provider: DevProvider
    client_id: str
    client_secret: str

    @property
    def domain(self) -> str:
        return self.provider.domain

    def client_options(self, app_base_url: str, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for an ``Auth0Client`` of an app served at ``app_base_url``."""
        options: dict[str, Any] = {
            "domain": self.provider.domain,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "secret": secrets.token_hex(32),
            "app_base_url": app_base_url,
            "allow_insecure_requests": True,
        }
        options.update(overrides)
        return options


@pytest.fixture(scope="session")
def auth0_dev_tenant() -> Iterator[DevTenant]:
    from ..dev import DEFAULT_USERS, DevClient, DevProvider

    client = DevClient(
        client_id="auth0-web-tests",
        client_secret=secrets.token_hex(16),
        allow_loopback_redirects=True,
    )
    with DevProvider(clients=[client], users=DEFAULT_USERS) as provider:
        yield DevTenant(provider, client.client_id, client.client_secret)


@pytest.fixture
def auth0_session_cookie() -> Callable[..., dict[str, str]]:
    from ._cookies import generate_session_cookie

    return generate_session_cookie


@pytest.fixture
def auth0_logged_in_client() -> Callable[..., Any]:
    from ._cookies import logged_in_client

    return logged_in_client
