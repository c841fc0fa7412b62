"""Django: the shared scenario through real WSGI and ASGI servers, and focused tests.

Django's settings can be configured only once per process, so the example configures them
on first use (the module fixture) and every test builds its own ``Auth0Client`` and installs
it with ``set_client()``: each test may run on its own event loop, and a client's
connection pool must never outlive its loop. Focused tests swap ``ROOT_URLCONF`` (the views
in ``django_site``) with ``override_settings``.

The focused tests drive Django's test clients — ``Client`` (the WSGI request path, run in a
worker thread as a WSGI server would) and ``AsyncClient`` (the ASGI path, on the test's
loop) — with session cookies from ``auth0_web.testing``; the header-exact and token tests
use the real servers.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.urls import NoReverseMatch, reverse

from auth0_web import Auth0Client, InvalidConfigurationError, MemorySessionStore
from auth0_web.adapters.django import get_client, get_session, set_client
from auth0_web.testing import session_cookies_for
from tests.support.apps import Browser
from tests.support.oidc_provider import complete_login_async
from tests.support.op_fixtures import ProviderFixture

from .scenario import SECRET, auth0_options, run_scenario
from .servers import load_example, serve_asgi, serve_wsgi

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SITE = "tests.frameworks.django_site"
ASYNC_SITE = "tests.frameworks.django_site_async"
HOSTS = ["127.0.0.1", "localhost", "testserver"]
NOT_AUTHENTICATED = {
    "error": "not_authenticated",
    "description": "The user does not have an active session or is not authenticated",
}
NO_STORE = "private, no-cache, no-store, must-revalidate, max-age=0"
DELETED = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax"


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    module = load_example("django_app")
    # The example's ROOT_URLCONF is its own module name: make that name importable.
    sys.modules[module.__name__] = module
    module.setup()
    yield module
    set_client(None)
    sys.modules.pop(module.__name__, None)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# -- the shared scenario ---------------------------------------------------------------------


@pytest.mark.parametrize("store", ["cookie", "memory"])
@pytest.mark.parametrize("server", ["wsgi", "asgi"])
async def test_login_page_token_logout(
    example: ModuleType, server: str, store: str, oidc_provider: ProviderFixture, app_url: str
) -> None:
    """The example app: sync pages and an async API, under Werkzeug (WSGI) and uvicorn
    (ASGI); under ASGI the sync views' token refresh runs on uvicorn's loop."""
    op = oidc_provider
    options = auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    if store == "memory":
        options["session_store"] = MemorySessionStore()
    if server == "wsgi":
        app, serve = example.create_app(**options), serve_wsgi
    else:
        app, serve = example.create_asgi_app(**options), serve_asgi
    with serve(app, port=port_of(app_url)):
        await run_scenario(app_url, op.alice["sub"])


async def test_async_sdk_routes_under_asgi(
    example: ModuleType, oidc_provider: ProviderFixture, app_url: str
) -> None:
    """``async_urls``: the SDK routes, and an async ``/api/token``, on uvicorn's loop."""
    op = oidc_provider
    set_client(
        Auth0Client(**auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url))
    )  # type: ignore[arg-type]
    with override_settings(ROOT_URLCONF=ASYNC_SITE), serve_asgi(ASGIHandler(), port_of(app_url)):
        await run_scenario(app_url, op.bob["sub"])


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
async def test_sync_and_async_views_refresh_on_one_loop(
    example: ModuleType, server: str, oidc_provider: ProviderFixture, app_url: str
) -> None:
    """Concurrent forced refreshes of one session from sync and async views share a single
    token-endpoint call, which is only possible if all of them run on one event loop: the
    process's portal under WSGI (where Django gives each async view a loop of its own), the
    server's loop under ASGI (where sync views run in worker threads). Every view gets the
    same new token, and it is persisted."""
    op = oidc_provider
    auth0 = Auth0Client(
        **auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    )  # type: ignore[arg-type]
    set_client(auth0)
    handler: Any = WSGIHandler() if server == "wsgi" else ASGIHandler()
    serve = serve_wsgi if server == "wsgi" else serve_asgi
    try:
        with override_settings(ROOT_URLCONF=SITE), serve(handler, port_of(app_url)):
            async with Browser(base_url=app_url) as browser, httpx.AsyncClient(timeout=30) as idp:
                start = await browser.get("/auth/login")
                callback = await complete_login_async(
                    start.headers["location"], op.alice["sub"], client=idp
                )
                assert (await browser.get(callback)).status_code in (302, 307)
                login_token = (await browser.get("/async/token")).json()["token"]
                cookie = cookie_header(browser.cookies)
                calls = auth0._rt.refreshes.calls
                async with httpx.AsyncClient(base_url=app_url, timeout=30) as http:
                    replies = await asyncio.gather(
                        *(
                            http.get(f"/{kind}/token?refresh=1", headers=cookie)
                            for kind in ("sync", "async") * 4
                        )
                    )
                assert [r.status_code for r in replies] == [200] * 8, replies[0].text
                tokens = {r.json()["token"] for r in replies}
                assert len(tokens) == 1 and login_token not in tokens
                assert auth0._rt.refreshes.calls == calls + 1  # one rotation for all eight
                browser.absorb(replies[0])
                again = await browser.get("/sync/token")
                assert again.json()["token"] in tokens  # persisted in the cookie
    finally:
        set_client(None)


