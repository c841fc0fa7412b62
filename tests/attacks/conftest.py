"""Fixtures for the attack suite: one scripted OP per session, fresh clients per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from auth0_web import Auth0Client
from tests.support.apps import APP_BASE, Browser, make_app, make_client
from tests.support.scripted_op import ScriptedOP


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def op(scripted_op: ScriptedOP) -> ScriptedOP:
    return scripted_op


class Harness:
    """Builds SDK clients and browsers for one test and closes them afterwards."""

    def __init__(self, op: ScriptedOP) -> None:
        self.op = op
        self._clients: list[Auth0Client] = []
        self._browsers: list[Browser] = []

    def client(self, **options: Any) -> Auth0Client:
        options.setdefault("client_id", self.op.client_id)
        options.setdefault("client_secret", self.op.client_secret)
        client = make_client(self.op, **options)
        self._clients.append(client)
        return client

    def browser(self, target: Auth0Client | Any | None = None, base_url: str = APP_BASE) -> Browser:
        """A browser on ``make_app(target)`` (a client), on ``target`` (an ASGI app), or on
        a fresh default client's app."""
        if target is None:
            target = self.client()
        app = make_app(target) if isinstance(target, Auth0Client) else target
        browser = Browser(app, base_url=base_url)
        self._browsers.append(browser)
        return browser

    async def aclose(self) -> None:
        for browser in self._browsers:
            await browser.client.aclose()
        for client in self._clients:
            await client.aclose()


@pytest.fixture
async def h(op: ScriptedOP) -> AsyncIterator[Harness]:
    harness = Harness(op)
    try:
        yield harness
    finally:
        await harness.aclose()


@pytest.fixture
def browser(h: Harness) -> Browser:
    """A browser on the default test app (default client options)."""
    return h.browser()
