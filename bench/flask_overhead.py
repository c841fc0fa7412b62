"""Micro-benchmark: what the Flask extension adds to each request.

One process, no network: each request is a direct call of the Flask app as a WSGI callable
(environ in, body iterated and closed), so what is measured is Flask plus the extension, not
a server or a client. The same JSON view runs in a bare Flask app and in one set up with
``Auth0(app)``, for:

* an anonymous request (the view asks for the session and gets ``None``);
* a logged-in request calling ``get_session()``: with rolling off (read only); with rolling
  on as configured by default (a cookie issued moments ago is not re-issued: only the
  no-store headers are added); and with the cookie re-set on every response
  (``rolling_write_interval=0``: encrypt, Set-Cookie);
* ``get_access_token()`` with a cached, valid token: this one goes through the portal's
  event loop (a thread hop each way), so it is reported apart from the session cases.

For reference, the same view behind the framework-neutral ``Auth0WSGIMiddleware`` (column
``wsgi-mw``): the two adapters share the core, so a gap between them is the Flask glue's own.

    python bench/flask_overhead.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flask import Flask, jsonify
from session_codec import SECRET, realistic_session
from werkzeug.test import EnvironBuilder

from auth0_web import Auth0Client
from auth0_web.adapters.flask import Auth0
from auth0_web.adapters.wsgi import Auth0WSGIMiddleware, SyncAuth0
from auth0_web.testing import session_cookies_for

BASE = "http://127.0.0.1:3000"


#: Session settings compared: read only, rolling (default settings), rolling re-set always.
SESSIONS: dict[str, dict[str, Any]] = {
    "off": {"rolling": False},
    "default": {"rolling": True},
    "always": {"rolling": True, "rolling_write_interval": 0},
}
#: The default inactivity duration: the cookie's lifetime as a rolling write sets it.
INACTIVITY = 86400


def options(session: str) -> dict[str, Any]:
    return {
        "domain": "tenant.example.com",
        "client_id": "bench",
        "client_secret": "bench-secret",
        "secret": SECRET,
        "app_base_url": BASE,
        "session": SESSIONS[session],
    }


def bare_app() -> Flask:
    app = Flask("bare")

    @app.get("/")
    def home() -> Any:
        return jsonify(user=None)

    @app.get("/token")
    def token() -> Any:
        return jsonify(token=None)

    return app


def auth0_app(session: str) -> Flask:
    app = Flask("with_auth0")
    auth0 = Auth0(app, **options(session))

    @app.get("/")
    def home() -> Any:
        session = auth0.get_session()
        return jsonify(user=session.user["sub"] if session else None)

    @app.get("/token")
    def token() -> Any:
        return jsonify(token=auth0.get_access_token().token)

    return app


def middleware_app(session: str) -> Flask:
    client = Auth0Client(**options(session))
    sync = SyncAuth0(client)
    app = Flask("with_wsgi_middleware")

    @app.get("/")
    def home() -> Any:
        session = sync.get_session()
        return jsonify(user=session.user["sub"] if session else None)

    @app.get("/token")
    def token() -> Any:
        return jsonify(token=sync.get_access_token().token)

    app.wsgi_app = Auth0WSGIMiddleware(app.wsgi_app, client=client)  # type: ignore[method-assign]
    return app


def session_cookie() -> str:
    """The Cookie header of a logged-in browser (a realistic ~3.5 KB session), as if the app
    had just issued it."""
    client = Auth0Client(**options("default"))
    session = realistic_session(int(time.time()))
    cookies = session_cookies_for(client, session, max_age=INACTIVITY)
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def caller(app: Flask, path: str, cookie: str | None) -> Callable[[], int]:
    """One request through ``app`` as a WSGI server would make it; returns the status."""
    headers = [("cookie", cookie)] if cookie else []
    template = EnvironBuilder(path=path, base_url=BASE, headers=headers).get_environ()
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append(status)
        return None

    def call() -> int:
        seen.clear()
        body = app(dict(template), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return int(seen[0].split()[0])

    return call


def bench(
    calls: Sequence[Callable[[], object]], *, rounds: int = 15, number: int = 1000
) -> list[float]:
    """Microseconds per request of each of ``calls``: the best of ``rounds`` batches.

    The calls' batches are interleaved, so a burst of load from elsewhere on the machine
    hits them alike, and the best batch is the one least disturbed by it.
    """
    for call in calls:
        for _ in range(300):
            call()
    best = [float("inf")] * len(calls)
    for _ in range(rounds):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            for _ in range(number):
                call()
            best[i] = min(best[i], (time.perf_counter() - start) / number * 1e6)
    return best


def main() -> None:
    cookie = session_cookie()
    bare = bare_app()
    apps = {name: (auth0_app(name), middleware_app(name)) for name in SESSIONS}

    cases = [
        ("anonymous", "default", "/", None),
        ("logged in, get_session(), no rolling", "off", "/", cookie),
        ("logged in, rolling (default)", "default", "/", cookie),
        ("logged in, rolling re-set every time", "always", "/", cookie),
        ("get_access_token() cached (portal)", "off", "/token", cookie),
    ]
    print(f"session cookie: {len(cookie)} bytes; Flask as a WSGI callable, no network")
    print(f"{'case':<38} {'bare':>9} {'+auth0':>9} {'added':>9} {'ratio':>6} {'wsgi-mw':>9}")
    for name, session, path, with_cookie in cases:
        extension, middleware = apps[session]
        calls = [caller(app, path, with_cookie) for app in (bare, extension, middleware)]
        assert [call() for call in calls] == [200, 200, 200], name
        before, after, reference = bench(calls)
        print(
            f"{name:<38} {before:7.1f}µs {after:7.1f}µs {after - before:7.1f}µs "
            f"{before / after:6.2f} {reference:7.1f}µs"
        )


if __name__ == "__main__":
    main()
