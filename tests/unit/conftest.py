"""Fixtures for the unit tests (pure functions and small objects, no servers)."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
