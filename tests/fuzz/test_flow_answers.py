"""The advanced flows' parsers: sealed MFA tokens and the MFA API's answers, CIBA's
backchannel and polling answers, the My Account API's answers (connected accounts), and
Token Vault exchanges.

Every answer comes from an in-process provider that says whatever the strategy draws
(status, headers, JSON or junk). Invariants: only the documented error of each operation is
raised (EXT-04, EXT-06, EXT-07), the raw MFA token never leaves the server, polling stays
bounded, a redirect to the provider's connect page is an https URL a browser reads as we do,
and tokens for another user never reach the session.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import ada_url
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from auth0_web._access_tokens import AccessToken
from auth0_web._ciba import (
    MAX_RETRY_AFTER,
    MIN_INTERVAL,
    BackchannelAuthenticationError,
    _parse_authentication_response,
    _retry_after,
    get_token_by_backchannel_auth,
)
from auth0_web._connect import (
    ConnectAccountError,
    ConnectedAccount,
    ConnectedAccountsError,
    _Malformed,
    _parse_account,
    _parse_started,
    check_callback,
    complete_connect,
    list_connected_accounts,
    problem_from,
)
from auth0_web._connection_tokens import (
    AccessTokenForConnectionError,
    get_access_token_for_connection,
    validate_connection_request,
)
from auth0_web._errors import MfaRequiredError, OAuth2Error
from auth0_web._http import Request
from auth0_web._mfa import (
    MfaChallengeError,
    MfaContext,
    MfaEnrollmentError,
    MfaGetAuthenticatorsError,
    MfaNoAvailableFactorsError,
    MfaTokenExpiredError,
    MfaTokenInvalidError,
    MfaVerifyError,
    enroll_authenticator,
    list_authenticators,
    sanitize_requirements,
    seal_context,
    session_binding,
    start_challenge,
    unseal_context,
    validate_credential,
    verify_credential,
)
from auth0_web._runtime import Runtime
from auth0_web.session._connection_cookies import MAX_CONNECTION_TOKEN_SETS
from auth0_web.session._model import SessionData, SessionInternal, TokenSet
from auth0_web.session._transaction import TransactionState
from tests.support.scripted_op import jws_compact, signer

from .harness import (
    CLIENT_ID,
    ISSUER,
    Aio,
    Answer,
    MockProvider,
    fuzz,
    http_response,
    runtime,
    seal,
)
from .strategies import (
    MISSING,
    RETRY_AFTER,
    answers,
    compact_junk,
    corrupted,
    dump,
    errors_of,
    hostile_numbers,
    json_values,
    latin1_text,
    mutations,
    or_hostile,
    text_or_missing,
    unicode_text,
)

NOW = int(time.time())
ALICE, BOB = "auth0|alice", "auth0|bob"
RAW_MFA_TOKEN = "raw-mfa-token-from-the-provider-0123456789"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
PROVIDER = MockProvider(jwks={"keys": [KEY.as_dict(private=False)]})


def id_token(sub: str, **extra: Any) -> str:
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": sub, "iat": NOW, "exp": NOW + 600}
    claims.update(extra)
    return jws_compact({"alg": "RS256", "kid": "k1"}, claims, signer("RS256", KEY))


ALICE_ID_TOKEN = id_token(ALICE)
SESSION = SessionData(
    user={"sub": ALICE},
    token_set=TokenSet(
        access_token="at-alice",
        expires_at=NOW + 3600,
        id_token=ALICE_ID_TOKEN,
        refresh_token="rt-alice",
        token_type="Bearer",
    ),
    internal=SessionInternal(sid="sid-alice", created_at=NOW - 60),
)


@pytest.fixture(scope="module")
def rt(aio: Aio) -> Runtime:
    return runtime(PROVIDER)


# ------------------------------------------------------------------ sealed MFA tokens


def sealed_for(rt: Runtime, **overrides: Any) -> str:
    options: dict[str, Any] = {
        "raw_token": RAW_MFA_TOKEN,
        "audience": "https://api.example",
        "scope": "read:x",
        "requested_scope": "read:x",
        "requirements": {"challenge": [{"type": "otp"}]},
        "session": SESSION,
    }
    options.update(overrides)
    return seal_context(rt, **options)


@fuzz(1.0)
@given(st.one_of(compact_junk(), json_values, st.binary(max_size=40)))
def test_anything_but_a_sealed_token_is_an_invalid_mfa_token(rt: Runtime, value: Any) -> None:
    with pytest.raises(MfaTokenInvalidError):
        unseal_context(rt, value)


@fuzz(1.0)
@given(st.data())
def test_a_modified_mfa_token_is_invalid(rt: Runtime, data: st.DataObject) -> None:
    token = data.draw(mutations(sealed_for(rt)))
    with pytest.raises(MfaTokenInvalidError):
        unseal_context(rt, token)


mfa_payloads = corrupted(
    {
        "kind": "auth0_web.mfa",
        "mfa_token": RAW_MFA_TOKEN,
        "audience": "https://api.example",
        "scope": "read:x",
        "requested_scope": "read:x",
        "iat": NOW,
        "exp": NOW + 300,
        "bnd": "0" * 32,
        "mfa_requirements": {"challenge": [{"type": "otp"}]},
    },
    {
        "kind": st.one_of(st.just(MISSING), json_values, st.just("auth0_web.session")),
        "mfa_token": st.one_of(text_or_missing(), st.just("t" * 4097)),
        "audience": text_or_missing(),
        "scope": st.one_of(text_or_missing(), st.just("s" * 4097)),
        "requested_scope": text_or_missing(),
        "exp": st.one_of(st.just(MISSING), st.integers(NOW - 100, NOW + 100), hostile_numbers()),
        "bnd": json_values,
        "mfa_requirements": json_values,
    },
)


@fuzz(1.0)
@given(mfa_payloads)
def test_any_authenticated_payload_opens_to_a_well_formed_context_or_an_mfa_error(
    rt: Runtime, payload: dict[str, Any]
) -> None:
    try:
        context = unseal_context(rt, seal(dump(payload).encode()))
    except (MfaTokenInvalidError, MfaTokenExpiredError) as error:
        assert RAW_MFA_TOKEN not in str(error)
        return
    assert isinstance(context, MfaContext)
    assert isinstance(context.raw_token, str) and 0 < len(context.raw_token) <= 4096
    for text in (context.audience, context.scope, context.requested_scope):
        assert isinstance(text, str)
    assert context.binding is None or isinstance(context.binding, str)
    assert context.requirements == sanitize_requirements(context.requirements)
    assert RAW_MFA_TOKEN not in repr(context)


@fuzz(0.7)
@given(
    unicode_text(60).filter(bool),
    unicode_text(30),
    unicode_text(30),
    json_values,
    st.booleans(),
)
def test_a_sealed_context_opens_to_what_was_sealed(
    rt: Runtime, raw: str, audience: str, scope: str, requirements: Any, bound: bool
) -> None:
    sanitized = sanitize_requirements(requirements)
    sealed = sealed_for(
        rt,
        raw_token=raw,
        audience=audience,
        scope=scope,
        requested_scope=scope,
        requirements=sanitized,
        session=SESSION if bound else None,
    )
    context = unseal_context(rt, sealed)
    assert (context.raw_token, context.audience, context.scope) == (raw, audience, scope)
    assert context.requirements == sanitized
    assert context.binding == (session_binding(SESSION) if bound else None)
    if sanitized is not None:
        for key, entries in sanitized.items():
            assert key in ("challenge", "enroll") and len(entries) <= 20
            assert all(set(e) == {"type"} and isinstance(e["type"], str) for e in entries)


# ------------------------------------------------------------------ the MFA API


def context_for(rt: Runtime, requirements: Any) -> MfaContext:
    return unseal_context(rt, sealed_for(rt, requirements=sanitize_requirements(requirements)))


REQUIREMENTS = st.one_of(
    st.none(),
    st.sampled_from(
        [
            {"challenge": [{"type": "otp"}]},
            {"challenge": [{"type": "phone"}, {"type": "email"}]},
            {"challenge": []},
            {"enroll": [{"type": "otp"}]},
        ]
    ),
    json_values,
)
authenticator = corrupted(
    {"id": "totp|dev_1", "authenticator_type": "otp", "active": True, "type": "otp"},
    {
        "id": st.one_of(st.just(MISSING), or_hostile(unicode_text(10)), st.just("i" * 600)),
        "authenticator_type": st.one_of(
            st.just(MISSING), st.sampled_from(["oob", "recovery-code"]), json_values
        ),
        "active": json_values,
        "type": json_values,
        "oob_channel": or_hostile(st.sampled_from(["sms", "voice", "email", "auth0"])),
        "name": or_hostile(unicode_text(10)),
        "phone_number": or_hostile(unicode_text(10)),
    },
)


@fuzz(0.7)
@given(
    answers(st.one_of(st.lists(authenticator, max_size=4), errors_of("access_denied"))),
    REQUIREMENTS,
)
def test_authenticator_lists_parse_or_fail_with_the_listing_error(
    aio: Aio, rt: Runtime, answer: Answer, requirements: Any
) -> None:
    PROVIDER.reset()
    PROVIDER.script("/mfa/authenticators", answer)
    context = context_for(rt, requirements)
    try:
        found = aio.run(list_authenticators(rt, context))
    except MfaGetAuthenticatorsError as error:
        event(f"error {error.status}")
        assert error.status in (400, 500) and RAW_MFA_TOKEN not in str(error)
        return
    event("listed")
    assert answer[0] == 200
    allowed = context.challenge_types()
    for item in found:
        assert isinstance(item.id, str) and item.id and isinstance(item.active, bool)
        assert not allowed or item.factor_type in allowed
        json.dumps(item.to_dict(), allow_nan=False)
    assert PROVIDER.calls[-1].headers["authorization"] == f"Bearer {RAW_MFA_TOKEN}"


challenge_bodies = corrupted(
    {"challenge_type": "oob", "oob_code": "oob-1", "binding_method": "prompt"},
    {
        "challenge_type": st.one_of(st.just(MISSING), st.sampled_from(["otp", "x"]), json_values),
        "oob_code": st.one_of(st.just(MISSING), json_values, st.just("o" * 513)),
        "binding_method": json_values,
    },
)


@fuzz(0.7)
@given(
    answers(st.one_of(challenge_bodies, errors_of("invalid_request", "expired_token"))),
    REQUIREMENTS,
    st.sampled_from(["otp", "oob"]),
)
def test_challenge_answers_parse_or_fail_with_a_challenge_error(
    aio: Aio, rt: Runtime, answer: Answer, requirements: Any, kind: Any
) -> None:
    PROVIDER.reset()
    PROVIDER.script("/mfa/challenge", answer)
    try:
        challenge = aio.run(start_challenge(rt, context_for(rt, requirements), kind, None))
    except (MfaChallengeError, MfaNoAvailableFactorsError) as error:
        assert RAW_MFA_TOKEN not in str(error) and error.status in (400, 500)
        return
    assert challenge.challenge_type in ("otp", "oob")
    assert challenge.challenge_type == "otp" or challenge.oob_code


enrollment_bodies = corrupted(
    {
        "authenticator_type": "otp",
        "secret": "JBSWY3DPEHPK3PXP",
        "barcode_uri": "otpauth://totp/x",
        "recovery_codes": ["ABC"],
    },
    {
        "authenticator_type": st.one_of(st.just(MISSING), json_values),
        "secret": json_values,
        "barcode_uri": st.one_of(json_values, st.just("b" * 2049)),
        "recovery_codes": st.one_of(json_values, st.just(["c" * 129]), st.just(["a"] * 30)),
        "oob_code": json_values,
    },
)


@fuzz(0.5)
@given(answers(st.one_of(enrollment_bodies, errors_of("access_denied"))))
def test_enrollment_answers_parse_or_fail_with_an_enrollment_error(
    aio: Aio, rt: Runtime, answer: Answer
) -> None:
    PROVIDER.reset()
    PROVIDER.script("/mfa/associate", answer)
    body = {"authenticator_types": ["otp"]}
    try:
        enrollment = aio.run(enroll_authenticator(rt, context_for(rt, None), body))
    except MfaEnrollmentError as error:
        assert RAW_MFA_TOKEN not in str(error)
        return
    assert isinstance(enrollment.authenticator_type, str) and enrollment.authenticator_type
    assert len(enrollment.recovery_codes) <= 20


mfa_grant_bodies = st.one_of(
    corrupted(
        {
            "access_token": "at-stepped-up",
            "token_type": "Bearer",
            "expires_in": 600,
            "scope": "read:x",
        },
        {
            "access_token": st.one_of(st.just(MISSING), json_values),
            "token_type": json_values,
            "expires_in": hostile_numbers(),
            "id_token": st.sampled_from([ALICE_ID_TOKEN, id_token(BOB), id_token(ALICE, iss="x")]),
            "refresh_token": or_hostile(st.just("rt-rotated")),
            "recovery_code": json_values,
        },
    ),
    st.builds(
        lambda token, reqs: {"error": "mfa_required", "mfa_token": token, "mfa_requirements": reqs},
        or_hostile(st.just("another-raw-mfa-token")),
        REQUIREMENTS,
    ),
    errors_of("invalid_grant", "access_denied", "expired_token"),
)


@fuzz(0.7)
@given(answers(mfa_grant_bodies), st.sampled_from(["123456", None]))
def test_mfa_verification_stores_only_this_users_tokens(
    aio: Aio, rt: Runtime, answer: Answer, otp: str | None
) -> None:
    PROVIDER.reset()
    PROVIDER.script("/oauth/token", answer)
    credential = validate_credential(otp=otp) if otp else validate_credential(oob_code="oob-1")
    context = context_for(rt, None)
    try:
        updated, result = aio.run(verify_credential(rt, context, credential, SESSION))
    except MfaRequiredError as error:
        event("mfa required again")
        assert "another-raw-mfa-token" not in error.mfa_token
        assert error.mfa_token == "" or unseal_context(rt, error.mfa_token).raw_token
        return
    except MfaVerifyError as error:
        event(f"verify error {error.code}")
        assert RAW_MFA_TOKEN not in str(error) and "another-raw" not in str(error)
        return
    event("verified")
    status, _, body = answer
    assert status == 200
    sent = json.loads(body)
    assert updated.user == SESSION.user
    if "id_token" in sent:
        assert sent["id_token"] == ALICE_ID_TOKEN
    stored = [updated.token_set.access_token, *(t.access_token for t in updated.access_tokens)]
    lifetime = sent.get("expires_in")
    if lifetime is None or int(lifetime) > 0:  # a token that is already expired is not kept
        assert sent["access_token"] in stored
    assert result.recovery_code is None or isinstance(result.recovery_code, str)


# ------------------------------------------------------------------ CIBA

pending_bodies = corrupted(
    {"auth_req_id": "req-1", "expires_in": 12, "interval": 2},
    {
        "auth_req_id": st.one_of(st.just(MISSING), json_values, st.just("r" * 4097)),
        "expires_in": st.one_of(st.just(MISSING), st.integers(-1, 30), hostile_numbers()),
        "interval": st.one_of(st.just(MISSING), st.integers(-1, 20), hostile_numbers()),
    },
)


@fuzz(1.0)
@given(answers(st.one_of(pending_bodies, errors_of("invalid_request", "access_denied"))))
def test_backchannel_answers_parse_or_raise_documented_errors(answer: Answer) -> None:
    from auth0_web.oidc._token import TokenResponseError

    try:
        pending = _parse_authentication_response(http_response(answer))
    except (OAuth2Error, TokenResponseError):
        return
    assert answer[0] == 200
    assert isinstance(pending.auth_req_id, str) and pending.auth_req_id
    assert math.isfinite(pending.expires_in) and pending.expires_in > 0
    assert math.isfinite(pending.interval) and pending.interval >= MIN_INTERVAL
    assert "req-1" not in repr(pending)


@fuzz(1.0)
@given(st.lists(st.one_of(RETRY_AFTER.map(str.encode), st.binary(max_size=8)), max_size=2))
def test_retry_after_is_seconds_within_bounds_or_nothing(values: list[bytes]) -> None:
    headers = [(b"retry-after", v) for v in values]
    seconds = _retry_after(http_response((503, headers, b"")))
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER


poll_bodies = st.one_of(
    errors_of("authorization_pending", "slow_down", "access_denied", "expired_token"),
    corrupted(
        {
            "access_token": "at-ciba",
            "token_type": "Bearer",
            "expires_in": 600,
            "id_token": ALICE_ID_TOKEN,
        },
        {
            "id_token": st.one_of(
                st.just(MISSING),
                st.sampled_from([id_token(BOB), id_token(ALICE, aud="other")]),
                json_values,
            ),
            "access_token": json_values,
            "authorization_details": json_values,
        },
    ),
)


@fuzz(0.5)
@given(
    st.one_of(
        answers(pending_bodies, status=200),
        answers(st.one_of(pending_bodies, errors_of("access_denied"))),
    ),
    st.lists(answers(poll_bodies), min_size=1, max_size=4),
    st.sampled_from([None, 1, 5, 30]),
)
def test_backchannel_authentication_ends_in_tokens_for_that_user_or_its_error(
    aio: Aio, rt: Runtime, start: Answer, polls: list[Answer], expiry: int | None
) -> None:
    PROVIDER.reset()
    PROVIDER.script("/bc-authorize", start)
    PROVIDER.script("/oauth/token", *polls)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    try:
        result = aio.run(
            get_token_by_backchannel_auth(
                rt,
                binding_message="Approve 123",
                login_hint={"sub": ALICE},
                requested_expiry=expiry,
                sleep=sleep,
            )
        )
    except BackchannelAuthenticationError as error:
        event("ciba error")
        assert "req-1" not in str(error)
    else:
        event("ciba tokens")
        assert result.id_token_claims["sub"] == ALICE
        assert result.token_set.access_token
    assert all(math.isfinite(w) and w >= MIN_INTERVAL for w in waits)
    # Bounded: never more polls than the wait allows (plus the documented slack).
    limit = expiry if expiry is not None else 600
    assert PROVIDER.count("/oauth/token") <= math.ceil(limit / MIN_INTERVAL) + 2


# ------------------------------------------------------------------ connected accounts

account = corrupted(
    {
        "id": "acc_1",
        "connection": "google-oauth2",
        "access_type": "offline",
        "scopes": ["openid"],
        "created_at": "2025-01-01T00:00:00Z",
        "expires_at": "2026-01-01T00:00:00+00:00",
    },
    {
        "id": st.one_of(st.just(MISSING), json_values, st.just("a\nb")),
        "connection": st.one_of(st.just(MISSING), json_values, st.just("c" * 129)),
        "access_type": json_values,
        "scopes": st.one_of(json_values, st.just(["s"] * 201), st.just([""])),
        "created_at": st.one_of(
            st.just(MISSING),
            json_values,
            st.sampled_from(["2025-13-01T00:00:00Z", "yesterday", "9999-12-31T23:59:59+23:59"]),
        ),
        "expires_at": st.one_of(json_values, st.sampled_from(["0000-01-01", "2025-01-01T25:00"])),
        "org_id": json_values,
    },
)


@fuzz(1.0)
@given(st.one_of(account, json_values), st.booleans())
def test_accounts_parse_to_well_formed_values_or_are_malformed(data: Any, completed: bool) -> None:
    try:
        parsed = _parse_account(data, completed=completed)
    except _Malformed as error:
        assert error.reason
        return
    assert isinstance(parsed, ConnectedAccount)
    assert parsed.id and parsed.connection
    assert all(isinstance(s, str) and s for s in parsed.scopes)
    if completed:
        assert parsed.created_at is not None and parsed.access_type is not None


@fuzz(0.5)
@given(answers(json_values))
def test_problem_details_never_raise(answer: Answer) -> None:
    problem = problem_from(http_response(answer))
    assert 400 <= problem.status <= 599 or problem.status == answer[0]
    for text in (problem.type, problem.title, problem.detail):
        assert text is None or (isinstance(text, str) and len(text) <= 512)


CONNECT_URIS = st.one_of(
    st.sampled_from(
        [
            "https://tenant.fuzz.example/connect",
            "https://tenant.fuzz.example/connect?ticket=old&x=1",
            "https://evil.example@tenant.fuzz.example/connect",
            "https://tenant.fuzz.example\\@evil.example/",
            "https://tenant.fuzz.example#@evil.example",
            "http://tenant.fuzz.example/connect",
            "javascript:alert(1)",
            "https:tenant.fuzz.example",
            "https:/tenant.fuzz.example",
            "https://[::1]:8443/c",
            "https://%65vil.example/c",
            "https://ex<ample.com/",
            "HTTPS://TENANT.FUZZ.EXAMPLE/c",
            "//evil.example/c",
            "https://a b.example/",
            "https://tenant.fuzz.example:99999/",
        ]
    ),
    json_values,
    latin1_text(30),
)
started_bodies = corrupted(
    {
        "connect_uri": "https://tenant.fuzz.example/connect",
        "auth_session": "as-1",
        "connect_params": {"ticket": "tk-1"},
        "expires_in": 300,
    },
    {
        "connect_uri": CONNECT_URIS,
        "auth_session": st.one_of(st.just(MISSING), json_values),
        "connect_params": st.one_of(
            st.just(MISSING),
            json_values,
            st.builds(lambda t: {"ticket": t}, or_hostile(st.sampled_from(["a&b=c", "t#x"]))),
        ),
        "expires_in": st.one_of(st.just(MISSING), hostile_numbers(), st.just(86401)),
    },
)


@fuzz(1.0)
@given(answers(started_bodies, status=201))
def test_the_connect_redirect_is_an_https_url_a_browser_reads_as_we_do(
    rt: Runtime, answer: Answer
) -> None:
    try:
        location, auth_session = _parse_started(rt, http_response(answer))
    except _Malformed:
        return
    body = json.loads(answer[2])
    ticket = body["connect_params"]["ticket"]
    assert auth_session == body["auth_session"]
    url = ada_url.URL(location)
    assert url.protocol == "https:" and url.hostname
    assert url.username == "" and url.password == "" and url.hash == ""
    search = ada_url.URLSearchParams(url.search)
    assert search.get_all("ticket") == [ticket]


def page_answer(accounts: list[Any], cursor: Any) -> Any:
    return (
        {"accounts": accounts, "next": cursor} if cursor is not MISSING else {"accounts": accounts}
    )


pages = st.builds(
    page_answer,
    st.lists(account, max_size=3),
    st.one_of(st.just(MISSING), st.none(), st.sampled_from(["c1", "c2", "c1"]), json_values),
)


@fuzz(0.5)
@given(st.lists(answers(st.one_of(pages, json_values)), min_size=1, max_size=4))
def test_account_listing_follows_cursors_boundedly_or_fails_cleanly(
    aio: Aio, rt: Runtime, page_answers: list[Answer]
) -> None:
    PROVIDER.reset()
    PROVIDER.script("/me/v1/connected-accounts/accounts", *page_answers)
    token = AccessToken(token="my-account-token", expires_at=NOW + 60, token_type="Bearer")
    try:
        accounts = aio.run(list_connected_accounts(rt, token))
    except ConnectedAccountsError as error:
        assert error.status in range(400, 600)
        assert "my-account-token" not in str(error)
        return
    assert all(isinstance(a, ConnectedAccount) for a in accounts)
    assert PROVIDER.count("/me/v1/connected-accounts/accounts") <= 100


@fuzz(0.5)
@given(answers(st.one_of(account, json_values)))
def test_completing_a_connection_gives_the_account_or_a_connect_error(
    aio: Aio, rt: Runtime, answer: Answer
) -> None:
    PROVIDER.reset()
    PROVIDER.script("/me/v1/connected-accounts/complete", answer)
    txn = TransactionState(
        state="S" * 43,
        nonce="",
        code_verifier="v" * 43,
        return_to="/",
        response_type="connect_code",
        auth_session="as-1",
        sub=ALICE,
        sid="sid-alice",
    )
    request = Request(method="GET", scheme="https", host="app.fuzz.example", path="/auth/callback")
    token = AccessToken(token="my-account-token", expires_at=NOW + 60, token_type="Bearer")
    try:
        linked = aio.run(complete_connect(rt, request, txn, token, "code-1"))
    except ConnectAccountError as error:
        assert error.status in range(400, 600) and "my-account-token" not in str(error)
        return
    assert answer[0] in (200, 201) and linked.created_at is not None


@fuzz(0.5)
@given(
    st.dictionaries(
        st.sampled_from(["connect_code", "error", "error_description", "state", "x"]),
        st.one_of(latin1_text(20), st.just("c" * 257)),
        max_size=4,
    ),
    st.sampled_from([ALICE, BOB, ""]),
)
def test_a_connect_callback_query_gives_a_code_or_a_400(query: dict[str, str], sub: str) -> None:
    txn = TransactionState(
        state="S" * 43,
        nonce="",
        code_verifier="v",
        return_to="/",
        response_type="connect_code",
        auth_session="as",
        sub=sub,
        sid="sid-alice",
    )
    try:
        code = check_callback(SESSION, txn, query)
    except ConnectAccountError as error:
        assert error.status == 400
        return
    assert sub == ALICE and "error" not in query
    assert code == query["connect_code"] and 0 < len(code) <= 256


# ------------------------------------------------------------------ Token Vault

exchange_bodies = st.one_of(
    corrupted(
        {
            "access_token": "federated-at",
            "token_type": "Bearer",
            "expires_in": 600,
            "issued_token_type": "http://auth0.com/oauth/token-type/federated-connection-access-token",
            "scope": "read",
        },
        {
            "access_token": st.one_of(st.just(MISSING), json_values),
            "expires_in": st.one_of(st.just(MISSING), hostile_numbers()),
            "issued_token_type": st.one_of(st.just(MISSING), json_values),
            "token_type": json_values,
        },
    ),
    errors_of("invalid_grant", "federated_connection_refresh_token_not_found"),
)


@fuzz(0.7)
@given(answers(exchange_bodies), st.lists(st.sampled_from(["a", "b", "c"]), max_size=12))
def test_token_vault_exchanges_give_a_token_or_the_documented_error(
    aio: Aio, rt: Runtime, answer: Answer, cached: list[str]
) -> None:
    from auth0_web.session._model import ConnectionTokenSet

    PROVIDER.reset()
    PROVIDER.script("/oauth/token", answer)
    session = SessionData(
        user=SESSION.user,
        token_set=SESSION.token_set,
        internal=SESSION.internal,
        connection_token_sets=[
            ConnectionTokenSet(access_token=f"old-{c}", expires_at=NOW - 1, connection=c)
            for c in cached
        ],
    )
    saved: list[SessionData] = []

    async def persist(updated: SessionData) -> None:
        saved.append(updated)

    request = validate_connection_request("github", None, None)
    try:
        token = aio.run(get_access_token_for_connection(rt, session, request, persist))
    except AccessTokenForConnectionError as error:
        assert "rt-alice" not in str(error)
        return
    assert answer[0] == 200 and token.token and token.connection == "github"
    assert saved and len(saved[-1].connection_token_sets) <= MAX_CONNECTION_TOKEN_SETS
    assert saved[-1].user == SESSION.user
