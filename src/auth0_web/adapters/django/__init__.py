"""Django integration: middleware, URLs, session/token helpers and view decorators.

settings.py::

    AUTH0 = {"authorization_parameters": {"scope": "openid profile email offline_access"}}
    # (or AUTH0_CLIENT = "myproject.auth.auth0"); the rest comes from AUTH0_* / APP_BASE_URL
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "auth0_web.adapters.django.Auth0Middleware",
        ...
    ]

urls.py::

    urlpatterns = [path("", include("auth0_web.adapters.django.urls")), ...]

views.py::

    from auth0_web.adapters.django import get_access_token, login_required

    @login_required
    def dashboard(request):
        return render(request, "dashboard.html", {"user": request.auth0_session.user})

Works under WSGI and ASGI, with sync and async views; see ``docs/django.md``.
"""

from __future__ import annotations

from ._bridge import to_django_response
from ._conf import get_client, set_client
from ._helpers import (
    aget_access_token,
    aget_session,
    aupdate_session,
    get_access_token,
    get_session,
    update_session,
)
from .decorators import api_login_required, login_required
from .middleware import Auth0Middleware

__all__ = [
    "Auth0Middleware",
    "aget_access_token",
    "aget_session",
    "api_login_required",
    "aupdate_session",
    "get_access_token",
    "get_client",
    "get_session",
    "login_required",
    "set_client",
    "to_django_response",
    "update_session",
]