# -- focused tests with Django's test clients -------------------------------------------------


class Django:
    """Django's ``Client`` (WSGI path, in a worker thread) or ``AsyncClient`` (ASGI path)."""

    def __init__(self, transport: str, **options: Any) -> None:
        self.asgi = transport == "asgi"
        self.client: Any = AsyncClient(**options) if self.asgi else Client(**options)

    def log_in(self, cookies: dict[str, str]) -> None:
        self.client.cookies.load(cookies)

    async def request(self, method: str, path: str, **options: Any) -> Any:
        call = getattr(self.client, method)
        if self.asgi:
            return await call(path, **options)
        return await asyncio.to_thread(call, path, **options)

    async def get(self, path: str, **options: Any) -> Any:
        return await self.request("get", path, **options)

    async def post(self, path: str, **options: Any) -> Any:
        return await self.request("post", path, **options)


def offline_client(**options: Any) -> Auth0Client:
    """A client for tests that never reach the provider (rolling cookies re-issued on
    every response, so each response shows the session write)."""
    options.setdefault("secret", SECRET)
    options.setdefault("session", {})
    options["session"].setdefault("rolling_write_interval", 0)
    return Auth0Client(
        domain="https://tenant.example.com",
        client_id="django-tests",
        client_secret="django-tests-secret",
        app_base_url="http://testserver",
        **options,
    )


@pytest.fixture
def site(example: ModuleType) -> Iterator[Auth0Client]:
    auth0 = offline_client()
    set_client(auth0)
    with override_settings(ROOT_URLCONF=SITE, ALLOWED_HOSTS=HOSTS):
        yield auth0
    set_client(None)


ALICE = {"sub": "auth0|alice", "name": "Alice"}


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
async def test_decorators_on_sync_and_async_views(site: Auth0Client, transport: str) -> None:
    django = Django(transport)
    for page in ("/sync/page", "/async/page", "/class/page"):
        reply = await django.get(page + "?tab=1")
        assert reply.status_code == 302, page
        quoted = page.replace("/", "%2F")
        assert reply["Location"] == f"/auth/login?returnTo={quoted}%3Ftab%3D1"
    assert (await django.get("/fixed"))["Location"] == "/auth/login?returnTo=%2Flanding"
    for api in ("/sync/api", "/async/api", "/class/api"):
        reply = await django.get(api)
        assert reply.status_code == 401, api
        assert reply.json() == NOT_AUTHENTICATED
        assert reply["Cache-Control"] == "no-store"

    django.log_in(session_cookies_for(site, ALICE))
    assert (await django.get("/sync/page")).content == b"sync page auth0|alice"
    assert (await django.get("/async/page")).content == b"async page auth0|alice"
    assert (await django.get("/class/page")).content == b"class page auth0|alice"
    assert (await django.get("/sync/api")).json() == {"sync": "auth0|alice"}
    assert (await django.get("/async/api")).json() == {"async": "auth0|alice"}
    assert (await django.get("/class/api")).json() == {"async class": True}


