"""Connected accounts against the real ``oidc-provider`` with Auth0's My Account API.

The module's provider runs the My Account API (``my_account`` in ``tests/op/server.mjs``,
see ``auth0_my_account.mjs``): ``<issuer>me/`` is a resource server, the connect, complete,
list and delete endpoints check the JWT access token (and DPoP proofs for bound tokens),
and ``/connect`` is the "other provider's" consent page this module submits with httpx.

A login here asks the provider for the My Account API too (``resource=<issuer>me/`` and its
scopes, as an Auth0 application whose refresh-token policy allows that API), so the login's
refresh token can mint My Account tokens: the SDK gets them by refresh grants with
``audience=<issuer>me/``, exactly as with an Auth0 multi-resource refresh token. The login's
own token set stays the default one, so every My Account token in these tests comes from
such a refresh.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse

from auth0_web import (
    Auth0Client,
    CallbackContext,
    ConnectAccountError,
    ConnectedAccount,
    MyAccountApiError,
    Request,
    SessionData,
    generate_dpop_key_pair,
)
from auth0_web.adapters.starlette import to_starlette_response
from auth0_web.session._codec import CookieCodec
from tests.support.apps import SECRET, Browser, make_app, make_client, query_of
from tests.support.oidc_provider import OidcProvider, complete_login_async
from tests.support.op_fixtures import ALICE, BOB, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata

from .helpers import RecordingTransport, record_outbound
from .token_helpers import stored_session, unverified_claims

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CLIENT_ID = "connect-app"
CLIENT_SECRET = new_client_secret()
CALENDAR = "https://www.googleapis.com/auth/calendar"
CONNECTIONS = {
    "google-oauth2": {"scopes": ["openid", "email", "profile", CALENDAR]},
    "github": {"scopes": ["repo", "read:user"], "refresh_token_ttl": 86400},
}
MY_ACCOUNT_SCOPES = (
    "create:me:connected_accounts read:me:connected_accounts delete:me:connected_accounts"
)
APP = "http://127.0.0.1:3000"
CALLBACK = APP + "/auth/callback"
#: The provider keeps linked accounts for the module's lifetime: each test has its own user.
USERS = {
    name: {"sub": f"auth0|{name}", "name": name.title(), "email": f"{name}@example.com"}
    for name in ("carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    clients = [client_metadata(CLIENT_ID, CLIENT_SECRET, "client_secret_post")]
    with OidcProvider(
        clients=clients,
        users=[ALICE, BOB, *USERS.values()],
        my_account={"connections": CONNECTIONS},
    ) as provider:
        yield provider


@dataclass
class Sdk:
    """One client, its app, its outbound recorder and what ``on_callback`` saw."""

    op: OidcProvider
    auth0: Auth0Client
    wire: RecordingTransport
    browser: Browser
    op_http: httpx.AsyncClient
    #: ``(error, ctx)`` of every ``on_callback`` call for a connect flow.
    seen: list[tuple[Any, CallbackContext]] = field(default_factory=list)

    @property
    def audience(self) -> str:
        return self.op.issuer + "me/"

    def api(self, path: str) -> str:
        return self.op.url("/me/v1/connected-accounts/" + path)

    def calls(self, path: str, method: str | None = None) -> list[Any]:
        return [c for c in self.wire.to(self.api(path)) if method in (None, c.method)]

    def refreshes(self) -> list[dict[str, str]]:
        forms = [
            dict(parse_qsl(c.body.decode())) for c in self.wire.to(self.op.url("/oauth/token"))
        ]
        return [f for f in forms if f.get("grant_type") == "refresh_token"]

    def stored(self) -> dict[str, Any]:
        """The session cookie's JSON as the browser holds it now."""
        return stored_session(SECRET, self.browser.cookies, time.time())


