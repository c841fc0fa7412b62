"""MFA step-up: configuration, the sealed context, argument checks, where verified tokens
are stored, and the SDK's handling of answers a real provider does not give (scripted OP).

The end-to-end flows against the real provider are in ``tests/integration/test_mfa.py``,
the attacks in ``tests/attacks/test_ext_mfa.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from auth0_web import (
    Auth0Client,
    Auth0Error,
    InvalidConfigurationError,
    MfaChallengeError,
    MfaEnrollmentError,
    MfaGetAuthenticatorsError,
    MfaNoAvailableFactorsError,
    MfaRequiredError,
    MfaTokenExpiredError,
    MfaTokenInvalidError,
    MfaVerifyError,
    OAuth2Error,
    Request,
    Response,
)
from auth0_web._access_tokens import select_candidate
from auth0_web._mfa import (
    MFA_OOB_GRANT,
    MFA_OTP_GRANT,
    MFA_RECOVERY_CODE_GRANT,
    Authenticator,
    MfaContext,
    MfaEnrollment,
    apply_verified_tokens,
    check_binding,
    mfa_required_error,
    sanitize_requirements,
    seal_context,
    unseal_context,
    validate_challenge,
    validate_credential,
    validate_enrollment,
)
from auth0_web.oidc._token import TokenResponse
from auth0_web.session._codec import CookieCodec
from auth0_web.session._model import AccessTokenSet, SessionData, SessionInternal, TokenSet
from auth0_web.testing import generate_session_cookie
from tests.support.apps import SECRET, make_client
from tests.support.mfa import totp
from tests.support.scripted_op import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_USER,
    RawResponse,
    RecordedRequest,
    ScriptedOP,
)

pytestmark = pytest.mark.anyio

API = "https://api.example"
SCOPE = "openid profile email offline_access"
RAW = "raw-provider-mfa-token"


def base_options(**options: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "domain": "tenant.example.com",
        "client_id": "cid",
        "client_secret": "csecret",
        "secret": SECRET,
        "app_base_url": "https://app.example.com",
    }
    defaults.update(options)
    return defaults


def session_for(
    sub: str = DEFAULT_USER["sub"], *, sid: str = "sid-1", **token_set: Any
) -> SessionData:
    now = int(time.time())
    values: dict[str, Any] = {
        "access_token": "login-at",
        "expires_at": now + 3600,
        "refresh_token": "login-rt",
        "id_token": "login-idt",
        "scope": SCOPE,
        "requested_scope": SCOPE,
        "token_type": "Bearer",
    }
    values.update(token_set)
    return SessionData(
        user={"sub": sub},
        token_set=TokenSet(**values),
        internal=SessionInternal(sid=sid, created_at=now - 10),
    )


def tokens_set() -> TokenSet:
    return TokenSet(access_token="other", expires_at=1, refresh_token="rotated")


def tokens(access_token: str = "mfa-at", **extra: Any) -> TokenResponse:
    values: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 600,
        "id_token": None,
        "refresh_token": None,
        "scope": "read:x",
    }
    values.update(extra)
    return TokenResponse(raw=dict(values), **values)


# --------------------------------------------------------------------------- configuration


def test_mfa_token_ttl_defaults_to_300_and_accepts_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH0_MFA_TOKEN_TTL", raising=False)
    assert Auth0Client(**base_options()).config.mfa_token_ttl == 300
    assert Auth0Client(**base_options(mfa_token_ttl=60)).config.mfa_token_ttl == 60
    monkeypatch.setenv("AUTH0_MFA_TOKEN_TTL", "120")
    assert Auth0Client(**base_options()).config.mfa_token_ttl == 120
    assert Auth0Client(**base_options(mfa_token_ttl=3600)).config.mfa_token_ttl == 3600


@pytest.mark.parametrize("value", [0, -1, 3601, 1.5, True, "60"])
def test_an_invalid_mfa_token_ttl_is_a_configuration_error(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTH0_MFA_TOKEN_TTL", raising=False)
    with pytest.raises(InvalidConfigurationError) as caught:
        Auth0Client(**base_options(mfa_token_ttl=value))
    [problem] = caught.value.problems
    assert problem.startswith("mfa_token_ttl:") and "AUTH0_MFA_TOKEN_TTL" in problem


@pytest.mark.parametrize("value", ["abc", "0", "-5", "9999", "1e3"])
def test_an_invalid_environment_ttl_is_a_configuration_error(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH0_MFA_TOKEN_TTL", value)
    with pytest.raises(InvalidConfigurationError) as caught:
        Auth0Client(**base_options())
    assert any(p.startswith("mfa_token_ttl:") for p in caught.value.problems)


async def test_the_route_paths_are_configurable() -> None:
    auth0 = Auth0Client(
        **base_options(routes={"mfa_verify": "/step-up/verify", "mfa_challenge": "/step-up/go"})
    )
    assert auth0.config.routes.mfa_authenticators == "/auth/mfa/authenticators"
    assert auth0.config.routes.mfa_associate == "/auth/mfa/associate"
    request = Request(
        method="POST",
        scheme="https",
        host="app.example.com",
        path="/step-up/verify",
        headers={"content-type": "application/json"},
        body=b'{"otp": 5}',
    )
    response = await auth0.handle(request)
    assert response is not None and response.status == 400
    assert json.loads(response.body)["error"] == "invalid_request"
    assert await auth0.handle(replace(request, path="/auth/mfa/verify")) is None
    assert await auth0.handle(replace(request, method="GET")) is None
    with pytest.raises(InvalidConfigurationError):
        Auth0Client(**base_options(routes={"mfa_verify": "relative"}))


# --------------------------------------------------------------------------- the sealed context


@pytest.fixture
def auth0() -> Auth0Client:
    return Auth0Client(**base_options())


def test_a_sealed_context_opens_for_its_session_only(auth0: Auth0Client) -> None:
    rt = auth0._rt
    session = session_for()
    sealed = seal_context(
        rt,
        raw_token=RAW,
        audience=API,
        scope="",
        requested_scope=SCOPE,
        requirements={"challenge": [{"type": "otp"}]},
        session=session,
    )
    assert RAW not in sealed
    context = unseal_context(rt, sealed)
    assert (context.raw_token, context.audience, context.requested_scope) == (RAW, API, SCOPE)
    assert context.challenge_types() == {"otp"}
    assert RAW not in repr(context)
    check_binding(context, session)
    # Tokens and claims other than sub change with refreshes and hooks; the login does not.
    check_binding(
        context,
        replace(session, user={"sub": session.user["sub"], "name": "x"}, token_set=tokens_set()),
    )
    for other in (
        None,
        session_for(sub="auth0|mallory"),
        session_for(sid="sid-2"),
        replace(session, internal=SessionInternal(sid="sid-1", created_at=1)),
    ):
        with pytest.raises(MfaTokenInvalidError):
            check_binding(context, other)


def test_a_context_made_without_a_session_is_not_bound(auth0: Auth0Client) -> None:
    rt = auth0._rt
    sealed = seal_context(
        rt,
        raw_token=RAW,
        audience=None,
        scope=None,
        requested_scope=None,
        requirements=None,
        session=None,
    )
    context = unseal_context(rt, sealed)
    assert context.binding is None and context.challenge_types() is None
    check_binding(context, None)


def test_expiry_is_exact_and_reported_as_expired(auth0: Auth0Client) -> None:
    rt = auth0._rt
    sealed = seal_context(
        rt,
        raw_token=RAW,
        audience=API,
        scope="",
        requested_scope="",
        requirements=None,
        session=None,
    )
    issued = rt.now()
    clock = rt.clock
    try:
        rt.clock = lambda: issued + 299.0
        unseal_context(rt, sealed)
        rt.clock = lambda: issued + 300.0
        with pytest.raises(MfaTokenExpiredError) as caught:
            unseal_context(rt, sealed)
    finally:
        rt.clock = clock
    assert caught.value.code == "mfa_token_expired" and caught.value.status == 401


@pytest.mark.parametrize(
    "payload",
    [
        {"mfa_token": RAW, "audience": API},  # the pre-release shape: no kind
        {"kind": "auth0_web.session", "mfa_token": RAW},
        {"kind": "auth0_web.mfa"},
        {"kind": "auth0_web.mfa", "mfa_token": ""},
        {"kind": "auth0_web.mfa", "mfa_token": 5},
        {"kind": "auth0_web.mfa", "mfa_token": "x" * 5000},
        {"kind": "auth0_web.mfa", "mfa_token": RAW, "audience": ["a"]},
        {"kind": "auth0_web.mfa", "mfa_token": RAW, "scope": {"a": 1}},
        {"kind": "auth0_web.mfa", "mfa_token": RAW, "bnd": 7},
    ],
)
def test_payloads_that_are_not_mfa_contexts_are_invalid(
    auth0: Auth0Client, payload: dict[str, Any]
) -> None:
    sealed = CookieCodec([SECRET]).encrypt(payload, exp=int(time.time()) + 60)
    with pytest.raises(MfaTokenInvalidError):
        unseal_context(auth0._rt, sealed)


def test_a_session_cookie_is_not_an_mfa_context(auth0: Auth0Client) -> None:
    cookie = generate_session_cookie(session_for(), secret=SECRET)["__session"]
    with pytest.raises(MfaTokenInvalidError):
        unseal_context(auth0._rt, cookie)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"challenge": [{"type": "otp"}, {"type": "phone", "oob_channels": ["sms"]}]},
            {"challenge": [{"type": "otp"}, {"type": "phone"}]},
        ),
        ({"enroll": [{"type": "OTP"}], "extra": "<script>"}, {"enroll": [{"type": "OTP"}]}),
        ({"challenge": [{"type": 5}, "otp", {"type": "a b"}, {"type": "<x>"}]}, {"challenge": []}),
        ({"challenge": "otp"}, None),
        (["otp"], None),
        (None, None),
        ({"challenge": [{"type": "otp"}] * 50}, {"challenge": [{"type": "otp"}] * 20}),
    ],
)
def test_requirements_keep_only_their_documented_shape(value: Any, expected: Any) -> None:
    assert sanitize_requirements(value) == expected


def test_mfa_required_error_seals_the_provider_token(auth0: Auth0Client) -> None:
    rt = auth0._rt
    session = session_for()
    answer = OAuth2Error(
        "mfa_required",
        "Multifactor authentication required",
        extra={"mfa_token": RAW, "mfa_requirements": {"challenge": [{"type": "otp"}]}},
    )
    error = mfa_required_error(
        rt, answer, session=session, audience=API, scope=None, requested_scope=SCOPE
    )
    assert error.mfa_requirements == {"challenge": [{"type": "otp"}]}
    assert error.cause is answer
    assert RAW not in repr(error) and error.mfa_token not in repr(error)
    context = unseal_context(rt, error.mfa_token)
    check_binding(context, session)
    assert context.audience == API and context.scope == "" and context.requested_scope == SCOPE
    for raw in (None, "", 5, "x" * 4097):
        empty = mfa_required_error(
            rt,
            OAuth2Error("mfa_required", extra={"mfa_token": raw}),
            session=session,
            audience=API,
            scope=None,
            requested_scope=SCOPE,
        )
        assert empty.mfa_token == "" and empty.mfa_requirements is None


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    ("kwargs", "grant", "params"),
    [
        ({"otp": "123456"}, MFA_OTP_GRANT, {"otp": "123456"}),
        ({"oob_code": "oob-1"}, MFA_OOB_GRANT, {"oob_code": "oob-1"}),
        (
            {"oob_code": "oob-1", "binding_code": "654321"},
            MFA_OOB_GRANT,
            {"oob_code": "oob-1", "binding_code": "654321"},
        ),
        ({"recovery_code": "ABCD-EFGH"}, MFA_RECOVERY_CODE_GRANT, {"recovery_code": "ABCD-EFGH"}),
    ],
)
def test_one_credential_selects_its_grant(
    kwargs: dict[str, str], grant: str, params: dict[str, str]
) -> None:
    credential = validate_credential(**kwargs)
    assert credential.grant_type == grant and credential.params == params
    assert all(value not in repr(credential) for value in params.values())


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"otp": "123456", "recovery_code": "A"},
        {"otp": "123456", "oob_code": "o"},
        {"binding_code": "1"},
        {"otp": "123456", "binding_code": "1"},
        {"otp": "12 456"},
        {"otp": "123"},
        {"otp": 123456},
        {"oob_code": "has space"},
        {"oob_code": "o", "binding_code": "x" * 65},
        {"recovery_code": "no/slash"},
        {"recovery_code": ""},
    ],
)
def test_bad_credentials_are_refused_locally(kwargs: dict[str, Any]) -> None:
    with pytest.raises(MfaVerifyError) as caught:
        validate_credential(**kwargs)
    assert caught.value.code == "invalid_request" and caught.value.status == 400
    for value in kwargs.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in caught.value.message


@pytest.mark.parametrize(
    ("factor", "phone", "email", "body"),
    [
        ("otp", None, None, {"authenticator_types": ["otp"]}),
        (
            "sms",
            "+15551234567",
            None,
            {
                "authenticator_types": ["oob"],
                "oob_channels": ["sms"],
                "phone_number": "+15551234567",
            },
        ),
        (
            "voice",
            "+15551234567",
            None,
            {
                "authenticator_types": ["oob"],
                "oob_channels": ["voice"],
                "phone_number": "+15551234567",
            },
        ),
        (
            "email",
            None,
            "a@b.example",
            {"authenticator_types": ["oob"], "oob_channels": ["email"], "email": "a@b.example"},
        ),
        ("push", None, None, {"authenticator_types": ["oob"], "oob_channels": ["auth0"]}),
    ],
)
def test_factor_types_map_to_the_associate_body(
    factor: str, phone: str | None, email: str | None, body: dict[str, Any]
) -> None:
    assert validate_enrollment(factor, phone, email) == body


@pytest.mark.parametrize(
    ("factor", "phone", "email"),
    [
        ("totp", None, None),
        ("sms", None, None),
        ("sms", "5551234567", None),
        ("voice", "+1 555 123", None),
        ("otp", "+15551234567", None),
        ("email", None, "not-an-email"),
        ("sms", "+15551234567", "a@b.example"),
        (None, None, None),
    ],
)
def test_bad_enrollments_are_refused_locally(factor: Any, phone: Any, email: Any) -> None:
    with pytest.raises(MfaEnrollmentError) as caught:
        validate_enrollment(factor, phone, email)
    assert caught.value.code == "invalid_request"


@pytest.mark.parametrize(
    ("kind", "authenticator_id"), [("sms", None), ("OTP", None), (None, None), ("otp", 5)]
)
def test_bad_challenges_are_refused_locally(kind: Any, authenticator_id: Any) -> None:
    with pytest.raises(MfaChallengeError) as caught:
        validate_challenge(kind, authenticator_id)
    assert caught.value.code == "invalid_request"


# --------------------------------------------------------------------------- storing the tokens


def context_for(audience: str, requested_scope: str) -> MfaContext:
    return MfaContext(
        raw_token=RAW,
        audience=audience,
        scope="",
        requested_scope=requested_scope,
        requirements=None,
        binding=None,
    )


def test_another_audience_gets_an_entry_that_is_selected_next_time(auth0: Auth0Client) -> None:
    now = int(time.time())
    wanted = f"{SCOPE} read:x"
    session = session_for()
    session.access_tokens = [
        AccessTokenSet("old-wide", now + 60, API, "read:x read:y", f"{wanted} read:y"),
        AccessTokenSet("old-same", now + 60, API, "read:x", wanted),
        AccessTokenSet("narrower", now + 60, API, "read:z", f"{SCOPE} read:z"),
        AccessTokenSet("expired", now - 1, API, "read:q", f"{SCOPE} read:q"),
        AccessTokenSet("other-api", now + 60, "https://other", "read:o", SCOPE),
    ]
    updated = apply_verified_tokens(
        session,
        auth0.config,
        context_for(API, wanted),
        tokens(refresh_token="rotated"),
        issued_at=now,
        now=now,
    )
    assert session.access_tokens[0].access_token == "old-wide"  # the input is not changed
    by_token = {e.access_token: e for e in updated.access_tokens}
    assert set(by_token) == {"mfa-at", "narrower", "other-api"}
    entry = by_token["mfa-at"]
    assert (entry.audience, entry.scope, entry.requested_scope) == (API, "read:x", wanted)
    assert entry.expires_at == now + 600 and entry.token_type == "Bearer"
    assert updated.token_set.refresh_token == "rotated"
    assert updated.token_set.access_token == "login-at"
    assert updated.token_set.id_token == "login-idt"
    candidate = select_candidate(updated, auth0.config, audience=API, scope=wanted)
    assert candidate.access_token == "mfa-at" and not candidate.primary


def test_the_default_audience_updates_the_login_token_set() -> None:
    auth0 = Auth0Client(**base_options(authorization_parameters={"audience": API}))
    now = int(time.time())
    session = session_for(audience=API)
    updated = apply_verified_tokens(
        session,
        auth0.config,
        context_for("", SCOPE),
        tokens(token_type="DPoP"),
        issued_at=now,
        now=now,
    )
    assert updated.access_tokens == []
    primary = updated.token_set
    assert (primary.access_token, primary.token_type, primary.scope) == ("mfa-at", "DPoP", "read:x")
    assert primary.requested_scope == SCOPE and primary.refresh_token == "login-rt"
    assert primary.expires_at == now + 600
    candidate = select_candidate(updated, auth0.config, audience=None, scope=SCOPE)
    assert candidate.primary and candidate.access_token == "mfa-at"


def test_no_audience_at_all_stands_in_for_the_login_set_only_when_as_wide(
    auth0: Auth0Client,
) -> None:
    now = int(time.time())
    wider = f"{SCOPE} read:x"
    updated = apply_verified_tokens(
        session_for(), auth0.config, context_for("", wider), tokens(), issued_at=now, now=now
    )
    assert updated.token_set.access_token == "mfa-at"
    assert updated.token_set.requested_scope == wider
    narrower = apply_verified_tokens(
        session_for(), auth0.config, context_for("", "openid"), tokens(), issued_at=now, now=now
    )
    assert narrower.token_set.access_token == "mfa-at"  # the login set answers "openid"
    assert narrower.token_set.requested_scope == SCOPE


# --------------------------------------------------------------------------- results


def test_results_hide_their_secrets() -> None:
    enrollment = MfaEnrollment(
        authenticator_type="otp",
        secret="S3CRETBASE32",
        barcode_uri="otpauth://totp/x?secret=S",
        recovery_codes=("RC-1",),
        oob_code="OOB-1",
    )
    text = repr(enrollment)
    for secret in ("S3CRETBASE32", "otpauth", "RC-1", "OOB-1"):
        assert secret not in text
    assert enrollment.to_dict()["recovery_codes"] == ["RC-1"]


@pytest.mark.parametrize(
    ("authenticator", "factor"),
    [
        (Authenticator("a", "otp", True), "otp"),
        (Authenticator("a", "oob", True, oob_channel="sms"), "phone"),
        (Authenticator("a", "oob", True, oob_channel="voice"), "phone"),
        (Authenticator("a", "oob", True, oob_channel="email"), "email"),
        (Authenticator("a", "oob", True, oob_channel="auth0"), "push-notification"),
        (Authenticator("a", "oob", True, type="Phone", oob_channel="email"), "phone"),
        (Authenticator("a", "recovery-code", True), "recovery-code"),
    ],
)
def test_factor_types_are_derived_when_the_server_omits_them(
    authenticator: Authenticator, factor: str
) -> None:
    assert authenticator.factor_type == factor


def test_the_test_totp_helper_matches_rfc_6238() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # "12345678901234567890"
    assert totp(secret, 59) == "287082"
    assert totp(secret, 1111111109) == "081804"
    assert totp(secret, 1234567890) == "005924"


# ------------------------------------------------------------------ against the scripted OP


def answer(status: int, body: Any) -> Any:
    return lambda _record: (status, {"content-type": "application/json"}, json.dumps(body).encode())


class Step:
    """A client on the scripted OP, a session cookie for it and sealed contexts."""

    def __init__(self, op: ScriptedOP) -> None:
        self.op = op
        self.auth0 = make_client(
            op, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
        )
        self.cookies = generate_session_cookie(session_for(), secret=SECRET)
        # The session as the SDK reads it back (the cookie helper restarts its clock).
        self.session = self.auth0._rt.sessions.read(self.cookies, time.time())

    def request(self, **changes: Any) -> Request:
        values: dict[str, Any] = {
            "method": "GET",
            "scheme": "http",
            "host": "127.0.0.1:3000",
            "path": "/",
            "cookies": self.cookies,
        }
        values.update(changes)
        return Request(**values)

    def sealed(self, requirements: Any = None, *, bound: bool = True) -> str:
        return seal_context(
            self.auth0._rt,
            raw_token=RAW,
            audience=API,
            scope="",
            requested_scope=SCOPE,
            requirements=sanitize_requirements(requirements),
            session=self.session if bound else None,
        )


@pytest.fixture
async def step(scripted_op: ScriptedOP) -> AsyncIterator[Step]:
    found = Step(scripted_op)
    try:
        yield found
    finally:
        await found.auth0.aclose()


AUTHENTICATORS = [
    {"id": "totp|1", "authenticator_type": "otp", "type": "OTP", "active": True},
    {"id": "sms|1", "authenticator_type": "oob", "oob_channel": "sms", "active": True},
    {
        "id": "email|1",
        "authenticator_type": "oob",
        "oob_channel": "email",
        "type": "email",
        "active": False,
        "name": "a@b.example",
        "created_at": "2024-01-01T00:00:00Z",
    },
]


async def test_authenticators_are_narrowed_to_the_required_factor_types(step: Step) -> None:
    step.op.scenario.responses["/mfa/authenticators"] = answer(200, AUTHENTICATORS)
    every = await step.auth0.mfa.get_authenticators(step.sealed(), request=step.request())
    assert [a.id for a in every] == ["totp|1", "sms|1", "email|1"]
    assert every[2].active is False and every[2].name == "a@b.example"
    narrowed = await step.auth0.mfa.get_authenticators(
        step.sealed({"challenge": [{"type": "otp"}, {"type": "PHONE"}]}), request=step.request()
    )
    assert [a.id for a in narrowed] == ["totp|1", "sms|1"]
    [call, *_] = step.op.calls("/mfa/authenticators")
    assert call.headers["authorization"] == f"Bearer {RAW}"


@pytest.mark.parametrize(
    "body",
    [
        {"id": "x"},
        [{"authenticator_type": "otp"}],
        [{"id": "a", "authenticator_type": "otp", "active": "yes"}],
        [{"id": "a", "authenticator_type": "otp", "name": 5}],
        [{"id": "a", "authenticator_type": "otp"}] * 101,
        "text",
    ],
)
async def test_a_malformed_authenticator_list_is_an_unexpected_error(step: Step, body: Any) -> None:
    step.op.scenario.responses["/mfa/authenticators"] = answer(200, body)
    with pytest.raises(MfaGetAuthenticatorsError) as caught:
        await step.auth0.mfa.get_authenticators(step.sealed(), request=step.request())
    assert caught.value.code == "unexpected_error" and caught.value.status == 500


async def test_a_provider_refusal_keeps_its_text_in_the_cause_only(step: Step) -> None:
    step.op.scenario.responses["/mfa/authenticators"] = answer(
        401, {"error": "invalid_token", "error_description": "<b>token</b> is bad"}
    )
    with pytest.raises(MfaGetAuthenticatorsError) as caught:
        await step.auth0.mfa.get_authenticators(step.sealed(), request=step.request())
    error = caught.value
    assert error.code == "invalid_token" and error.status == 400
    assert "<b>" not in error.message
    assert isinstance(error.cause, OAuth2Error) and error.cause.description == "<b>token</b> is bad"


async def test_the_route_answers_500_without_details_for_a_broken_provider(step: Step) -> None:
    step.op.scenario.responses["/mfa/authenticators"] = lambda _r: (
        500,
        {"content-type": "text/html"},
        b"<h1>stack trace: secret</h1>",
    )
    response = await step.auth0.handle(
        step.request(
            path="/auth/mfa/authenticators",
            headers={"authorization": f"Bearer {step.sealed()}"},
        )
    )
    assert response is not None and response.status == 500
    body = json.loads(response.body)
    assert body == {
        "error": "unexpected_error",
        "error_description": "Failed to retrieve the MFA authenticators.",
    }
    assert (
        "cache-control",
        "private, no-cache, no-store, must-revalidate, max-age=0",
    ) in response.headers


async def test_a_challenge_the_requirements_rule_out_makes_no_call(step: Step) -> None:
    sealed = step.sealed({"challenge": [{"type": "otp"}]})
    with pytest.raises(MfaNoAvailableFactorsError) as caught:
        await step.auth0.mfa.challenge(sealed, "oob", request=step.request())
    assert caught.value.code == "mfa_no_available_factors"
    with pytest.raises(MfaNoAvailableFactorsError):
        await step.auth0.mfa.challenge(
            step.sealed({"challenge": []}), "otp", request=step.request()
        )
    assert step.op.calls("/mfa/challenge") == []


async def test_a_challenge_sends_the_client_credentials_in_its_json_body(step: Step) -> None:
    step.op.scenario.responses["/mfa/challenge"] = answer(
        200, {"challenge_type": "oob", "oob_code": "oob-9", "binding_method": "prompt"}
    )
    sealed = step.sealed({"challenge": [{"type": "phone"}]})
    challenge = await step.auth0.mfa.challenge(
        sealed, challenge_type="oob", authenticator_id="sms|1", request=step.request()
    )
    assert (challenge.challenge_type, challenge.oob_code) == ("oob", "oob-9")
    assert "oob-9" not in repr(challenge)
    [call] = step.op.calls("/mfa/challenge")
    assert call.headers["content-type"] == "application/json"
    assert call.json() == {
        "mfa_token": RAW,
        "challenge_type": "oob",
        "authenticator_id": "sms|1",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }


@pytest.mark.parametrize(
    "body",
    [{"challenge_type": "oob"}, {"challenge_type": "sms"}, {"oob_code": "x"}, ["otp"]],
)
async def test_a_malformed_challenge_answer_is_an_unexpected_error(step: Step, body: Any) -> None:
    step.op.scenario.responses["/mfa/challenge"] = answer(200, body)
    with pytest.raises(MfaChallengeError) as caught:
        await step.auth0.mfa.challenge(step.sealed(), "oob", request=step.request())
    assert caught.value.code == "unexpected_error"


async def test_enroll_posts_the_mapped_body_with_the_bearer_token(step: Step) -> None:
    step.op.scenario.responses["/mfa/associate"] = answer(
        200,
        {
            "authenticator_type": "oob",
            "oob_channel": "auth0",
            "oob_code": "o",
            "barcode_uri": "otpauth://x",
            "recovery_codes": ["R1"],
        },
    )
    enrollment = await step.auth0.mfa.enroll(step.sealed(), "push", request=step.request())
    assert enrollment.oob_channel == "auth0" and enrollment.recovery_codes == ("R1",)
    [call] = step.op.calls("/mfa/associate")
    assert call.headers["authorization"] == f"Bearer {RAW}"
    assert call.json() == {"authenticator_types": ["oob"], "oob_channels": ["auth0"]}
    step.op.scenario.responses["/mfa/associate"] = answer(
        200, {"authenticator_type": "otp", "recovery_codes": "R1"}
    )
    with pytest.raises(MfaEnrollmentError) as caught:
        await step.auth0.mfa.enroll(step.sealed(), "otp", request=step.request())
    assert caught.value.code == "unexpected_error"


async def test_verify_checks_its_arguments_and_the_session_before_any_call(step: Step) -> None:
    with pytest.raises(MfaVerifyError) as caught:
        await step.auth0.mfa.verify(step.sealed(), request=step.request(), response=Response())
    assert caught.value.code == "invalid_request"
    with pytest.raises(Auth0Error, match="response="):
        await step.auth0.mfa.verify(step.sealed(), otp="123456", request=step.request())
    anonymous = step.request(cookies={})
    with pytest.raises(MfaVerifyError) as missing:
        await step.auth0.mfa.verify(
            step.sealed(bound=False), otp="123456", request=anonymous, response=Response()
        )
    assert missing.value.code == "missing_session" and missing.value.status == 401
    with pytest.raises(MfaTokenInvalidError):
        await step.auth0.mfa.verify(
            step.sealed(), otp="123456", request=anonymous, response=Response()
        )
    assert step.op.calls("/oauth/token") == []


async def test_verify_surfaces_a_chained_mfa_requirement_bound_to_the_session(step: Step) -> None:
    step.op.scenario.responses["/oauth/token"] = answer(
        403,
        {
            "error": "mfa_required",
            "mfa_token": "second-raw-token",
            "mfa_requirements": {"challenge": [{"type": "phone"}]},
        },
    )
    with pytest.raises(MfaRequiredError) as caught:
        await step.auth0.mfa.verify(
            step.sealed(), otp="123456", request=step.request(), response=Response()
        )
    context = unseal_context(step.auth0._rt, caught.value.mfa_token)
    assert context.raw_token == "second-raw-token" and context.audience == API
    check_binding(context, step.session)
    [call] = step.op.calls("/oauth/token")
    assert call.form["grant_type"] == MFA_OTP_GRANT and call.form["audience"] == API
    assert "scope" not in call.form  # the refresh sent none, so neither does the grant

    route = await step.auth0.handle(
        step.request(
            method="POST",
            path="/auth/mfa/verify",
            headers={
                "authorization": f"Bearer {step.sealed()}",
                "content-type": "application/json",
            },
            body=b'{"otp": "123456"}',
        )
    )
    assert route is not None and route.status == 403
    body = json.loads(route.body)
    assert body["error"] == "mfa_required" and body["mfa_requirements"] == {
        "challenge": [{"type": "phone"}]
    }
    assert "second-raw-token" not in route.body.decode()


@pytest.mark.parametrize(
    ("status", "body", "code", "http_status"),
    [
        (500, b"<html>", "unexpected_error", 500),
        (200, b'{"token_type": "Bearer"}', "unexpected_error", 500),
        (
            200,
            b'{"access_token": "a", "token_type": "Bearer", "recovery_code": 5}',
            "unexpected_error",
            500,
        ),
        (
            400,
            b'{"error": "expired_token", "error_description": "mfa_token is expired"}',
            "expired_token",
            400,
        ),
    ],
)
async def test_verify_failures_store_nothing(
    step: Step, status: int, body: bytes, code: str, http_status: int
) -> None:
    def token_endpoint(_record: RecordedRequest) -> RawResponse:
        return status, {"content-type": "application/json"}, body

    step.op.scenario.responses["/oauth/token"] = token_endpoint
    written = Response()
    with pytest.raises(MfaVerifyError) as caught:
        await step.auth0.mfa.verify(
            step.sealed(), recovery_code="ABC", request=step.request(), response=written
        )
    assert (caught.value.code, caught.value.status) == (code, http_status)
    assert written.cookies == []


async def test_verify_stores_a_token_with_a_verified_id_token_of_the_same_user(step: Step) -> None:
    now = int(time.time())
    id_token = step.op.mint_id_token(
        {
            "iss": step.op.issuer,
            "aud": DEFAULT_CLIENT_ID,
            "sub": DEFAULT_USER["sub"],
            "iat": now,
            "exp": now + 600,
        }
    )
    step.op.scenario.responses["/oauth/token"] = answer(
        200,
        {
            "access_token": "stepped-up",
            "token_type": "Bearer",
            "expires_in": 900,
            "scope": "read:x",
            "id_token": id_token,
            "recovery_code": "NEWCODE",
        },
    )
    written = Response()
    result = await step.auth0.mfa.verify(
        step.sealed(), recovery_code="OLD-CODE", request=step.request(), response=written
    )
    assert result.recovery_code == "NEWCODE"
    [call] = step.op.calls("/oauth/token")
    assert call.form["grant_type"] == MFA_RECOVERY_CODE_GRANT
    assert call.form["recovery_code"] == "OLD-CODE" and call.form["mfa_token"] == RAW
    cookies = {name: header.split(";")[0].split("=", 1)[1] for name, header in written.cookies}
    stored = await step.auth0.get_session(step.request(cookies=cookies))
    assert stored is not None
    [entry] = stored.access_tokens
    assert (entry.access_token, entry.audience, entry.requested_scope) == ("stepped-up", API, SCOPE)
    token = await step.auth0.get_access_token(step.request(cookies=cookies), audience=API)
    assert token.token == "stepped-up"
    assert len(step.op.calls("/oauth/token")) == 1


async def test_mfa_required_from_a_refresh_is_bound_and_remembers_the_lookup_scope(
    step: Step,
) -> None:
    step.op.scenario.responses["/oauth/token"] = answer(
        403, {"error": "mfa_required", "mfa_token": RAW}
    )
    with pytest.raises(MfaRequiredError) as caught:
        await step.auth0.get_access_token(step.request(), audience=API, scope="read:x")
    context = unseal_context(step.auth0._rt, caught.value.mfa_token)
    check_binding(context, step.session)
    assert context.audience == API
    assert context.scope == f"{SCOPE} read:x" == context.requested_scope
    [call] = step.op.calls("/oauth/token")
    assert call.form["grant_type"] == "refresh_token" and call.form["audience"] == API
    with pytest.raises(MfaTokenInvalidError):
        check_binding(context, session_for(sub="auth0|other"))