def request_state(django: Django, reply: Any) -> Any:
    """The request context the middleware made for the request behind ``reply``."""
    request = reply.asgi_request if django.asgi else reply.wsgi_request
    return request._auth0_web_binding.state


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
async def test_auth0_session_is_lazy_and_decoded_once(site: Auth0Client, transport: str) -> None:
    django = Django(transport)
    reply = await django.get("/lazy")
    assert reply.json()["anonymous"] is True  # ``is None`` holds: a property, not a proxy
    assert "set-cookie" not in reply.headers  # nothing to roll for an anonymous request

    django.log_in(session_cookies_for(site, ALICE))
    reply = await django.get("/lazy")
    # Read twice through the attribute and once through get_session(): one object, so
    # the cookie was decoded once (every decode yields a new object).
    assert reply.json() == {
        "anonymous": False,
        "same": True,
        "sub": "auth0|alice",
        "theme": None,
        "bio_length": 0,
    }
    assert request_state(django, reply).loaded

    # Not read, and no rolling write to make: never decoded.
    set_client(offline_client(session={"rolling": False}))
    reply = await django.get("/lazy?skip=1")
    assert reply.json() == {"skipped": True}
    assert not request_state(django, reply).loaded
    reply = await django.get("/lazy")
    assert reply.json()["sub"] == "auth0|alice" and request_state(django, reply).loaded


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
async def test_update_session_is_persisted(site: Auth0Client, transport: str) -> None:
    django = Django(transport)
    django.log_in(session_cookies_for(site, ALICE))
    reply = await django.get("/sync/update?theme=dark")
    assert reply.status_code == 200
    assert reply.cookies["app-cookie"].value == "kept"
    assert reply["Cache-Control"] == NO_STORE
    assert (await django.get("/lazy")).json()["theme"] == "dark"
    assert (await django.get("/async/update?theme=light")).status_code == 200
    assert (await django.get("/lazy")).json()["theme"] == "light"


def test_helpers_need_the_middleware(site: Auth0Client) -> None:
    with pytest.raises(ImproperlyConfigured, match="Auth0Middleware"):
        get_session(RequestFactory().get("/"))


def test_route_names(site: Auth0Client) -> None:
    assert reverse("auth0:login") == "/auth/login"
    assert reverse("auth0:callback") == "/auth/callback"
    assert reverse("auth0:access-token") == "/auth/access-token"
    assert reverse("auth0:backchannel-logout") == "/auth/backchannel-logout"
    with pytest.raises(NoReverseMatch):
        reverse("auth0:connect-account")  # not enabled


@pytest.mark.parametrize("transport", ["wsgi", "asgi"])
async def test_calls_off_the_request_loop(site: Auth0Client, transport: str) -> None:
    """Under WSGI every call goes to the portal, from any thread or loop. Under ASGI the
    client belongs to the server's loop: a call from a thread or a loop the view made
    itself is refused before it touches anything — except a sync call answered from the
    cookie alone (a valid cached token), which needs no loop at all."""
    django = Django(transport)
    django.log_in(session_cookies_for(site, ALICE, access_token="cached-token"))
    outcomes = (await django.get("/elsewhere")).json()["outcomes"]
    if transport == "wsgi":
        # (The session has no refresh token, so refresh=True answers the cached one too.)
        assert outcomes == ["cached-token", "cached-token", "cached-token"]
    else:
        assert len(outcomes) == 3
        assert outcomes[0] == "cached-token"
        refused = "event loop other than the one serving the request"
        assert refused in outcomes[1] and refused in outcomes[2]


