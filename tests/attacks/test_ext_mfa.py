"""Group I, EXT-06 (MFA endpoint inputs) and EXT-08 (CSRF on the state-changing JSON routes).

Against the real ``oidc-provider`` with Auth0's MFA API (``tests/op/auth0_mfa.mjs``): Alice and
Bob each have an authenticator app, and ``MFA_API`` needs a second factor. A sealed MFA token
is obtained the way a browser gets it (``/auth/access-token`` answering 403 ``mfa_required``)
and then attacked: altered, cut short, expired (the SDK's clock), sealed by another app,
replaced by a session cookie, used by another user or another login, oversized, or sent with
the wrong type. Each case asserts the status and error code, that the SDK made no call to the
provider's MFA API or MFA grants, that no cookie was written (the session is unchanged), and
that the provider's raw ``mfa_token`` appears in no answer.

The one misbehaviour a real provider will not perform, an MFA grant answering with another
user's ID token, uses the scripted OP.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from auth0_web import Auth0Client, MfaTokenExpiredError, MfaTokenInvalidError, Response
from auth0_web.session._codec import CookieCodec
from tests.integration.helpers import RecordingTransport, form_of, login, record_outbound
from tests.support.apps import SECRET, Browser, make_app, make_client
from tests.support.mfa import (
    MFA_API,
    MFA_CLIENT_ID,
    OTP_SECRET,
    mfa_provider,
    mfa_user,
    totp,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.op_fixtures import ALICE, new_client_secret
from tests.support.scripted_op import ScriptedOP

from .conftest import Harness
from .helpers import APP_ORIGIN, full_login

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CLIENT_SECRET = new_client_secret()
BOB_SECRET = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"
ALICE_MFA = {**ALICE, "mfa": {"otp_secret": OTP_SECRET}}
BOB_MFA = mfa_user("auth0|bob-mfa", "Bob", otp_secret=BOB_SECRET)
NO_STORE = "private, no-cache, no-store, must-revalidate, max-age=0"
TTL = 300

AUTHENTICATORS = "/auth/mfa/authenticators"
CHALLENGE = "/auth/mfa/challenge"
ASSOCIATE = "/auth/mfa/associate"
VERIFY = "/auth/mfa/verify"
#: (method, path, a valid body) of every MFA route.
ROUTES = [
    ("GET", AUTHENTICATORS, None),
    ("POST", CHALLENGE, {"challenge_type": "otp"}),
    ("POST", ASSOCIATE, {"authenticator_types": ["otp"]}),
    ("POST", VERIFY, {"otp": "123456"}),
]
POST_ROUTES = [route for route in ROUTES if route[0] == "POST"]


@pytest.fixture(scope="module")
def mfa_op() -> Iterator[OidcProvider]:
    with mfa_provider([ALICE_MFA, BOB_MFA], CLIENT_SECRET) as provider:
        yield provider


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class App:
    """One application (``Auth0Client`` + ASGI app) that several browsers use."""

    op: OidcProvider
    auth0: Auth0Client
    wire: RecordingTransport
    clock: Clock
    browsers: list[tuple[Browser, httpx.AsyncClient]]

    async def login(self, sub: str = ALICE["sub"]) -> Browser:
        browser = Browser(make_app(self.auth0))
        op_http = httpx.AsyncClient()
        self.browsers.append((browser, op_http))
        await login(browser, op_http, sub=sub)
        return browser

    async def sealed(self, browser: Browser) -> str:
        response = await browser.get("/auth/access-token", params={"audience": MFA_API})
        assert response.status_code == 403, response.text
        token: str = response.json()["mfa_token"]
        return token

    def mfa_calls(self) -> list[str]:
        """Calls the SDK made to the MFA API or with an MFA grant."""
        calls = [c.url for c in self.wire.calls if "/mfa/" in c.url]
        token_endpoint = self.op.url("/oauth/token")
        calls += [
            form_of(c.body)["grant_type"]
            for c in self.wire.to(token_endpoint)
            if "mfa-" in form_of(c.body)["grant_type"]
        ]
        return calls


@pytest.fixture
async def app(mfa_op: OidcProvider) -> AsyncIterator[App]:
    clock = Clock()
    auth0 = make_client(mfa_op, client_id=MFA_CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock)
    found = App(mfa_op, auth0, record_outbound(auth0), clock, [])
    try:
        yield found
    finally:
        for browser, op_http in found.browsers:
            await browser.client.aclose()
            await op_http.aclose()
        await auth0.aclose()


def raw_of(sealed: str) -> str:
    context = CookieCodec([SECRET]).decrypt(sealed, now=time.time())
    assert context is not None
    raw: str = context["mfa_token"]
    return raw


async def send(
    browser: Browser,
    method: str,
    path: str,
    body: Any,
    *,
    token: str | None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    if method == "GET":
        return await browser.get(path, headers=all_headers)
    if content is None:
        content = json.dumps(body).encode()
        all_headers.setdefault("content-type", "application/json")
    return await browser.post(path, content=content, headers=all_headers)


def assert_refused(
    response: httpx.Response, status: int, error: str | None, *raw_tokens: str
) -> None:
    """The status (and JSON error code), no-store, no cookie written, no raw token echoed."""
    assert response.status_code == status, (response.status_code, response.text)
    if error is not None:
        assert response.json()["error"] == error, response.text
        assert response.headers["cache-control"] == NO_STORE
        assert set(response.json()) == {"error", "error_description"}
    assert response.headers.get_list("set-cookie") == []
    for raw in raw_tokens:
        assert raw not in response.text


# --------------------------------------------------------------------------- EXT-06 the token


def _tampered(sealed: str) -> str:
    header, key, iv, ciphertext, tag = sealed.split(".")
    flipped = ("A" if ciphertext[5] != "A" else "B").join((ciphertext[:5], ciphertext[6:]))
    return ".".join((header, key, iv, flipped, tag))


def _foreign(sealed: str) -> str:
    context = CookieCodec([SECRET]).decrypt(sealed, now=time.time())
    assert context is not None
    exp = context.pop("exp")
    return CookieCodec(["another-app-secret-" + "z" * 32]).encrypt(context, exp=exp)


Attack = Callable[[App, Browser, str], Awaitable[tuple[Browser, str]]]


async def _same(app: App, alice: Browser, sealed: str) -> tuple[Browser, str]:
    return alice, sealed


def _changed(change: Callable[[str], str]) -> Attack:
    async def attack(app: App, alice: Browser, sealed: str) -> tuple[Browser, str]:
        return alice, change(sealed)

    return attack


async def _session_cookie(app: App, alice: Browser, sealed: str) -> tuple[Browser, str]:
    # Same key, same format: a session cookie must not pass for an MFA context.
    return alice, alice.cookies["__session"]


async def _expired(app: App, alice: Browser, sealed: str) -> tuple[Browser, str]:
    app.clock.offset += TTL + 1
    return alice, sealed


async def _other_user(app: App, alice: Browser, sealed: str) -> tuple[Browser, str]:
    return await app.login(BOB_MFA["sub"]), sealed


async def _other_login(app: App, alice: Browser, sealed: str) -> tuple[Browser, str]:
    return await app.login(ALICE["sub"]), sealed


async def _no_session(app: App, alice: Browser, sealed: str) -> tuple[Browser, str]:
    anonymous = Browser(make_app(app.auth0))
    app.browsers.append((anonymous, httpx.AsyncClient()))
    return anonymous, sealed


TOKEN_ATTACKS: dict[str, tuple[Attack, str]] = {
    "tampered": (_changed(_tampered), "mfa_token_invalid"),
    "truncated": (_changed(lambda s: s[:-7]), "mfa_token_invalid"),
    "sealed-by-another-app": (_changed(_foreign), "mfa_token_invalid"),
    "garbage": (_changed(lambda s: "not-a-token"), "mfa_token_invalid"),
    "oversized": (_changed(lambda s: s + "A" * 9000), "mfa_token_invalid"),
    "session-cookie": (_session_cookie, "mfa_token_invalid"),
    "expired": (_expired, "mfa_token_expired"),
    "another-users-session": (_other_user, "mfa_token_invalid"),
    "another-login-of-the-same-user": (_other_login, "mfa_token_invalid"),
    "no-session": (_no_session, "mfa_token_invalid"),
}


@pytest.mark.parametrize("attack", sorted(TOKEN_ATTACKS))
@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[r[1] for r in ROUTES])
async def test_ext06_bad_mfa_tokens_get_401_without_any_provider_call(
    app: App, attack: str, method: str, path: str, body: Any
) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    make_attack, error = TOKEN_ATTACKS[attack]
    browser, token = await make_attack(app, alice, sealed)
    cookies = dict(browser.cookies)
    response = await send(browser, method, path, body, token=token)
    assert_refused(response, 401, error, raw_of(sealed))
    assert app.mfa_calls() == []
    assert browser.cookies == cookies


async def test_ext06_the_right_token_in_the_right_session_works(app: App) -> None:
    """The control for the cases above: the same requests succeed unaltered."""
    alice = await app.login()
    sealed = await app.sealed(alice)
    raw = raw_of(sealed)
    listed = await send(alice, "GET", AUTHENTICATORS, None, token=sealed)
    challenge = await send(alice, "POST", CHALLENGE, {"challenge_type": "otp"}, token=sealed)
    verified = await send(alice, "POST", VERIFY, {"otp": totp(OTP_SECRET)}, token=sealed)
    for response in (listed, challenge, verified):
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == NO_STORE
        assert raw not in response.text
    assert verified.json() == {"success": True}  # tokens go to the cookie, never the body
    assert len(app.mfa_calls()) == 3


async def test_ext06_the_server_api_refuses_the_same_tokens(app: App) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    bob = await app.login(BOB_MFA["sub"])
    bob_request = _request(bob)
    for token in (_tampered(sealed), sealed[:-7], _foreign(sealed), 42, ["x"], {"a": 1}, ""):
        with pytest.raises(MfaTokenInvalidError) as caught:
            await app.auth0.mfa.get_authenticators(token, request=_request(alice))
        assert caught.value.status == 401
    with pytest.raises(MfaTokenInvalidError):
        await app.auth0.mfa.challenge(sealed, "otp", request=bob_request)
    with pytest.raises(MfaTokenInvalidError):
        await app.auth0.mfa.verify(
            sealed, otp=totp(OTP_SECRET), request=bob_request, response=Response()
        )
    app.clock.offset += TTL + 1
    with pytest.raises(MfaTokenExpiredError) as expired:
        await app.auth0.mfa.get_authenticators(sealed, request=_request(alice))
    assert expired.value.code == "mfa_token_expired"
    assert app.mfa_calls() == []


def _request(browser: Browser) -> Any:
    from auth0_web import Request

    return Request(
        method="GET", scheme="http", host="127.0.0.1:3000", path="/", cookies=browser.cookies
    )


# --------------------------------------------------------------------------- EXT-06 the values

BAD_TYPES = [42, 1.5, True, None, ["token"], {"token": "x"}, ""]


@pytest.mark.parametrize("value", BAD_TYPES, ids=repr)
async def test_ext06_an_mfa_token_of_the_wrong_type_is_a_400(app: App, value: Any) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    response = await send(
        alice, "POST", CHALLENGE, {"mfa_token": value, "challenge_type": "otp"}, token=None
    )
    assert_refused(response, 400, "invalid_request", raw_of(sealed))
    assert app.mfa_calls() == []


@pytest.mark.parametrize(
    "body",
    [
        {"otp": 123456},
        {"otp": ["123456"]},
        {"otp": {"code": "123456"}},
        {"otp": "12345a"},
        {"otp": "123456", "recovery_code": "ABC"},
        {"oob_code": 7, "binding_code": "123456"},
        {"oob_code": "x", "binding_code": ["1"]},
        {"recovery_code": {"$ne": ""}},
        {"binding_code": "123456"},
        {},
    ],
    ids=json.dumps,
)
async def test_ext06_bad_credentials_are_a_400_before_any_call(
    app: App, body: dict[str, Any]
) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    response = await send(alice, "POST", VERIFY, body, token=sealed)
    assert_refused(response, 400, "invalid_request", raw_of(sealed))
    assert app.mfa_calls() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHALLENGE, {"challenge_type": "sms"}),
        (CHALLENGE, {"challenge_type": ["otp"]}),
        (CHALLENGE, {"challenge_type": "otp", "authenticator_id": {"id": 1}}),
        (ASSOCIATE, {"authenticator_types": ["oob"], "oob_channels": ["sms"]}),
        (ASSOCIATE, {"authenticator_types": ["oob"], "oob_channels": ["sms"], "phone_number": 5}),
        (ASSOCIATE, {"authenticator_types": "otp"}),
        (ASSOCIATE, {"authenticator_types": ["otp", "oob"]}),
    ],
    ids=json.dumps,
)
async def test_ext06_bad_fields_are_a_400_before_any_call(
    app: App, path: str, body: dict[str, Any]
) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    response = await send(alice, "POST", path, body, token=sealed)
    assert_refused(response, 400, "invalid_request", raw_of(sealed))
    assert app.mfa_calls() == []


@pytest.mark.parametrize(("method", "path", "body"), POST_ROUTES, ids=[r[1] for r in POST_ROUTES])
async def test_ext06_one_megabyte_values_are_refused_unread(
    app: App, method: str, path: str, body: dict[str, Any]
) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    huge = dict(body, mfa_token="A" * (1024 * 1024)) if path == CHALLENGE else dict(body)
    if path != CHALLENGE:
        huge[next(iter(body))] = "1" * (1024 * 1024)
    response = await send(alice, method, path, huge, token=sealed if path != CHALLENGE else None)
    assert response.status_code == 413
    assert response.headers.get_list("set-cookie") == []
    assert app.mfa_calls() == []


async def test_ext06_a_one_megabyte_authorization_header_is_a_401(app: App) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    response = await send(alice, "GET", AUTHENTICATORS, None, token="A" * (1024 * 1024))
    assert_refused(response, 401, "mfa_token_invalid", raw_of(sealed))
    assert app.mfa_calls() == []


NOT_A_JSON_OBJECT = [
    ("application/json", b"otp=123456"),
    ("application/json", b'{"otp": "123456"'),
    ("application/json", b'["otp", "123456"]'),
    ("application/json", b'{"otp": NaN}'),
    ("application/json", b'{"otp": "\xff\xfe"}'),
    ("text/plain", b'{"otp": "123456"}'),
    ("application/x-www-form-urlencoded", b"otp=123456"),
    ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="otp"'),
    (None, b'{"otp": "123456"}'),
]
#: Every kind of non-JSON body on verify; the JSON bodies of the other routes sent as
#: text/plain (the CSRF-able kind) or without a Content-Type.
BODY_CASES = [(VERIFY, content_type, content) for content_type, content in NOT_A_JSON_OBJECT] + [
    (path, content_type, json.dumps(body).encode())
    for _, path, body in POST_ROUTES
    if path != VERIFY
    for content_type in ("text/plain", None)
]


@pytest.mark.parametrize(("path", "content_type", "content"), BODY_CASES, ids=lambda v: str(v)[:40])
async def test_ext06_anything_but_a_json_object_is_a_400(
    app: App, path: str, content_type: str | None, content: bytes
) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    headers = {} if content_type is None else {"content-type": content_type}
    response = await send(alice, "POST", path, None, token=sealed, headers=headers, content=content)
    assert_refused(response, 400, "invalid_request", raw_of(sealed))
    assert app.mfa_calls() == []


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer", "Bearer ", "bearer\tx"])
async def test_ext06_a_missing_or_malformed_authorization_header_is_a_400(
    app: App, header: str | None
) -> None:
    alice = await app.login()
    headers = {} if header is None else {"authorization": header}
    response = await send(alice, "POST", VERIFY, {"otp": "123456"}, token=None, headers=headers)
    assert_refused(response, 400, "invalid_request")
    assert app.mfa_calls() == []


# --------------------------------------------------------------------------- EXT-08 CSRF


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://127.0.0.1:3001"},
        {"origin": "https://127.0.0.1:3000"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example", "content-type": "text/plain"},
    ],
    ids=json.dumps,
)
@pytest.mark.parametrize(("method", "path", "body"), POST_ROUTES, ids=[r[1] for r in POST_ROUTES])
async def test_ext08_cross_origin_posts_are_refused(
    app: App, headers: dict[str, str], method: str, path: str, body: dict[str, Any]
) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    if path == VERIFY:
        body = {"otp": totp(OTP_SECRET)}  # a request that would succeed from the app itself
    response = await send(alice, method, path, body, token=sealed, headers=headers)
    assert_refused(response, 403, "invalid_origin", raw_of(sealed))
    assert app.mfa_calls() == []


async def test_ext08_a_same_origin_post_is_accepted(app: App) -> None:
    alice = await app.login()
    sealed = await app.sealed(alice)
    response = await send(
        alice,
        "POST",
        VERIFY,
        {"otp": totp(OTP_SECRET)},
        token=sealed,
        headers={"origin": APP_ORIGIN, "sec-fetch-site": "same-origin"},
    )
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------ another user's ID token


async def test_ext06_an_id_token_for_another_user_stores_nothing(
    h: Harness, scripted_op: ScriptedOP
) -> None:
    """The provider answers the MFA grant with tokens whose ID token names someone else."""
    op = scripted_op
    auth0 = h.client()
    browser = h.browser(auth0)
    assert (await full_login(browser, op)).status_code == 307
    cookies = dict(browser.cookies)

    def token_endpoint(record: Any) -> Any:
        grant = record.form.get("grant_type")
        if grant == "refresh_token":
            body = {"error": "mfa_required", "mfa_token": "raw-mfa-token-for-mallory"}
            return 403, {"content-type": "application/json"}, json.dumps(body).encode()
        now = int(time.time())
        id_token = op.mint_id_token(
            {
                "iss": op.issuer,
                "aud": op.client_id,
                "sub": "auth0|somebody-else",
                "iat": now,
                "exp": now + 600,
            }
        )
        body = {
            "access_token": "at-for-somebody-else",
            "token_type": "Bearer",
            "expires_in": 600,
            "id_token": id_token,
            "refresh_token": "rt-for-somebody-else",
        }
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    op.scenario.responses["/oauth/token"] = token_endpoint
    required = await browser.get("/auth/access-token", params={"audience": "https://api.x"})
    assert required.status_code == 403
    sealed = required.json()["mfa_token"]
    assert "raw-mfa-token-for-mallory" not in required.text
    response = await browser.post(
        VERIFY, json={"otp": "123456"}, headers={"authorization": f"Bearer {sealed}"}
    )
    assert_refused(response, 400, "invalid_id_token", "raw-mfa-token-for-mallory")
    assert "at-for-somebody-else" not in response.text
    assert browser.cookies == cookies
    [grant] = [c for c in op.calls("/oauth/token") if "mfa-otp" in c.form.get("grant_type", "")]
    assert grant.form["mfa_token"] == "raw-mfa-token-for-mallory"
    token = await browser.get("/auth/access-token")
    assert token.status_code == 200 and token.json()["token"] != "at-for-somebody-else"
