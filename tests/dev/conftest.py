"""Fixtures for the development provider's tests: a started provider and a test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from joserfc.jwk import RSAKey

from auth0_web.dev import DevProvider

from .helpers import Clock, make_provider


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def signing_key() -> RSAKey:
    """One key for the whole run: generating RSA keys is the slowest part of a provider."""
    return RSAKey.generate_key(2048, private=True)


@pytest.fixture(scope="session")
def _session_clock() -> Clock:
    return Clock()


@pytest.fixture
def clock(_session_clock: Clock) -> Iterator[Clock]:
    """The shared provider's clock, back to real time after each test."""
    yield _session_clock
    _session_clock.offset = 0.0


@pytest.fixture(scope="session")
def provider(signing_key: RSAKey, _session_clock: Clock) -> Iterator[DevProvider]:
    """One provider served by uvicorn on a free port for the whole run.

    Tests stay independent because each has its own browser (the provider session lives in
    its cookies) and its own codes and tokens.
    """
    with make_provider(signing_key=signing_key, clock=_session_clock) as running:
        yield running


@pytest.fixture
async def browser(provider: DevProvider) -> AsyncIterator[httpx.AsyncClient]:
    """The user agent's side: keeps the provider's cookies, follows no redirects."""
    async with httpx.AsyncClient(base_url=provider.domain, follow_redirects=False) as client:
        yield client


@pytest.fixture
async def backchannel(provider: DevProvider) -> AsyncIterator[httpx.AsyncClient]:
    """The application's server-to-provider side (no cookies)."""
    async with httpx.AsyncClient(base_url=provider.domain, follow_redirects=False) as client:
        yield client
