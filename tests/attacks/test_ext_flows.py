"""Group I: EXT-04 (CIBA polling and inputs) and EXT-05 (token-exchange inputs).

Both flows run server-side, with no browser in the loop and no session involved. The
scripted OP answers ``/bc-authorize`` and ``/oauth/token`` per test; CIBA's ``sleep`` is
replaced by a recorder, so the waits the SDK chose are asserted without waiting for them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.responses import JSONResponse

from auth0_web import (
    Auth0Client,
    BackchannelAuthenticationError,
    CustomTokenExchangeError,
    InvalidRequestError,
    OAuth2Error,
    _ciba,
)
from auth0_web._ciba import CIBA_GRANT_TYPE, get_token_by_backchannel_auth
from auth0_web.oidc._id_token import IdTokenError
from auth0_web.oidc._token import TokenResponseError
from tests.support.scripted_op import DEFAULT_USER, RawResponse, RecordedRequest, ScriptedOP

from .conftest import Harness
from .helpers import decrypt, full_login, session_set_cookies

pytestmark = pytest.mark.anyio

SUB = DEFAULT_USER["sub"]
BC = "/bc-authorize"
TOKEN = "/oauth/token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TYPE = "urn:acme:legacy-token"


def raw(status: int, body: Any, headers: dict[str, str] | None = None) -> RawResponse:
    return (
        status,
        {"content-type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


def oauth_error(code: str) -> RawResponse:
    return raw(400, {"error": code, "error_description": f"<b>{code}</b>"})


class Waits:
    """The injected ``sleep``: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def id_token(op: ScriptedOP, **claims: Any) -> str:
    now = int(time.time())
    base = {"iss": op.issuer, "aud": op.client_id, "sub": SUB, "iat": now, "exp": now + 600}
    return op.mint_id_token({**base, **claims})


def tokens(op: ScriptedOP, **claims: Any) -> RawResponse:
    return raw(
        200,
        {
            "access_token": "ciba-access-token-secret",
            "refresh_token": "ciba-refresh-token-secret",
            "id_token": id_token(op, **claims),
            "token_type": "Bearer",
            "expires_in": 600,
            "scope": "openid profile email offline_access",
        },
    )


def ciba_provider(
    op: ScriptedOP,
    polls: list[RawResponse] | Callable[[RecordedRequest], RawResponse],
    *,
    started: Any = None,
) -> None:
    """Advertise CIBA; ``/bc-authorize`` answers ``started`` and the token endpoint the
    ``polls`` in turn (the last one for ever)."""
    op.scenario.discovery = lambda doc: {
        **doc,
        "backchannel_authentication_endpoint": op.url(BC),
        "backchannel_token_delivery_modes_supported": ["poll"],
    }
    body = started if started is not None else {"auth_req_id": "req-1", "expires_in": 300}
    op.scenario.responses[BC] = lambda record: raw(200, body)
    if callable(polls):
        op.scenario.responses[TOKEN] = polls
        return
    queue = list(polls)
    op.scenario.responses[TOKEN] = lambda record: queue.pop(0) if len(queue) > 1 else queue[0]


async def ciba(client: Auth0Client, waits: Waits, **options: Any) -> Any:
    options.setdefault("binding_message", "Order 1234")
    options.setdefault("login_hint", {"sub": SUB})
    return await get_token_by_backchannel_auth(client._rt, sleep=waits, **options)


def polls(op: ScriptedOP) -> list[RecordedRequest]:
    calls = op.calls(TOKEN)
    assert all(r.form["grant_type"] == CIBA_GRANT_TYPE for r in calls)
    return calls


# ======================================================================================
# EXT-04  CIBA
# ======================================================================================


