"""Flask: the shared scenario through Werkzeug's real server, and the extension's own rules.

The scenario runs ``examples/flask_app.py`` against the real provider with the cookie store
and with ``MemorySessionStore`` (whose I/O goes through the portal loop). The focused tests
use Flask's test client, which runs the app in the test's own thread and context: that is
what lets them see a request context left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g, jsonify, request
from flask.testing import FlaskClient

from auth0_web import Auth0Client, InvalidConfigurationError, MemorySessionStore, Response
from auth0_web._context import current_state
from auth0_web.adapters.flask import Auth0, Auth0AppState, to_flask_response
from auth0_web.testing import session_cookies_for
from tests.support.oidc_provider import complete_login
from tests.support.op_fixtures import ProviderFixture

from .scenario import SECRET, auth0_options, run_scenario
from .servers import load_example, serve_wsgi

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

#: Flask's test client talks to ``http://localhost``.
LOCAL = "http://localhost"
OFFLINE: dict[str, Any] = {
    "domain": "tenant.example.com",
    "client_id": "flask-app",
    "client_secret": "flask-app-secret",
    "secret": SECRET,
    "app_base_url": LOCAL,
}
#: Re-issue the rolling cookie on every response (by default it is re-issued only when that
#: moves its expiry by a minute or more): the tests that count cookies need to see it.
ROLL_EVERY_TIME = {"session": {"rolling_write_interval": 0}}


@pytest.fixture(autouse=True)
def _no_auth0_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options come only from each test (the environment is a fallback under test too)."""
    for name in ("AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "AUTH0_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("APP_BASE_URL", raising=False)


@pytest.fixture
def no_context_left() -> Iterator[None]:
    """Every test client request runs in this thread: none may leave its context set."""
    assert current_state() is None
    yield
    assert current_state() is None


def provider_options(op: ProviderFixture, **extra: Any) -> dict[str, Any]:
    options = auth0_options(op.domain, op.post_client_id, op.post_client_secret, LOCAL)
    options.update(extra)
    return options


def build_app(auth0: Auth0 | None = None, **options: Any) -> tuple[Flask, Auth0]:
    """A small app using every helper; ``options`` go to ``init_app``."""
    app = Flask(__name__)
    auth0 = auth0 or Auth0()
    auth0.init_app(app, **options)

    @app.get("/")
    def home() -> Any:
        session = auth0.get_session()
        return jsonify(user=session.user if session else None)

    @app.get("/page")
    @auth0.login_required
    def page() -> str:
        return "page"

    @app.get("/fixed")
    @auth0.login_required(return_to="/elsewhere")
    def fixed() -> str:
        return "fixed"

    @app.get("/async-page")
    @auth0.login_required
    async def async_page() -> str:
        session = auth0.get_session()
        assert session is not None
        return f"async {session.user['sub']}"

    @app.get("/api")
    @auth0.api_auth_required
    def api() -> Any:
        session = auth0.get_session()
        assert session is not None
        return jsonify(sub=session.user["sub"])

    @app.post("/nickname")
    def nickname() -> str:
        session = auth0.get_session()
        assert session is not None
        session.user["nickname"] = request.form["nickname"]
        auth0.update_session(session)
        return "saved"

    @app.get("/go")
    def go() -> Any:
        return auth0.start_interactive_login(return_to="/after")

    @app.get("/via-run")
    def via_run() -> Any:
        # The portal's task sees this request's context: the very session object
        # get_session() decoded for this request.
        ran = auth0.run(auth0.client.get_session)
        return jsonify(same=ran is auth0.get_session(), user=ran.user["sub"] if ran else None)

    return app, auth0


def log_in(client: FlaskClient, op: ProviderFixture, sub: str) -> Any:
    """A real login through the provider's pages; returns the callback's response."""
    start = client.get("/auth/login")
    assert start.status_code == 307, start.data
    callback = complete_login(start.headers["location"], sub)
    assert callback.startswith(LOCAL + "/auth/callback?"), callback
    return client.get(callback[len(LOCAL) :])


def logged_in(app: Flask, client: FlaskClient, user: dict[str, Any]) -> None:
    """Give ``client`` the session cookie of ``user`` for ``app``'s client."""
    state = app.extensions["auth0"]
    assert isinstance(state, Auth0AppState)
    for name, value in session_cookies_for(state.client, user).items():
        client.set_cookie(name, value)


def session_cookies(response: Any) -> list[str]:
    return [
        h
        for h in response.headers.getlist("Set-Cookie")
        if h.startswith(("__session=", "__session__"))
    ]


# -- the shared scenario -------------------------------------------------------------------


@pytest.mark.parametrize("store", ["cookie", "memory"])
async def test_login_page_token_logout(
    store: str, oidc_provider: ProviderFixture, app_url: str
) -> None:
    op = oidc_provider
    options = auth0_options(op.domain, op.post_client_id, op.post_client_secret, app_url)
    if store == "memory":
        options["session_store"] = MemorySessionStore()
    app = load_example("flask_app").create_app(**options)
    with serve_wsgi(app, port=int(app_url.rsplit(":", 1)[1])):
        await run_scenario(app_url, op.alice["sub"])


def test_example_answers_a_missing_access_token_with_its_code(no_context_left: None) -> None:
    app = load_example("flask_app").create_app(**OFFLINE)
    reply = app.test_client().get("/api/token")
    assert reply.status_code == 401
    assert reply.get_json() == {"error": "missing_session"}


# -- app factories and configuration --------------------------------------------------------


def test_one_extension_serves_two_apps_with_their_own_clients(no_context_left: None) -> None:
    auth0 = Auth0()
    client_a = Auth0Client(**OFFLINE)
    app_a, _ = build_app(auth0, client=client_a)
    app_b, _ = build_app(auth0, **{**OFFLINE, "secret": "another-secret-0123456789abcdef0123"})
    client_b = app_b.extensions["auth0"].client
    assert client_b is not client_a
    with app_a.app_context():
        assert auth0.client is client_a
    with app_b.app_context():
        assert auth0.client is client_b

    browser_a, browser_b = app_a.test_client(), app_b.test_client()
    logged_in(app_a, browser_a, {"sub": "auth0|alice"})
    # The same cookie (encrypted with app A's secret) presented to app B.
    for name, value in session_cookies_for(client_a, {"sub": "auth0|alice"}).items():
        browser_b.set_cookie(name, value)
    assert browser_a.get("/").get_json() == {"user": {"sub": "auth0|alice"}}
    assert browser_b.get("/").get_json() == {"user": None}
    assert browser_a.get("/api").status_code == 200
    assert browser_b.get("/api").status_code == 401


def test_init_app_refuses_a_second_setup_and_mixed_arguments() -> None:
    app, auth0 = build_app(**OFFLINE)
    with pytest.raises(RuntimeError, match="already set up"):
        auth0.init_app(app)
    with pytest.raises(TypeError):
        Auth0(client=Auth0Client(**OFFLINE), domain="x.example.com")
    with pytest.raises(TypeError):
        Auth0().init_app(Flask(__name__), client=Auth0Client(**OFFLINE), secret=SECRET)


def test_config_from_app_config_keywords_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "from-the-environment")
    app = Flask(__name__)
    app.config.update(
        AUTH0_DOMAIN="config.example.com",
        AUTH0_CLIENT_ID="from-config",
        AUTH0_SECRET=SECRET,
        APP_BASE_URL=LOCAL,
        AUTH0_OPTIONS={
            "client_id": "from-options",  # the named key wins over AUTH0_OPTIONS
            "session": {"rolling": False},
            "routes": {"login": "/login"},
        },
    )
    Auth0(app)
    config = app.extensions["auth0"].client.config
    assert config.domain == "https://config.example.com"
    assert config.client_id == "from-config"
    assert config.client_secret == "from-the-environment"
    assert config.session.rolling is False
    rules = {r.endpoint: r.rule for r in app.url_map.iter_rules()}
    assert rules["auth0_web.login"] == "/login"
    assert rules["auth0_web.callback"] == "/auth/callback"

    # Keyword arguments win over app.config: init_app's over the constructor's.
    app = Flask(__name__)
    app.config.update(AUTH0_DOMAIN="config.example.com", AUTH0_CLIENT_ID="from-config")
    Auth0(client_id="constructor", secret=SECRET, app_base_url=LOCAL).init_app(
        app, domain="keyword.example.com"
    )
    config = app.extensions["auth0"].client.config
    assert (config.domain, config.client_id) == ("https://keyword.example.com", "constructor")


