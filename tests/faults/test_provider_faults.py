"""Fault injection: every SDK call to the provider, against every way the provider can fail.

Rows (:data:`CALLS`): discovery (at login; at a refresh by an instance that has not
discovered yet; at back-channel logout), the JWKS (at the callback; at back-channel
logout), the code exchange at the callback, the refresh (``get_access_token`` in the app
and ``/auth/access-token``), PAR, revocation at logout, the MFA API, Token Vault, CIBA and
the My Account API's connected accounts.

Columns (:data:`FAULTS`), all real servers on 127.0.0.1 (the scripted OP behind the fault
gateways of :mod:`tests.faults.gateway`, ``http_timeout`` 0.5 s):

* ``refused``: the provider is down (its port refuses connections), then started again on
  the same port;
* transport faults: ``reset`` (connection dropped), ``hang`` (never answers), ``slow``
  (answers, but slower than ``http_timeout``), ``truncated`` (``Content-Length`` larger
  than what is sent, then close), ``huge`` and ``huge-chunked`` (more than the 1 MiB cap);
* answer faults: ``500-json``, ``500-text``, ``502-html``, ``503-json``, ``503-empty``,
  ``html-200``, ``html-404``, ``invalid-json``, ``wrong-types``.

Each case asserts the documented error and status (never a 500 with a traceback; the
provider unreachable at the callback is the documented 500 text), that the user's session
cookie was neither written nor deleted and still works during the outage, that no token or
secret appears in the answer or in any log record, and that once the fault is gone the
*same* ``Auth0Client`` serves the call again (nothing failed was cached, a refresh that
timed out can be retried).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest

from auth0_web import MemorySessionStore, Request, SessionData
from auth0_web._connection_tokens import (
    FEDERATED_CONNECTION_GRANT,
    FEDERATED_CONNECTION_TOKEN_TYPE,
)
from auth0_web._mfa import seal_context
from tests.attacks.helpers import (
    MSG_EXCHANGE,
    assert_error_response,
    assert_no_session_written,
    assert_txn_deleted,
    start_login,
    state_of,
    txn_set_cookies,
)
from tests.support.apps import Browser
from tests.support.scripted_op import RecordedRequest

from .gateway import TRANSPORT_FAULTS
from .helpers import (
    CIBA_USER,
    Env,
    assert_nothing_leaked,
    cookie_session,
    new_env,
    session_cookies,
    token_secrets,
)
from .provider import ANSWER_FAULTS, FaultOP, answer_fault

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

LOGIN_FAILED = "An error occurred while trying to initiate the login request."
REFRESH_FAILED = "The access token has expired and there was an error while trying to refresh it."
BCL_NO_CONFIGURATION = "The authorization server's configuration could not be loaded."
BCL_NO_KEYS = "The authorization server's keys could not be loaded."
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/jwks.json"
TOKEN = "/oauth/token"
ACCOUNTS = "/me/v1/connected-accounts/accounts"
CIBA_GRANT = "urn:openid:params:grant-type:ciba"


# --------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str
    #: ``refused`` (nothing listens), ``transport`` (no usable answer), ``answer`` (a
    #: complete HTTP answer that is not what the endpoint promises).
    kind: str

    @property
    def answered(self) -> bool:
        return self.kind == "answer"

    @property
    def status(self) -> int | None:
        """The provider's HTTP status, for answer faults."""
        return ANSWER_FAULTS[self.name]("/")[0] if self.answered else None

    @property
    def oauth_error(self) -> str | None:
        """The OAuth ``error`` code the answer carries (JSON error answers only)."""
        return {"500-json": "server_error", "503-json": "temporarily_unavailable"}.get(self.name)

    def __str__(self) -> str:
        return self.name


FAULTS = [
    Fault("refused", "refused"),
    *(Fault(name, "transport") for name in TRANSPORT_FAULTS),
    *(Fault(name, "answer") for name in ANSWER_FAULTS),
]


def inject(env: Env, fault: Fault, path: str) -> None:
    gateway = env.op.gateway_for(path)
    if fault.kind == "refused":
        gateway.down()
    elif fault.kind == "transport":
        gateway.fail(path, fault.name)  # type: ignore[arg-type]
    else:
        env.op.scenario.responses[path] = answer_fault(fault.name, path)