async def test_ext04_slow_down_adds_five_seconds_every_time(h: Harness, op: ScriptedOP) -> None:
    """EXT-04: ``slow_down`` adds 5 s to the interval (and keeps it), ``authorization_pending``
    waits the current interval, then the tokens arrive."""
    ciba_provider(
        op,
        [
            oauth_error("authorization_pending"),
            oauth_error("slow_down"),
            oauth_error("authorization_pending"),
            oauth_error("slow_down"),
            tokens(op),
        ],
        started={"auth_req_id": "req-1", "expires_in": 300, "interval": 2},
    )
    waits = Waits()
    result = await ciba(h.client(), waits)
    assert waits.calls == [2, 2, 7, 7, 12]
    assert len(polls(op)) == 5
    assert {r.form["auth_req_id"] for r in polls(op)} == {"req-1"}
    assert result.id_token_claims["sub"] == SUB
    assert result.token_set.access_token == "ciba-access-token-secret"


@pytest.mark.parametrize(
    ("interval", "first_wait"),
    [(None, 5.0), (0.001, 1.0), (1, 1.0), (30, 30.0)],
    ids=["default", "sub-second-clamped", "one", "thirty"],
)
async def test_ext04_interval_is_clamped_from_below(
    h: Harness, op: ScriptedOP, interval: Any, first_wait: float
) -> None:
    """EXT-04: the server's interval is honoured, but never below one second."""
    started: dict[str, Any] = {"auth_req_id": "req-1", "expires_in": 300}
    if interval is not None:
        started["interval"] = interval
    ciba_provider(op, [tokens(op)], started=started)
    waits = Waits()
    await ciba(h.client(), waits)
    assert waits.calls == [first_wait]


@pytest.mark.parametrize("interval", [0, -5, "5", True, [5], 1e400])
async def test_ext04_invalid_interval_fails_before_polling(
    h: Harness, op: ScriptedOP, interval: Any
) -> None:
    """EXT-04: an interval of 0, a negative or infinite one, or one of the wrong type is an
    error: no poll, no wait."""
    started = {"auth_req_id": "req-1", "expires_in": 300, "interval": interval}
    ciba_provider(op, [tokens(op)], started=started)
    waits = Waits()
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await ciba(h.client(), waits)
    assert isinstance(caught.value.cause, TokenResponseError)
    assert waits.calls == [] and polls(op) == []


async def test_ext04_huge_interval_never_waits_past_expiry(h: Harness, op: ScriptedOP) -> None:
    """EXT-04: an interval of 10^9 s with ``expires_in`` 300: the first wait would outlast
    the request, so the SDK neither waits nor polls; it ends with ``expired_token``."""
    ciba_provider(
        op, [tokens(op)], started={"auth_req_id": "req-1", "expires_in": 300, "interval": 10**9}
    )
    waits = Waits()
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await ciba(h.client(), waits)
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "expired_token"
    assert waits.calls == [] and polls(op) == []


@pytest.mark.parametrize("answer", ["authorization_pending", "slow_down"])
async def test_ext04_endless_pending_stops_at_expiry(
    h: Harness, op: ScriptedOP, answer: str
) -> None:
    """EXT-04: a server that never decides (``authorization_pending`` or ``slow_down`` for
    ever, with a day-long ``expires_in``) is polled only until the requested expiry."""
    ciba_provider(
        op,
        [oauth_error(answer)],
        started={"auth_req_id": "req-1", "expires_in": 86400, "interval": 5},
    )
    waits = Waits()
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await ciba(h.client(), waits, requested_expiry=60)
    assert isinstance(caught.value.cause, OAuth2Error)
    assert caught.value.cause.code == "expired_token"
    assert sum(waits.calls) <= 60
    assert len(polls(op)) == len(waits.calls) <= 60 / 5 + 2
    if answer == "slow_down":
        assert waits.calls == [5, 10, 15, 20]  # +5 s each time, stopped before 60 s


