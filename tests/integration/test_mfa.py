"""MFA step-up against the real ``oidc-provider`` with Auth0's MFA API (``auth0_mfa.mjs``).

The module's provider protects :data:`MFA_API`: a refresh for it answers ``mfa_required``.
Alice has an authenticator app (TOTP), a phone (SMS) and a recovery code; Carol has an app
and a recovery code (her test rotates it); Dave and Erin have no factor yet and enroll one.
Every test logs its user in through the SDK's routes in its own browser, and records the
SDK's outbound calls, so "without a refresh" is counted on the wire. TOTP codes are
computed by the test (``tests/support/mfa.py``), as the user's app would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc.jwk import KeySet
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse

from auth0_web import (
    Auth0Client,
    Authenticator,
    MfaChallenge,
    MfaEnrollmentError,
    MfaError,
    MfaRequiredError,
    MfaVerifyError,
    OAuth2Error,
    Request,
    Response,
    generate_dpop_key_pair,
)
from auth0_web.session._codec import CookieCodec
from tests.support.apps import SECRET, Browser, make_app, make_client, parse_set_cookie
from tests.support.mfa import (
    ALICE_PHONE,
    ALICE_RECOVERY_CODE,
    MFA_API,
    MFA_API_SCOPE,
    MFA_CLIENT_ID,
    OTP_SECRET,
    mfa_provider,
    mfa_user,
    sent_binding_code,
    totp,
    wrong_totp,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.op_fixtures import ALICE, new_client_secret

from .helpers import RecordingTransport, form_of, login, record_outbound
from .token_helpers import provider_keys, stored_session, verified_claims

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CLIENT_SECRET = new_client_secret()
CAROL_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
CAROL_RECOVERY_CODE = "CAROLRECOVERY00000000000"
ALICE_MFA = {
    **ALICE,
    "mfa": {
        "otp_secret": OTP_SECRET,
        "recovery_code": ALICE_RECOVERY_CODE,
        "phone_number": ALICE_PHONE,
    },
}
CAROL = mfa_user("auth0|carol", "Carol", otp_secret=CAROL_SECRET, recovery_code=CAROL_RECOVERY_CODE)
DAVE = mfa_user("auth0|dave", "Dave")
ERIN = mfa_user("auth0|erin", "Erin")
NO_STORE = "private, no-cache, no-store, must-revalidate, max-age=0"
MFA_GRANT_PREFIX = "http://auth0.com/oauth/grant-type/mfa-"


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    with mfa_provider([ALICE_MFA, CAROL, DAVE, ERIN], CLIENT_SECRET) as provider:
        yield provider


@pytest.fixture(scope="module")
def keys(op: OidcProvider) -> KeySet:
    return provider_keys(op)


# --------------------------------------------------------------------------- the app


def mfa_app(auth0: Auth0Client) -> Any:
    """``make_app`` plus endpoints that use the server API inside the middleware."""
    middleware = make_app(auth0)
    inner = middleware.app

    @inner.get("/api/token")
    async def token(request: StarletteRequest) -> JSONResponse:
        query = request.query_params
        try:
            found = await auth0.get_access_token(
                audience=query.get("audience"), refresh=query.get("refresh") == "1"
            )
        except MfaRequiredError as exc:
            return JSONResponse(
                {"mfa_token": exc.mfa_token, "mfa_requirements": exc.mfa_requirements},
                status_code=403,
            )
        return JSONResponse(found.to_dict())

    @inner.post("/api/step-up")
    async def step_up(request: StarletteRequest) -> JSONResponse:
        body = await request.json()
        try:
            result = await auth0.mfa.verify(body.pop("mfa_token"), **body)
        except MfaError as exc:
            return JSONResponse({"error": exc.code}, status_code=exc.status)
        return JSONResponse(result.to_dict())

    return middleware


@dataclass
class User:
    """A logged-in browser with its own ``Auth0Client``."""

    op: OidcProvider
    auth0: Auth0Client
    wire: RecordingTransport
    browser: Browser
    op_http: httpx.AsyncClient

    @property
    def token_endpoint(self) -> str:
        return self.op.url("/oauth/token")

    def grants(self) -> list[str]:
        """grant_type of every token-endpoint call the SDK made, in order."""
        return [form_of(c.body)["grant_type"] for c in self.wire.to(self.token_endpoint)]

    def mfa_calls(self) -> list[str]:
        return [c.url for c in self.wire.calls if "/mfa/" in c.url] + [
            g for g in self.grants() if g.startswith(MFA_GRANT_PREFIX)
        ]

    def stored(self) -> dict[str, Any]:
        return stored_session(SECRET, self.browser.cookies, time.time())

    def request(self) -> Request:
        """This browser's request, for the server API outside the middleware."""
        return Request(
            method="GET",
            scheme="http",
            host="127.0.0.1:3000",
            path="/",
            cookies=dict(self.browser.cookies),
        )

    def absorb(self, response: Response) -> None:
        for _, header in response.cookies:
            name, value, attrs = parse_set_cookie(header)
            if attrs.get("max-age") == "0":
                self.browser.cookies.pop(name, None)
            else:
                self.browser.cookies[name] = value

    async def mfa_required(self, audience: str = MFA_API) -> dict[str, Any]:
        """Ask ``/auth/access-token`` for ``audience``; the 403 ``mfa_required`` body."""
        response = await self.browser.get("/auth/access-token", params={"audience": audience})
        assert response.status_code == 403, response.text
        body: dict[str, Any] = response.json()
        return body


