"""The outbound side: telemetry headers, discovery/JWKS caching and single flight."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from auth0_web import DiscoveryError
from auth0_web._version import __version__
from tests.support.apps import Browser, make_app, make_client
from tests.support.scripted_op import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_for(op, **options):
    return make_client(
        op, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, **options
    )


async def login(auth0, op) -> Browser:
    browser = Browser(make_app(auth0))
    response = await browser.get("/auth/login")
    callback = await op.alogin(response.headers["location"])
    response = await browser.get(callback)
    assert response.status_code == 307, response.text
    return browser


async def test_telemetry_headers_on_every_provider_call(scripted_op) -> None:
    auth0 = client_for(scripted_op)
    async with await login(auth0, scripted_op):
        pass
    calls = [r for r in scripted_op.requests if r.path != "/authorize"]
    assert {r.path for r in calls} >= {
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
        "/oauth/token",
    }
    for record in calls:
        assert record.headers["user-agent"] == f"auth0-web/{__version__}"
        info = json.loads(base64.b64decode(record.headers["auth0-client"]))
        assert info == {"name": "auth0-web", "version": __version__}


async def test_telemetry_can_be_disabled(scripted_op) -> None:
    auth0 = client_for(scripted_op, enable_telemetry=False)
    async with await login(auth0, scripted_op):
        pass
    for record in scripted_op.requests:
        assert "auth0-client" not in record.headers
        assert not record.headers.get("user-agent", "").startswith("auth0-web")


async def test_discovery_and_jwks_are_fetched_once_for_many_logins(scripted_op) -> None:
    auth0 = client_for(scripted_op)
    for _ in range(3):
        async with await login(auth0, scripted_op):
            pass
    assert scripted_op.count("/.well-known/openid-configuration") == 1
    assert scripted_op.count("/.well-known/jwks.json") == 1
    assert scripted_op.count("/oauth/token") == 3


async def test_concurrent_cold_start_makes_one_discovery_call(scripted_op) -> None:
    scripted_op.scenario.delay["/.well-known/openid-configuration"] = 0.3
    auth0 = client_for(scripted_op)
    async with Browser(make_app(auth0)) as browser:
        responses = await asyncio.gather(*(browser.get("/auth/login") for _ in range(20)))
    assert [r.status_code for r in responses] == [307] * 20
    assert scripted_op.count("/.well-known/openid-configuration") == 1


async def test_discovery_ttl_expiry_refetches(scripted_op) -> None:
    auth0 = client_for(scripted_op, discovery_ttl=1)
    async with Browser(make_app(auth0)) as browser:
        assert (await browser.get("/auth/login")).status_code == 307
        await asyncio.sleep(1.1)
        assert (await browser.get("/auth/login")).status_code == 307
    assert scripted_op.count("/.well-known/openid-configuration") == 2


async def test_failed_discovery_is_not_cached(scripted_op) -> None:
    scripted_op.scenario.status["/.well-known/openid-configuration"] = 503
    auth0 = client_for(scripted_op)
    async with Browser(make_app(auth0)) as browser:
        failed = await browser.get("/auth/login")
        assert failed.status_code == 500
        assert failed.text == "An error occurred while trying to initiate the login request."
        assert not browser.txn_cookie_names()
        scripted_op.scenario.status.clear()
        assert (await browser.get("/auth/login")).status_code == 307


async def test_discovery_error_type_is_raised_by_the_cache(scripted_op) -> None:
    scripted_op.scenario.discovery = lambda doc: {**doc, "issuer": "http://localhost:1/"}
    auth0 = client_for(scripted_op)
    with pytest.raises(DiscoveryError):
        await auth0._rt.discovery.get()


async def test_http_endpoints_refused_without_insecure_flag(scripted_op) -> None:
    # allow_insecure_requests is what lets an http:// provider be used at all.
    from auth0_web import InvalidConfigurationError

    with pytest.raises(InvalidConfigurationError) as info:
        make_client(scripted_op, client_id="x", client_secret="y", allow_insecure_requests=False)
    assert any("allow_insecure_requests" in p for p in info.value.problems)
