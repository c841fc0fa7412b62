"""auth0-web with Django: login, a protected page, a protected API and an access token.

A whole Django project in one file (settings, views, URLs). Run it with Django's
development server:

    AUTH0_DOMAIN=... AUTH0_CLIENT_ID=... AUTH0_CLIENT_SECRET=... \\
    AUTH0_SECRET=$(auth0-web secret) APP_BASE_URL=http://127.0.0.1:8000 \\
    python examples/django_app.py runserver

or behind any server: ``create_app()`` returns the WSGI application (gunicorn,
Werkzeug...), ``create_asgi_app()`` the ASGI one (uvicorn, daphne...). Both take
``Auth0Client`` options that override ``AUTH0`` below (the tests pass them).
"""

from __future__ import annotations

import sys
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from auth0_web import Auth0Client
from auth0_web.adapters.django import (
    aget_session,
    api_login_required,
    get_access_token,
    login_required,
    set_client,
)

SETTINGS: dict[str, Any] = {
    "DEBUG": False,
    "SECRET_KEY": "django-example-only-not-secret",  # Django's own signing, not the session
    "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
    "ROOT_URLCONF": __name__,
    "MIDDLEWARE": [
        "django.middleware.security.SecurityMiddleware",
        "auth0_web.adapters.django.Auth0Middleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    # Auth0Client options; each one left out comes from the environment (AUTH0_DOMAIN,
    # AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, AUTH0_SECRET, APP_BASE_URL).
    "AUTH0": {"authorization_parameters": {"scope": "openid profile email offline_access"}},
}


# -- views ---------------------------------------------------------------------------------


def home(request: HttpRequest) -> JsonResponse:
    # ``request.auth0_session`` is the session or None, decoded on first use.
    session = request.auth0_session
    return JsonResponse({"user": session.user["sub"] if session else None})


@login_required  # anonymous users go to /auth/login?returnTo=/protected
def protected(request: HttpRequest) -> HttpResponse:
    session = request.auth0_session
    return HttpResponse(f"hello {session.user['sub']}", content_type="text/plain")


@api_login_required  # anonymous callers get a 401 JSON error; works on async views too
async def private(request: HttpRequest) -> JsonResponse:
    session = await aget_session(request)
    assert session is not None  # guaranteed by the decorator
    return JsonResponse({"sub": session.user["sub"]})


def token(request: HttpRequest) -> JsonResponse:
    # Refreshed when expired (or when asked); the new tokens go into the session cookie
    # on the way out.
    access = get_access_token(request, refresh=request.GET.get("refresh") == "1")
    return JsonResponse({"token": access.token, "expires_at": access.expires_at})


urlpatterns = [
    path("", home),
    path("protected", protected),
    path("api/private", private),
    path("api/token", token),
    path("", include("auth0_web.adapters.django.urls")),  # /auth/login, /auth/callback, ...
]


# -- the project ---------------------------------------------------------------------------


def setup(**options: Any) -> None:
    """Configure Django (once per process) and the Auth0 client.

    ``settings.configure()`` may run only once in a process, so an application built
    later in the same process (the tests build one per server) keeps the first settings
    and gets its own client through ``set_client``.
    """
    if not settings.configured:
        settings.configure(**SETTINGS)
        django.setup()
    if options:
        set_client(Auth0Client(**{**settings.AUTH0, **options}))


def create_app(**options: Any) -> Any:
    """The WSGI application."""
    setup(**options)
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def create_asgi_app(**options: Any) -> Any:
    """The ASGI application."""
    setup(**options)
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    setup()
    execute_from_command_line(sys.argv)