def heal(env: Env) -> None:
    env.op.heal()
    env.install_normal()


# --------------------------------------------------------------------------------------
# Steps shared by the calls
# --------------------------------------------------------------------------------------


async def login(env: Env, browser: Browser | None = None) -> httpx.Response:
    """A whole login in ``browser`` (default: the one on the client under test)."""
    browser = browser or env.browser
    callback = await env.authorize(await start_login(browser))
    response = await browser.get(callback)
    assert response.status_code == 307, (response.status_code, response.text)
    assert session_cookies(browser), "the login wrote no session"
    return response


async def seeded_session(env: Env) -> None:
    """A session made by the other instance, so the client under test stays cold."""
    await login(env, env.seed_browser)
    env.browser.cookies.update(env.seed_browser.cookies)


async def current_session(env: Env) -> SessionData | None:
    request = Request(
        method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=env.browser.cookies
    )
    return await env.auth0.get_session(request)


async def assert_session_works(env: Env) -> None:
    profile = await env.browser.get("/auth/profile")
    assert profile.status_code == 200, (profile.status_code, profile.text)
    assert profile.json()["sub"] == env.op.scenario.user["sub"]


def expired_tokens_with_refresh(env: Env) -> None:
    """Logins hand out an already expired access token and a refresh token.

    A request the SDK gave up on may still reach the provider and be answered there (the
    ``slow`` fault does exactly that; so can any request on a busy machine): a rotating
    provider has then used the refresh token up. Auth0 accepts the previous refresh token
    for a reuse interval; the scripted OP plays that by not rotating.
    """
    env.op.scenario.access_token_ttl = 0
    env.op.scenario.always_refresh_token = True
    env.op.scenario.rotate_refresh_tokens = False


def json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.json() == {"error": code}, response.text


def token_response(**extra: Any) -> tuple[int, dict[str, str], bytes]:
    body = {"token_type": "Bearer", "expires_in": 3600, **extra}
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    return 200, headers, json.dumps(body).encode()


# --------------------------------------------------------------------------------------
# Calls
# --------------------------------------------------------------------------------------


class Call:
    name: ClassVar[str]
    #: The provider path the fault hits.
    path: ClassVar[str]
    #: The call leaves the session as it was (logout is the exception: it ends it anyway).
    keeps_session: ClassVar[bool] = True

    def options(self) -> dict[str, Any]:
        return {}

    def sent_on_purpose(self, session: SessionData) -> set[str]:
        """Tokens the answer carries by design (never any in the logs)."""
        return set()

    async def prepare(self, env: Env, fault: Fault) -> None:
        raise NotImplementedError

    async def trigger(self, env: Env) -> httpx.Response:
        raise NotImplementedError

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        raise NotImplementedError

    async def check_recovery(self, env: Env) -> None:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


class LoginDiscovery(Call):
    name = "login-discovery"
    path = DISCOVERY

    async def prepare(self, env: Env, fault: Fault) -> None:
        await seeded_session(env)

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/auth/login")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        assert_error_response(response, 500, LOGIN_FAILED, no_store=False)
        assert txn_set_cookies(response) == []

    async def check_recovery(self, env: Env) -> None:
        response = await env.browser.get("/auth/login")
        assert response.status_code == 307
        assert response.headers["location"].startswith(env.op.url("/authorize") + "?")


class CallbackExchange(Call):
    name = "callback-exchange"
    path = TOKEN

    async def prepare(self, env: Env, fault: Fault) -> None:
        await login(env)
        authorize_url = await start_login(env.browser)
        self.state = state_of(authorize_url)
        self.callback = await env.authorize(authorize_url)

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get(self.callback)

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        # No usable answer: 500 (AuthorizationCodeGrantRequestError); an answer that is not
        # tokens, whatever its status: 400 (AuthorizationCodeGrantError). Same text.
        assert_error_response(response, 400 if fault.answered else 500, MSG_EXCHANGE)
        assert_txn_deleted(response, self.state)

    async def check_recovery(self, env: Env) -> None:
        before = session_cookies(env.browser)
        await login(env)
        assert session_cookies(env.browser) != before


