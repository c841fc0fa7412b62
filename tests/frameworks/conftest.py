"""Fixtures for the framework end-to-end tests: a URL reserved for the app under test."""

from __future__ import annotations

import pytest

from tests.support.apps import free_port


@pytest.fixture
def app_url() -> str:
    return f"http://127.0.0.1:{free_port()}"