@pytest.mark.parametrize("site_module", [SITE, ASYNC_SITE])
async def test_sdk_routes_body_cap_csrf_and_methods(site_module: str, example: ModuleType) -> None:
    """With CSRF protection on (the example's middleware), the SDK's POST route still
    works; oversized bodies get 413; wrong methods 405."""
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    set_client(offline_client(session_store=MemorySessionStore()))
    transport = "asgi" if site_module == ASYNC_SITE else "wsgi"
    form = "application/x-www-form-urlencoded"
    try:
        with override_settings(ROOT_URLCONF=site_module, ALLOWED_HOSTS=HOSTS):
            django = Django(transport, enforce_csrf_checks=True)
            assert (await django.post("/form", data={})).status_code == 403  # CSRF is on
            big = await django.post(
                "/auth/backchannel-logout",
                data=b"logout_token=" + b"a" * (70 * 1024),
                content_type=form,
            )
            assert big.status_code == 413
            # A body the route itself rejects: it reached the route, past CSRF.
            bad = await django.post("/auth/backchannel-logout", data=b"\xff", content_type=form)
            assert bad.status_code == 400
            assert b"x-www-form-urlencoded" in bad.content
            assert bad["Cache-Control"] == NO_STORE
            wrong = await django.get("/auth/backchannel-logout")
            assert wrong.status_code == 405 and wrong["Allow"] == "POST"
            assert (await django.post("/auth/login", content_type=form)).status_code == 405
    finally:
        set_client(None)


# -- every Set-Cookie header, exactly, through the real servers --------------------------------


def set_cookie_headers(reply: httpx.Response) -> list[str]:
    """The raw Set-Cookie values as they came off the wire, in order."""
    return [
        value.decode("latin-1")
        for name, value in reply.headers.raw
        if name.lower() == b"set-cookie"
    ]


def split_cookie(header: str) -> tuple[str, str, str]:
    pair, _, attributes = header.partition("; ")
    name, _, value = pair.partition("=")
    return name, value, attributes


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
async def test_chunked_session_cookies_reach_the_client_exactly(
    example: ModuleType, server: str, app_url: str
) -> None:
    """Growing a session past one cookie sets the chunks and deletes the single cookie;
    shrinking it does the reverse: every header the core writes, verbatim and in order
    (Django's own cookie handling would merge and re-serialize them)."""
    auth0 = Auth0Client(
        domain="https://tenant.example.com",
        client_id="django-tests",
        client_secret="django-tests-secret",
        secret=SECRET,
        app_base_url=app_url,
    )
    set_client(auth0)
    handler: Any = WSGIHandler() if server == "wsgi" else ASGIHandler()
    serve = serve_wsgi if server == "wsgi" else serve_asgi
    store = auth0._rt.sessions
    try:
        with override_settings(ROOT_URLCONF=SITE), serve(handler, port_of(app_url)):
            async with httpx.AsyncClient(base_url=app_url) as http:
                small = session_cookies_for(auth0, ALICE)
                assert list(small) == ["__session"]
                reply = await http.get("/resize?size=6000", headers=cookie_header(small))
                assert reply.status_code == 200, reply.text
                headers = set_cookie_headers(reply)
                names = [split_cookie(h)[0] for h in headers]
                chunks = len(headers) - 1
                assert chunks >= 2
                assert names == [f"__session__{i}" for i in range(chunks)] + ["__session"]
                max_ages = set()
                grown: dict[str, str] = {}
                for header in headers[:-1]:
                    name, value, attributes = split_cookie(header)
                    max_age = attributes.split("; ")[1]
                    max_ages.add(max_age)
                    assert header == f"{name}={value}; Path=/; {max_age}; HttpOnly; SameSite=Lax"
                    grown[name] = value
                assert len(max_ages) == 1
                assert headers[-1] == f"__session=; Path=/; {DELETED}"
                assert reply.headers["cache-control"] == NO_STORE
                session = store.read(grown, time.time())
                assert session is not None and len(session.user["bio"]) == 6000

                reply = await http.get("/resize?size=0", headers=cookie_header(grown))
                headers = set_cookie_headers(reply)
                name, value, attributes = split_cookie(headers[0])
                assert name == "__session"
                assert attributes.startswith("Path=/; Max-Age=")
                assert headers[1:] == [f"__session__{i}=; Path=/; {DELETED}" for i in range(chunks)]
                session = store.read({"__session": value}, time.time())
                assert session is not None and "bio" not in session.user
    finally:
        set_client(None)


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
async def test_two_headers_for_one_cookie_name_both_go_out(site: Auth0Client, server: str) -> None:
    """Django keys cookies by name; a core response may hold two headers for one name."""
    handler: Any = WSGIHandler() if server == "wsgi" else ASGIHandler()
    if server == "wsgi":

        def get() -> httpx.Response:
            transport = httpx.WSGITransport(app=handler)
            with httpx.Client(transport=transport, base_url="http://testserver") as http:
                return http.get("/duplicate")

        reply = await asyncio.to_thread(get)
    else:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=handler), base_url="http://testserver"
        ) as http:
            reply = await http.get("/duplicate")
    assert reply.status_code == 200
    headers = set_cookie_headers(reply)
    assert headers[:3] == [
        "pref=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        "pref=new; Path=/app; HttpOnly; SameSite=Strict",
        "pref=newer; Path=/app; Secure; SameSite=None",
    ]
    # Django's own serialization of the app's cookie (under WSGI with a leading space).
    assert [h.strip() for h in headers[3:]] == ["other=app; Path=/"]


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


