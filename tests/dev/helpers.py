"""Helpers for driving the development provider like a browser and an application would."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from joserfc.jwk import RSAKey

from auth0_web.dev import DevClient, DevProvider

CLIENT_ID = "dev-app"
CLIENT_SECRET = "dev-app-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:5000/auth/callback"
LOGOUT_URL = "http://127.0.0.1:5000/"
OTHER_ID = "other-app"
OTHER_SECRET = "other-app-secret-0123456789"
OTHER_REDIRECT = "http://127.0.0.1:6000/callback"
BASIC_ID = "basic-only"
BASIC_SECRET = "basic:secret/+&=%"
LOOPBACK_ID = "loopback-app"
LOOPBACK_SECRET = "loopback-secret"
ROLES = "https://example.com/roles"

CLIENTS = (
    DevClient(CLIENT_ID, CLIENT_SECRET, redirect_uris=[REDIRECT_URI], logout_urls=[LOGOUT_URL]),
    DevClient(OTHER_ID, OTHER_SECRET, redirect_uris=[OTHER_REDIRECT]),
    DevClient(
        BASIC_ID,
        BASIC_SECRET,
        redirect_uris=[REDIRECT_URI],
        token_endpoint_auth_methods=["client_secret_basic"],
    ),
    DevClient(LOOPBACK_ID, LOOPBACK_SECRET, allow_loopback_redirects=True),
)


class Clock:
    """The provider's clock: real time plus an adjustable offset (seconds)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def make_provider(**options: Any) -> DevProvider:
    options.setdefault("clients", CLIENTS)
    return DevProvider(**options)


def pkce() -> tuple[str, str]:
    """``(verifier, S256 challenge)``."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Flow:
    """One authorization request's parameters and PKCE verifier."""

    verifier: str
    params: dict[str, str]

    @property
    def redirect_uri(self) -> str:
        return self.params["redirect_uri"]


def new_flow(**overrides: str | None) -> Flow:
    verifier, challenge = pkce()
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile email offline_access",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return Flow(verifier, {k: v for k, v in params.items() if v is not None})


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def without_query(url: str) -> str:
    return url.split("?", 1)[0]


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    button: str = ""


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.title = ""
        self._in_form = False
        self._in_button = False
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", ""), method=a.get("method", "get")))
            self._in_form = True
        elif tag == "input" and self._in_form:
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self._in_form:
            self._in_button = True
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "button":
            self._in_button = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.forms[-1].button += data
        if self._in_title:
            self.title += data


@dataclass
class Page:
    title: str
    forms: list[Form]

    def login_form(self, name: str) -> Form:
        for form in self.forms:
            if form.action == "/authorize/login" and form.button.startswith(f"Continue as {name}"):
                return form
        raise AssertionError(f"no login form for {name!r}")

    @property
    def cancel_form(self) -> Form:
        return next(f for f in self.forms if f.button.strip() == "Cancel")


def parse_page(html: str) -> Page:
    parser = _FormParser()
    parser.feed(html)
    return Page(title=parser.title, forms=parser.forms)


async def submit(browser: httpx.AsyncClient, form: Form) -> httpx.Response:
    assert form.method == "post"
    return await browser.post(form.action, data=form.fields)


async def login(
    browser: httpx.AsyncClient, flow: Flow, user: str = "Alice Example"
) -> httpx.Response:
    """Authorize, pick ``user`` on the login page; the provider's final redirect.

    With a provider session (an earlier login in this browser) there is no login page and
    the session's user is kept; pass ``prompt="login"`` in the flow to pick again.
    """
    page = await browser.get("/authorize", params=flow.params)
    if page.status_code == 302:
        return page
    assert page.status_code == 200, page.text
    return await submit(browser, parse_page(page.text).login_form(user))


async def login_code(browser: httpx.AsyncClient, flow: Flow, user: str = "Alice Example") -> str:
    response = await login(browser, flow, user)
    assert response.status_code == 302, response.text
    query = query_of(response.headers["location"])
    assert query["state"] == flow.params["state"]
    return query["code"]


async def exchange(
    client: httpx.AsyncClient,
    flow: Flow,
    code: str,
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    **overrides: str | None,
) -> httpx.Response:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": flow.verifier,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    form.update(overrides)
    return await client.post("/oauth/token", data={k: v for k, v in form.items() if v is not None})


async def tokens_for(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, user: str = "Alice Example", **flow: str
) -> dict[str, Any]:
    f = new_flow(**flow)
    response = await exchange(client, f, await login_code(browser, f, user))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, refresh_token: str, **extra: str) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **extra,
        },
    )


async def userinfo(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT, unverified."""
    header, payload, _ = token.split(".")
    return json.loads(_b64decode(header)), json.loads(_b64decode(payload))


def basic(client_id: str, secret: str) -> str:
    from urllib.parse import quote

    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def public_key(jwks: dict[str, Any]) -> RSAKey:
    return RSAKey.import_key(jwks["keys"][0])