def _app(auth0: Auth0Client) -> Any:
    """``make_app`` plus routes that use the connected-accounts API inside the middleware."""
    middleware = make_app(auth0)
    inner = middleware.app

    @inner.get("/accounts")
    async def accounts() -> JSONResponse:
        found = await auth0.get_connected_accounts()
        return JSONResponse([_account_json(a) for a in found])

    @inner.post("/disconnect")
    async def disconnect(request: StarletteRequest) -> JSONResponse:
        removed = await auth0.disconnect_account(connection=request.query_params["connection"])
        return JSONResponse([_account_json(a) for a in removed])

    @inner.get("/link")
    async def link(request: StarletteRequest) -> Any:
        response = await auth0.connect_account(
            connection=request.query_params["connection"], return_to="/linked"
        )
        return to_starlette_response(response)  # FastAPI wants a Starlette response

    return middleware


def _account_json(account: ConnectedAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "connection": account.connection,
        "access_type": account.access_type,
        "scopes": list(account.scopes),
        "created_at": account.created_at,
        "expires_at": account.expires_at,
    }


@pytest.fixture
async def sdk(op: OidcProvider) -> AsyncIterator[Sdk]:
    async with _sdk(op) as built:
        yield built


class _sdk:
    """Build an :class:`Sdk` (``async with``); ``options`` go to the ``Auth0Client``."""

    def __init__(self, op: OidcProvider, **options: Any) -> None:
        self.op = op
        self.options = options

    async def __aenter__(self) -> Sdk:
        seen: list[tuple[Any, CallbackContext]] = []

        def on_callback(error: Any, ctx: CallbackContext, session: Any) -> None:
            if ctx.response_type == "connect_code":
                seen.append((error, ctx))

        self.options.setdefault("on_callback", on_callback)
        auth0 = make_client(
            self.op,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            enable_connect_account_endpoint=True,
            **self.options,
        )
        wire = record_outbound(auth0)
        self.built = Sdk(
            op=self.op,
            auth0=auth0,
            wire=wire,
            browser=Browser(_app(auth0)),
            op_http=httpx.AsyncClient(),
            seen=seen,
        )
        return self.built

    async def __aexit__(self, *exc: object) -> None:
        await self.built.browser.client.aclose()
        await self.built.op_http.aclose()
        await self.built.auth0.aclose()


# --------------------------------------------------------------------------- flows