# -- configuration ------------------------------------------------------------------------------


ENVIRONMENT = (
    "AUTH0_DOMAIN",
    "AUTH0_CLIENT_ID",
    "AUTH0_CLIENT_SECRET",
    "AUTH0_SECRET",
    "APP_BASE_URL",
)


def make_client() -> Auth0Client:
    """``AUTH0_CLIENT`` may name a callable that returns the client."""
    return offline_client()


def test_settings_build_the_client_once(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    set_client(None)
    # What AUTH0 leaves out comes from the environment, as with Auth0Client().
    monkeypatch.setenv("AUTH0_DOMAIN", "env-tenant.example.com")
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "from-the-environment")
    monkeypatch.setenv("AUTH0_SECRET", SECRET)
    with override_settings(
        AUTH0={"client_id": "from-settings", "app_base_url": "http://testserver"}
    ):
        client = get_client()
        assert client.config.client_id == "from-settings"
        assert client.config.domain == "https://env-tenant.example.com"
        assert get_client() is client  # built once
    with override_settings(AUTH0=None, AUTH0_CLIENT="tests.frameworks.test_django.make_client"):
        built = get_client()
        assert built is not client and built.config.client_id == "django-tests"
    set_client(None)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"AUTH0": {"domain": "tenant.example.com", "secret": "too-short-a-secret"}},
            "client_id: missing",
        ),
        ({"AUTH0": "tenant.example.com"}, "must be a dict"),
        ({"AUTH0": {"domian": "tenant.example.com"}}, "unknown option(s): domian"),
        ({"AUTH0_CLIENT": "tests.frameworks.test_django.make_client"}, "not both"),
        ({"AUTH0": None, "AUTH0_CLIENT": "tests.frameworks.nowhere.auth0"}, "cannot be imported"),
        (
            {"AUTH0": None, "AUTH0_CLIENT": "tests.frameworks.test_django.SITE"},
            "not an Auth0Client",
        ),
        ({"AUTH0": None, "AUTH0_CLIENT": 42}, "must be a dotted path"),
    ],
)
def test_misconfiguration_is_improperly_configured(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any], message: str
) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with override_settings(**overrides), pytest.raises(ImproperlyConfigured) as info:
        get_client()
    assert message in str(info.value)
    assert "too-short-a-secret" not in str(info.value)
    if message == "client_id: missing":
        assert isinstance(info.value.__cause__, InvalidConfigurationError)
        assert "AUTH0_CLIENT_ID" in str(info.value) and "secret:" in str(info.value)
    set_client(None)
