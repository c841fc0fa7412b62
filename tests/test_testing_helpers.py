"""``auth0_web.testing``: what a user writes to test their own protected pages."""

from __future__ import annotations

import pytest

from auth0_web import Auth0Client, SessionData
from auth0_web.testing import generate_session_cookie, logged_in_client, session_cookies_for
from tests.support.apps import make_app

pytestmark = pytest.mark.anyio
SECRET = "helper-secret-0123456789abcdef0123456789ab"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def offline_client(**options) -> Auth0Client:
    # No provider is contacted when a request already carries a session.
    options.setdefault("secret", SECRET)
    return Auth0Client(
        domain="tenant.example.com",
        client_id="app",
        client_secret="app-secret",
        app_base_url="http://127.0.0.1:3000",
        **options,
    )


async def test_generated_cookie_is_a_session_the_app_accepts() -> None:
    auth0 = offline_client()
    async with logged_in_client(make_app(auth0), {"sub": "auth0|t1", "name": "T"}) as client:
        me = await client.get("/me")
        assert me.status_code == 200 and me.json()["sub"] == "auth0|t1"
        assert (await client.get("/protected")).text == "hello auth0|t1"
        profile = await client.get("/auth/profile")
        assert profile.json() == {"sub": "auth0|t1", "name": "T"}


async def test_cookie_from_another_secret_is_not_a_session() -> None:
    auth0 = offline_client()
    cookies = generate_session_cookie({"sub": "x"}, secret="other-secret-0123456789abcdef0123")
    async with logged_in_client(make_app(auth0), {"sub": "y"}) as client:
        client.cookies.clear()
        client.cookies.update(cookies)
        assert (await client.get("/me")).status_code == 401


def test_secret_defaults_to_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("AUTH0_SECRET", SECRET)
    assert set(generate_session_cookie({"sub": "x"})) == {"__session"}
    monkeypatch.delenv("AUTH0_SECRET")
    with pytest.raises(ValueError, match="AUTH0_SECRET"):
        generate_session_cookie({"sub": "x"})


def test_user_needs_a_sub() -> None:
    with pytest.raises(ValueError, match="sub"):
        generate_session_cookie({"name": "nobody"}, secret=SECRET)


async def test_large_sessions_come_back_as_chunks_the_app_reads() -> None:
    auth0 = offline_client()
    user = {"sub": "auth0|big", "groups": [f"group-{i:05d}" for i in range(600)]}
    cookies = session_cookies_for(auth0, user)
    assert sorted(cookies) == [f"__session__{i}" for i in range(len(cookies))]
    async with logged_in_client(make_app(auth0), user) as client:
        assert (await client.get("/auth/profile")).json() == user


async def test_a_whole_session_object_and_custom_cookie_name() -> None:
    auth0 = offline_client(session={"cookie": {"name": "appsess"}})
    session = SessionData.from_dict(
        {
            "user": {"sub": "auth0|s"},
            "tokenSet": {"accessToken": "at", "expiresAt": 1, "refreshToken": "rt"},
            "internal": {"sid": "sid-1", "createdAt": 1},
            "theme": "dark",
        }
    )
    cookies = session_cookies_for(auth0, session)
    assert set(cookies) == {"appsess"}
    assert session.internal.created_at == 1  # the caller's object is not modified
    async with logged_in_client(make_app(auth0), session) as client:
        me = await client.get("/me")
        assert me.json() == {"sub": "auth0|s", "extra": {"theme": "dark"}}


def test_max_age_sets_the_encrypted_expiry() -> None:
    import time

    from auth0_web.session._codec import CookieCodec

    cookies = generate_session_cookie({"sub": "x"}, secret=SECRET, max_age=120)
    payload = CookieCodec([SECRET]).decrypt(cookies["__session"], now=time.time())
    assert payload is not None
    assert abs(payload["exp"] - (time.time() + 120)) < 5


def test_logged_in_client_needs_the_sdk_client() -> None:
    with pytest.raises(TypeError, match="client="):
        logged_in_client(object(), {"sub": "x"})


async def test_plugin_dev_tenant_and_dev_login(auth0_dev_tenant) -> None:
    import httpx

    from auth0_web.testing import dev_login

    auth0 = Auth0Client(**auth0_dev_tenant.client_options("http://127.0.0.1:3000"))
    transport = httpx.ASGITransport(app=make_app(auth0))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3000") as client:
        response = await dev_login(client, "auth0|bob", return_to="/protected")
        assert response.status_code == 307
        assert response.headers["location"] == "http://127.0.0.1:3000/protected"
        profile = (await client.get("/auth/profile")).json()
        assert profile["sub"] == "auth0|bob" and profile["name"] == "Bob Example"
        with pytest.raises(AssertionError, match="no user"):
            await dev_login(client, "auth0|nobody")


def test_plugin_fixtures_are_the_helpers(auth0_session_cookie, auth0_logged_in_client) -> None:
    assert auth0_session_cookie is generate_session_cookie
    assert auth0_logged_in_client is logged_in_client