async def login(sdk: Sdk, sub: str, op_http: httpx.AsyncClient | None = None) -> None:
    """A whole login; the authorization request also asks for the My Account API.
    ``op_http`` holds the provider session (default: the test's own)."""
    response = await sdk.browser.get("/auth/login")
    assert response.status_code == 307, response.text
    parts = urlsplit(response.headers["location"])
    query = [
        (k, f"{v} {MY_ACCOUNT_SCOPES}" if k == "scope" else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    query.append(("resource", sdk.audience))
    authorize = urlunsplit(parts._replace(query=urlencode(query)))
    callback = await complete_login_async(authorize, sub, client=op_http or sdk.op_http)
    response = await sdk.browser.get(callback)
    assert response.status_code == 307, response.text


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((attr.get("method", "get").upper(), attr.get("action", ""), {}))
        elif tag == "input" and self.forms and attr.get("name"):
            self.forms[-1][2][attr["name"]] = attr.get("value", "")


async def consent(sdk: Sdk, connect_url: str, decision: str = "allow") -> str:
    """Play the user at the other provider: open ``connect_url``, submit ``decision``;
    return where the provider sends the browser (the app's callback)."""
    page = await sdk.op_http.get(connect_url)
    assert page.status_code == 200, page.text
    parser = _Forms()
    parser.feed(page.text)
    [(method, action, fields)] = [f for f in parser.forms if f[2].get("decision") == decision]
    assert method == "POST"
    answer = await sdk.op_http.post(urljoin(connect_url, action), data=fields)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


async def start_connect(sdk: Sdk, query: str) -> httpx.Response:
    response = await sdk.browser.get("/auth/connect?" + query)
    assert response.status_code == 307, response.text
    return response


async def connect(sdk: Sdk, query: str) -> httpx.Response:
    """The whole connect flow through the route; returns the callback's response."""
    started = await start_connect(sdk, query)
    callback = await consent(sdk, started.headers["location"])
    return await sdk.browser.get(callback)


async def listed(sdk: Sdk) -> list[dict[str, Any]]:
    response = await sdk.browser.get("/accounts")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


# --------------------------------------------------------------------------- tests


async def test_connect_links_the_account_end_to_end(sdk: Sdk) -> None:
    await login(sdk, ALICE["sub"])
    before = sdk.stored()
    started = await start_connect(
        sdk,
        urlencode(
            [
                ("connection", "google-oauth2"),
                ("scopes", "openid"),
                ("scopes", CALENDAR),
                ("returnTo", "/after?tab=2"),
                ("login_hint", "alice@example.com"),
                ("max_age", "600"),
                ("redirect_uri", "https://evil.example/cb"),  # reserved: never forwarded
                ("state", "attacker-state"),  # reserved
            ]
        ),
    )
    # -- the My Account token came from a refresh of the login's refresh token (MRRT)
    [refresh] = sdk.refreshes()
    assert refresh["audience"] == sdk.audience
    assert "create:me:connected_accounts" in refresh["scope"].split()
    [call] = sdk.calls("connect")
    assert call.headers["authorization"].startswith("Bearer ")
    token = call.headers["authorization"].split(" ", 1)[1]
    claims = unverified_claims(token)
    assert claims["aud"] == sdk.audience and claims["sub"] == ALICE["sub"]
    assert "create:me:connected_accounts" in claims["scope"].split()
    body = json.loads(call.body)
    assert body["connection"] == "google-oauth2"
    assert body["redirect_uri"] == CALLBACK
    assert body["code_challenge_method"] == "S256" and len(body["code_challenge"]) == 43
    assert body["scopes"] == ["openid", CALENDAR]
    assert body["authorization_params"] == {"login_hint": "alice@example.com", "max_age": 600}
    # -- the browser goes to the provider's connect page with the ticket, state remembered
    location = started.headers["location"]
    assert location.startswith(sdk.op.url("/connect?ticket="))
    txn_names = sdk.browser.txn_cookie_names()
    assert txn_names == ["__txn_" + body["state"]]
    assert started.headers["cache-control"].startswith("private, no-cache, no-store")
    # the rotated refresh token is in the new session cookie (else the next refresh fails)
    rotated = sdk.stored()
    assert rotated["tokenSet"]["refreshToken"] != before["tokenSet"]["refreshToken"]
    assert [e["audience"] for e in rotated["accessTokens"]] == [sdk.audience]

    # -- consent at the other provider, back to the callback with connect_code and state
    callback = await consent(sdk, location)
    assert callback.startswith(CALLBACK + "?")
    assert query_of(callback)["state"] == body["state"]
    assert "connect_code" in query_of(callback)
    finished = await sdk.browser.get(callback)
    assert finished.status_code == 307, finished.text
    assert finished.headers["location"] == APP + "/after?tab=2"
    assert sdk.browser.txn_cookie_names() == []
    [complete] = sdk.calls("complete")
    sent = json.loads(complete.body)
    assert sent["redirect_uri"] == CALLBACK
    assert sent["connect_code"] == query_of(callback)["connect_code"]
    assert len(sent["code_verifier"]) == 43 and sent["auth_session"]
    assert len(sdk.refreshes()) == 1  # the token from the start was still valid

    # -- on_callback saw the account; the session is the same user and login
    [(error, ctx)] = sdk.seen
    assert error is None
    account = ctx.connected_account
    assert account is not None
    assert account.connection == "google-oauth2"
    assert account.access_type == "offline"
    assert account.scopes == ("openid", CALENDAR)
    assert account.id.startswith("cac_") and account.created_at and account.expires_at is None
    assert ctx.return_to == "/after?tab=2"
    after = sdk.stored()
    assert after["user"] == before["user"] and after["internal"] == before["internal"]

    # -- listed by get_connected_accounts (a second refresh: the list needs another scope)
    assert await listed(sdk) == [
        {
            "id": account.id,
            "connection": "google-oauth2",
            "access_type": "offline",
            "scopes": ["openid", CALENDAR],
            "created_at": account.created_at,
            "expires_at": None,
        }
    ]
    assert len(sdk.refreshes()) == 2
    assert "read:me:connected_accounts" in sdk.refreshes()[1]["scope"].split()
    [listing] = sdk.calls("accounts", "GET")
    assert listing.status == 200
    assert query_of(listing.url) == {"take": "20"}


async def test_disconnect_removes_only_that_connection(sdk: Sdk) -> None:
    await login(sdk, BOB["sub"])
    assert (await connect(sdk, "connection=github&scopes=repo")).status_code == 307
    assert (await connect(sdk, "connection=google-oauth2")).status_code == 307
    accounts = await listed(sdk)
    assert sorted(a["connection"] for a in accounts) == ["github", "google-oauth2"]
    github = next(a for a in accounts if a["connection"] == "github")
    assert github["scopes"] == ["repo"] and github["expires_at"]

    response = await sdk.browser.post("/disconnect?connection=github")
    assert response.status_code == 200, response.text
    assert [a["id"] for a in response.json()] == [github["id"]]
    [deleted] = sdk.calls("accounts/" + github["id"], "DELETE")
    assert deleted.status == 204
    assert [a["connection"] for a in await listed(sdk)] == ["google-oauth2"]

    again = await sdk.browser.post("/disconnect?connection=github")
    assert again.json() == []  # nothing left on that connection: not an error


async def test_programmatic_connect_inside_the_middleware(sdk: Sdk) -> None:
    await login(sdk, USERS["carol"]["sub"])
    started = await sdk.browser.get("/link?connection=github")
    assert started.status_code == 307, started.text
    finished = await sdk.browser.get(await consent(sdk, started.headers["location"]))
    assert finished.status_code == 307
    assert finished.headers["location"] == APP + "/linked"
    assert [a["connection"] for a in await listed(sdk)] == ["github"]


async def test_user_denies_at_the_other_provider(sdk: Sdk) -> None:
    await login(sdk, USERS["dave"]["sub"])
    started = await start_connect(sdk, "connection=github")
    callback = await consent(sdk, started.headers["location"], decision="deny")
    assert query_of(callback)["error"] == "access_denied"
    response = await sdk.browser.get(callback)
    assert response.status_code == 400
    assert response.text == "There was an error while trying to finish connecting the account."
    assert sdk.browser.txn_cookie_names() == []
    assert sdk.calls("complete") == []
    [(error, ctx)] = sdk.seen
    assert isinstance(error, ConnectAccountError) and error.code == "failed_to_complete"
    assert error.cause is not None and error.cause.code == "access_denied"
    assert ctx.connected_account is None
    assert await listed(sdk) == []


async def test_account_switch_before_the_callback_is_refused(sdk: Sdk) -> None:
    await login(sdk, USERS["erin"]["sub"])
    started = await start_connect(sdk, "connection=github")
    callback = await consent(sdk, started.headers["location"])
    # Another user logs in, in the same browser, before the callback arrives.
    async with httpx.AsyncClient() as other_provider_session:
        await login(sdk, USERS["frank"]["sub"], other_provider_session)
    refreshes = len(sdk.refreshes())
    response = await sdk.browser.get(callback)
    assert response.status_code == 400
    assert response.text == "The session changed since connecting the account started."
    assert sdk.calls("complete") == []
    assert len(sdk.refreshes()) == refreshes
    assert await listed(sdk) == []  # nothing was linked to Frank


async def test_provider_errors_reach_the_app_as_problem_details(sdk: Sdk) -> None:
    await login(sdk, USERS["grace"]["sub"])
    unknown = await sdk.browser.get("/auth/connect?connection=myspace")
    assert unknown.status_code == 400
    assert unknown.text == "There was an error while trying to start connecting the account."
    assert unknown.headers["cache-control"].startswith("private, no-cache, no-store")
    assert sdk.browser.txn_cookie_names() == []

    request = _core_request(sdk.browser.cookies)
    with pytest.raises(ConnectAccountError) as caught:
        await sdk.auth0.connect_account(request, connection="github", scopes=["admin:org"])
    error = caught.value
    assert error.code == "failed_to_initiate" and error.status == 400
    cause = error.cause
    assert isinstance(cause, MyAccountApiError)
    assert cause.status == 400 and cause.title == "Bad Request"
    assert cause.type is not None and cause.type.endswith("/problems/invalid_body")
    assert cause.validation_errors == (
        {"field": "scopes", "detail": "Scope admin:org is not available on github."},
    )
    assert "admin:org" not in str(error)


async def test_the_provider_binds_and_burns_the_flow(sdk: Sdk) -> None:
    """The test provider itself: a connect_code works once, only with its PKCE verifier,
    for its user's token, and a ticket is single use."""
    await login(sdk, USERS["heidi"]["sub"])
    started = await start_connect(sdk, "connection=github")
    location = started.headers["location"]
    callback = await consent(sdk, location)
    again = await sdk.op_http.get(location)  # the ticket was used
    assert again.status_code == 400
    [name] = sdk.browser.txn_cookie_names()
    raw = sdk.browser.cookies[name].partition(":")[2]
    txn = CookieCodec([SECRET]).decrypt(raw, now=time.time())
    assert txn is not None and txn["responseType"] == "connect_code"
    assert txn["sub"] == USERS["heidi"]["sub"] and txn["sid"]
    token = unverified_token(sdk)
    body = {
        "auth_session": txn["authSession"],
        "connect_code": query_of(callback)["connect_code"],
        "redirect_uri": CALLBACK,
        "code_verifier": "x" * 43,
    }
    headers = {"authorization": f"Bearer {token}"}
    wrong = await sdk.op_http.post(sdk.api("complete"), json=body, headers=headers)
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["detail"] == "The code_verifier does not match the code_challenge."
    body["code_verifier"] = txn["codeVerifier"]
    burnt = await sdk.op_http.post(sdk.api("complete"), json=body, headers=headers)
    assert burnt.status_code == 400  # the code (and the flow) died with the first attempt
    response = await sdk.browser.get(callback)  # so the SDK's own completion fails cleanly
    assert response.status_code == 400
    assert sdk.browser.txn_cookie_names() == []
    no_token = await sdk.op_http.post(sdk.api("complete"), json=body)
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"].startswith("Bearer ")


async def test_dpop_bound_tokens_are_sent_with_proofs(op: OidcProvider) -> None:
    async with _sdk(op, use_dpop=True, dpop_key_pair=generate_dpop_key_pair()) as sdk:
        await login(sdk, USERS["ivan"]["sub"])
        finished = await connect(sdk, "connection=github")
        assert finished.status_code == 307, finished.text
        assert [a["connection"] for a in await listed(sdk)] == ["github"]
        for call in sdk.calls("connect") + sdk.calls("complete"):
            assert call.headers["authorization"].startswith("DPoP ")
            assert call.headers["dpop"]
            token = call.headers["authorization"].split(" ", 1)[1]
            assert "jkt" in unverified_claims(token)["cnf"]


# --------------------------------------------------------------------------- helpers


def _core_request(cookies: dict[str, str]) -> Request:
    return Request(method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=cookies)


def unverified_token(sdk: Sdk) -> str:
    """The session's My Account access token (``create`` scope), as the cookie holds it."""
    session = SessionData.from_dict(sdk.stored())
    [entry] = [e for e in session.access_tokens if e.audience == sdk.audience]
    return entry.access_token
