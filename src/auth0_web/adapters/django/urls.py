"""``path("", include("auth0_web.adapters.django.urls"))``: the SDK routes (sync views).

Include it at the root: the paths are the client's ``routes`` option (``/auth/login``,
``/auth/callback``, ...), which is also what the client sends Auth0 as ``redirect_uri``.
Names are in the ``auth0`` namespace: ``{% url 'auth0:login' %}``, ``reverse("auth0:logout")``.
For ASGI-only deployments, ``auth0_web.adapters.django.async_urls`` serves the same routes
with async views.
"""

from __future__ import annotations

from .views import RoutePatterns, auth0_view

app_name = "auth0"
urlpatterns = RoutePatterns(auth0_view)
