"""CIBA: argument checks, the backchannel request, and the polling loop, against the scripted OP.

``/bc-authorize`` and ``/oauth/token`` are scripted per test (``op.scenario.responses``);
``sleep`` is injected and only records the waits, so the tests assert the intervals the
SDK chose without waiting for them.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from auth0_web import Auth0Client
from auth0_web._ciba import (
    CIBA_GRANT_TYPE,
    BackchannelAuthenticationError,
    BackchannelAuthenticationNotSupportedError,
    BackchannelAuthenticationResult,
    _backchannel_endpoint,
    get_token_by_backchannel_auth,
)
from auth0_web._errors import InvalidRequestError, OAuth2Error
from auth0_web.oidc._discovery import ProviderMetadata
from auth0_web.oidc._id_token import IdTokenError
from auth0_web.oidc._token import TokenResponseError
from tests.support.apps import make_client
from tests.support.scripted_op import DEFAULT_USER, RawResponse, RecordedRequest, ScriptedOP

pytestmark = pytest.mark.anyio

SUB = DEFAULT_USER["sub"]
BC_PATH = "/bc-authorize"
TOKEN_PATH = "/oauth/token"


def raw(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> RawResponse:
    return (
        status,
        {"content-type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


def error(code: str, status: int = 400) -> RawResponse:
    return raw(status, {"error": code, "error_description": f"scripted {code}"})


class Waits:
    """The injected ``sleep``: records every wait instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def op(scripted_op: ScriptedOP) -> ScriptedOP:
    """The scripted OP advertising a backchannel endpoint."""
    scripted_op.scenario.discovery = lambda doc: {
        **doc,
        "backchannel_authentication_endpoint": scripted_op.url(BC_PATH),
    }
    return scripted_op


@pytest.fixture
async def client(op: ScriptedOP) -> AsyncIterator[Auth0Client]:
    auth0 = make_client(op, client_id=op.client_id, client_secret=op.client_secret)
    try:
        yield auth0
    finally:
        await auth0.aclose()


@pytest.fixture
def waits() -> Waits:
    return Waits()


def id_token(op: ScriptedOP, **claims: Any) -> str:
    now = int(time.time())
    base = {
        "iss": op.issuer,
        "aud": op.client_id,
        "sub": SUB,
        "iat": now,
        "exp": now + 600,
        "auth_time": now,
        "email": DEFAULT_USER["email"],
    }
    base.update(claims)
    return op.mint_id_token({k: v for k, v in base.items() if v is not None})


def tokens(op: ScriptedOP, **extra: Any) -> RawResponse:
    body = {
        "access_token": "at-ciba-secret",
        "id_token": id_token(op),
        "refresh_token": "rt-ciba-secret",
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": "openid profile email offline_access",
    }
    body.update(extra)
    return raw(200, {k: v for k, v in body.items() if v is not None})


def script(
    op: ScriptedOP,
    token_answers: list[RawResponse] | Callable[[RecordedRequest], RawResponse],
    *,
    bc: RawResponse | None = None,
) -> None:
    """Answer ``/bc-authorize`` with ``bc`` and the token endpoint with ``token_answers``
    in order (the last one repeated), or with a callback."""
    op.scenario.responses[BC_PATH] = lambda _: (
        bc or raw(200, {"auth_req_id": "req-123", "expires_in": 300, "interval": 5})
    )
    if callable(token_answers):
        op.scenario.responses[TOKEN_PATH] = token_answers
        return
    answers = list(token_answers)

    def answer(_: RecordedRequest) -> RawResponse:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    op.scenario.responses[TOKEN_PATH] = answer