@pytest.mark.parametrize(
    "code", ["access_denied", "expired_token", "invalid_grant", "invalid_client"]
)
async def test_ext04_terminal_error_ends_polling_at_once(
    h: Harness, op: ScriptedOP, code: str
) -> None:
    """EXT-04: a terminal error ends the polling on that very answer."""
    ciba_provider(op, [oauth_error("authorization_pending"), oauth_error(code)])
    waits = Waits()
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await ciba(h.client(), waits)
    error = caught.value
    assert isinstance(error.cause, OAuth2Error) and error.cause.code == code
    assert len(polls(op)) == 2 and len(waits.calls) == 2
    assert "<b>" not in error.message and code not in error.message


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "auth0|victim"},
        {"sub": SUB + " "},
        {"sub": SUB.upper()},
        {"aud": "another-client"},
        {"iss": "https://evil.example/"},
        {"exp": int(time.time()) - 3600},
    ],
    ids=["other-user", "trailing-space", "case", "aud", "iss", "expired"],
)
async def test_ext04_tokens_for_another_user_or_invalid_id_token_are_refused(
    h: Harness, op: ScriptedOP, claims: dict[str, Any]
) -> None:
    """EXT-04: the ID token is validated as at login, and must name the hinted user: no
    tokens are handed out otherwise, and none appear in the error."""
    ciba_provider(op, [tokens(op, **claims)])
    with pytest.raises(BackchannelAuthenticationError) as caught:
        await ciba(h.client(), Waits())
    assert isinstance(caught.value.cause, IdTokenError)
    text = f"{caught.value} {caught.value!r} {caught.value.cause}"
    assert "ciba-access-token-secret" not in text and "ciba-refresh-token-secret" not in text


@pytest.mark.parametrize(
    "sub",
    [
        'alice","sub":"auth0|victim',
        'alice"}, {"sub":"auth0|victim',
        "alice\\",
        "alice\u0000\u2028",
    ],
)
async def test_ext04_login_hint_is_serialised_not_concatenated(
    h: Harness, op: ScriptedOP, sub: str
) -> None:
    """EXT-04: ``login_hint`` JSON is built by a serialiser, so a ``sub`` holding quotes
    cannot add or replace a member: the server sees exactly one ``sub``, the whole string."""
    ciba_provider(op, [tokens(op, sub=sub)])
    result = await ciba(h.client(), Waits(), login_hint={"sub": sub})
    assert result.id_token_claims["sub"] == sub
    sent = op.last(BC).form["login_hint"]
    pairs = json.loads(sent, object_pairs_hook=lambda items: items)
    assert pairs == [("format", "iss_sub"), ("iss", op.issuer), ("sub", sub)]


@pytest.mark.parametrize(
    "message",
    [
        "Order\r\n1234",
        "Order\x001234",
        "Order\u202e4321",
        "Order \u200b1234",
        "x" * 2048,
        "A" * 65,
        "",
        "<script>alert(1)</script>",
    ],
    ids=["crlf", "nul", "rtl-override", "zero-width", "2KB", "65-chars", "empty", "markup"],
)
async def test_ext04_bad_binding_message_is_a_400_before_any_call(
    h: Harness, op: ScriptedOP, message: str
) -> None:
    """EXT-04: control characters, look-alike Unicode or 2 KB of text in the binding
    message are refused locally (status 400), before discovery or any provider call."""
    ciba_provider(op, [tokens(op)])
    with pytest.raises(InvalidRequestError) as caught:
        await ciba(h.client(), Waits(), binding_message=message)
    assert caught.value.status == 400 and caught.value.code == "invalid_request"
    assert message not in str(caught.value) or not message
    assert op.requests == []


