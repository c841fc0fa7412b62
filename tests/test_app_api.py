"""The application-facing API outside the happy path of the middleware."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth0_web import (
    Auth0Error,
    Auth0Middleware,
    MissingSessionError,
    Request,
    Response,
)
from auth0_web.adapters.starlette import to_starlette_response
from tests.support.apps import APP_BASE, Browser, make_app, make_client, parse_set_cookie
from tests.support.scripted_op import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_for(op, **options):
    return make_client(
        op, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, **options
    )


async def logged_in_cookies(auth0, op) -> dict[str, str]:
    async with Browser(make_app(auth0)) as browser:
        response = await browser.get("/auth/login")
        response = await browser.get(await op.alogin(response.headers["location"]))
        assert response.status_code == 307
        return dict(browser.cookies)


def core_request(cookies: dict[str, str] | None = None, path: str = "/") -> Request:
    header = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
    return Request(
        method="GET",
        scheme="http",
        host="127.0.0.1:3000",
        path=path,
        headers={"host": "127.0.0.1:3000", "cookie": header},
        cookies=dict(cookies or {}),
    )


async def test_start_interactive_login_with_an_explicit_request(scripted_op) -> None:
    auth0 = client_for(scripted_op)
    response = await auth0.start_interactive_login(
        core_request(), return_to="/after", authorization_parameters={"screen_hint": "signup"}
    )
    assert response.status == 307
    location = dict(response.headers)["location"]
    assert location.startswith(scripted_op.url("/authorize"))
    query = dict(httpx.URL(location).params)
    assert query["screen_hint"] == "signup"
    assert query["redirect_uri"] == APP_BASE + "/auth/callback"
    [(name, cookie)] = response.cookies
    assert name.startswith("__txn_") and "HttpOnly" in cookie

    # The transaction it started completes like one from /auth/login, landing on returnTo.
    async with Browser(make_app(auth0)) as browser:
        _, value, _ = parse_set_cookie(cookie)
        browser.cookies[name] = value
        done = await browser.get(await scripted_op.alogin(location))
        assert done.status_code == 307
        assert done.headers["location"] == APP_BASE + "/after"


async def test_get_and_update_session_outside_the_middleware(scripted_op) -> None:
    auth0 = client_for(scripted_op)
    cookies = await logged_in_cookies(auth0, scripted_op)
    request = core_request(cookies)

    session = await auth0.get_session(request)
    assert session is not None and session.user["sub"] == "auth0|mallory-victim"

    session.extra["plan"] = "pro"
    response = Response()
    await auth0.update_session(session, request, response)
    assert ("cache-control", "private, no-cache, no-store, must-revalidate, max-age=0") in (
        response.headers
    )
    jar = {name: parse_set_cookie(value)[1] for name, value in response.cookies}
    updated = await auth0.get_session(core_request(jar))
    assert updated is not None and updated.extra == {"plan": "pro"}
    assert updated.internal == session.internal


async def test_update_session_writes_to_a_starlette_response(scripted_op) -> None:
    auth0 = client_for(scripted_op)
    cookies = await logged_in_cookies(auth0, scripted_op)

    async def endpoint(request: StarletteRequest) -> JSONResponse:
        session = await auth0.get_session(request)
        assert session is not None
        session.extra["n"] = 1
        response = JSONResponse({"ok": True})
        await auth0.update_session(session, request, response)
        return response

    app = Starlette(routes=[Route("/", endpoint)])  # no SDK middleware at all
    async with Browser(app) as browser:
        browser.cookies.update(cookies)
        response = await browser.get("/")
    assert response.status_code == 200
    assert any(h.startswith("__session=") for h in response.headers.get_list("set-cookie"))
    assert "no-store" in response.headers["cache-control"]
    updated = await auth0.get_session(core_request(browser.cookies))
    assert updated is not None and updated.extra == {"n": 1}


async def test_update_session_without_a_session_is_an_error(scripted_op) -> None:
    auth0 = client_for(scripted_op)
    session = await auth0.get_session(core_request())
    assert session is None
    from auth0_web import SessionData

    fake = SessionData.from_dict(
        {"user": {"sub": "x"}, "tokenSet": {"accessToken": "a"}, "internal": {"createdAt": 1}}
    )
    with pytest.raises(MissingSessionError):
        await auth0.update_session(fake, core_request(), Response())


async def test_get_session_without_request_outside_a_request_is_an_error(scripted_op) -> None:
    auth0 = client_for(scripted_op)
    with pytest.raises(Auth0Error, match="auth0.middleware"):
        await auth0.get_session()
    with pytest.raises(TypeError):
        await auth0.get_session(object())


async def test_custom_routes_and_trailing_slash(scripted_op) -> None:
    auth0 = client_for(
        scripted_op,
        routes={"login": "/signin", "callback": "/signin/done", "profile": "/whoami"},
    )
    async with Browser(make_app(auth0)) as browser:
        response = await browser.get("/signin/")
        assert response.status_code == 307
        assert dict(httpx.URL(response.headers["location"]).params)["redirect_uri"] == (
            APP_BASE + "/signin/done"
        )
        done = await browser.get(await scripted_op.alogin(response.headers["location"]))
        assert done.status_code == 307
        assert (await browser.get("/whoami")).status_code == 200
        # The default paths are no longer the SDK's: they reach the app (404 there).
        assert (await browser.get("/auth/login")).status_code == 404


async def test_add_middleware_form_and_core_response_in_starlette(scripted_op) -> None:
    auth0 = client_for(scripted_op)

    async def login(request: StarletteRequest) -> Response:
        # A Starlette endpoint may return the SDK's response directly (it is an ASGI app).
        return await auth0.start_interactive_login(request, return_to="/x")

    app = Starlette(
        routes=[Route("/go", login)], middleware=[Middleware(Auth0Middleware, client=auth0)]
    )
    async with Browser(app) as browser:
        response = await browser.get("/go")
        assert response.status_code == 307
        assert browser.txn_cookie_names()
        assert (await browser.get("/auth/profile")).status_code == 401


async def test_to_starlette_response_keeps_cookies_and_headers() -> None:
    core = Response.redirect("https://example.com/x")
    core.headers.append(("cache-control", "no-store"))
    core.cookies.append(("a", "a=1; Path=/; HttpOnly"))
    converted = to_starlette_response(core)
    assert converted.status_code == 307
    assert converted.headers["location"] == "https://example.com/x"
    assert converted.headers["cache-control"] == "no-store"
    assert converted.headers.getlist("set-cookie") == ["a=1; Path=/; HttpOnly"]


async def test_explicit_response_inside_the_middleware_is_not_overridden(scripted_op) -> None:
    # Inside the middleware, a cookie written to the handler's response would be followed by
    # the middleware's own (rolling) write of the old session; the last one wins in a browser.
    auth0 = client_for(scripted_op)
    cookies = await logged_in_cookies(auth0, scripted_op)

    async def endpoint(request: StarletteRequest) -> JSONResponse:
        session = await auth0.get_session(request)
        assert session is not None
        session.extra["step"] = "updated"
        response = JSONResponse({"ok": True})
        await auth0.update_session(session, request, response)
        return response

    app = auth0.middleware(Starlette(routes=[Route("/", endpoint)]))
    async with Browser(app) as browser:
        browser.cookies.update(cookies)
        response = await browser.get("/")
        assert response.status_code == 200
        session_cookies = [
            h for h in response.headers.get_list("set-cookie") if h.startswith("__session=")
        ]
        assert len(session_cookies) == 1
        updated = await auth0.get_session(core_request(browser.cookies))
    assert updated is not None and updated.extra == {"step": "updated"}