async def run(client: Auth0Client, waits: Waits, **options: Any) -> BackchannelAuthenticationResult:
    options.setdefault("binding_message", "Order 1234")
    options.setdefault("login_hint", {"sub": SUB})
    return await get_token_by_backchannel_auth(client._rt, sleep=waits, **options)


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "options",
    [
        {"binding_message": ""},
        {"binding_message": "   "},
        {"binding_message": "x" * 65},
        {"binding_message": "approve?"},
        {"binding_message": "line\nbreak"},
        {"binding_message": "h\u00e9llo"},
        {"binding_message": "<script>"},
        {"binding_message": 1234},
        {"login_hint": {}},
        {"login_hint": {"sub": ""}},
        {"login_hint": {"sub": 42}},
        {"login_hint": "auth0|someone"},
        {"requested_expiry": 0},
        {"requested_expiry": -5},
        {"requested_expiry": 301},
        {"requested_expiry": 1.5},
        {"requested_expiry": True},
        {"requested_expiry": "300"},
        {"authorization_params": {"audience": 1}},
        {"authorization_params": ["scope", "openid"]},
        {"authorization_details": {"type": "payment"}},
        {"authorization_details": [{"amount": 1}]},
        {"authorization_details": [{"type": "x", "when": object()}]},
        {"authorization_details": [{"type": "x", "amount": float("nan")}]},
    ],
)
async def test_invalid_arguments_fail_before_any_request(
    op: ScriptedOP, client: Auth0Client, waits: Waits, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await run(client, waits, **options)
    assert caught.value.code == "invalid_request"
    assert op.requests == []  # not even discovery
    assert waits.calls == []


async def test_longest_binding_message_with_every_allowed_character(
    op: ScriptedOP, client: Auth0Client, waits: Waits
) -> None:
    message = ("Ab 9+-_.,:#" * 6)[:64]
    script(op, [tokens(op)])
    await run(client, waits, binding_message=message, requested_expiry=None)
    form = op.last(BC_PATH).form
    assert form["binding_message"] == message
    assert "requested_expiry" not in form


# --------------------------------------------------------------------------- the flow


async def test_pending_pending_slow_down_then_tokens(
    op: ScriptedOP, client: Auth0Client, waits: Waits
) -> None:
    script(
        op,
        [
            error("authorization_pending"),
            error("authorization_pending"),
            error("slow_down"),
            tokens(op, authorization_details=[{"type": "payment", "amount": 10}]),
        ],
    )
    details = [{"type": "payment", "amount": 10, "currency": "EUR"}]
    result = await run(client, waits, authorization_details=details)

    assert waits.calls == [5, 5, 5, 10]
    bc = op.last(BC_PATH)
    assert bc.method == "POST"
    assert bc.form["scope"] == "openid profile email offline_access"
    assert bc.form["binding_message"] == "Order 1234"
    assert json.loads(bc.form["login_hint"]) == {"format": "iss_sub", "iss": op.issuer, "sub": SUB}
    assert bc.form["requested_expiry"] == "300"
    assert json.loads(bc.form["authorization_details"]) == details
    assert bc.form.get("client_id") == op.client_id or bc.basic_auth() is not None

    polls = op.calls(TOKEN_PATH)
    assert len(polls) == 4
    for poll in polls:
        assert poll.form["grant_type"] == CIBA_GRANT_TYPE
        assert poll.form["auth_req_id"] == "req-123"
        assert poll.form.get("client_secret") == op.client_secret or poll.basic_auth()

    assert result.id_token_claims["sub"] == SUB
    assert result.id_token_claims["email"] == DEFAULT_USER["email"]
    ts = result.token_set
    assert ts.access_token == "at-ciba-secret"
    assert ts.refresh_token == "rt-ciba-secret"
    assert ts.id_token is not None
    assert ts.scope == "openid profile email offline_access"
    assert ts.token_type == "Bearer"
    assert abs(ts.expires_at - (time.time() + 600)) < 5
    assert result.authorization_details == [{"type": "payment", "amount": 10}]
    text = repr(result)
    assert "at-ciba-secret" not in text and "rt-ciba-secret" not in text
    assert ts.id_token not in text
    assert DEFAULT_USER["email"] not in text


async def test_parameters_merge_and_reserved_ones_are_dropped(op: ScriptedOP, waits: Waits) -> None:
    auth0 = make_client(
        op,
        client_id=op.client_id,
        client_secret=op.client_secret,
        authorization_parameters={"scope": "openid email", "audience": "https://api.example"},
    )
    try:
        script(op, [tokens(op)])
        await run(
            auth0,
            waits,
            authorization_params={
                "scope": "openid read:orders",
                "acr_values": "urn:example:mfa",
                "login_hint": "someone-else",
                "binding_message": "other",
                "client_id": "evil",
                "redirect_uri": "https://evil.example/",
                "state": "s",
                "nonce": "n",
                "request_uri": "urn:x",
                "requested_expiry": "9999",
            },
            requested_expiry=120,
        )
    finally:
        await auth0.aclose()
    form = op.last(BC_PATH).form
    assert form["scope"] == "openid read:orders"
    assert form["audience"] == "https://api.example"
    assert form["acr_values"] == "urn:example:mfa"
    assert json.loads(form["login_hint"])["sub"] == SUB
    assert form["binding_message"] == "Order 1234"
    assert form["requested_expiry"] == "120"
    assert form.get("client_id") in (None, op.client_id)
    for key in ("redirect_uri", "state", "nonce", "request_uri"):
        assert key not in form


@pytest.mark.parametrize(
    ("bc_body", "first_wait"),
    [
        ({"auth_req_id": "r", "expires_in": 300}, 5),  # CIBA default
        ({"auth_req_id": "r", "expires_in": 300, "interval": 2}, 2),
        ({"auth_req_id": "r", "expires_in": 300, "interval": 0.01}, 1),  # clamped
    ],
)
async def test_interval(
    op: ScriptedOP,
    client: Auth0Client,
    waits: Waits,
    bc_body: dict[str, Any],
    first_wait: float,
) -> None:
    script(op, [tokens(op)], bc=raw(200, bc_body))
    await run(client, waits)
    assert waits.calls == [first_wait]


async def test_repeated_slow_down_keeps_adding_five_seconds(
    op: ScriptedOP, client: Auth0Client, waits: Waits
) -> None:
    script(op, [error("slow_down"), error("slow_down"), tokens(op)])
    await run(client, waits)
    assert waits.calls == [5, 10, 15]


async def test_503_retry_after_is_honoured(
    op: ScriptedOP, client: Auth0Client, waits: Waits
) -> None:
    script(op, [raw(503, {"error": "temporarily_unavailable"}, {"retry-after": "7"}), tokens(op)])
    await run(client, waits)
    assert waits.calls == [5, 7]


@pytest.mark.parametrize("code", ["access_denied", "expired_token", "invalid_grant"])
async def test_final_errors_end_polling(
    op: ScriptedOP, client: Auth0Client, waits: Waits, code: str
) -> None:
    script(op, [error("authorization_pending"), error(code)])
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await run(client, waits)
    err = caught.value
    assert err.code == "backchannel_authentication_error"
    assert err.message == (
        "There was an error when trying to use Client Initiated Backchannel Authentication."
    )
    assert isinstance(err.cause, OAuth2Error) and err.cause.code == code
    assert op.count(TOKEN_PATH) == 2


async def test_request_expires_while_pending(
    op: ScriptedOP, client: Auth0Client, waits: Waits
) -> None:
    script(
        op,
        [error("authorization_pending")],
        bc=raw(200, {"auth_req_id": "r", "expires_in": 12, "interval": 5}),
    )
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await run(client, waits)
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "expired_token"
    assert waits.calls == [5, 5]
    assert op.count(TOKEN_PATH) == 2


async def test_endless_pending_is_capped_by_the_requested_expiry(
    op: ScriptedOP, client: Auth0Client, waits: Waits
) -> None:
    # The server promises a day and never decides; the caller asked for 30 seconds.
    script(
        op,
        [error("authorization_pending")],
        bc=raw(200, {"auth_req_id": "r", "expires_in": 86400, "interval": 5}),
    )
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await run(client, waits, requested_expiry=30)
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "expired_token"
    assert op.count(TOKEN_PATH) <= 30 / 5 + 2
    assert sum(waits.calls) <= 30


async def test_endless_pending_without_requested_expiry_stops_too(
    op: ScriptedOP, client: Auth0Client, waits: Waits
) -> None:
    script(
        op,
        [error("authorization_pending")],
        bc=raw(200, {"auth_req_id": "r", "expires_in": 10**9, "interval": 1}),
    )
    with pytest.raises(BackchannelAuthenticationError):
        await run(client, waits, requested_expiry=None)
    assert op.count(TOKEN_PATH) <= 600 + 2


# --------------------------------------------------------------------------- bad answers


@pytest.mark.parametrize(
    "answer",
    [
        raw(200, {"expires_in": 300}),
        raw(200, {"auth_req_id": "", "expires_in": 300}),
        raw(200, {"auth_req_id": 7, "expires_in": 300}),
        raw(200, {"auth_req_id": "r"}),
        raw(200, {"auth_req_id": "r", "expires_in": -1}),
        raw(200, {"auth_req_id": "r", "expires_in": "300"}),
        raw(200, {"auth_req_id": "r", "expires_in": 300, "interval": 0}),
        raw(200, {"auth_req_id": "r", "expires_in": 300, "interval": "5"}),
        (200, {"content-type": "application/json"}, b"[1, 2]"),
        (500, {"content-type": "text/html"}, b"<h1>oops</h1>"),
    ],
)
async def test_malformed_backchannel_answers(
    op: ScriptedOP, client: Auth0Client, waits: Waits, answer: RawResponse
) -> None:
    script(op, [tokens(op)], bc=answer)
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await run(client, waits)
    assert isinstance(caught.value.cause, TokenResponseError)
    assert op.count(TOKEN_PATH) == 0


async def test_backchannel_error_answer(op: ScriptedOP, client: Auth0Client, waits: Waits) -> None:
    script(op, [tokens(op)], bc=error("unknown_user_id"))
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await run(client, waits)
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "unknown_user_id"
    assert op.count(TOKEN_PATH) == 0


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "auth0|someone-else"},
        {"aud": "another-client"},
        {"iss": "https://evil.example/"},
        {"exp": int(time.time()) - 3600},
    ],
)
async def test_id_token_is_validated(
    op: ScriptedOP, client: Auth0Client, waits: Waits, claims: dict[str, Any]
) -> None:
    script(op, [tokens(op, id_token=id_token(op, **claims))])
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await run(client, waits)
    assert isinstance(caught.value.cause, IdTokenError)