def test_unknown_or_malformed_options_are_reported_by_name() -> None:
    app = Flask(__name__)
    app.config["AUTH0_OPTIONS"] = {"sesion": {}, "rolling": True}
    with pytest.raises(InvalidConfigurationError) as raised:
        Auth0(app, **OFFLINE, cookie_secure=True)
    assert raised.value.problems == [
        "AUTH0_OPTIONS: unknown option 'rolling'",
        "AUTH0_OPTIONS: unknown option 'sesion'",
        "unknown option 'cookie_secure'",
    ]
    app = Flask(__name__)
    app.config["AUTH0_OPTIONS"] = "domain=x"
    with pytest.raises(InvalidConfigurationError, match="AUTH0_OPTIONS: must be a dict"):
        Auth0(app, **OFFLINE)
    assert "auth0" not in app.extensions


def test_missing_configuration_names_the_environment_variables() -> None:
    with pytest.raises(InvalidConfigurationError) as raised:
        Auth0(Flask(__name__))
    text = str(raised.value)
    for name in ("AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_SECRET"):
        assert name in text


# -- decorators -----------------------------------------------------------------------------


def test_login_required_redirects_with_the_current_path_and_query(
    no_context_left: None,
) -> None:
    app, _ = build_app(**OFFLINE)
    browser = app.test_client()
    reply = browser.get("/page?tab=2&q=a%20b")
    assert reply.status_code == 307
    assert reply.headers["Location"] == "/auth/login?returnTo=%2Fpage%3Ftab%3D2%26q%3Da%2520b"
    assert "Content-Type" not in reply.headers
    assert browser.get("/fixed").headers["Location"] == "/auth/login?returnTo=%2Felsewhere"
    assert browser.get("/async-page").headers["Location"] == "/auth/login?returnTo=%2Fasync-page"
    # Mounted under a prefix: the login route is under it too; returnTo stays app-relative.
    mounted = browser.get("/page", base_url=LOCAL + "/shop/")
    assert mounted.headers["Location"] == "/shop/auth/login?returnTo=%2Fpage"

    logged_in(app, browser, {"sub": "auth0|alice"})
    assert browser.get("/page").text == "page"
    assert browser.get("/async-page").text == "async auth0|alice"


