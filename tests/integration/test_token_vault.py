"""Token Vault against the real ``oidc-provider`` (extended with Auth0's federated-connection
grant, ``tests/op/auth0_token_vault.mjs``), through a real login and the ASGI middleware.

Alice connected two Google accounts and one GitHub account; Bob connected nothing. The
provider counts every exchange (``/test/token-vault/exchanges``), so each test asserts how
many exchanges really happened, not only what the SDK returned. The provider hands out the
same Google token again while it is live (as Token Vault does), so "a new exchange" is
proven by that count, never by a different token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Request as FastAPIRequest
from fastapi.responses import JSONResponse

from auth0_web import (
    AccessTokenForConnectionError,
    Auth0Client,
    InvalidRequestError,
    MemorySessionStore,
)
from auth0_web.session._codec import CookieCodec
from tests.support.apps import SECRET, Browser, make_app, make_client
from tests.support.oidc_provider import OidcProvider
from tests.support.op_fixtures import ALICE, BOB, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata

from .helpers import DELETED, NO_STORE, Clock, login, session_of, set_cookies

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

GRANT = "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token"
REFRESH_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"
GOOGLE = "google-oauth2"
GITHUB = "github"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/calendar.events"
WORK_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
GITHUB_SCOPE = "repo read:user"
VAULT_CLIENT = "vault-app"
PLAIN_CLIENT = "plain-app"
CODEC = CookieCodec([SECRET])

ALICE_VAULT: dict[str, Any] = {
    **ALICE,
    "connected_accounts": {
        GOOGLE: [
            {"login_hint": "alice@gmail.com"},
            {"login_hint": "alice.work@gmail.com", "scope": WORK_SCOPE},
        ],
        GITHUB: {"login_hint": "alice-gh"},
    },
}


@dataclass
class VaultProvider:
    provider: OidcProvider
    secret: str
    plain_secret: str

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    async def exchanges(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as client:
            response = await client.get(self.provider.url("/test/token-vault/exchanges"))
        response.raise_for_status()
        body = response.json()
        assert body["count"] == len(body["exchanges"])
        exchanges: list[dict[str, Any]] = body["exchanges"]
        return exchanges

    async def revoke(self, refresh_token: str) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                self.provider.url("/oauth/revoke"),
                data={
                    "token": refresh_token,
                    "token_type_hint": "refresh_token",
                    "client_id": VAULT_CLIENT,
                    "client_secret": self.secret,
                },
            )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def vault_op() -> Iterator[VaultProvider]:
    secret, plain_secret = new_client_secret(), new_client_secret()
    clients = [
        client_metadata(
            VAULT_CLIENT,
            secret,
            "client_secret_post",
            grant_types=["authorization_code", "refresh_token", GRANT],
        ),
        client_metadata(PLAIN_CLIENT, plain_secret, "client_secret_post"),
    ]
    token_vault = {
        "connections": {
            GOOGLE: {"scope": GOOGLE_SCOPE, "ttl": 3600},
            GITHUB: {"scope": GITHUB_SCOPE, "ttl": 28800},
            "slack": {"scope": "chat:write"},  # enabled, but nobody connected it
        }
    }
    with OidcProvider(clients=clients, users=[ALICE_VAULT, BOB], token_vault=token_vault) as op:
        yield VaultProvider(op, secret, plain_secret)


def vault_app(auth0: Auth0Client) -> Any:
    """The test app plus ``GET /vault/{connection}?login_hint=&subject=access``."""
    middleware = make_app(auth0)

    @middleware.app.get("/vault/{connection}")
    async def vault(
        connection: str, request: FastAPIRequest, login_hint: str | None = None
    ) -> JSONResponse:
        subject = ACCESS_TYPE if request.query_params.get("subject") == "access" else None
        try:
            token = await auth0.get_access_token_for_connection(
                connection=connection, login_hint=login_hint, subject_token_type=subject
            )
        except AccessTokenForConnectionError as exc:
            cause = getattr(exc.cause, "code", type(exc.cause).__name__)
            return JSONResponse({"error": exc.code, "cause": cause}, status_code=401)
        return JSONResponse(
            {
                "token": token.token,
                "expires_at": token.expires_at,
                "scope": token.scope,
                "connection": token.connection,
            }
        )

    return middleware


@dataclass
class Harness:
    op: VaultProvider
    auth0: Auth0Client
    browser: Browser
    op_http: httpx.AsyncClient
    clock: Clock

    async def login(self, sub: str = ALICE["sub"]) -> None:
        await login(self.browser, self.op_http, sub=sub)

    async def vault(self, connection: str, **query: str) -> httpx.Response:
        return await self.browser.get(f"/vault/{connection}", params=query)

    async def session(self) -> Any:
        return await session_of(self.auth0, self.browser.cookies)


@pytest.fixture
async def harness(vault_op: VaultProvider) -> AsyncIterator[Harness]:
    async with harness_for(vault_op) as h:
        yield h


class harness_for:  # noqa: N801 - used like a function
    def __init__(self, op: VaultProvider, client_id: str = VAULT_CLIENT, **options: Any) -> None:
        self.op = op
        self.client_id = client_id
        self.options = options

    async def __aenter__(self) -> Harness:
        clock = Clock()
        secret = self.op.secret if self.client_id == VAULT_CLIENT else self.op.plain_secret
        auth0 = make_client(
            self.op, client_id=self.client_id, client_secret=secret, clock=clock, **self.options
        )
        self.harness = Harness(
            self.op, auth0, Browser(vault_app(auth0)), httpx.AsyncClient(timeout=30), clock
        )
        return self.harness

    async def __aexit__(self, *exc: object) -> None:
        await self.harness.browser.client.aclose()
        await self.harness.op_http.aclose()
        await self.harness.auth0.aclose()


def fc_cookies(response: httpx.Response) -> dict[str, tuple[str, dict[str, str]]]:
    return {n: v for n, v in set_cookies(response).items() if n.startswith("__FC_")}


def decrypt(value: str) -> dict[str, Any]:
    payload = CODEC.decrypt(value, now=time.time())
    assert payload is not None, "the cookie does not decrypt with the app's secret"
    return payload


# --------------------------------------------------------------------------- the flow


async def test_first_call_exchanges_and_the_next_is_answered_from_the_session(
    harness: Harness,
) -> None:
    await harness.login()
    before = len(await harness.op.exchanges())

    first = await harness.vault(GOOGLE)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["token"].startswith("fc-")
    assert body["scope"] == GOOGLE_SCOPE
    assert body["connection"] == GOOGLE
    assert abs(body["expires_at"] - (time.time() + 3600)) < 10
    exchanges = (await harness.op.exchanges())[before:]
    assert exchanges == [
        {
            "client_id": VAULT_CLIENT,
            "sub": ALICE["sub"],
            "connection": GOOGLE,
            "login_hint": None,
            "subject_token_type": REFRESH_TYPE,
            "outcome": "issued",
        }
    ]

    # Stateless: the token is in __FC_0, encrypted, and never in the session cookie.
    assert first.headers["cache-control"] == NO_STORE
    written = fc_cookies(first)
    assert list(written) == ["__FC_0"]
    value, attrs = written["__FC_0"]
    assert body["token"] not in value
    assert attrs["httponly"] == "" and attrs["samesite"] == "Lax" and int(attrs["max-age"]) > 0
    entry = decrypt(value)
    assert {k: entry[k] for k in ("accessToken", "connection", "scope", "expiresAt")} == {
        "accessToken": body["token"],
        "connection": GOOGLE,
        "scope": GOOGLE_SCOPE,
        "expiresAt": body["expires_at"],
    }
    assert "loginHint" not in entry
    main = decrypt(set_cookies(first)["__session"][0])
    assert "connectionTokenSets" not in main
    assert body["token"] not in str(main)

    second = await harness.vault(GOOGLE)
    assert second.json() == body
    assert len(await harness.op.exchanges()) == before + 1
    # Answered from the cookie; a fresh session is not re-issued (rolling_write_interval).
    assert "__FC_0" not in fc_cookies(second)
    session = await harness.session()
    assert [(e.connection, e.access_token) for e in session.connection_token_sets] == [
        (GOOGLE, body["token"])
    ]


async def test_an_expired_token_is_exchanged_again(vault_op: VaultProvider) -> None:
    async with harness_for(vault_op, token_refresh_buffer=120) as h:
        await h.login()
        first = (await h.vault(GITHUB)).json()
        count = len(await vault_op.exchanges())
        assert first["scope"] == GITHUB_SCOPE

        h.clock.offset = 28800 - 300  # still valid, outside the buffer: cached
        assert (await h.vault(GITHUB)).json() == first
        assert len(await vault_op.exchanges()) == count

        h.clock.offset = 28800 - 60  # inside the 120 s buffer: exchanged again
        again = await h.vault(GITHUB)
        assert again.status_code == 200
        assert len(await vault_op.exchanges()) == count + 1
        assert again.json()["expires_at"] > h.clock() + 28000

        h.clock.offset = 2 * 28800  # long expired
        assert (await h.vault(GITHUB)).status_code == 200
        assert len(await vault_op.exchanges()) == count + 2
        session = await h.session()
        assert len(session.connection_token_sets) == 1  # replaced, never duplicated


async def test_login_hint_keeps_accounts_apart(harness: Harness) -> None:
    await harness.login()
    start = len(await harness.op.exchanges())
    personal = (await harness.vault(GOOGLE)).json()

    work_response = await harness.vault(GOOGLE, login_hint="alice.work@gmail.com")
    work = work_response.json()
    assert work["token"] != personal["token"]
    assert work["scope"] == WORK_SCOPE
    assert sorted(fc_cookies(work_response)) == ["__FC_0", "__FC_1"]
    assert decrypt(fc_cookies(work_response)["__FC_1"][0])["loginHint"] == "alice.work@gmail.com"

    # Each call is answered by its own entry.
    assert (await harness.vault(GOOGLE, login_hint="alice.work@gmail.com")).json() == work
    assert (await harness.vault(GOOGLE)).json() == personal
    assert len(await harness.op.exchanges()) == start + 2

    # A hint naming the default account is still a hinted call: the no-hint entry is not
    # used for it (the provider answers with that account's same token).
    hinted = (await harness.vault(GOOGLE, login_hint="alice@gmail.com")).json()
    assert hinted["token"] == personal["token"]
    log = (await harness.op.exchanges())[start:]
    assert [e["login_hint"] for e in log] == [None, "alice.work@gmail.com", "alice@gmail.com"]
    session = await harness.session()
    assert [(e.connection, e.login_hint) for e in session.connection_token_sets] == [
        (GOOGLE, None),
        (GOOGLE, "alice.work@gmail.com"),
        (GOOGLE, "alice@gmail.com"),
    ]


async def test_access_token_subject_sends_a_live_session_access_token(harness: Harness) -> None:
    await harness.login()
    start = len(await harness.op.exchanges())
    response = await harness.vault(GOOGLE, subject="access")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == GOOGLE_SCOPE
    [record] = (await harness.op.exchanges())[start:]
    assert record["subject_token_type"] == ACCESS_TYPE
    assert record["sub"] == ALICE["sub"] and record["outcome"] == "issued"

    # Once the login's access token has expired (by the SDK's clock), it is refreshed
    # first and the refreshed session is saved with the new connection token.
    before = await harness.session()
    harness.clock.offset = 3600 + 60
    github = await harness.vault(GITHUB, subject="access")
    assert github.status_code == 200, github.text
    after = await harness.session()
    assert after.token_set.access_token != before.token_set.access_token
    assert after.token_set.expires_at > harness.clock()
    assert {e.connection for e in after.connection_token_sets} == {GOOGLE, GITHUB}
    assert (await harness.op.exchanges())[-1]["outcome"] == "issued"


async def test_a_refused_exchange_removes_the_cached_token(harness: Harness) -> None:
    await harness.login()
    assert (await harness.vault(GOOGLE)).status_code == 200
    assert (await harness.vault(GITHUB)).status_code == 200
    session = await harness.session()
    await harness.op.revoke(session.token_set.refresh_token)

    harness.clock.offset = 3600 + 60  # Google's token expired, GitHub's (8 h) has not
    refused = await harness.vault(GOOGLE)
    assert refused.status_code == 401
    assert refused.json() == {"error": "failed_to_exchange_refresh_token", "cause": "invalid_grant"}
    assert (await harness.op.exchanges())[-1]["outcome"] == "invalid_grant"
    # The stale Google entry is gone from the saved session; GitHub's is kept (re-indexed).
    cookies = fc_cookies(refused)
    assert cookies["__FC_1"][1] == DELETED
    assert decrypt(cookies["__FC_0"][0])["connection"] == GITHUB
    session = await harness.session()
    assert [e.connection for e in session.connection_token_sets] == [GITHUB]
    assert (await harness.vault(GITHUB)).status_code == 200  # still cached


async def test_unknown_or_unlinked_connections_are_refused(harness: Harness) -> None:
    await harness.login()
    for connection in ("slack", "bitbucket"):  # enabled but not linked; not configured
        response = await harness.vault(connection)
        assert response.status_code == 401
        assert response.json() == {
            "error": "failed_to_exchange_refresh_token",
            "cause": "federated_connection_refresh_token_not_found",
        }
        assert not fc_cookies(response)
    response = await harness.vault(GOOGLE, login_hint="someone-else@gmail.com")
    assert response.json()["cause"] == "federated_connection_refresh_token_not_found"
    log = (await harness.op.exchanges())[-3:]
    assert [e["outcome"] for e in log] == ["federated_connection_refresh_token_not_found"] * 3
    assert (await harness.session()).connection_token_sets == []

    # A cached (expired) token for a connection the tenant no longer knows is dropped when
    # the exchange is refused; the other cached token stays.
    google = (await harness.vault(GOOGLE)).json()
    harness.browser.cookies["__FC_1"] = CODEC.encrypt(
        {"accessToken": "old-bitbucket", "expiresAt": int(time.time()) - 10, "connection": "bb"},
        exp=int(time.time()) + 3600,
    )
    assert len((await harness.session()).connection_token_sets) == 2
    refused = await harness.vault("bb")
    assert refused.json()["cause"] == "federated_connection_refresh_token_not_found"
    assert fc_cookies(refused)["__FC_1"][1] == DELETED
    session = await harness.session()
    assert [(e.connection, e.access_token) for e in session.connection_token_sets] == [
        (GOOGLE, google["token"])
    ]


async def test_a_user_without_linked_accounts_is_refused(vault_op: VaultProvider) -> None:
    async with harness_for(vault_op) as h:
        await h.login(BOB["sub"])
        response = await h.vault(GOOGLE)
        assert response.json() == {
            "error": "failed_to_exchange_refresh_token",
            "cause": "federated_connection_refresh_token_not_found",
        }
        assert (await vault_op.exchanges())[-1]["sub"] == BOB["sub"]


async def test_a_client_without_the_grant_is_refused(vault_op: VaultProvider) -> None:
    async with harness_for(vault_op, client_id=PLAIN_CLIENT) as h:
        await h.login()
        count = len(await vault_op.exchanges())
        response = await h.vault(GOOGLE)
        assert response.json() == {
            "error": "failed_to_exchange_refresh_token",
            "cause": "unauthorized_client",
        }
        [record] = (await vault_op.exchanges())[count:]
        assert record["client_id"] == PLAIN_CLIENT and record["outcome"] == "unauthorized_client"


async def test_invalid_input_and_missing_session_never_reach_the_provider(
    harness: Harness,
) -> None:
    count = len(await harness.op.exchanges())
    anonymous = await harness.vault(GOOGLE)
    assert anonymous.json() == {"error": "missing_session", "cause": "NoneType"}
    await harness.login()
    request = _request(harness.browser.cookies)
    for options in (
        {"connection": "google-oauth2&connection=github"},
        {"connection": ""},
        {"connection": GOOGLE, "login_hint": "a\r\nb"},
        {"connection": GOOGLE, "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
    ):
        with pytest.raises(InvalidRequestError):
            await harness.auth0.get_access_token_for_connection(request, **options)
    assert len(await harness.op.exchanges()) == count


def _request(cookies: dict[str, str]) -> Any:
    from auth0_web import Request

    return Request(method="GET", scheme="http", host="127.0.0.1", path="/", cookies=dict(cookies))


# --------------------------------------------------------------------------- cookies


async def test_rolling_update_session_and_logout_handle_the_connection_cookies(
    harness: Harness,
) -> None:
    await harness.login()
    google = (await harness.vault(GOOGLE)).json()
    await harness.vault(GITHUB)
    count = len(await harness.op.exchanges())

    # A rolling request re-writes both cookies with the session's new expiry.
    harness.clock.offset = 600
    rolled = await harness.browser.get("/")
    written = fc_cookies(rolled)
    assert sorted(written) == ["__FC_0", "__FC_1"]
    assert [decrypt(written[n][0])["connection"] for n in ("__FC_0", "__FC_1")] == [GOOGLE, GITHUB]
    main_attrs = set_cookies(rolled)["__session"][1]
    assert written["__FC_0"][1]["max-age"] == main_attrs["max-age"]

    # update_session() from the app keeps them.
    updated = await harness.browser.post("/update", json={"theme": "dark"})
    assert updated.status_code == 200
    assert sorted(fc_cookies(updated)) == ["__FC_0", "__FC_1"]
    session = await harness.session()
    assert session.extra["theme"] == "dark"
    assert (await harness.vault(GOOGLE)).json() == google
    assert len(await harness.op.exchanges()) == count

    # Logout deletes every one of them.
    logout = await harness.browser.get("/auth/logout")
    deleted = fc_cookies(logout)
    assert sorted(deleted) == ["__FC_0", "__FC_1"]
    assert all(attrs == DELETED for _, attrs in deleted.values())
    assert not any(name.startswith("__FC_") for name in harness.browser.cookies)


async def test_a_new_login_drops_the_previous_users_connection_cookies(harness: Harness) -> None:
    await harness.login()
    await harness.vault(GOOGLE)
    assert "__FC_0" in harness.browser.cookies
    # Bob logs in on the same browser (a new provider session: the login page again).
    harness.op_http.cookies.clear()
    await login(harness.browser, harness.op_http, sub=BOB["sub"])
    assert "__FC_0" not in harness.browser.cookies
    assert (await harness.session()).user["sub"] == BOB["sub"]


async def test_stateful_sessions_keep_connection_tokens_in_the_record(
    vault_op: VaultProvider,
) -> None:
    store = MemorySessionStore()
    async with harness_for(vault_op, session_store=store) as h:
        await h.login()
        count = len(await vault_op.exchanges())
        first = await h.vault(GOOGLE)
        assert first.status_code == 200
        assert not fc_cookies(first)
        assert list(set_cookies(first)) == ["__session"]
        [(_, raw)] = store._records.values()
        assert '"connectionTokenSets"' in raw and first.json()["token"] in raw

        second = await h.vault(GOOGLE)
        assert second.json() == first.json()
        assert len(await vault_op.exchanges()) == count + 1
        rolled = await h.browser.get("/")
        assert not fc_cookies(rolled)
        assert not any(name.startswith("__FC_") for name in h.browser.cookies)
        session = await h.session()
        assert [e.connection for e in session.connection_token_sets] == [GOOGLE]


async def test_concurrent_calls_share_one_exchange(harness: Harness) -> None:
    await harness.login()
    count = len(await harness.op.exchanges())
    responses = await asyncio.gather(*(harness.vault(GITHUB) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["token"] for r in responses}) == 1
    assert len(await harness.op.exchanges()) == count + 1