async def test_ext04_session_is_never_read_or_written(
    h: Harness, op: ScriptedOP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXT-04: called inside a logged-in request, CIBA leaves the browser's session exactly
    as it was: the tokens are for the hinted user, not for whoever is browsing."""
    waits = Waits()
    monkeypatch.setitem(_ciba.get_token_by_backchannel_auth.__kwdefaults__, "sleep", waits)
    client = h.client()
    app = FastAPI()

    @app.get("/approve")
    async def approve() -> JSONResponse:
        result = await client.get_token_by_backchannel_auth(
            binding_message="Transfer 42", login_hint={"sub": "auth0|approver"}
        )
        return JSONResponse({"sub": result.id_token_claims["sub"]})

    answers = [oauth_error("authorization_pending"), tokens(op, sub="auth0|approver")]

    def token_endpoint(record: RecordedRequest) -> RawResponse | None:
        if record.form.get("grant_type") != CIBA_GRANT_TYPE:
            return None  # the login's own code exchange
        return answers.pop(0) if len(answers) > 1 else answers[0]

    ciba_provider(op, token_endpoint)  # type: ignore[arg-type]
    browser = h.browser(client.middleware(app))
    assert (await full_login(browser, op)).status_code == 307
    before = dict(browser.cookies)
    response = await browser.get("/approve")
    assert response.status_code == 200 and response.json() == {"sub": "auth0|approver"}
    assert session_set_cookies(response) == []
    assert browser.cookies == before
    assert waits.calls == [5, 5]
    profile = await browser.get("/auth/profile")
    assert profile.json()["sub"] == SUB


# ======================================================================================
# EXT-05  token exchange
# ======================================================================================


def exchange_provider(op: ScriptedOP, **changes: Any) -> None:
    body: dict[str, Any] = {
        "access_token": "exchanged-access-token-secret",
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": "openid profile",
        "issued_token_type": ACCESS_TOKEN_TYPE,
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    op.scenario.responses[TOKEN] = lambda record: raw(200, body)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"subject_token_type": "not a uri"}, "invalid_subject_token_type"),
        ({"subject_token_type": "legacy-token-type"}, "invalid_subject_token_type"),
        ({"subject_token_type": "urn:a:bc"}, "invalid_subject_token_type"),  # 8 characters
        ({"subject_token_type": "urn:acme:" + "t" * 92}, "invalid_subject_token_type"),  # 101
        ({"subject_token_type": "javascript:alert(1)"}, "invalid_subject_token_type"),
        (
            {"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"},
            "invalid_subject_token_type",
        ),
        ({"subject_token": ""}, "missing_subject_token"),
        ({"actor_token": "actor"}, "missing_actor_token_type"),
        ({"actor_token": "actor", "actor_token_type": ""}, "missing_actor_token_type"),
        ({"actor_token": "actor", "actor_token_type": "not a uri"}, "invalid_actor_token_type"),
    ],
)
async def test_ext05_bad_input_is_a_local_error_with_no_call(
    h: Harness, op: ScriptedOP, options: dict[str, Any], code: str
) -> None:
    """EXT-05: bad inputs fail locally (400, their own code), with no provider call at all."""
    exchange_provider(op)
    arguments = {"subject_token": "legacy-subject-secret", "subject_token_type": SUBJECT_TYPE}
    arguments.update(options)
    with pytest.raises(CustomTokenExchangeError) as caught:
        await h.client().custom_token_exchange(**arguments)
    assert caught.value.code == code and caught.value.status == 400
    assert "legacy-subject-secret" not in str(caught.value)
    assert op.requests == []


@pytest.mark.parametrize("length", [10, 100])
async def test_ext05_subject_token_type_length_bounds_are_inclusive(
    h: Harness, op: ScriptedOP, length: int
) -> None:
    """EXT-05 control: 10 and 100 characters are the edges of what is accepted."""
    exchange_provider(op)
    subject_type = ("urn:acme:" + "t" * 100)[:length]
    result = await h.client().custom_token_exchange(
        subject_token="legacy", subject_token_type=subject_type
    )
    assert result.access_token == "exchanged-access-token-secret"
    assert op.last(TOKEN).form["subject_token_type"] == subject_type


RESERVED = {
    "grant_type": "password",
    "subject_token": "attacker-subject",
    "subject_token_type": "urn:attacker:type",
    "audience": "https://attacker.example",
    "scope": "openid admin:all",
    "actor_token": "attacker-actor",
    "actor_token_type": "urn:attacker:actor",
    "organization": "org_attacker",
    "client_id": "other-client",
    "client_secret": "guess",
    "client_assertion": "forged",
    "client_assertion_type": "urn:x",
}


@pytest.mark.parametrize("with_own", [True, False], ids=["own-values", "defaults"])
async def test_ext05_reserved_parameters_cannot_be_overridden(
    h: Harness, op: ScriptedOP, with_own: bool
) -> None:
    """EXT-05: ``additional_parameters`` cannot replace, duplicate or add any reserved
    parameter; other parameters pass through once."""
    exchange_provider(op)
    own: dict[str, Any] = {}
    if with_own:
        own = {
            "audience": "https://api.example",
            "scope": "read:orders",
            "organization": "org_1",
            "actor_token": "actor-1",
            "actor_token_type": "urn:acme:service",
        }
    await h.client().custom_token_exchange(
        subject_token="legacy-1",
        subject_token_type=SUBJECT_TYPE,
        additional_parameters={**RESERVED, "device": "kiosk-7"},
        **own,
    )
    call = op.last(TOKEN)
    names = [name for name, _ in call.form_items]
    assert len(names) == len(set(names)), names
    form = call.form
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert form["subject_token"] == "legacy-1"
    assert form["subject_token_type"] == SUBJECT_TYPE
    assert form["device"] == "kiosk-7"
    assert form["client_id"] == op.client_id and form["client_secret"] == op.client_secret
    assert "client_assertion" not in form and "client_assertion_type" not in form
    assert "admin:all" not in form["scope"]
    if with_own:
        assert form["audience"] == "https://api.example"
        assert form["organization"] == "org_1"
        assert form["actor_token"] == "actor-1"
        assert form["actor_token_type"] == "urn:acme:service"
        assert "read:orders" in form["scope"].split()
    else:
        for name in ("audience", "organization", "actor_token", "actor_token_type"):
            assert name not in form, name


@pytest.mark.parametrize("issued", [ACCESS_TOKEN_TYPE, None], ids=["access_token", "missing"])
async def test_ext05_access_token_answer_is_accepted(
    h: Harness, op: ScriptedOP, issued: str | None
) -> None:
    """EXT-05 control: an answer that says it issued an access token (or says nothing,
    as Auth0 may) is used."""
    exchange_provider(op, issued_token_type=issued)
    result = await h.client().custom_token_exchange(
        subject_token="legacy", subject_token_type=SUBJECT_TYPE
    )
    assert result.access_token == "exchanged-access-token-secret"


@pytest.mark.parametrize(
    "issued",
    [
        "urn:ietf:params:oauth:token-type:refresh_token",
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:ietf:params:oauth:token-type:saml2",
        "urn:auth0:params:oauth:token-type:session_transfer_token",
        "N_A",
        "",
        42,
        [ACCESS_TOKEN_TYPE],
    ],
)
async def test_ext05_unexpected_issued_token_type_is_an_error(
    h: Harness, op: ScriptedOP, issued: Any
) -> None:
    """EXT-05: an answer that says it issued something other than an access token is not
    handed out as one."""
    exchange_provider(op, issued_token_type=issued)
    with pytest.raises(CustomTokenExchangeError) as caught:
        await h.client().custom_token_exchange(
            subject_token="legacy", subject_token_type=SUBJECT_TYPE
        )
    assert caught.value.code == "exchange_failed"
    assert isinstance(caught.value.cause, TokenResponseError)
    assert "exchanged-access-token-secret" not in f"{caught.value} {caught.value!r}"
    assert op.count(TOKEN) == 1


async def test_ext05_exchanged_tokens_never_enter_the_session(h: Harness, op: ScriptedOP) -> None:
    """EXT-05: an exchange made while handling a logged-in request leaves that user's
    session as it was; none of the exchanged tokens reach a cookie."""
    client = h.client()
    app = FastAPI()

    @app.get("/exchange")
    async def exchange() -> JSONResponse:
        result = await client.custom_token_exchange(
            subject_token="legacy", subject_token_type=SUBJECT_TYPE
        )
        return JSONResponse({"scope": result.scope})

    browser = h.browser(client.middleware(app))
    assert (await full_login(browser, op)).status_code == 307
    before = dict(browser.cookies)
    session_before = decrypt(before["__session"])
    exchange_provider(op, refresh_token="exchanged-refresh-token-secret")
    response = await browser.get("/exchange")
    assert response.status_code == 200
    assert session_set_cookies(response) == []
    assert browser.cookies == before
    session_after = decrypt(browser.cookies["__session"])
    assert session_after == session_before
    for value in browser.cookies.values():
        assert "exchanged" not in value

    anonymous = h.browser(client.middleware(app))
    response = await anonymous.get("/exchange")
    assert response.status_code == 200
    assert response.headers.get_list("set-cookie") == []