def test_api_auth_required_answers_401_json_uncached(no_context_left: None) -> None:
    app, _ = build_app(**OFFLINE)
    browser = app.test_client()
    reply = browser.get("/api")
    assert reply.status_code == 401
    assert reply.mimetype == "application/json"
    assert reply.get_json() == {
        "error": "not_authenticated",
        "description": "The user does not have an active session or is not authenticated",
    }
    assert reply.headers["Cache-Control"] == "no-store"
    logged_in(app, browser, {"sub": "auth0|bob"})
    assert browser.get("/api").get_json() == {"sub": "auth0|bob"}


# -- sessions -------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["cookie", "memory"])
def test_update_session_is_persisted(
    store: str, oidc_provider: ProviderFixture, no_context_left: None
) -> None:
    extra: dict[str, Any] = {"session_store": MemorySessionStore()} if store == "memory" else {}
    app, _ = build_app(**provider_options(oidc_provider, **extra))
    browser = app.test_client()
    log_in(browser, oidc_provider, oidc_provider.bob["sub"])
    saved = browser.post("/nickname", data={"nickname": "robert"})
    assert saved.status_code == 200
    assert len(session_cookies(saved)) == 1
    assert "no-store" in saved.headers["Cache-Control"]
    assert browser.get("/").get_json()["user"]["nickname"] == "robert"
    # The new cookie is what the browser holds (for the memory store: the record).
    fresh = app.test_client()
    assert fresh.get("/").get_json() == {"user": None}


def test_run_sees_the_request_context(no_context_left: None) -> None:
    app, auth0 = build_app(**OFFLINE)
    browser = app.test_client()
    logged_in(app, browser, {"sub": "auth0|alice"})
    assert browser.get("/via-run").get_json() == {"same": True, "user": "auth0|alice"}
    with pytest.raises(RuntimeError, match="active Flask request"), app.app_context():
        auth0.get_session()


def test_hooks_registered_before_the_extension_still_work(no_context_left: None) -> None:
    """A hook that runs before ours may use the session; one that answers early still
    gets the rolled cookie; either way the context is gone afterwards."""
    app = Flask(__name__)
    auth0 = Auth0()

    @app.before_request
    def early() -> Any:
        g.user = auth0.get_session()
        if request.path == "/maintenance":
            return "down for maintenance", 503
        return None

    auth0.init_app(app, **OFFLINE, **ROLL_EVERY_TIME)

    @app.get("/who")
    def who() -> Any:
        return jsonify(user=g.user.user["sub"] if g.user else None)

    browser = app.test_client()
    logged_in(app, browser, {"sub": "auth0|alice"})
    assert browser.get("/who").get_json() == {"user": "auth0|alice"}
    down = browser.get("/maintenance")
    assert down.status_code == 503
    assert len(session_cookies(down)) == 1  # rolled
    # The hook also runs for the SDK routes: it can read the session there, and the route's
    # response still gets no second session cookie.
    profile = browser.get("/auth/profile")
    assert profile.get_json() == {"sub": "auth0|alice"}
    assert session_cookies(profile) == []


