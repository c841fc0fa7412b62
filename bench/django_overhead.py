"""Micro-benchmark: what ``Auth0Middleware`` adds to a Django request (WSGI, no network).

Django's WSGI handler is called directly, in one process, for the same view built twice:
without any middleware, and with ``auth0_web.adapters.django.Auth0Middleware``. With the
middleware the view also does the SDK call of each case:

* anonymous: no cookie, the view does not look at the session;
* logged in, ``get_session``: a realistic ~3 KB session cookie, decoded once;
* rolling re-set: the same, with rolling sessions, so every response re-sets the cookie;
* ``get_access_token``: the session's cached, still valid token (no refresh).

Run with ``python bench/django_overhead.py`` (``make bench`` runs it too).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path
from session_codec import SECRET, realistic_session

from auth0_web import Auth0Client
from auth0_web._http import CookieOptions, Response
from auth0_web.adapters.django import get_access_token, get_session, set_client

HOST = "127.0.0.1:8000"
#: Which SDK call the view makes; ``sdk`` is on while the handler with the middleware runs.
CASE: dict[str, Any] = {"name": "anonymous", "sdk": False}


def view(request: HttpRequest) -> HttpResponse:
    """One view for every case; the SDK call only where the middleware is installed."""
    if CASE["sdk"]:
        name = CASE["name"]
        if name in ("session", "rolling"):
            assert get_session(request) is not None
        elif name == "token":
            get_access_token(request)
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("", view)]


def client(*, rolling: bool) -> Auth0Client:
    return Auth0Client(
        domain="tenant.example.com",
        client_id="bench",
        client_secret="bench-secret",
        secret=SECRET,
        app_base_url="http://" + HOST,
        session={"rolling": rolling},
    )


def session_cookie(auth0: Auth0Client) -> str:
    # Issued ten minutes ago: re-issuing it now extends it enough for a rolling write.
    issued = int(time.time()) - 600
    written = Response()
    auth0._rt.sessions.write(written, realistic_session(issued), {}, issued, CookieOptions())
    return "; ".join(value.split(";", 1)[0] for _, value in written.cookies)


def environ(cookie: str | None) -> Callable[[], dict[str, Any]]:
    template: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": HOST,
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if cookie:
        template["HTTP_COOKIE"] = cookie

    def make() -> dict[str, Any]:
        made = dict(template)
        made["wsgi.input"] = io.BytesIO(b"")
        return made

    return make


def bench(
    bare: Any, with_auth0: Any, make_environ: Callable[[], dict[str, Any]], *, rounds: int = 9
) -> tuple[float, float]:
    """Median microseconds per request without and with the middleware.

    Rounds of 2000 requests alternate between the two handlers, so load from other
    processes on the machine weighs on both alike.
    """
    seen: list[str] = []
    cookies_set: list[bool] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.append(status)
        cookies_set.append(any(name == "Set-Cookie" for name, _ in headers))

    def timed(handler: Any, sdk: bool, number: int) -> float:
        CASE["sdk"] = sdk
        start = time.perf_counter()
        for _ in range(number):
            b"".join(handler(make_environ(), start_response))
        return (time.perf_counter() - start) / number * 1e6

    timed(bare, False, 300)
    cookies_set.clear()
    timed(with_auth0, True, 300)
    assert all(status.startswith("200") for status in seen), set(seen)
    assert all(cookies_set) == (CASE["name"] == "rolling"), "a cookie is set only when rolled"
    base, measured = [], []
    for _ in range(rounds):
        base.append(timed(bare, False, 2000))
        measured.append(timed(with_auth0, True, 2000))
    return statistics.median(base), statistics.median(measured)


def main() -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
    )
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    bare = WSGIHandler()
    with override_settings(MIDDLEWARE=["auth0_web.adapters.django.Auth0Middleware"]):
        with_auth0 = WSGIHandler()

    read_only, rolling = client(rolling=False), client(rolling=True)
    cookie = session_cookie(rolling)  # expires as a rolling cookie does: 24 h after use
    cases = [
        ("anonymous", "anonymous", read_only, None),
        ("logged in, get_session", "session", read_only, cookie),
        ("logged in, rolling re-set", "rolling", rolling, cookie),
        ("logged in, get_access_token (cached)", "token", read_only, cookie),
    ]
    rows = []
    for label, name, auth0, cookie_value in cases:
        CASE["name"] = name
        set_client(auth0)
        make = environ(cookie_value)
        rows.append((label, *bench(bare, with_auth0, make)))
    assert read_only._rt.refreshes.calls == 0 and rolling._rt.refreshes.calls == 0

    width = max(len(label) for label, _, _ in rows)
    print(f"{'request (Django WSGI handler, no network)':<{width}}  {'bare':>9}  {'auth0':>9}  +µs")
    for label, base, measured in rows:
        print(
            f"{label:<{width}}  {base:6.1f} µs  {measured:6.1f} µs  "
            f"+{measured - base:.1f} ({base / measured:.2f}x the bare rate)"
        )


if __name__ == "__main__":
    main()
