"""Signing-key rotation mid-flight, on the real ``oidc-provider`` (``POST /test/rotate-keys``).

The provider rotates its signing key between a login and a refresh, and between two logins
(retiring the old key). The SDK, holding the old key set, meets an unknown ``kid``, fetches
the JWKS once more and carries on; a further token with that ``kid`` causes no fetch. A token
signed with a key the provider never published is still refused, and costs at most one
fetch. Counting uses the SDK's own outbound calls.

Last, on the scripted OP: the key set cannot be fetched at the moment a rotated key first
appears; once the provider is back, the very next login works (the failed fetch neither
stuck nor started the refetch cooldown).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from auth0_web import Auth0Client, MemorySessionStore, Request
from tests.attacks.helpers import MSG_EXCHANGE, assert_error_response, full_login
from tests.integration.helpers import RecordingTransport, login, record_outbound
from tests.support.apps import Browser, make_client
from tests.support.oidc_provider import OidcProvider
from tests.support.op_fixtures import ALICE, BOB, new_client_secret
from tests.support.op_fixtures import make_client as client_metadata
from tests.support.scripted_op import b64url_decode, jws_compact, signer

from .helpers import HTTP_TIMEOUT, fault_app, plain_http
from .provider import BCL_EVENT, FaultOP

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CLIENT_ID = "rotation-app"
SECRET_OF_CLIENT = new_client_secret()


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    """A provider of its own: rotating keys must not surprise other modules' clients."""
    client = client_metadata(CLIENT_ID, SECRET_OF_CLIENT, "client_secret_post")
    with OidcProvider(clients=[client], users=[ALICE, BOB]) as op:
        yield op


async def rotate(op: OidcProvider, *, retire: bool = False) -> str:
    """Rotate the provider's signing key; the new ``kid``."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            op.url("/test/rotate-keys"), data={"retire": "yes" if retire else "no"}
        )
    response.raise_for_status()
    kid: str = response.json()["kid"]
    return kid


def kid_of(token: str) -> str:
    kid: str = json.loads(b64url_decode(token.split(".")[0]))["kid"]
    return kid


@dataclass
class App:
    op: OidcProvider
    auth0: Auth0Client
    wire: RecordingTransport
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def key_fetches(self) -> int:
        return len(self.wire.to(self.op.url("/.well-known/jwks.json")))

    async def user(self, sub: str) -> Browser:
        browser = Browser(fault_app(self.auth0))
        op_http = httpx.AsyncClient()
        self.clients += [browser.client, op_http]
        await login(browser, op_http, sub=sub)
        return browser

    def logout_token(self, header: dict[str, Any], key: Any, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": self.op.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(12),
            "sub": ALICE["sub"],
            "events": {BCL_EVENT: {}},
            **claims,
        }
        return jws_compact({"typ": "logout+jwt", **header}, payload, signer("RS256", key))


@pytest.fixture
async def app(provider: OidcProvider) -> AsyncIterator[App]:
    auth0 = make_client(
        provider,
        client_id=CLIENT_ID,
        client_secret=SECRET_OF_CLIENT,
        session_store=MemorySessionStore(),  # back-channel logout needs a store
    )
    found = App(provider, auth0, record_outbound(auth0))
    try:
        yield found
    finally:
        for client in found.clients:
            await client.aclose()
        await auth0.aclose()


async def id_token_of(app: App, browser: Browser) -> str:
    request = Request(
        method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=browser.cookies
    )
    session = await app.auth0.get_session(request)
    assert session is not None and session.token_set.id_token
    return session.token_set.id_token


async def forced_refresh(browser: Browser) -> None:
    response = await browser.get("/t/refresh")
    assert response.status_code == 200, response.text


async def test_rotation_between_login_and_refresh(app: App) -> None:
    browser = await app.user(ALICE["sub"])
    first_kid = kid_of(await id_token_of(app, browser))
    assert app.key_fetches == 1

    new_kid = await rotate(app.op)  # the old key stays published, as Auth0 does
    assert new_kid != first_kid
    await forced_refresh(browser)
    assert kid_of(await id_token_of(app, browser)) == new_kid
    assert app.key_fetches == 2, "an unknown kid is fetched once"

    await forced_refresh(browser)
    assert app.key_fetches == 2, "a known kid costs no fetch"
    assert (await browser.get("/auth/profile")).json()["sub"] == ALICE["sub"]

    # A key the provider never published (new kid, or the provider's kid with another
    # key): refused; the refetch cooldown is running, so no fetch either.
    stranger = RSAKey.generate_key(2048)
    for kid, reason in (
        ("never-published", "no matching signing key"),
        (new_kid, "signature verification failed"),
    ):
        token = app.logout_token({"alg": "RS256", "kid": kid}, stranger)
        response = await browser.post("/auth/backchannel-logout", data={"logout_token": token})
        assert (response.status_code, response.text) == (400, f"Invalid logout token: {reason}.")
    assert app.key_fetches == 2
    assert (await browser.get("/auth/profile")).status_code == 200


async def test_rotation_between_two_logins(app: App) -> None:
    alice = await app.user(ALICE["sub"])
    assert app.key_fetches == 1

    new_kid = await rotate(app.op, retire=True)  # the key that signed Alice's login is gone
    bob = await app.user(BOB["sub"])
    assert kid_of(await id_token_of(app, bob)) == new_kid
    assert app.key_fetches == 2

    # Alice's session needs no key; her next refresh is signed with the new one (known).
    assert (await alice.get("/auth/profile")).json()["sub"] == ALICE["sub"]
    await forced_refresh(alice)
    assert kid_of(await id_token_of(app, alice)) == new_kid
    assert app.key_fetches == 2
    assert (await bob.get("/auth/profile")).json()["sub"] == BOB["sub"]


async def test_never_published_key_costs_one_fetch(app: App) -> None:
    browser = Browser(fault_app(app.auth0))
    app.clients.append(browser.client)
    stranger = RSAKey.generate_key(2048)
    for _ in range(3):
        token = app.logout_token({"alg": "RS256", "kid": "k-" + secrets.token_hex(4)}, stranger)
        response = await browser.post("/auth/backchannel-logout", data={"logout_token": token})
        assert (response.status_code, response.text) == (
            400,
            "Invalid logout token: no matching signing key.",
        )
    # The first token: the key set (cold) and one refetch for its unknown kid; then the
    # cooldown holds. A genuine login still verifies without another fetch.
    assert app.key_fetches == 2
    await app.user(ALICE["sub"])
    assert app.key_fetches == 2


async def test_rotated_key_while_keys_unreachable(fault_op: FaultOP) -> None:
    auth0 = plain_http(
        make_client(
            fault_op,
            client_id=fault_op.client_id,
            client_secret=fault_op.client_secret,
            http_timeout=HTTP_TIMEOUT,
        )
    )
    browser = Browser(fault_app(auth0))
    try:
        assert (await full_login(browser, fault_op)).status_code == 307  # keys cached
        fault_op.rotate_keys()
        fault_op.keys_front.fail("/.well-known/jwks.json", "reset")
        assert_error_response(await full_login(browser, fault_op), 500, MSG_EXCHANGE)
        fault_op.heal()
        assert (await full_login(browser, fault_op)).status_code == 307
        assert fault_op.keys_front.requests_to("/.well-known/jwks.json") == 3
    finally:
        await browser.client.aclose()
        await auth0.aclose()