def test_teardown_always_removes_the_request_context(no_context_left: None) -> None:
    app, auth0 = build_app(**OFFLINE)
    seen: list[object] = []

    @app.get("/boom")
    def boom() -> str:
        auth0.get_session()
        seen.append(current_state())
        raise RuntimeError("the view failed")

    @app.get("/peek")
    def peek() -> str:
        seen.append(current_state())
        return "ok"

    browser = app.test_client()
    logged_in(app, browser, {"sub": "auth0|alice"})
    assert browser.get("/boom").status_code == 500  # handled by Flask: after_request ran
    assert current_state() is None
    assert browser.get("/peek").text == "ok"
    assert seen[0] is not None and seen[1] is not None and seen[1] is not seen[0]

    app.testing = True  # now the error propagates out of Flask (no after_request)
    with pytest.raises(RuntimeError, match="the view failed"):
        browser.get("/boom")
    assert current_state() is None


# -- the SDK routes -------------------------------------------------------------------------


def test_sdk_routes_write_the_session_once(
    oidc_provider: ProviderFixture, no_context_left: None
) -> None:
    op = oidc_provider
    app, _ = build_app(**provider_options(op, **ROLL_EVERY_TIME))
    browser = app.test_client()
    callback = log_in(browser, op, op.alice["sub"])
    assert callback.status_code == 307
    assert len(session_cookies(callback)) == 1
    # An app page rolls the session...
    assert len(session_cookies(browser.get("/"))) == 1
    # ...the SDK's own routes are not rolled a second time on the way out.
    profile = browser.get("/auth/profile")
    assert profile.status_code == 200 and profile.get_json()["sub"] == op.alice["sub"]
    assert session_cookies(profile) == []
    token = browser.get("/auth/access-token")
    assert token.status_code == 200 and session_cookies(token) == []
    logout = browser.get("/auth/logout")
    assert logout.status_code == 307
    deleted = session_cookies(logout)
    assert len(deleted) == 1 and "Max-Age=0" in deleted[0]
    assert browser.get("/").get_json() == {"user": None}


def test_start_interactive_login_returns_a_flask_redirect(
    oidc_provider: ProviderFixture, no_context_left: None
) -> None:
    op = oidc_provider
    app, _ = build_app(**provider_options(op))
    browser = app.test_client()
    start = browser.get("/go")
    assert start.status_code == 307
    assert start.headers["Location"].startswith(op.domain + "/")
    assert any(c.startswith("__txn_") for c in start.headers.getlist("Set-Cookie"))
    callback = browser.get(complete_login(start.headers["Location"], op.bob["sub"])[len(LOCAL) :])
    assert callback.headers["Location"] in ("/after", LOCAL + "/after")
    assert browser.get("/").get_json()["user"]["sub"] == op.bob["sub"]


def test_route_bodies_are_capped_at_64_kb(no_context_left: None) -> None:
    app, _ = build_app(**OFFLINE, session_store=MemorySessionStore())
    browser = app.test_client()
    form = {"content-type": "application/x-www-form-urlencoded"}
    small = browser.post("/auth/backchannel-logout", data="logout_token=", headers=form)
    assert small.status_code == 400
    assert small.text == "Exactly one logout_token is required."  # the body reached the route
    big = browser.post(
        "/auth/backchannel-logout", data="logout_token=" + "a" * 64 * 1024, headers=form
    )
    assert big.status_code == 413


def test_route_rules_follow_the_core_router(no_context_left: None) -> None:
    app, _ = build_app(**OFFLINE)
    rules = {
        r.rule: r.methods or set()
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("auth0_web.")
    }
    assert rules["/auth/backchannel-logout"] == {"POST", "OPTIONS"}
    assert {"GET", "HEAD"} <= rules["/auth/profile"]
    browser = app.test_client()
    assert browser.get("/auth/profile/").status_code == 401  # one trailing slash, as the core
    head = browser.head("/auth/login")  # no login started by a prefetching HEAD
    assert head.status_code == 405
    assert head.headers.getlist("Set-Cookie") == []
    assert browser.post("/auth/login").status_code == 405


def test_to_flask_response_keeps_every_cookie(no_context_left: None) -> None:
    app, _ = build_app(**OFFLINE)
    core = Response.redirect("/somewhere")
    core.cookies.extend([("a", "a=1; Path=/"), ("b", "b=2; Path=/")])
    with app.app_context():
        converted = to_flask_response(core)
    assert converted.status_code == 307
    assert converted.headers["Location"] == "/somewhere"
    assert converted.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert "Content-Type" not in converted.headers