class CallbackKeys(CallbackExchange):
    name = "callback-jwks"
    path = JWKS

    async def prepare(self, env: Env, fault: Fault) -> None:
        await seeded_session(env)  # the client under test has never fetched the keys
        authorize_url = await start_login(env.browser)
        self.state = state_of(authorize_url)
        self.callback = await env.authorize(authorize_url)
        self.exchanges = env.op.count(TOKEN)

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        # The code was exchanged; the ID token could not be checked: never a session, and
        # a key set that could not be loaded is the provider's failure (500), not a 400.
        assert env.op.count(TOKEN) == self.exchanges + 1
        assert_error_response(response, 500, MSG_EXCHANGE)
        assert_txn_deleted(response, self.state)


class RefreshInApp(Call):
    name = "refresh-get_access_token"
    path = TOKEN

    async def prepare(self, env: Env, fault: Fault) -> None:
        expired_tokens_with_refresh(env)
        await login(env)

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/t/token")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        json_error(response, 401, "failed_to_refresh_token")

    async def check_recovery(self, env: Env) -> None:
        before = session_cookies(env.browser)
        response = await env.browser.get("/t/token")
        assert response.status_code == 200, response.text
        assert session_cookies(env.browser) != before, "the refreshed tokens were not saved"


class RefreshRoute(RefreshInApp):
    name = "refresh-access-token-route"

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/auth/access-token")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        assert response.status_code == 401, (response.status_code, response.text)
        assert response.json() == {
            "error": {"message": REFRESH_FAILED, "code": "failed_to_refresh_token"}
        }
        assert "no-store" in response.headers["cache-control"]

    async def check_recovery(self, env: Env) -> None:
        response = await env.browser.get("/auth/access-token")
        assert response.status_code == 200, response.text
        assert response.json()["token"]


class RefreshColdDiscovery(RefreshRoute):
    """An instance that started during the outage: its first refresh needs discovery."""

    name = "refresh-discovery"
    path = DISCOVERY

    async def prepare(self, env: Env, fault: Fault) -> None:
        expired_tokens_with_refresh(env)
        await seeded_session(env)


class BackchannelDiscovery(Call):
    name = "backchannel-logout-discovery"
    path = DISCOVERY
    expected = BCL_NO_CONFIGURATION

    def options(self) -> dict[str, Any]:
        return {"session_store": MemorySessionStore()}

    async def prepare(self, env: Env, fault: Fault) -> None:
        await seeded_session(env)
        session = await current_session(env)
        assert session is not None
        self.token = env.op.logout_token(sid=session.internal.sid, sub=session.user["sub"])

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.post("/auth/backchannel-logout", data={"logout_token": self.token})

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        assert response.status_code == 503, (response.status_code, response.text)
        assert response.text == self.expected
        assert "no-store" in response.headers["cache-control"]

    async def check_recovery(self, env: Env) -> None:
        # The very same token (its jti was not used up by the failed attempt).
        response = await self.trigger(env)
        assert response.status_code == 204, response.text
        assert (await env.browser.get("/auth/profile")).status_code == 401


class BackchannelKeys(BackchannelDiscovery):
    name = "backchannel-logout-jwks"
    path = JWKS
    expected = BCL_NO_KEYS

    async def prepare(self, env: Env, fault: Fault) -> None:
        await super().prepare(env, fault)
        warm = await env.browser.get("/auth/login")  # discovery only; the keys stay cold
        assert warm.status_code == 307


class PushedAuthorization(Call):
    name = "par"
    path = "/oauth/par"

    def options(self) -> dict[str, Any]:
        return {"pushed_authorization_requests": True}

    async def prepare(self, env: Env, fault: Fault) -> None:
        await login(env)

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/auth/login")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        assert_error_response(response, 500, LOGIN_FAILED, no_store=False)
        assert txn_set_cookies(response) == []

    async def check_recovery(self, env: Env) -> None:
        response = await env.browser.get("/auth/login")
        assert response.status_code == 307
        assert "request_uri=" in response.headers["location"]


