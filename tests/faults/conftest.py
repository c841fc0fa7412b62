"""Fixtures for the fault-injection suite: a scripted OP behind fault gateways."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .provider import FaultOP


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fault_op_server() -> Iterator[FaultOP]:
    op = FaultOP()
    op.start()
    try:
        yield op
    finally:
        op.stop()


@pytest.fixture
def fault_op(fault_op_server: FaultOP) -> Iterator[FaultOP]:
    """The session's faulty OP, healed, with a fresh scenario and empty logs."""
    fault_op_server.reset()
    fault_op_server.heal()
    fault_op_server.front.seen.clear()
    fault_op_server.keys_front.seen.clear()
    yield fault_op_server
    fault_op_server.heal()
    fault_op_server.reset()