async def test_id_token_is_required(op: ScriptedOP, client: Auth0Client, waits: Waits) -> None:
    script(op, [tokens(op, id_token=None)])
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await run(client, waits)
    assert isinstance(caught.value.cause, TokenResponseError)


# --------------------------------------------------------------------------- not supported


@pytest.mark.parametrize("endpoint", [None, "", 42, "ftp://op.example/bc"])
async def test_no_backchannel_endpoint(
    scripted_op: ScriptedOP, waits: Waits, endpoint: object
) -> None:
    scripted_op.scenario.discovery = lambda doc: {
        **doc,
        **({} if endpoint is None else {"backchannel_authentication_endpoint": endpoint}),
    }
    auth0 = make_client(
        scripted_op, client_id=scripted_op.client_id, client_secret=scripted_op.client_secret
    )
    try:
        with pytest.raises(BackchannelAuthenticationNotSupportedError) as caught:
            await run(auth0, waits)
    finally:
        await auth0.aclose()
    assert caught.value.code == "backchannel_authentication_not_supported_error"
    assert scripted_op.count(BC_PATH) == 0


def _metadata(endpoint: str) -> ProviderMetadata:
    return ProviderMetadata(
        issuer="https://op.example/",
        authorization_endpoint="https://op.example/authorize",
        token_endpoint="https://op.example/oauth/token",
        jwks_uri="https://op.example/.well-known/jwks.json",
        end_session_endpoint=None,
        revocation_endpoint=None,
        userinfo_endpoint=None,
        par_endpoint=None,
        iss_parameter_supported=False,
        raw={"backchannel_authentication_endpoint": endpoint},
    )


def test_plain_http_endpoint_needs_insecure_requests() -> None:
    metadata = _metadata("http://op.example/bc-authorize")
    with pytest.raises(BackchannelAuthenticationNotSupportedError):
        _backchannel_endpoint(metadata, insecure=False)
    assert _backchannel_endpoint(metadata, insecure=True) == "http://op.example/bc-authorize"
    secure = _metadata("https://op.example/bc-authorize")
    assert _backchannel_endpoint(secure, insecure=False) == "https://op.example/bc-authorize"
