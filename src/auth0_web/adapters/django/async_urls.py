"""``path("", include("auth0_web.adapters.django.async_urls"))``: the SDK routes as async
views, answered on the ASGI server's loop without a thread hop. Same paths and names
(``auth0:login``, ...) as ``auth0_web.adapters.django.urls``; under WSGI prefer that one.
"""

from __future__ import annotations

from .views import RoutePatterns, async_auth0_view

app_name = "auth0"
urlpatterns = RoutePatterns(async_auth0_view)