Login = Callable[..., Awaitable[User]]


@pytest.fixture
async def user(op: OidcProvider) -> AsyncIterator[Login]:
    created: list[User] = []

    async def log_in(sub: str = ALICE["sub"], **options: Any) -> User:
        auth0 = make_client(op, client_id=MFA_CLIENT_ID, client_secret=CLIENT_SECRET, **options)
        wire = record_outbound(auth0)
        found = User(op, auth0, wire, Browser(mfa_app(auth0)), httpx.AsyncClient())
        created.append(found)
        await login(found.browser, found.op_http, sub=sub)
        return found

    yield log_in
    for found in created:
        await found.browser.client.aclose()
        await found.op_http.aclose()
        await found.auth0.aclose()


def raw_of(sealed: str) -> str:
    """The provider's mfa_token inside a sealed one (the test knows the app's secret)."""
    context = CookieCodec([SECRET]).decrypt(sealed, now=time.time())
    assert context is not None
    raw: str = context["mfa_token"]
    return raw


# --------------------------------------------------------------------------- mfa_required


async def test_a_protected_audience_raises_mfa_required_and_the_route_answers_403(
    user: Login,
) -> None:
    alice = await user()
    session_before = alice.stored()
    inside = await alice.browser.get("/api/token", params={"audience": MFA_API})
    assert inside.status_code == 403
    sealed = inside.json()["mfa_token"]
    assert inside.json()["mfa_requirements"] == {
        "challenge": [{"type": "otp"}, {"type": "phone"}, {"type": "recovery-code"}]
    }
    raw = raw_of(sealed)
    assert raw and raw not in sealed
    context = CookieCodec([SECRET]).decrypt(sealed, now=time.time())
    assert context is not None
    assert context["audience"] == MFA_API
    assert context["exp"] - context["iat"] == 300  # the default mfa_token_ttl

    response = await alice.browser.get("/auth/access-token", params={"audience": MFA_API})
    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"error", "error_description", "mfa_token", "mfa_requirements"}
    assert body["error"] == "mfa_required"
    assert body["mfa_token"] != sealed  # a fresh seal for a fresh provider token
    assert raw_of(body["mfa_token"]) not in response.text
    assert response.headers["cache-control"] == NO_STORE
    # The refresh token was not used up: the session is as it was.
    assert alice.stored()["tokenSet"] == session_before["tokenSet"]
    assert alice.grants() == ["authorization_code", "refresh_token", "refresh_token"]


