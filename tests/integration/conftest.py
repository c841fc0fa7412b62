"""Fixtures for the integration tests: the real oidc-provider and the anyio backend.

``pytest_plugins`` is only honoured in the rootdir conftest, so the provider fixture is
imported here instead.
"""

import pytest

from tests.support.op_fixtures import oidc_provider  # noqa: F401


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
