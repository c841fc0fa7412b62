"""Views and URLconf of the focused Django tests (``ROOT_URLCONF`` under ``override_settings``).

Each view exercises one helper or decorator, sync and async alike; ``django_site_async``
serves the same views with the SDK routes as async views.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import replace

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.decorators import method_decorator
from django.views import View

from auth0_web import Response
from auth0_web.adapters.django import (
    aget_access_token,
    aget_session,
    api_login_required,
    aupdate_session,
    get_access_token,
    get_session,
    login_required,
    to_django_response,
    update_session,
)


def _sub(request: HttpRequest) -> str:
    session = get_session(request)
    assert session is not None
    return str(session.user["sub"])


@login_required
def sync_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"sync page {_sub(request)}", content_type="text/plain")


@login_required
async def async_page(request: HttpRequest) -> HttpResponse:
    session = await aget_session(request)
    assert session is not None
    return HttpResponse(f"async page {session.user['sub']}", content_type="text/plain")


@login_required(return_to="/landing")
def fixed_return(request: HttpRequest) -> HttpResponse:
    return HttpResponse("fixed")


@api_login_required
def sync_api(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sync": _sub(request)})


@api_login_required
async def async_api(request: HttpRequest) -> JsonResponse:
    session = await aget_session(request)
    assert session is not None
    return JsonResponse({"async": session.user["sub"]})


class ClassPage(View):
    @method_decorator(login_required)
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"class page {_sub(request)}")


class AsyncClassApi(View):
    @method_decorator(api_login_required)
    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"async class": (await aget_session(request)) is not None})


def lazy(request: HttpRequest) -> JsonResponse:
    """Reads the lazy attribute twice (and the helper once); ``?skip=1`` reads nothing."""
    if request.GET.get("skip"):
        return JsonResponse({"skipped": True})
    first = request.auth0_session  # type: ignore[attr-defined]
    second = request.auth0_session  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "anonymous": first is None,
            "same": first is second and get_session(request) is first,
            "sub": first.user["sub"] if first is not None else None,
            "theme": first.extra.get("theme") if first is not None else None,
            "bio_length": len(first.user.get("bio", "")) if first is not None else 0,
        }
    )


def sync_update(request: HttpRequest) -> JsonResponse:
    session = get_session(request)
    assert session is not None
    session.extra["theme"] = request.GET["theme"]
    update_session(request, session)
    response = JsonResponse({"ok": True})
    response.set_cookie("app-cookie", "kept")  # the app's own cookies still go out
    return response


async def async_update(request: HttpRequest) -> JsonResponse:
    session = await aget_session(request)
    assert session is not None
    session.extra["theme"] = request.GET["theme"]
    await aupdate_session(request, session)
    return JsonResponse({"ok": True})


def resize(request: HttpRequest) -> JsonResponse:
    """Give the user a ``bio`` claim of ``?size=`` random characters (0 removes it)."""
    session = get_session(request)
    assert session is not None
    size = int(request.GET["size"])
    user = {k: v for k, v in session.user.items() if k != "bio"}
    if size:
        user["bio"] = secrets.token_urlsafe(size)[:size]
    update_session(request, replace(session, user=user))
    return JsonResponse({"size": size})


def sync_token(request: HttpRequest) -> JsonResponse:
    access = get_access_token(request, refresh=request.GET.get("refresh") == "1")
    return JsonResponse({"token": access.token, "expires_at": access.expires_at})


async def async_token(request: HttpRequest) -> JsonResponse:
    access = await aget_access_token(request, refresh=request.GET.get("refresh") == "1")
    return JsonResponse({"token": access.token, "expires_at": access.expires_at})


def elsewhere(request: HttpRequest) -> JsonResponse:
    """Token calls from a thread the view starts and from a loop the view runs itself."""
    outcomes: list[str] = []

    def in_thread() -> None:
        for refresh in (False, True):
            try:
                outcomes.append(get_access_token(request, refresh=refresh).token)
            except RuntimeError as exc:
                outcomes.append(str(exc))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    try:
        outcomes.append(asyncio.run(aget_access_token(request)).token)
    except RuntimeError as exc:
        outcomes.append(str(exc))
    return JsonResponse({"outcomes": outcomes})


def duplicate(request: HttpRequest) -> HttpResponse:
    """A core response with three headers for one cookie name; then an app cookie."""
    core = Response.text("two headers, one name")
    core.cookies.append(("pref", "pref=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"))
    core.cookies.append(("pref", "pref=new; Path=/app; HttpOnly; SameSite=Strict"))
    core.cookies.append(("pref", "pref=newer; Path=/app; Secure; SameSite=None"))
    response = to_django_response(core)
    response.set_cookie("other", "app")
    return response


def form(request: HttpRequest) -> HttpResponse:
    """A plain POST view: CSRF protection still applies to the application's own views."""
    return HttpResponse("posted")


# The pages of the shared scenario (see scenario.py).


def home(request: HttpRequest) -> JsonResponse:
    session = get_session(request)
    return JsonResponse({"user": session.user["sub"] if session else None})


@login_required
def protected(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {_sub(request)}", content_type="text/plain")


@api_login_required
async def private(request: HttpRequest) -> JsonResponse:
    session = await aget_session(request)
    assert session is not None
    return JsonResponse({"sub": session.user["sub"]})


scenario_pages = [path("", home), path("protected", protected), path("api/private", private)]

views = [
    path("sync/page", sync_page),
    path("async/page", async_page),
    path("fixed", fixed_return),
    path("sync/api", sync_api),
    path("async/api", async_api),
    path("class/page", ClassPage.as_view()),
    path("class/api", AsyncClassApi.as_view()),
    path("lazy", lazy),
    path("sync/update", sync_update),
    path("async/update", async_update),
    path("resize", resize),
    path("sync/token", sync_token),
    path("async/token", async_token),
    path("elsewhere", elsewhere),
    path("duplicate", duplicate),
    path("form", form),
]

urlpatterns = [
    *scenario_pages,
    path("api/token", sync_token),
    *views,
    path("", include("auth0_web.adapters.django.urls")),
]