async def test_the_ttl_option_sets_the_seal_lifetime(user: Login) -> None:
    alice = await user(mfa_token_ttl=60)
    body = await alice.mfa_required()
    context = CookieCodec([SECRET]).decrypt(body["mfa_token"], now=time.time())
    assert context is not None and context["exp"] - context["iat"] == 60


# --------------------------------------------------------------------------- authenticators


async def test_authenticators_through_the_route_and_the_server_api(user: Login) -> None:
    alice = await user()
    sealed = (await alice.mfa_required())["mfa_token"]
    response = await alice.browser.get(
        "/auth/mfa/authenticators", headers={"authorization": f"Bearer {sealed}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == NO_STORE
    listed = response.json()
    assert [(a["authenticator_type"], a["type"]) for a in listed] == [
        ("otp", "otp"),
        ("oob", "phone"),
        ("recovery-code", "recovery-code"),
    ]
    assert listed[1]["oob_channel"] == "sms"
    assert listed[1]["name"].endswith(ALICE_PHONE[-4:])
    assert all(a["active"] is True for a in listed)
    assert raw_of(sealed) not in response.text

    typed = await alice.auth0.mfa.get_authenticators(sealed, request=alice.request())
    assert all(isinstance(a, Authenticator) for a in typed)
    assert [a.to_dict() for a in typed] == listed
    assert typed[0].id.startswith("totp|")
    assert typed[1].factor_type == "phone"
    [call] = [c for c in alice.wire.calls if c.url.endswith("/mfa/authenticators")][-1:]
    assert call.headers["authorization"] == f"Bearer {raw_of(sealed)}"


# --------------------------------------------------------------------------- OTP


async def test_otp_through_the_routes_stores_the_token_and_needs_no_refresh_afterwards(
    user: Login, keys: KeySet
) -> None:
    alice = await user()
    login_set = alice.stored()["tokenSet"]
    sealed = (await alice.mfa_required())["mfa_token"]
    bearer = {"authorization": f"Bearer {sealed}"}

    challenge = await alice.browser.post(
        "/auth/mfa/challenge", json={"challenge_type": "otp"}, headers=bearer
    )
    assert challenge.status_code == 200, challenge.text
    assert challenge.json() == {"challenge_type": "otp"}

    code = totp(OTP_SECRET)
    verified = await alice.browser.post("/auth/mfa/verify", json={"otp": code}, headers=bearer)
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"success": True}
    assert verified.headers["cache-control"] == NO_STORE
    assert any(h.startswith("__session=") for h in verified.headers.get_list("set-cookie"))
    [mfa_grant] = [c for c in alice.wire.to(alice.token_endpoint) if b"mfa-otp" in c.body]
    form = form_of(mfa_grant.body)
    assert form["mfa_token"] == raw_of(sealed)
    assert form["otp"] == code
    assert form["audience"] == MFA_API
    assert form["client_id"] == MFA_CLIENT_ID and form["client_secret"] == CLIENT_SECRET

    stored = alice.stored()
    [entry] = stored["accessTokens"]
    assert entry["audience"] == MFA_API
    assert entry["scope"] == MFA_API_SCOPE
    assert set(entry["requestedScope"].split()) >= {"openid", "offline_access"}
    assert entry["token_type"] == "Bearer"
    # A rotated refresh token replaces the session's; the login's tokens stay.
    assert stored["tokenSet"]["refreshToken"] != login_set["refreshToken"]
    assert stored["tokenSet"]["accessToken"] == login_set["accessToken"]
    assert stored["tokenSet"]["idToken"] == login_set["idToken"]
    assert stored["user"]["sub"] == ALICE["sub"]

    calls = len(alice.grants())
    token = await alice.browser.get("/auth/access-token", params={"audience": MFA_API})
    assert token.status_code == 200, token.text
    assert token.json()["token"] == entry["accessToken"]
    assert token.json()["scope"] == MFA_API_SCOPE
    assert len(alice.grants()) == calls  # no refresh
    claims = verified_claims(keys, token.json()["token"])
    assert claims["aud"] == MFA_API and claims["sub"] == ALICE["sub"]

    # The new refresh token works for the login's own audience.
    refreshed = await alice.browser.get("/api/token", params={"refresh": "1"})
    assert refreshed.status_code == 200, refreshed.text
    assert alice.grants()[-1] == "refresh_token"


async def test_otp_through_the_server_api_inside_the_middleware(user: Login) -> None:
    alice = await user()
    sealed = (await alice.browser.get("/api/token", params={"audience": MFA_API})).json()[
        "mfa_token"
    ]
    verified = await alice.browser.post(
        "/api/step-up", json={"mfa_token": sealed, "otp": totp(OTP_SECRET)}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"success": True}
    calls = len(alice.grants())
    token = await alice.browser.get("/api/token", params={"audience": MFA_API})
    assert token.status_code == 200, token.text
    assert token.json()["audience"] == MFA_API
    assert len(alice.grants()) == calls
    # The provider's mfa_token is single use: the same seal cannot step up twice.
    again = await alice.browser.post(
        "/api/step-up", json={"mfa_token": sealed, "otp": totp(OTP_SECRET)}
    )
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}


