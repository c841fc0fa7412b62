"""The focused tests' views with the SDK routes (and ``/api/token``) served by async views."""

from __future__ import annotations

from django.urls import include, path

from .django_site import async_token, scenario_pages, views

urlpatterns = [
    *scenario_pages,
    path("api/token", async_token),
    *views,
    path("", include("auth0_web.adapters.django.async_urls")),
]
