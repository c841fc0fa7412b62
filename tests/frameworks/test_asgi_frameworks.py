"""FastAPI and Starlette: the shared scenario through uvicorn against the real provider."""

from __future__ import annotations

import httpx
import pytest

from tests.support.op_fixtures import ProviderFixture

from .scenario import auth0_options, run_scenario
from .servers import load_example, serve_asgi

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.mark.parametrize("example", ["fastapi_app", "starlette_app"])
async def test_login_page_token_logout(
    example: str, oidc_provider: ProviderFixture, app_url: str
) -> None:
    op = oidc_provider
    app = load_example(example).create_app(
        **auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    )
    with serve_asgi(app, port=int(app_url.rsplit(":", 1)[1])):
        await run_scenario(app_url, op.alice["sub"])


async def test_fastapi_openapi_stays_clean(oidc_provider: ProviderFixture, app_url: str) -> None:
    """The SDK's routes and its dependencies' plumbing do not leak into the OpenAPI schema."""
    op = oidc_provider
    app = load_example("fastapi_app").create_app(
        **auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=app_url) as client:
        schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert not [p for p in paths if p.startswith("/auth")]
    assert set(paths) == {
        "/",
        "/protected",
        "/api/private",
        "/api/me",
        "/api/token",
        "/api/token-scopes",
    }
    # Session/token dependencies take the request only: no phantom query parameters.
    for path in ("/", "/api/me", "/api/token-scopes", "/protected", "/api/private"):
        assert "parameters" not in paths[path]["get"], path
    assert [p["name"] for p in paths["/api/token"]["get"]["parameters"]] == ["refresh"]


async def test_fastapi_access_token_dependency(
    oidc_provider: ProviderFixture, app_url: str
) -> None:
    op = oidc_provider
    app = load_example("fastapi_app").create_app(
        **auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    )
    with serve_asgi(app, port=int(app_url.rsplit(":", 1)[1])):
        async with httpx.AsyncClient(base_url=app_url) as anonymous:
            denied = await anonymous.get("/api/token-scopes")
        assert denied.status_code == 401
        assert denied.json() == {"detail": "missing_session"}
        assert denied.headers["cache-control"] == "no-store"