async def test_otp_through_the_server_api_with_explicit_request_and_response(
    user: Login,
) -> None:
    alice = await user()
    sealed = (await alice.mfa_required())["mfa_token"]
    challenge = await alice.auth0.mfa.challenge(sealed, "otp", request=alice.request())
    assert challenge == MfaChallenge(challenge_type="otp")
    written = Response()
    result = await alice.auth0.mfa.verify(
        sealed, otp=totp(OTP_SECRET), request=alice.request(), response=written
    )
    assert result.recovery_code is None and result.success
    assert written.cookies, "the session cookie is written to the given response"
    alice.absorb(written)
    found = await alice.auth0.get_access_token(alice.request(), audience=MFA_API)
    assert found.audience == MFA_API
    assert found.token == alice.stored()["accessTokens"][0]["accessToken"]
    assert alice.grants().count("refresh_token") == 1  # only the one that got mfa_required


async def test_a_wrong_otp_fails_and_leaves_the_session_and_the_token_usable(
    user: Login,
) -> None:
    alice = await user()
    sealed = (await alice.mfa_required())["mfa_token"]
    cookies = dict(alice.browser.cookies)
    with pytest.raises(MfaVerifyError) as caught:
        await alice.auth0.mfa.verify(
            sealed, otp=wrong_totp(OTP_SECRET), request=alice.request(), response=Response()
        )
    assert caught.value.code == "invalid_grant"
    assert caught.value.status == 400
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.description == "Invalid otp_code."
    assert "otp_code" not in caught.value.message

    response = await alice.browser.post(
        "/auth/mfa/verify",
        json={"otp": wrong_totp(OTP_SECRET)},
        headers={"authorization": f"Bearer {sealed}"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Failed to verify the MFA challenge.",
    }
    assert "set-cookie" not in response.headers
    assert alice.browser.cookies == cookies
    # The user may try again with the right code.
    retried = await alice.browser.post(
        "/auth/mfa/verify",
        json={"otp": totp(OTP_SECRET)},
        headers={"authorization": f"Bearer {sealed}"},
    )
    assert retried.status_code == 200, retried.text


# --------------------------------------------------------------------------- the default audience


async def test_the_default_audience_steps_up_the_login_token_set(user: Login) -> None:
    alice = await user(
        authorization_parameters={
            "audience": MFA_API,
            "scope": f"openid profile email offline_access {MFA_API_SCOPE}",
        }
    )
    login_set = alice.stored()["tokenSet"]
    assert login_set["audience"] == MFA_API
    forced = await alice.browser.get("/api/token", params={"refresh": "1"})
    assert forced.status_code == 403, forced.text
    sealed = forced.json()["mfa_token"]
    verified = await alice.browser.post(
        "/api/step-up", json={"mfa_token": sealed, "otp": totp(OTP_SECRET)}
    )
    assert verified.status_code == 200, verified.text
    stored = alice.stored()
    assert "accessTokens" not in stored
    assert stored["tokenSet"]["accessToken"] != login_set["accessToken"]
    assert stored["tokenSet"]["requestedScope"] == login_set["requestedScope"]
    assert stored["tokenSet"]["idToken"] == login_set["idToken"]
    calls = len(alice.grants())
    for params in ({}, {"audience": MFA_API}):
        token = await alice.browser.get("/api/token", params=params)
        assert token.status_code == 200, token.text
        assert token.json()["token"] == stored["tokenSet"]["accessToken"]
    assert len(alice.grants()) == calls


# --------------------------------------------------------------------------- OOB, recovery code


async def test_oob_challenge_with_the_binding_code_the_user_received(user: Login) -> None:
    alice = await user()
    sealed = (await alice.mfa_required())["mfa_token"]
    # The reference's shape: the sealed token in the challenge body.
    challenge = await alice.browser.post(
        "/auth/mfa/challenge", json={"mfa_token": sealed, "challenge_type": "oob"}
    )
    assert challenge.status_code == 200, challenge.text
    answer = challenge.json()
    assert answer["challenge_type"] == "oob" and answer["binding_method"] == "prompt"
    sent = await sent_binding_code(alice.op, answer["oob_code"])
    assert sent["to"] == ALICE_PHONE and sent["channel"] == "sms"

    bearer = {"authorization": f"Bearer {sealed}"}
    wrong = await alice.browser.post(
        "/auth/mfa/verify",
        json={"oob_code": answer["oob_code"], "binding_code": "000000"},
        headers=bearer,
    )
    if sent["binding_code"] != "000000":
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    verified = await alice.browser.post(
        "/auth/mfa/verify",
        json={"oob_code": answer["oob_code"], "binding_code": sent["binding_code"]},
        headers=bearer,
    )
    assert verified.status_code == 200, verified.text
    token = await alice.browser.get("/auth/access-token", params={"audience": MFA_API})
    assert token.status_code == 200
    assert alice.grants()[-1].endswith("mfa-oob")  # no refresh after the step-up


async def test_a_recovery_code_works_once_and_the_new_one_is_returned(user: Login) -> None:
    carol = await user(CAROL["sub"])
    sealed = (await carol.mfa_required())["mfa_token"]
    bearer = {"authorization": f"Bearer {sealed}"}
    verified = await carol.browser.post(
        "/auth/mfa/verify", json={"recovery_code": CAROL_RECOVERY_CODE}, headers=bearer
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert set(body) == {"success", "recovery_code"}
    new_code = body["recovery_code"]
    assert new_code and new_code != CAROL_RECOVERY_CODE

    # A new login (a new session): the old code is refused, the new one works.
    again = await user(CAROL["sub"])
    sealed = (await again.mfa_required())["mfa_token"]
    with pytest.raises(MfaVerifyError) as caught:
        await again.auth0.mfa.verify(
            sealed, recovery_code=CAROL_RECOVERY_CODE, request=again.request(), response=Response()
        )
    assert caught.value.code == "invalid_grant"
    written = Response()
    result = await again.auth0.mfa.verify(
        sealed, recovery_code=new_code, request=again.request(), response=written
    )
    assert result.recovery_code and result.recovery_code != new_code
    assert result.recovery_code not in repr(result)


# --------------------------------------------------------------------------- enrollment


async def test_a_user_without_factors_enrolls_an_authenticator_app(user: Login) -> None:
    dave = await user(DAVE["sub"])
    body = await dave.mfa_required()
    assert body["mfa_requirements"] == {
        "enroll": [{"type": "otp"}, {"type": "phone"}, {"type": "email"}]
    }
    sealed = body["mfa_token"]
    assert await dave.auth0.mfa.get_authenticators(sealed, request=dave.request()) == []

    enrollment = await dave.auth0.mfa.enroll(sealed, factor_type="otp", request=dave.request())
    assert enrollment.authenticator_type == "otp"
    assert enrollment.secret and enrollment.barcode_uri
    assert enrollment.barcode_uri.startswith("otpauth://totp/")
    assert f"secret={enrollment.secret}" in enrollment.barcode_uri
    assert len(enrollment.recovery_codes) == 1
    assert enrollment.secret not in repr(enrollment)
    assert enrollment.recovery_codes[0] not in repr(enrollment)

    verified = await dave.browser.post(
        "/auth/mfa/verify",
        json={"otp": totp(enrollment.secret)},
        headers={"authorization": f"Bearer {sealed}"},
    )
    assert verified.status_code == 200, verified.text
    assert (await dave.browser.get("/auth/access-token", params={"audience": MFA_API})).is_success

    # Enrolled now: the next step-up is a challenge, and a second enrollment is refused.
    later = await user(DAVE["sub"])
    body = await later.mfa_required()
    assert body["mfa_requirements"] == {"challenge": [{"type": "otp"}, {"type": "recovery-code"}]}
    with pytest.raises(MfaEnrollmentError) as caught:
        await later.auth0.mfa.enroll(body["mfa_token"], "otp", request=later.request())
    assert caught.value.code == "access_denied"
    assert caught.value.status == 400
    response = await later.browser.post(
        "/auth/mfa/associate",
        json={"authenticator_types": ["otp"]},
        headers={"authorization": f"Bearer {body['mfa_token']}"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "access_denied",
        "error_description": "Failed to enroll the MFA authenticator.",
    }


async def test_sms_enrollment_through_the_route(user: Login) -> None:
    erin = await user(ERIN["sub"])
    sealed = (await erin.mfa_required())["mfa_token"]
    bearer = {"authorization": f"Bearer {sealed}"}
    enrolled = await erin.browser.post(
        "/auth/mfa/associate",
        json={
            "authenticator_types": ["oob"],
            "oob_channels": ["sms"],
            "phone_number": "+15555550199",
        },
        headers=bearer,
    )
    assert enrolled.status_code == 200, enrolled.text
    answer = enrolled.json()
    assert answer["authenticator_type"] == "oob" and answer["oob_channel"] == "sms"
    assert answer["binding_method"] == "prompt" and len(answer["recovery_codes"]) == 1
    sent = await sent_binding_code(erin.op, answer["oob_code"])
    assert sent["to"] == "+15555550199"
    verified = await erin.browser.post(
        "/auth/mfa/verify",
        json={"oob_code": answer["oob_code"], "binding_code": sent["binding_code"]},
        headers=bearer,
    )
    assert verified.status_code == 200, verified.text
    assert (await erin.browser.get("/auth/access-token", params={"audience": MFA_API})).is_success


# --------------------------------------------------------------------------- DPoP


async def test_a_dpop_client_gets_a_dpop_bound_stepped_up_token(user: Login, keys: KeySet) -> None:
    alice = await user(use_dpop=True, dpop_key_pair=generate_dpop_key_pair())
    sealed = (await alice.mfa_required())["mfa_token"]
    verified = await alice.browser.post(
        "/auth/mfa/verify",
        json={"otp": totp(OTP_SECRET)},
        headers={"authorization": f"Bearer {sealed}"},
    )
    assert verified.status_code == 200, verified.text
    [mfa_grant] = [c for c in alice.wire.to(alice.token_endpoint) if b"mfa-otp" in c.body]
    assert "dpop" in mfa_grant.headers
    [entry] = alice.stored()["accessTokens"]
    assert entry["token_type"] == "DPoP"
    claims = verified_claims(keys, entry["accessToken"])
    assert "jkt" in claims.get("cnf", {})
