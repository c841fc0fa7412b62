"""Pytest fixtures for the scripted OP.

Load with ``pytest_plugins = ["tests.support.scripted_op_fixtures"]`` (or import the
two fixtures into a conftest).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .scripted_op import ScriptedOP


@pytest.fixture(scope="session")
def scripted_op_server() -> Iterator[ScriptedOP]:
    """One scripted OP per test session (keys are generated once)."""
    op = ScriptedOP()
    op.start()
    try:
        yield op
    finally:
        op.stop()


@pytest.fixture
def scripted_op(scripted_op_server: ScriptedOP) -> Iterator[ScriptedOP]:
    """The session OP with a fresh scenario, empty request log and original keys."""
    scripted_op_server.reset()
    yield scripted_op_server
    scripted_op_server.reset()