class RevocationAtLogout(Call):
    """Revocation is best effort: a logout always ends the local session and goes on to the
    provider's logout, whatever the revocation endpoint does."""

    name = "logout-revocation"
    path = "/oauth/revoke"
    keeps_session = False

    def sent_on_purpose(self, session: SessionData) -> set[str]:
        # RP-initiated logout sends the ID token to the provider as ``id_token_hint``.
        return {session.token_set.id_token} if session.token_set.id_token else set()

    async def prepare(self, env: Env, fault: Fault) -> None:
        env.op.scenario.always_refresh_token = True
        await login(env)

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/auth/logout")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        assert response.status_code == 307, (response.status_code, response.text)
        assert response.headers["location"].startswith(env.op.url("/oidc/logout") + "?")
        assert session_cookies(env.browser) == {}

    async def check_recovery(self, env: Env) -> None:
        await login(env)
        session = cookie_session(env.browser)
        assert session is not None
        response = await env.browser.get("/auth/logout")
        assert response.status_code == 307
        assert session["tokenSet"]["refreshToken"] in env.op.revoked


class MfaAuthenticators(Call):
    name = "mfa-authenticators"
    path = "/mfa/authenticators"

    async def prepare(self, env: Env, fault: Fault) -> None:
        await login(env)
        raw = "mfa-" + secrets.token_urlsafe(24)
        env.secrets.append(raw)

        def authenticators(request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
            if request.headers.get("authorization") != f"Bearer {raw}":
                return 401, {"content-type": "application/json"}, b'{"error":"invalid_token"}'
            body = b'[{"id":"totp|dev_1","authenticator_type":"otp","active":true}]'
            return 200, {"content-type": "application/json"}, body

        env.normal[self.path] = authenticators
        env.install_normal()
        session = await current_session(env)
        self.sealed = seal_context(
            env.auth0._rt,
            raw_token=raw,
            audience=None,
            scope=None,
            requested_scope=None,
            requirements=None,
            session=session,
        )

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get(
            "/auth/mfa/authenticators", headers={"authorization": f"Bearer {self.sealed}"}
        )

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        # The server's refusal (a JSON error) is passed on by its code with a 400; anything
        # else is the SDK's "unexpected_error" 500, without details.
        code = fault.oauth_error
        assert response.status_code == (400 if code else 500), response.text
        assert response.json()["error"] == (code or "unexpected_error")
        assert response.json()["error_description"] == "Failed to retrieve the MFA authenticators."
        assert "no-store" in response.headers["cache-control"]

    async def check_recovery(self, env: Env) -> None:
        response = await self.trigger(env)
        assert response.status_code == 200, response.text
        assert [a["id"] for a in response.json()] == ["totp|dev_1"]


class TokenVault(Call):
    name = "token-vault"
    path = TOKEN

    async def prepare(self, env: Env, fault: Fault) -> None:
        env.op.scenario.always_refresh_token = True

        def exchange(request: RecordedRequest) -> Any:
            if request.form.get("grant_type") != FEDERATED_CONNECTION_GRANT:
                return None
            return token_response(
                access_token="vault-" + secrets.token_urlsafe(16),
                issued_token_type=FEDERATED_CONNECTION_TOKEN_TYPE,
                scope="email",
            )

        env.normal[TOKEN] = exchange
        env.install_normal()
        await login(env)

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/t/vault")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        json_error(response, 401, "failed_to_exchange_refresh_token")

    async def check_recovery(self, env: Env) -> None:
        response = await env.browser.get("/t/vault")
        assert response.status_code == 200, response.text
        assert response.json() == {"connection": "google-oauth2"}


class Ciba(Call):
    name = "ciba"
    path = "/bc-authorize"

    async def prepare(self, env: Env, fault: Fault) -> None:
        op = env.op
        endpoint = op.url(self.path)
        op.scenario.discovery = lambda doc: {
            **doc,
            "backchannel_authentication_endpoint": endpoint,
        }

        def authorize(request: RecordedRequest) -> Any:
            body = {"auth_req_id": secrets.token_urlsafe(12), "expires_in": 60, "interval": 1}
            return 200, {"content-type": "application/json"}, json.dumps(body).encode()

        def poll(request: RecordedRequest) -> Any:
            if request.form.get("grant_type") != CIBA_GRANT:
                return None
            return token_response(
                access_token="ciba-" + secrets.token_urlsafe(16),
                id_token=op.id_token_for(CIBA_USER),
                scope="openid profile email",
            )

        env.normal[self.path] = authorize
        env.normal[TOKEN] = poll
        env.install_normal()
        await login(env)
        warm = await self.trigger(env)  # discovery is known before the fault
        assert warm.status_code == 200, warm.text

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/t/ciba")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        json_error(response, 500, "backchannel_authentication_error")

    async def check_recovery(self, env: Env) -> None:
        response = await self.trigger(env)
        assert response.status_code == 200, response.text
        assert response.json() == {"sub": CIBA_USER}


class ConnectedAccounts(Call):
    name = "connected-accounts"
    path = ACCOUNTS

    async def prepare(self, env: Env, fault: Fault) -> None:
        op = env.op
        op.scenario.always_refresh_token = True
        my_account = op.issuer + "me/"

        def my_account_token(request: RecordedRequest) -> Any:
            form = request.form
            if form.get("grant_type") != "refresh_token" or form.get("audience") != my_account:
                return None
            return token_response(
                access_token="myacct-" + secrets.token_urlsafe(16),
                scope="read:me:connected_accounts",
            )

        def accounts(request: RecordedRequest) -> Any:
            body = b'{"accounts":[{"id":"cac_1","connection":"google-oauth2","scopes":["email"]}]}'
            return 200, {"content-type": "application/json"}, body

        env.normal[TOKEN] = my_account_token
        env.normal[ACCOUNTS] = accounts
        env.install_normal()
        await login(env)
        warm = await self.trigger(env)  # the My Account token is in the session now
        assert warm.status_code == 200, warm.text

    async def trigger(self, env: Env) -> httpx.Response:
        return await env.browser.get("/t/accounts")

    def check_failure(self, env: Env, response: httpx.Response, fault: Fault) -> None:
        # An error status from the API is passed on; anything else about the answer is 500.
        status = fault.status if fault.status is not None and fault.status >= 400 else 500
        json_error(response, status, "failed_to_list")

    async def check_recovery(self, env: Env) -> None:
        response = await self.trigger(env)
        assert response.status_code == 200, response.text
        assert response.json() == {"connections": ["google-oauth2"]}


CALLS: list[Call] = [
    LoginDiscovery(),
    CallbackExchange(),
    CallbackKeys(),
    RefreshInApp(),
    RefreshRoute(),
    RefreshColdDiscovery(),
    BackchannelDiscovery(),
    BackchannelKeys(),
    PushedAuthorization(),
    RevocationAtLogout(),
    MfaAuthenticators(),
    TokenVault(),
    Ciba(),
    ConnectedAccounts(),
]


# --------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("call", CALLS, ids=str)
async def test_provider_fault(
    call: Call, fault: Fault, fault_op: FaultOP, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="auth0_web")
    call = type(call)()  # per-test state (callback URLs, tokens) lives on the instance
    env = new_env(fault_op, **call.options())
    try:
        await call.prepare(env, fault)
        before = session_cookies(env.browser)
        session = await current_session(env)
        assert session is not None
        held = token_secrets(session)
        assert held, "the session holds no tokens to watch for"

        inject(env, fault, call.path)
        response = await call.trigger(env)
        call.check_failure(env, response, fault)
        assert_nothing_leaked(None, caplog.records, env.secrets + held)
        on_purpose = call.sent_on_purpose(session)
        answer_secrets = [s for s in env.secrets + held if s not in on_purpose]
        assert_nothing_leaked(response, [], answer_secrets)
        if call.keeps_session:
            assert_no_session_written(response)
            assert session_cookies(env.browser) == before
            await assert_session_works(env)  # during the outage

        heal(env)
        await call.check_recovery(env)  # the same Auth0Client, nothing restarted
        after = token_secrets(await current_session(env))
        assert_nothing_leaked(None, caplog.records, env.secrets + held + after)
    finally:
        await env.aclose()
